package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/oncall-copilot/oncall-copilot/alerts"
	"github.com/oncall-copilot/oncall-copilot/bot"
	"github.com/oncall-copilot/oncall-copilot/config"
	"github.com/oncall-copilot/oncall-copilot/digest"
	"github.com/oncall-copilot/oncall-copilot/incident"
	"github.com/oncall-copilot/oncall-copilot/incidentpage"
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
	_ incident.Publisher    = (*bot.Slack)(nil)
	_ incident.Triager      = (*triage.Service)(nil)
	_ incident.Store        = (*boltdb.Store)(nil)
	_ incident.Store        = (*redisdb.Store)(nil)
	_ incident.Outbox       = (*boltdb.Store)(nil)
	_ incident.Outbox       = (*redisdb.Store)(nil)
	_ incident.MarkedNotes  = (*bot.Slack)(nil)
	_ incident.ChannelIDs   = (*bot.Slack)(nil)
	_ worker.Queue          = (*boltdb.Store)(nil)
	_ worker.Queue          = (*redisdb.Store)(nil)
	_ triage.TraceSource    = (*jsonl.Source)(nil)
	_ triage.TraceSource    = (*langfuse.Client)(nil)
	_ triage.TraceSource    = (*phoenix.Client)(nil)
	_ triage.TraceSource    = (*jaeger.Client)(nil)
	_ triage.TraceSource    = (*tempo.Client)(nil)
	_ forgetfulStore        = (*redisdb.Store)(nil)
	_ triage.WindowSearcher = (*jsonl.Source)(nil)  // both windows in one pass over the files
	_ alerts.OnceEnqueuer   = (*redisdb.Store)(nil) // a delivery with an id queued in one round trip
	_ alerts.BatchEnqueuer  = (*redisdb.Store)(nil) // a delivery for several routes queued in one round trip
	_ triage.Model          = (*llm.Client)(nil)
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
	incidentpage.Store
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
		src, err := langfuse.New(langfuse.Options{Host: t.Langfuse.Host.Reveal(), PublicKey: t.Langfuse.PublicKey, SecretKey: t.Langfuse.SecretKey.Reveal(), Concurrency: t.Langfuse.Concurrency})
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
		src, err := tempo.New(tempo.Options{URL: t.Tempo.URL.Reveal(), BearerToken: t.Tempo.BearerToken.Reveal(), BasicUser: t.Tempo.BasicUser, BasicPassword: t.Tempo.BasicPassword.Reveal(), OrgID: t.Tempo.OrgID, Concurrency: t.Tempo.Concurrency})
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
		Retry:   retry.DefaultPolicy(),
	})
	if err != nil {
		return nil, fmt.Errorf("model client: %w", err)
	}
	return m, nil
}

// deps are the clients one process builds once and hands to triage, the
// follow-up assistant and the digests: one redactor, one model client
// (one circuit breaker, one meter) and one client per trace store, each
// measured and traced by the telemetry when there is one.
type deps struct {
	Redactor *redact.Redactor
	// Client is the model client, nil when no key is configured; Model
	// is the same client measured and traced.
	Client *llm.Client
	Model  triage.Model
	// Sources are the configured trace sources, measured and traced;
	// empty when none is configured. Default names the one to read
	// unless a request names another.
	Sources map[string]triage.TraceSource
	Default string
}

// newDeps builds the shared clients. jsonlPath, when set, overrides the
// configured JSONL path and becomes the default source; source, when set,
// names the default source; tel, when not nil, measures and traces the
// model and trace-store calls.
func newDeps(cfg config.Config, jsonlPath, source string, red *redact.Redactor, log *slog.Logger, tel *telemetry) (*deps, error) {
	d := &deps{Redactor: red, Sources: map[string]triage.TraceSource{}}
	if jsonlPath != "" || len(cfg.Traces.Configured()) > 0 {
		sources, err := traceSources(cfg, jsonlPath, log)
		if err != nil {
			return nil, err
		}
		for name, src := range sources {
			d.Sources[name] = tel.source(name, src)
		}
	}
	d.Default = source
	if d.Default == "" {
		if jsonlPath != "" {
			d.Default = "jsonl"
		} else {
			d.Default = cfg.Traces.DefaultSource()
		}
	}
	m, err := newModel(cfg)
	if err != nil {
		return nil, err
	}
	if m != nil {
		d.Client, d.Model = m, tel.model(cfg.Model, m)
	}
	return d, nil
}

// defaultSource is the default trace source, or an error naming it when
// it is not configured.
func (d *deps) defaultSource() (triage.TraceSource, error) {
	src, ok := d.Sources[d.Default]
	if !ok {
		return nil, fmt.Errorf("default trace source %q is not configured", d.Default)
	}
	return src, nil
}

// newTriage builds the triage service over the shared clients; now is its
// clock (nil: the system's).
func newTriage(cfg config.Config, d *deps, log *slog.Logger, now func() time.Time) (*triage.Service, error) {
	opts, err := triageOptions(cfg, d, log, now)
	if err != nil {
		return nil, err
	}
	return triage.NewService(opts)
}

// triageOptions are the triage service's options over the shared clients.
func triageOptions(cfg config.Config, d *deps, log *slog.Logger, now func() time.Time) (triage.ServiceOptions, error) {
	if len(d.Sources) == 0 {
		return triage.ServiceOptions{}, errors.New("no trace source configured: set TRACE_JSONL_PATH, LANGFUSE_HOST, PHOENIX_BASE_URL, JAEGER_QUERY_URL or TEMPO_URL")
	}
	opts := triage.ServiceOptions{
		Sources:       d.Sources,
		DefaultSource: d.Default,
		ModelName:     cfg.Model.Name,
		Window:        cfg.Triage.Window.D(),
		Baseline:      cfg.Triage.Baseline.D(),
		LabelMap:      cfg.Triage.LabelMap,
		MaxTraces:     cfg.Triage.MaxTraces,
		MaxKeptTraces: cfg.Triage.MaxFailingTraces,
		Budget:        cfg.Model.TokenBudget,
		Redactor:      d.Redactor,
		Logger:        log,
		Now:           now,
	}
	if d.Model != nil {
		opts.Model = d.Model
	}
	return opts, nil
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
