package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/oncall-copilot/oncall-copilot/alerts"
	"github.com/oncall-copilot/oncall-copilot/bot"
	"github.com/oncall-copilot/oncall-copilot/config"
	"github.com/oncall-copilot/oncall-copilot/digest"
	"github.com/oncall-copilot/oncall-copilot/incident"
	"github.com/oncall-copilot/oncall-copilot/llm"
	"github.com/oncall-copilot/oncall-copilot/redact"
	"github.com/oncall-copilot/oncall-copilot/retry"
	"github.com/oncall-copilot/oncall-copilot/store/boltdb"
	"github.com/oncall-copilot/oncall-copilot/store/redisdb"
	"github.com/oncall-copilot/oncall-copilot/tracesource/jaeger"
	"github.com/oncall-copilot/oncall-copilot/tracesource/jsonl"
	"github.com/oncall-copilot/oncall-copilot/tracesource/langfuse"
	"github.com/oncall-copilot/oncall-copilot/tracesource/phoenix"
	"github.com/oncall-copilot/oncall-copilot/tracesource/tempo"
	"github.com/oncall-copilot/oncall-copilot/triage"
	"github.com/oncall-copilot/oncall-copilot/worker"
)

// Conformance of the adapters to what their users declare.
var (
	_ incident.Publisher   = (*bot.Slack)(nil)
	_ incident.Triager     = (*triage.Service)(nil)
	_ incident.Store       = (*boltdb.Store)(nil)
	_ incident.Store       = (*redisdb.Store)(nil)
	_ incident.Outbox      = (*boltdb.Store)(nil)
	_ incident.Outbox      = (*redisdb.Store)(nil)
	_ incident.MarkedNotes = (*bot.Slack)(nil)
	_ incident.ChannelIDs  = (*bot.Slack)(nil)
	_ worker.Queue         = (*boltdb.Store)(nil)
	_ worker.Queue         = (*redisdb.Store)(nil)
	_ forgetfulStore       = (*redisdb.Store)(nil)
	_ triage.TraceSource   = (*jsonl.Source)(nil)
	_ triage.TraceSource   = (*langfuse.Client)(nil)
	_ triage.TraceSource   = (*phoenix.Client)(nil)
	_ triage.TraceSource   = (*jaeger.Client)(nil)
	_ triage.TraceSource   = (*tempo.Client)(nil)
	_ triage.Model         = (*llm.Client)(nil)
)

// backend is what serve needs of a store: the queue and the incidents.
type backend interface {
	worker.Queue
	incident.Store
	incident.Outbox
	alerts.Enqueuer
	alerts.Deduper
	digest.IncidentLister
	digest.OnceStore
	Ping(ctx context.Context) error
	Close() error
}

// openStore opens Redis when configured, the embedded store otherwise.
func openStore(ctx context.Context, cfg config.Config, log *slog.Logger) (backend, string, error) {
	if cfg.RedisURL.IsSet() {
		s, err := redisdb.Open(ctx, redisdb.Options{
			URL: cfg.RedisURL.Reveal(), Prefix: cfg.RedisPrefix, ReclaimIdle: cfg.Queue.ReclaimIdle.D(),
			RequirePersistence: cfg.RedisRequirePersistence, Logger: log,
		})
		if err != nil {
			return nil, "", fmt.Errorf("open redis store: %w", err)
		}
		return s, "redis", nil
	}
	path := filepath.Join(cfg.DataDir, "oncall.db")
	s, err := boltdb.Open(boltdb.Options{Path: path, ReclaimIdle: cfg.Queue.ReclaimIdle.D(), Logger: log})
	if err != nil {
		return nil, "", fmt.Errorf("open embedded store %s: %w", path, err)
	}
	return s, "embedded (" + path + ")", nil
}

// traceSources builds every configured trace source. jsonlPath, when set,
// overrides the configured JSONL path.
func traceSources(cfg config.Config, jsonlPath string, log *slog.Logger) (map[string]triage.TraceSource, error) {
	t := cfg.Traces
	if jsonlPath != "" {
		t.JSONL.Path = jsonlPath
	}
	out := map[string]triage.TraceSource{}
	if t.JSONL.Path != "" {
		src, err := jsonl.New(jsonl.Options{Path: t.JSONL.Path, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("jsonl traces: %w", err)
		}
		out["jsonl"] = src
	}
	if t.Langfuse.Host != "" {
		src, err := langfuse.New(langfuse.Options{Host: t.Langfuse.Host.Reveal(), PublicKey: t.Langfuse.PublicKey, SecretKey: t.Langfuse.SecretKey.Reveal()})
		if err != nil {
			return nil, fmt.Errorf("langfuse: %w", err)
		}
		out["langfuse"] = src
	}
	if t.Phoenix.BaseURL != "" {
		src, err := phoenix.New(phoenix.Options{BaseURL: t.Phoenix.BaseURL.Reveal(), APIKey: t.Phoenix.APIKey.Reveal(), Project: t.Phoenix.Project})
		if err != nil {
			return nil, fmt.Errorf("phoenix: %w", err)
		}
		out["phoenix"] = src
	}
	if t.Jaeger.QueryURL != "" {
		src, err := jaeger.New(jaeger.Options{QueryURL: t.Jaeger.QueryURL.Reveal(), Service: t.Jaeger.Service})
		if err != nil {
			return nil, fmt.Errorf("jaeger: %w", err)
		}
		out["jaeger"] = src
	}
	if t.Tempo.URL != "" {
		src, err := tempo.New(tempo.Options{URL: t.Tempo.URL.Reveal(), BearerToken: t.Tempo.BearerToken.Reveal(), BasicUser: t.Tempo.BasicUser, BasicPassword: t.Tempo.BasicPassword.Reveal(), OrgID: t.Tempo.OrgID})
		if err != nil {
			return nil, fmt.Errorf("tempo: %w", err)
		}
		out["tempo"] = src
	}
	if len(out) == 0 {
		return nil, errors.New("no trace source configured: set TRACE_JSONL_PATH, LANGFUSE_HOST, PHOENIX_BASE_URL, JAEGER_QUERY_URL or TEMPO_URL")
	}
	return out, nil
}

// newModel builds the model client, or nil when no key is configured.
func newModel(cfg config.Config) (*llm.Client, error) {
	if !cfg.Model.APIKey.IsSet() {
		return nil, nil
	}
	m, err := llm.New(llm.Options{
		BaseURL: cfg.Model.BaseURL.Reveal(),
		APIKey:  cfg.Model.APIKey.Reveal(),
		Model:   cfg.Model.Name,
		Timeout: cfg.Model.Timeout.D(),
		Retry:   retry.Default,
	})
	if err != nil {
		return nil, fmt.Errorf("model client: %w", err)
	}
	return m, nil
}

// newTriage builds the triage service. jsonlPath overrides the configured
// JSONL path; source overrides the default source; tel, when not nil,
// measures and traces the model and trace-store calls.
func newTriage(cfg config.Config, jsonlPath, source string, red *redact.Redactor, log *slog.Logger, tel *telemetry) (*triage.Service, error) {
	sources, err := traceSources(cfg, jsonlPath, log)
	if err != nil {
		return nil, err
	}
	for name, src := range sources {
		sources[name] = tel.source(name, src)
	}
	def := source
	if def == "" {
		if jsonlPath != "" {
			def = "jsonl"
		} else {
			def = cfg.Traces.DefaultSource()
		}
	}
	opts := triage.ServiceOptions{
		Sources:       sources,
		DefaultSource: def,
		ModelName:     cfg.Model.Name,
		Window:        cfg.Triage.Window.D(),
		Baseline:      cfg.Triage.Baseline.D(),
		LabelMap:      cfg.Triage.LabelMap,
		MaxTraces:     cfg.Triage.MaxTraces,
		Budget:        cfg.Model.TokenBudget,
		Redactor:      red,
		Logger:        log,
	}
	m, err := newModel(cfg)
	if err != nil {
		return nil, err
	}
	if m != nil {
		opts.Model = tel.model(cfg.Model, m)
	}
	return triage.NewService(opts)
}

// traceURL links trace and span ids to the trace UI: the configured
// template, or one derived from the default source.
func traceURL(t config.Traces) func(traceID, spanID string) string {
	// Links are posted to Slack: credentials in a source's URL stay out.
	tmpl := t.UIURL.WithoutUserInfo()
	if tmpl == "" {
		switch t.DefaultSource() {
		case "langfuse":
			tmpl = strings.TrimRight(t.Langfuse.Host.WithoutUserInfo(), "/") + "/trace/{trace_id}"
		case "jaeger":
			tmpl = strings.TrimRight(t.Jaeger.QueryURL.WithoutUserInfo(), "/") + "/trace/{trace_id}?uiFind={span_id}"
		case "phoenix":
			tmpl = strings.TrimRight(t.Phoenix.BaseURL.WithoutUserInfo(), "/") + "/projects/" + url.PathEscape(t.Phoenix.Project) + "/traces/{trace_id}"
		}
	}
	if tmpl == "" {
		return nil
	}
	return func(traceID, spanID string) string {
		return strings.NewReplacer("{trace_id}", url.PathEscape(traceID), "{span_id}", url.QueryEscape(spanID)).Replace(tmpl)
	}
}

// newLogger logs JSON lines with every message and string attribute
// redacted and its control and format characters shown as code points:
// errors and keys carry untrusted text from alerts, traces and models.
func newLogger(level string, w interface{ Write([]byte) (int, error) }) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	// The built-in rules are fixed and tested; without them the log
	// still gets the character check.
	red, _ := redact.New(redact.Options{})
	return slog.New(redact.LogHandler(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l, ReplaceAttr: durationText}), red))
}

// durationText writes durations as people read them ("took":"2.007s"),
// not as the integer nanoseconds JSON would otherwise get.
func durationText(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}
