// Package metrics is oncall-copilot's Prometheus instrumentation: one
// registry of its own (never the process-wide default) holding the
// counters and histograms of webhook intake, the job queue and workers,
// triage, model calls, Slack calls and trace-store reads, served on
// GET /metrics.
//
// Components do not import this package: each declares a small observer
// interface where it is used (alerts.Observer, worker.Observer,
// bot.Observer) and *Metrics satisfies them. Model and trace-store calls
// are measured by wrappers (Metrics.Model, Metrics.TraceSource) composed
// in cmd/. Label values are bounded sets: source names, outcomes, Slack
// method names, configured model and trace-source names.
//
// Exported series (all prefixed oncall_):
//
//	webhook_requests_total{source,outcome}      webhooks answered
//	alerts_received_total{source,outcome}       alerts in those webhooks
//	dedupe_hits_total{source}                   replayed deliveries answered without a job
//	queue_jobs{state}                           ready, delayed, in_flight, dead (read on scrape)
//	queue_oldest_job_age_seconds                age of the oldest waiting job (read on scrape)
//	queue_up                                    1 when the last scrape could read the queue
//	job_duration_seconds{kind,outcome}          jobs run by the workers, by outcome
//	dead_letters_total{kind}                    jobs sent to the dead letters
//	triage_duration_seconds{outcome}            triages: diagnosed, offline, model_failed, error
//	triage_traces                               traces read per triage
//	model_calls_total{model,outcome}            model calls: ok, rate_limited, server_error, ...
//	model_call_duration_seconds{model}          model call latency, retries included
//	model_tokens_total{model,type}              prompt and completion tokens
//	model_cost_usd_total{model}                 priced model spend
//	slack_calls_total{method,outcome}           Slack Web API attempts: ok, rate_limited, error
//	slack_call_duration_seconds{method}         Slack attempt latency
//	slack_rate_limited_total{method}            Slack 429s
//	trace_store_calls_total{source,op,outcome}  trace-store searches and gets
//	trace_store_call_duration_seconds{source,op}
//	selftrace_spans_total{outcome}              the copilot's own spans: exported, dropped, failed
//
// plus the Go runtime and process collectors (go_*, process_*).
package metrics

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// DefaultScrapeTimeout bounds the queue read a scrape makes.
const DefaultScrapeTimeout = time.Second

// QueueStatser reports a job queue's backlog; both stores satisfy it.
type QueueStatser interface {
	QueueStats(ctx context.Context) (oncall.QueueStats, error)
}

// Options configure New.
type Options struct {
	// Queue, when set, is read on every scrape for the queue depth and
	// the oldest job's age.
	Queue QueueStatser
	// DataLoss, when set, is read on every scrape for the store's data
	// losses.
	DataLoss DataLossReporter
	// ScrapeTimeout bounds that read; default DefaultScrapeTimeout.
	ScrapeTimeout time.Duration
	// NoRuntime leaves out the Go runtime and process collectors, for
	// tests that compare whole expositions.
	NoRuntime bool
}

// Metrics holds the registry and every collector. Its methods are safe
// for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	webhooks    *prometheus.CounterVec
	alerts      *prometheus.CounterVec
	dedupeHits  *prometheus.CounterVec
	jobs        *prometheus.HistogramVec
	deadLetters *prometheus.CounterVec
	triages     *prometheus.HistogramVec
	triageTrace prometheus.Histogram
	modelCalls  *prometheus.CounterVec
	modelTime   *prometheus.HistogramVec
	modelTokens *prometheus.CounterVec
	modelCost   *prometheus.CounterVec
	slackCalls  *prometheus.CounterVec
	slackTime   *prometheus.HistogramVec
	slack429    *prometheus.CounterVec
	traceCalls  *prometheus.CounterVec
	traceTime   *prometheus.HistogramVec
	selfSpans   *prometheus.CounterVec
}

// New checks opts and returns metrics registered on a registry of their
// own.
func New(opts Options) (*Metrics, error) {
	if opts.ScrapeTimeout < 0 {
		return nil, errors.New("metrics: scrape timeout must not be negative")
	}
	if opts.ScrapeTimeout == 0 {
		opts.ScrapeTimeout = DefaultScrapeTimeout
	}
	m := &Metrics{reg: prometheus.NewRegistry()}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "oncall", Name: name, Help: help}, labels)
	}
	histogram := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "oncall", Name: name, Help: help, Buckets: buckets}, labels)
	}
	fast := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	slow := []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 20, 40, 80, 160, 300, 600}

	m.webhooks = counter("webhook_requests_total", "Webhook requests answered, by alert source and outcome.", "source", "outcome")
	m.alerts = counter("alerts_received_total", "Alerts carried by the webhooks answered, by alert source and outcome.", "source", "outcome")
	m.dedupeHits = counter("dedupe_hits_total", "Replayed webhook deliveries answered without queueing a job.", "source")
	m.jobs = histogram("job_duration_seconds", "Time workers spent on a job delivery, by job kind and outcome (done, retry, dead, handed_back, lease_lost).", slow, "kind", "outcome")
	m.deadLetters = counter("dead_letters_total", "Jobs sent to the dead letters.", "kind")
	m.triages = histogram("triage_duration_seconds", "Triages by outcome (diagnosed, offline, model_failed, error).", slow, "outcome")
	m.triageTrace = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "oncall", Name: "triage_traces", Help: "Traces read per triage.",
		Buckets: []float64{0, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500}})
	m.modelCalls = counter("model_calls_total", "Model calls by model and outcome (ok, rate_limited, server_error, unauthorized, timeout, canceled, error).", "model", "outcome")
	m.modelTime = histogram("model_call_duration_seconds", "Model call latency, retries included.", slow, "model")
	m.modelTokens = counter("model_tokens_total", "Tokens the model calls used, by type (prompt, completion).", "model", "type")
	m.modelCost = counter("model_cost_usd_total", "Priced spend of the model calls, in US dollars.", "model")
	m.slackCalls = counter("slack_calls_total", "Slack Web API attempts by method and outcome (ok, rate_limited, error).", "method", "outcome")
	m.slackTime = histogram("slack_call_duration_seconds", "Slack Web API attempt latency.", fast, "method")
	m.slack429 = counter("slack_rate_limited_total", "Slack Web API attempts answered with a rate limit.", "method")
	m.traceCalls = counter("trace_store_calls_total", "Trace-store calls by source, operation (search, get) and outcome (ok, not_found, error, canceled).", "source", "op", "outcome")
	m.traceTime = histogram("trace_store_call_duration_seconds", "Trace-store call latency.", fast, "source", "op")
	m.selfSpans = counter("selftrace_spans_total", "Spans of the copilot's own traces, by outcome (exported, dropped, failed).", "outcome")

	cs := []prometheus.Collector{
		m.webhooks, m.alerts, m.dedupeHits, m.jobs, m.deadLetters, m.triages, m.triageTrace,
		m.modelCalls, m.modelTime, m.modelTokens, m.modelCost, m.slackCalls, m.slackTime, m.slack429,
		m.traceCalls, m.traceTime, m.selfSpans,
	}
	if opts.Queue != nil {
		cs = append(cs, newQueueCollector(opts.Queue, opts.ScrapeTimeout))
	}
	if opts.DataLoss != nil {
		cs = append(cs, newDataLossCollector(opts.DataLoss))
	}
	if !opts.NoRuntime {
		cs = append(cs, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	for _, c := range cs {
		if err := m.reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Registry returns the registry the metrics live on.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text (or negotiated)
// exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, ErrorHandling: promhttp.ContinueOnError, Timeout: 10 * time.Second})
}

// Register mounts GET /metrics on mux.
func (m *Metrics) Register(mux *http.ServeMux) {
	mux.Handle("GET /metrics", m.Handler())
}

// WebhookHandled counts one answered webhook and the alerts it carried
// (zero when it could not be decoded). It satisfies alerts.Observer.
func (m *Metrics) WebhookHandled(source, outcome string, alerts int) {
	m.webhooks.WithLabelValues(source, outcome).Inc()
	if alerts > 0 {
		m.alerts.WithLabelValues(source, outcome).Add(float64(alerts))
	}
	if outcome == "duplicate" {
		m.dedupeHits.WithLabelValues(source).Inc()
	}
}

// JobDone records one job delivery's outcome; it satisfies
// worker.Observer.
func (m *Metrics) JobDone(kind oncall.JobKind, outcome string, d time.Duration) {
	m.jobs.WithLabelValues(string(kind), outcome).Observe(d.Seconds())
	if outcome == "dead" {
		m.deadLetters.WithLabelValues(string(kind)).Inc()
	}
}

// TriageDone records one triage.
func (m *Metrics) TriageDone(outcome string, traces int, d time.Duration) {
	m.triages.WithLabelValues(outcome).Observe(d.Seconds())
	if outcome != "error" {
		m.triageTrace.Observe(float64(traces))
	}
}

// ModelCall records one model call with what it used.
func (m *Metrics) ModelCall(model, outcome string, u oncall.Usage, d time.Duration) {
	m.modelCalls.WithLabelValues(model, outcome).Inc()
	m.modelTime.WithLabelValues(model).Observe(d.Seconds())
	if u.PromptTokens > 0 {
		m.modelTokens.WithLabelValues(model, "prompt").Add(float64(u.PromptTokens))
	}
	if u.CompletionTokens > 0 {
		m.modelTokens.WithLabelValues(model, "completion").Add(float64(u.CompletionTokens))
	}
	if u.Cost > 0 {
		m.modelCost.WithLabelValues(model).Add(u.Cost)
	}
}

// SlackCall records one Slack Web API attempt; it satisfies bot.Observer.
func (m *Metrics) SlackCall(method, outcome string, d time.Duration) {
	m.slackCalls.WithLabelValues(method, outcome).Inc()
	m.slackTime.WithLabelValues(method).Observe(d.Seconds())
	if outcome == "rate_limited" {
		m.slack429.WithLabelValues(method).Inc()
	}
}

// TraceStoreCall records one trace-store call.
func (m *Metrics) TraceStoreCall(source, op, outcome string, d time.Duration) {
	m.traceCalls.WithLabelValues(source, op, outcome).Inc()
	m.traceTime.WithLabelValues(source, op).Observe(d.Seconds())
}

// SelfTraceSpans counts spans of the copilot's own traces by outcome; it
// satisfies selftrace.Observer.
func (m *Metrics) SelfTraceSpans(outcome string, n int) {
	if n > 0 {
		m.selfSpans.WithLabelValues(outcome).Add(float64(n))
	}
}
