package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/bot"
	"github.com/oncall-copilot/oncall-copilot/config"
	"github.com/oncall-copilot/oncall-copilot/incident"
	"github.com/oncall-copilot/oncall-copilot/metrics"
	"github.com/oncall-copilot/oncall-copilot/observe"
	"github.com/oncall-copilot/oncall-copilot/selftrace"
	"github.com/oncall-copilot/oncall-copilot/triage"
	"github.com/oncall-copilot/oncall-copilot/worker"
)

// Conformance of the metrics to the observers components declare.
var (
	_ worker.Observer    = (*metrics.Metrics)(nil)
	_ bot.Observer       = (*metrics.Metrics)(nil)
	_ selftrace.Observer = (*metrics.Metrics)(nil)
	_ incident.Triager   = (*observe.Triage)(nil)
	_ bot.Answerer       = (*observedAnswerer)(nil)
)

// telemetry is the copilot's observability as serve runs it: the
// Prometheus metrics, always, and the self tracer when a self-trace file
// or an OTLP endpoint is configured. A nil *telemetry observes nothing,
// for commands that run without it.
type telemetry struct {
	metrics *metrics.Metrics
	tracer  *selftrace.Tracer // nil when self-tracing is off
	log     *slog.Logger
}

// newTelemetry builds the metrics (reading queue on every scrape) and the
// self tracer.
func newTelemetry(cfg config.Config, queue metrics.QueueStatser, log *slog.Logger) (*telemetry, error) {
	loss, _ := queue.(metrics.DataLossReporter) // Redis only
	m, err := metrics.New(metrics.Options{Queue: queue, DataLoss: loss})
	if err != nil {
		return nil, err
	}
	t := &telemetry{metrics: m, log: log.With("component", "telemetry")}
	var sinks []selftrace.Sink
	if p := cfg.Telemetry.SelfTracePath; p != "" {
		s, err := selftrace.NewFileSink(p)
		if err != nil {
			return nil, err
		}
		sinks = append(sinks, s)
	}
	if cfg.Telemetry.OTLPEndpoint != "" || cfg.Telemetry.OTLPTracesEndpoint != "" {
		headers, err := selftrace.ParseHeaders(cfg.Telemetry.OTLPHeaders.Reveal())
		if err != nil {
			return nil, fmt.Errorf("telemetry.otlp_headers: %w", err)
		}
		s, err := selftrace.NewOTLPSink(selftrace.OTLPOptions{
			Endpoint: cfg.Telemetry.OTLPEndpoint.Reveal(), TracesEndpoint: cfg.Telemetry.OTLPTracesEndpoint.Reveal(), Headers: headers,
		})
		if err != nil {
			return nil, err
		}
		sinks = append(sinks, s)
	}
	if len(sinks) == 0 {
		return t, nil
	}
	host, _ := os.Hostname()
	t.tracer, err = selftrace.New(selftrace.Options{
		Sink:       selftrace.Tee(sinks...),
		Attributes: map[string]string{"service.version": version, "host.name": host},
		Logger:     log,
		Observer:   m,
	})
	if err != nil {
		return nil, err
	}
	t.log = t.Logger(log).With("component", "telemetry")
	return t, nil
}

// Register mounts GET /metrics.
func (t *telemetry) Register(mux *http.ServeMux) { t.metrics.Register(mux) }

// Run exports self traces until ctx ends, then flushes them.
func (t *telemetry) Run(ctx context.Context) error { return t.tracer.Run(ctx) }

// Logger returns log joined to the self traces: lines logged with a
// context carry its trace and span ids.
func (t *telemetry) Logger(log *slog.Logger) *slog.Logger {
	if t == nil || t.tracer == nil {
		return log
	}
	return slog.New(selftrace.LogHandler(log.Handler()))
}

// source measures and traces a trace source.
func (t *telemetry) source(name string, s triage.TraceSource) triage.TraceSource {
	if t == nil {
		return s
	}
	return t.tracer.TraceSource(name, t.metrics.TraceSource(name, s))
}

// model measures and traces a model.
func (t *telemetry) model(cfg config.Model, m triage.Model) triage.Model {
	if t == nil {
		return m
	}
	return t.tracer.Model(t.metrics.Model(cfg.Name, m), cfg.Name, provider(cfg.BaseURL.Reveal()))
}

// provider names the model provider for gen_ai.system: openai for
// OpenAI's API, else the API's host.
func provider(baseURL string) string {
	u, err := url.Parse(baseURL)
	if err != nil || u.Hostname() == "" {
		return "openai"
	}
	if h := u.Hostname(); h != "api.openai.com" {
		return h
	}
	return "openai"
}

// jobs wraps the workers' handler so every job's self traces carry its id,
// kind and incident.
func (t *telemetry) jobs(next worker.HandlerFunc) worker.HandlerFunc {
	if t == nil {
		return next
	}
	return func(ctx context.Context, job oncall.Job) error {
		kv := []string{"oncall.job.id", job.ID, "oncall.job.kind", string(job.Kind)}
		if job.Kind == oncall.JobAlert {
			kv = append(kv, "oncall.incident.key", oncall.IncidentKey(job.Route, job.GroupKey))
		}
		return next(selftrace.WithBaggage(ctx, kv...), job)
	}
}

// triager measures and traces each triage.
func (t *telemetry) triager(svc *triage.Service, modelOn bool) incident.Triager {
	if t == nil {
		return svc
	}
	return observe.NewTriage(observe.TriageOptions{Service: svc, Tracer: t.tracer, Metrics: t.metrics, Logger: t.log, ModelOn: modelOn})
}

// answerer traces each follow-up answer.
func (t *telemetry) answerer(a bot.Answerer) bot.Answerer {
	if t == nil {
		return a
	}
	return &observedAnswerer{next: a, t: t}
}

// observedAnswerer records a follow-up question as a trace: a root agent
// span whose children are the model and trace-store calls the answer
// made.
type observedAnswerer struct {
	next bot.Answerer
	t    *telemetry
}

func (o *observedAnswerer) Answer(ctx context.Context, q bot.Question) (bot.Answer, error) {
	start := time.Now()
	ctx, root := o.t.tracer.Start(ctx, "follow-up", oncall.KindAgent)
	defer root.End()
	key := ""
	if q.Incident != nil {
		key = q.Incident.Key
		root.Set("oncall.incident.key", key)
	}
	root.Set("oncall.question.chars", fmt.Sprint(len(q.Text)), "oncall.history.turns", fmt.Sprint(len(q.History)))
	ans, err := o.next.Answer(ctx, q)
	outcome := "answered"
	switch {
	case err != nil:
		outcome = "error"
		root.Fail(err)
	case ans.Partial:
		outcome = "partial"
		root.OK()
	default:
		root.OK()
	}
	root.Set("follow_up.outcome", outcome, "follow_up.steps", fmt.Sprint(ans.Steps), "follow_up.tool_calls", fmt.Sprint(ans.ToolCalls))
	o.t.log.InfoContext(ctx, "follow-up answered", "incident", key, "job", selftrace.Baggage(ctx)["oncall.job.id"],
		"outcome", outcome, "steps", ans.Steps, "tool_calls", ans.ToolCalls, "took", time.Since(start).Round(time.Millisecond))
	return ans, err
}

// modelOn reports whether triage has a model to call.
func modelOn(cfg config.Config) bool {
	return cfg.Model.APIKey.IsSet() && strings.TrimSpace(cfg.Model.Name) != ""
}
