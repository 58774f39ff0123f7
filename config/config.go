// Package config is oncall-copilot's one configuration: a struct with
// defaults, read from an optional YAML file, overridden by environment
// variables, validated as a whole. Only cmd/ imports it; adapters take
// their own Options.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/oncall-copilot/oncall-copilot/alerts"
)

// Config is the whole configuration.
type Config struct {
	ListenAddr     string   `yaml:"listen_addr"`
	DataDir        string   `yaml:"data_dir"`
	RedisURL       Secret   `yaml:"redis_url"` // may hold a password
	RedisPrefix    string   `yaml:"redis_prefix"`
	WebhookToken   Secret   `yaml:"webhook_token"`
	InsecureNoAuth bool     `yaml:"insecure_no_auth"`
	Workers        int      `yaml:"workers"`
	LogLevel       string   `yaml:"log_level"`
	Slack          Slack    `yaml:"slack"`
	Model          Model    `yaml:"model"`
	Traces         Traces   `yaml:"traces"`
	Triage         Triage   `yaml:"triage"`
	Webhooks       Webhooks `yaml:"webhooks"`
	Digests        Digests  `yaml:"digests"`
	// Routes choose the channel, trace source and analysis of alerts by
	// their labels; first match wins unless a route says continue.
	Routes   alerts.Routes `yaml:"routes"`
	Shutdown Duration      `yaml:"shutdown_timeout"`
	Queue    Queue         `yaml:"queue"`
	// Storm is the storm guard: when one channel gets more new incidents
	// than it can read, they share one storm thread.
	Storm Storm `yaml:"storm"`
	// Telemetry is the copilot's own observability.
	Telemetry Telemetry `yaml:"telemetry"`
	// Web is the incident pages.
	Web Web `yaml:"web"`

	// RedisRequirePersistence refuses to start on a Redis that keeps
	// nothing across a restart (no AOF, no RDB snapshots), where a
	// restart loses every accepted alert. Without it such a Redis is a
	// loud warning at start.
	RedisRequirePersistence bool `yaml:"redis_require_persistence"`
}

// Telemetry configures the copilot's traces of itself: each triage and
// each follow-up answer as an OpenTelemetry trace, appended to a JSONL
// file the JSONL trace source reads, exported to an OTLP/HTTP collector
// (JSON encoding), or both.
type Telemetry struct {
	SelfTracePath string `yaml:"self_trace_path"`
	// OTLPEndpoint is the collector's base URL; traces go to its
	// v1/traces path. OTLPTracesEndpoint, when set, is the full URL.
	OTLPEndpoint       URL `yaml:"otlp_endpoint"`
	OTLPTracesEndpoint URL `yaml:"otlp_traces_endpoint"`
	// OTLPHeaders are key=value pairs, comma-separated, values
	// URL-encoded, as OTEL_EXPORTER_OTLP_HEADERS writes them.
	OTLPHeaders Secret `yaml:"otlp_headers"`
}

// Queue configures how jobs are run.
type Queue struct {
	// JobTimeout bounds one attempt of a job.
	JobTimeout Duration `yaml:"job_timeout"`
	// ReclaimIdle is a running job's lease: its worker renews it every
	// quarter of this, and a job whose lease was not renewed for this
	// long (its process died or lost the store) is taken over by another
	// worker at once. It is also the lease a job holds on its incident.
	ReclaimIdle Duration `yaml:"reclaim_idle"`
	// MaxAttempts is how many deliveries a failing job gets before it
	// goes to the dead letters.
	MaxAttempts int `yaml:"max_attempts"`
}

// Storm configures the storm guard and its threads.
type Storm struct {
	// More than Threshold new incidents in one channel within any Window
	// (a sliding window) is a storm; -1 turns the guard off.
	Threshold int      `yaml:"threshold"`
	Window    Duration `yaml:"window"`
	// SummaryEvery spaces the storm thread's summary replies; the
	// parent's table shows each member at once.
	SummaryEvery Duration `yaml:"summary_every"`
	// TriageAt is how many members a storm has when it gets its one
	// triage.
	TriageAt int `yaml:"triage_at"`
}

// Slack configures the Slack app.
type Slack struct {
	BotToken      Secret `yaml:"bot_token"`
	AppToken      Secret `yaml:"app_token"`
	SigningSecret Secret `yaml:"signing_secret"`
	APIURL        URL    `yaml:"api_url"`
	Channel       string `yaml:"channel"`
	// AllowUnsigned serves the Slack HTTP endpoints without a signing
	// secret (SLACK_ALLOW_UNSIGNED). Never in production.
	AllowUnsigned bool `yaml:"allow_unsigned,omitempty"`
	// SendInterval spaces messages to one channel: Slack takes about
	// one message per second per channel (api.slack.com/apis/rate-limits,
	// "Posting messages").
	SendInterval Duration `yaml:"send_interval"`
}

// Model configures the OpenAI-compatible model.
type Model struct {
	APIKey      Secret   `yaml:"api_key"`
	BaseURL     URL      `yaml:"base_url"`
	Name        string   `yaml:"name"`
	TokenBudget int      `yaml:"token_budget"`
	Timeout     Duration `yaml:"timeout"`
}

// Triage configures the analysis.
type Triage struct {
	Window    Duration `yaml:"window"`   // how far before the alert's start the incident window begins
	Baseline  Duration `yaml:"baseline"` // baseline window before the incident window
	MaxTraces int      `yaml:"max_traces"`
	// MaxFailingTraces caps the failing and slow runs a window keeps
	// besides max_traces when a source samples; zero means max_traces.
	MaxFailingTraces int `yaml:"max_failing_traces"`
	// LabelMap maps alert labels to trace attributes: a hint for
	// correlation, which also matches labels by the values traces carry.
	LabelMap map[string]string `yaml:"label_map"`
}

// Default returns the configuration used when nothing is set.
func Default() Config {
	return Config{
		ListenAddr:  ":8080",
		DataDir:     "./data",
		RedisPrefix: "oncall:",
		Workers:     4,
		LogLevel:    "info",
		Shutdown:    Duration(20 * time.Second),
		Slack:       Slack{SendInterval: Duration(time.Second)},
		Storm:       Storm{Threshold: 5, Window: Duration(5 * time.Minute), SummaryEvery: Duration(time.Minute), TriageAt: 3},
		Queue: Queue{
			JobTimeout:  Duration(10 * time.Minute),
			ReclaimIdle: Duration(20 * time.Second),
			MaxAttempts: 8,
		},
		Model: Model{
			BaseURL:     "https://api.openai.com/v1",
			Name:        "gpt-4o-mini",
			TokenBudget: 8000,
			Timeout:     Duration(60 * time.Second),
		},
		Triage: Triage{
			Window:    Duration(30 * time.Minute),
			Baseline:  Duration(60 * time.Minute),
			MaxTraces: 500,
			LabelMap: map[string]string{
				"service":     "service.name",
				"agent":       "gen_ai.agent.name",
				"environment": "deployment.environment",
			},
		},
	}
}

// Load reads the YAML file at path (none when empty), then applies the
// environment through getenv. Unknown YAML fields are errors.
func Load(path string, getenv func(string) string) (Config, error) {
	cfg := Default()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("read config: %w", err)
		}
		if err := decodeYAML(b, &cfg); err != nil {
			return cfg, fmt.Errorf("parse config %s: %w", path, err)
		}
	}
	if err := applyEnv(&cfg, getenv); err != nil {
		return cfg, err
	}
	return cfg, nil
}

func decodeYAML(b []byte, cfg *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// envVar binds one environment variable to a field.
type envVar struct {
	name string
	set  func(v string) error
}

func str(p *string) func(string) error { return func(v string) error { *p = v; return nil } }
func sec(p *Secret) func(string) error { return func(v string) error { *p = Secret(v); return nil } }
func boolean(p *bool) func(string) error {
	return func(v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("not true or false: %q", v)
		}
		*p = b
		return nil
	}
}
func addr(p *URL) func(string) error { return func(v string) error { *p = URL(v); return nil } }
func num(p *int) func(string) error {
	return func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("not a whole number: %q", v)
		}
		*p = n
		return nil
	}
}
func dur(p *Duration) func(string) error {
	return func(v string) error { return p.UnmarshalText([]byte(v)) }
}

func (c *Config) envVars() []envVar {
	return []envVar{
		{"LISTEN_ADDR", str(&c.ListenAddr)},
		{"DATA_DIR", str(&c.DataDir)},
		{"REDIS_URL", sec(&c.RedisURL)},
		{"REDIS_PREFIX", str(&c.RedisPrefix)},
		{"REDIS_REQUIRE_PERSISTENCE", boolean(&c.RedisRequirePersistence)},
		{"WEBHOOK_TOKEN", sec(&c.WebhookToken)},
		{"WORKERS", num(&c.Workers)},
		{"LOG_LEVEL", str(&c.LogLevel)},
		{"SLACK_BOT_TOKEN", sec(&c.Slack.BotToken)},
		{"SLACK_APP_TOKEN", sec(&c.Slack.AppToken)},
		{"SLACK_SIGNING_SECRET", sec(&c.Slack.SigningSecret)},
		{"SLACK_API_URL", addr(&c.Slack.APIURL)},
		{"SLACK_CHANNEL", str(&c.Slack.Channel)},
		{"SLACK_ALLOW_UNSIGNED", boolean(&c.Slack.AllowUnsigned)},
		{"SLACK_SEND_INTERVAL", dur(&c.Slack.SendInterval)},
		{"STORM_THRESHOLD", num(&c.Storm.Threshold)},
		{"STORM_WINDOW", dur(&c.Storm.Window)},
		{"STORM_SUMMARY_EVERY", dur(&c.Storm.SummaryEvery)},
		{"STORM_TRIAGE_AT", num(&c.Storm.TriageAt)},
		{"OPENAI_API_KEY", sec(&c.Model.APIKey)},
		{"OPENAI_BASE_URL", addr(&c.Model.BaseURL)},
		{"OPENAI_MODEL", str(&c.Model.Name)},
		{"MODEL_TOKEN_BUDGET", num(&c.Model.TokenBudget)},
		{"TRACE_SOURCE", str(&c.Traces.Default)},
		{"TRACE_JSONL_PATH", str(&c.Traces.JSONL.Path)},
		{"TRACE_UI_URL", addr(&c.Traces.UIURL)},
		{"LANGFUSE_HOST", addr(&c.Traces.Langfuse.Host)},
		{"LANGFUSE_PUBLIC_KEY", str(&c.Traces.Langfuse.PublicKey)},
		{"LANGFUSE_SECRET_KEY", sec(&c.Traces.Langfuse.SecretKey)},
		{"PHOENIX_BASE_URL", addr(&c.Traces.Phoenix.BaseURL)},
		{"PHOENIX_API_KEY", sec(&c.Traces.Phoenix.APIKey)},
		{"PHOENIX_PROJECT", str(&c.Traces.Phoenix.Project)},
		{"JAEGER_QUERY_URL", addr(&c.Traces.Jaeger.QueryURL)},
		{"TEMPO_URL", addr(&c.Traces.Tempo.URL)},
		{"TEMPO_BEARER_TOKEN", sec(&c.Traces.Tempo.BearerToken)},
		{"TEMPO_ORG_ID", str(&c.Traces.Tempo.OrgID)},
		{"TRIAGE_WINDOW", dur(&c.Triage.Window)},
		{"TRIAGE_BASELINE", dur(&c.Triage.Baseline)},
		{"SELF_TRACE_PATH", str(&c.Telemetry.SelfTracePath)},
		{"OTEL_EXPORTER_OTLP_ENDPOINT", addr(&c.Telemetry.OTLPEndpoint)},
		{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", addr(&c.Telemetry.OTLPTracesEndpoint)},
		{"OTEL_EXPORTER_OTLP_HEADERS", sec(&c.Telemetry.OTLPHeaders)},
		{"QUEUE_JOB_TIMEOUT", dur(&c.Queue.JobTimeout)},
		{"QUEUE_RECLAIM_IDLE", dur(&c.Queue.ReclaimIdle)},
		{"QUEUE_MAX_ATTEMPTS", num(&c.Queue.MaxAttempts)},
		{"PUBLIC_URL", str(&c.Web.PublicURL)},
		{"WEB_AUTH", str(&c.Web.Auth)},
		{"WEB_SIGNING_KEY", signingKeys(&c.Web.SigningKeys)},
		{"DIGEST_SCHEDULE", str(&c.Digests.Env.Schedule)},
		{"DIGEST_TZ", str(&c.Digests.Env.TZ)},
		{"DIGEST_CHANNEL", str(&c.Digests.Env.Channel)},
		{"DIGEST_WINDOW", str(&c.Digests.Env.Window)},
		{"DIGEST_GRACE", str(&c.Digests.Env.Grace)},
		{"DIGEST_SKIP_QUIET", str(&c.Digests.Env.SkipQuiet)},
	}
}

// EnvNames lists the environment variables Load reads, for documentation.
func EnvNames() []string {
	var c Config
	var names []string
	for _, e := range c.envVars() {
		names = append(names, e.name)
	}
	return names
}

func applyEnv(c *Config, getenv func(string) string) error {
	var errs []error
	for _, e := range c.envVars() {
		if v := getenv(e.name); v != "" {
			if err := e.set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", e.name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// minReclaimIdle keeps lease renewals (every quarter of the reclaim
// time) far enough apart that a busy process does not lose its jobs.
const minReclaimIdle = 2 * time.Second

// Validate returns every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.ListenAddr == "" {
		bad("listen_addr", "must be set, e.g. :8080")
	}
	if c.Workers < 1 || c.Workers > 256 {
		bad("workers", "must be between 1 and 256, got %d", c.Workers)
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level", "must be debug, info, warn or error, got %q", c.LogLevel)
	}
	if c.RedisURL.IsSet() {
		if u, err := url.Parse(c.RedisURL.Reveal()); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
			bad("redis_url", "must be a redis://, rediss:// or unix:// URL")
		}
	} else {
		if c.DataDir == "" {
			bad("data_dir", "must be set when redis_url is not")
		}
		if c.RedisRequirePersistence {
			bad("redis_require_persistence", "is set but redis_url is not")
		}
	}
	if c.Slack.APIURL != "" {
		checkURL(&errs, "slack.api_url", c.Slack.APIURL)
	}
	if c.Slack.BotToken.IsSet() && c.Slack.Channel == "" {
		bad("slack.channel", "must be set when slack.bot_token is (the channel incidents are posted to)")
	}
	if c.Model.APIKey.IsSet() {
		checkURL(&errs, "model.base_url", c.Model.BaseURL)
		if c.Model.Name == "" {
			bad("model.name", "must be set when model.api_key is")
		}
	}
	if c.Model.TokenBudget < 1000 {
		bad("model.token_budget", "must be at least 1000 tokens, got %d", c.Model.TokenBudget)
	}
	errs = append(errs, c.Traces.validate()...)
	errs = append(errs, c.Webhooks.validate()...)
	errs = append(errs, c.Web.validate()...)
	if err := c.Routes.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("routes: %w", err))
	}
	if c.Triage.Window.D() <= 0 {
		bad("triage.window", "must be positive")
	}
	if c.Triage.Baseline.D() < 0 {
		bad("triage.baseline", "must not be negative")
	}
	if c.Triage.MaxTraces < 1 {
		bad("triage.max_traces", "must be at least 1")
	}
	if c.Triage.MaxFailingTraces < 0 {
		bad("triage.max_failing_traces", "must not be negative")
	}
	if c.Queue.JobTimeout.D() <= 0 {
		bad("queue.job_timeout", "must be positive")
	}
	if c.Queue.ReclaimIdle.D() < minReclaimIdle {
		bad("queue.reclaim_idle", "must be at least %s (the lease is renewed every quarter of it), got %s", minReclaimIdle, c.Queue.ReclaimIdle.D())
	}
	if c.Queue.MaxAttempts < 1 {
		bad("queue.max_attempts", "must be at least 1, got %d", c.Queue.MaxAttempts)
	}
	if d := c.Slack.SendInterval.D(); d <= 0 || d > time.Minute {
		bad("slack.send_interval", "must be between 0 and 1m (Slack takes about one message a second per channel), got %s", d)
	}
	if c.Storm.Threshold < -1 || c.Storm.Threshold == 0 {
		bad("storm.threshold", "must be at least 1, or -1 to turn the storm guard off, got %d", c.Storm.Threshold)
	}
	if c.Storm.Window.D() <= 0 {
		bad("storm.window", "must be positive")
	}
	if d := c.Storm.SummaryEvery.D(); d < time.Second || d > 10*time.Minute {
		bad("storm.summary_every", "must be between 1s and 10m, got %s", d)
	}
	if c.Storm.TriageAt < 1 {
		bad("storm.triage_at", "must be at least 1, got %d", c.Storm.TriageAt)
	}
	if c.Telemetry.OTLPEndpoint != "" {
		checkURL(&errs, "telemetry.otlp_endpoint", c.Telemetry.OTLPEndpoint)
	}
	if c.Telemetry.OTLPTracesEndpoint != "" {
		checkURL(&errs, "telemetry.otlp_traces_endpoint", c.Telemetry.OTLPTracesEndpoint)
	}
	if _, err := c.DigestSettings(); err != nil {
		errs = append(errs, fmt.Errorf("digests: %w", err))
	}
	return errors.Join(errs...)
}

// checkURL quotes the URL with its user info masked: a validation error
// is printed and logged.
func checkURL(errs *[]error, field string, raw URL) {
	u, err := url.Parse(raw.Reveal())
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		*errs = append(*errs, fmt.Errorf("%s: must be an http(s) URL, got %q", field, raw))
	}
}

// Dump renders the effective configuration as YAML with secrets masked.
func (c Config) Dump() string {
	b, err := yaml.Marshal(c)
	if err != nil {
		return "error: " + err.Error()
	}
	return string(b)
}
