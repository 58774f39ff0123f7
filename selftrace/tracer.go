// Package selftrace traces the copilot itself: each triage and each
// follow-up answer becomes an OpenTelemetry trace whose spans carry the
// OpenInference and GenAI conventions (an LLM span per model call with
// model, tokens and cost, tool spans for trace-store reads, chain spans for
// the triage steps). Spans are built as oncall.Span values and exported in
// batches, in the background, to an OTLP/HTTP collector (OTLP/JSON on
// /v1/traces) or to a JSONL file written by tracesource/otlp.WriteJSONL,
// which the copilot's own JSONL trace source reads back: the copilot can
// triage its own failures.
//
// Tracing never blocks the work it observes: finished traces go to a
// bounded queue and are dropped, and counted, when it is full. A nil
// *Tracer and the nil *Span it starts are valid and do nothing, so code
// can be instrumented unconditionally.
//
// Spans never carry prompts, answers or trace content: only names, sizes,
// counts, model usage and error messages (which the adapters have already
// cleaned of credentials).
package selftrace

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// Defaults of Options.
const (
	DefaultService          = "oncall-copilot"
	DefaultQueueSize        = 256
	DefaultBatchSize        = 64
	DefaultFlushInterval    = 2 * time.Second
	DefaultMaxSpansPerTrace = 512
	DefaultExportTimeout    = 10 * time.Second
	// SourceName is what Trace.Source says for the copilot's own traces.
	SourceName = "selftrace"
)

// Sink receives batches of finished traces. Exports run one at a time
// from the tracer's Run or Flush.
type Sink interface {
	Export(ctx context.Context, traces []oncall.Trace) error
}

// Observer is told how many spans were exported, dropped (queue full or
// trace too long) or failed (the sink refused them); metrics implement it.
type Observer interface {
	SelfTraceSpans(outcome string, n int)
}

type nopObserver struct{}

func (nopObserver) SelfTraceSpans(string, int) {}

// Options configure a Tracer.
type Options struct {
	Sink Sink // required
	// Service is every span's service.name; default DefaultService.
	Service string
	// Attributes are added to every trace (service.version, host.name).
	Attributes map[string]string
	// QueueSize caps the finished traces waiting for export; default
	// DefaultQueueSize. When it is full new traces are dropped.
	QueueSize int
	// BatchSize caps the traces of one export; default DefaultBatchSize.
	BatchSize int
	// FlushInterval is the longest a finished trace waits for export;
	// default DefaultFlushInterval.
	FlushInterval time.Duration
	// MaxSpansPerTrace caps one trace; later spans are dropped and
	// counted; default DefaultMaxSpansPerTrace.
	MaxSpansPerTrace int
	// ExportTimeout bounds one export; default DefaultExportTimeout.
	ExportTimeout time.Duration
	Now           func() time.Time
	Logger        *slog.Logger
	Observer      Observer
}

// Tracer starts spans and exports finished traces. It is safe for
// concurrent use; the nil *Tracer does nothing.
type Tracer struct {
	opts  Options
	log   *slog.Logger
	queue chan oncall.Trace

	exportMu sync.Mutex // one export at a time
	exported atomic.Int64
	dropped  atomic.Int64
	failed   atomic.Int64
}

// New checks opts and returns a tracer. Call Run to export.
func New(opts Options) (*Tracer, error) {
	var errs []error
	if opts.Sink == nil {
		errs = append(errs, errors.New("a sink is required"))
	}
	for name, v := range map[string]int{"queue size": opts.QueueSize, "batch size": opts.BatchSize, "max spans per trace": opts.MaxSpansPerTrace} {
		if v < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative", name))
		}
	}
	if opts.FlushInterval < 0 || opts.ExportTimeout < 0 {
		errs = append(errs, errors.New("flush interval and export timeout must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("selftrace: %w", err)
	}
	if opts.Service == "" {
		opts.Service = DefaultService
	}
	if opts.QueueSize == 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.BatchSize == 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.FlushInterval == 0 {
		opts.FlushInterval = DefaultFlushInterval
	}
	if opts.MaxSpansPerTrace == 0 {
		opts.MaxSpansPerTrace = DefaultMaxSpansPerTrace
	}
	if opts.ExportTimeout == 0 {
		opts.ExportTimeout = DefaultExportTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Observer == nil {
		opts.Observer = nopObserver{}
	}
	return &Tracer{
		opts:  opts,
		log:   opts.Logger.With("component", "selftrace"),
		queue: make(chan oncall.Trace, opts.QueueSize),
	}, nil
}

// Stats counts spans by what became of them.
type Stats struct {
	Exported, Dropped, Failed int64
}

// Stats returns the counts so far.
func (t *Tracer) Stats() Stats {
	if t == nil {
		return Stats{}
	}
	return Stats{Exported: t.exported.Load(), Dropped: t.dropped.Load(), Failed: t.failed.Load()}
}

// traceRec gathers the ended spans of one trace until its root ends.
type traceRec struct {
	id      string
	attrs   map[string]string
	mu      sync.Mutex
	spans   []oncall.Span
	n       int  // spans started
	flushed bool // the root ended; later spans go out on their own
}

// Span is one unit of the copilot's work. Its methods are safe for
// concurrent use and do nothing on a nil *Span or after End.
type Span struct {
	t    *Tracer
	rec  *traceRec
	root bool
	mu   sync.Mutex
	s    oncall.Span
	done bool
}

type spanKey struct{}
type baggageKey struct{}

// FromContext returns the span ctx carries, or nil.
func FromContext(ctx context.Context) *Span {
	s, _ := ctx.Value(spanKey{}).(*Span)
	return s
}

// WithBaggage returns a context whose new root spans carry the given
// attributes (key, value pairs), such as the job id a worker runs.
func WithBaggage(ctx context.Context, kv ...string) context.Context {
	b := maps.Clone(Baggage(ctx))
	if b == nil {
		b = map[string]string{}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		b[kv[i]] = kv[i+1]
	}
	return context.WithValue(ctx, baggageKey{}, b)
}

// Baggage returns the attributes WithBaggage put in ctx; do not modify it.
func Baggage(ctx context.Context) map[string]string {
	b, _ := ctx.Value(baggageKey{}).(map[string]string)
	return b
}

// Start begins a span named name, the child of the span in ctx or the
// root of a new trace, and returns a context carrying it. On a nil Tracer
// it returns ctx and a nil span.
func (t *Tracer) Start(ctx context.Context, name string, kind oncall.SpanKind) (context.Context, *Span) {
	if t == nil {
		return ctx, nil
	}
	parent := FromContext(ctx)
	if parent != nil && parent.t != t {
		parent = nil
	}
	sp := &Span{t: t, s: oncall.Span{SpanID: newID(8), Name: name, Kind: kind, Service: t.opts.Service, Start: t.opts.Now()}}
	if parent != nil {
		sp.rec = parent.rec
		sp.s.ParentID = parent.s.SpanID
	} else {
		sp.root = true
		sp.rec = &traceRec{id: newID(16), attrs: maps.Clone(t.opts.Attributes)}
		if b := Baggage(ctx); len(b) > 0 {
			sp.s.Attributes = maps.Clone(b)
		}
	}
	sp.s.TraceID = sp.rec.id
	sp.rec.mu.Lock()
	sp.rec.n++
	over := sp.rec.n > t.opts.MaxSpansPerTrace
	sp.rec.mu.Unlock()
	if over {
		// Too long a trace: the span works for its children's context but
		// is not recorded.
		sp.done = true
		t.drop(1)
	}
	return context.WithValue(ctx, spanKey{}, sp), sp
}

// TraceID returns the span's trace id, or "" for a nil span.
func (s *Span) TraceID() string {
	if s == nil {
		return ""
	}
	return s.s.TraceID
}

// SpanID returns the span's id, or "" for a nil span.
func (s *Span) SpanID() string {
	if s == nil {
		return ""
	}
	return s.s.SpanID
}

// Set adds attributes given as key, value pairs.
func (s *Span) Set(kv ...string) {
	s.update(func(sp *oncall.Span) {
		if sp.Attributes == nil {
			sp.Attributes = make(map[string]string, len(kv)/2)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			sp.Attributes[kv[i]] = kv[i+1]
		}
	})
}

// SetInt adds an integer attribute.
func (s *Span) SetInt(key string, v int) { s.Set(key, strconv.Itoa(v)) }

// SetModel records the model a call used and its usage: model name,
// provider, tokens and cost in USD.
func (s *Span) SetModel(model, provider string, u oncall.Usage) {
	s.update(func(sp *oncall.Span) {
		sp.Model, sp.Provider = model, provider
		sp.InputTokens, sp.OutputTokens = int64(u.PromptTokens), int64(u.CompletionTokens)
		sp.TotalTokens = int64(u.PromptTokens + u.CompletionTokens)
		sp.Cost = u.Cost
	})
}

// SetTool records the tool a span runs and its arguments (JSON, never
// secret).
func (s *Span) SetTool(name, args string) {
	s.update(func(sp *oncall.Span) { sp.ToolName, sp.ToolArgs = name, args })
}

// Fail marks the span failed with err's message and an exception event.
func (s *Span) Fail(err error) {
	if err == nil {
		return
	}
	msg := clip(err.Error(), 1000)
	inner := err
	for u := errors.Unwrap(inner); u != nil; u = errors.Unwrap(inner) {
		inner = u
	}
	typ := fmt.Sprintf("%T", inner)
	s.update(func(sp *oncall.Span) {
		sp.Status, sp.StatusMessage = oncall.StatusError, msg
		sp.Events = append(sp.Events, oncall.SpanEvent{Name: "exception", Time: s.t.opts.Now(),
			Attributes: map[string]string{"exception.type": typ, "exception.message": msg}})
	})
}

// OK marks the span successful, unless it failed.
func (s *Span) OK() {
	s.update(func(sp *oncall.Span) {
		if sp.Status != oncall.StatusError {
			sp.Status = oncall.StatusOK
		}
	})
}

// End finishes the span. The trace is queued for export when its root
// ends; spans ending after their root are queued on their own.
func (s *Span) End() {
	if s == nil {
		return
	}
	s.mu.Lock()
	if s.done {
		s.mu.Unlock()
		return
	}
	s.done = true
	s.s.End = s.t.opts.Now()
	sp := s.s
	s.mu.Unlock()

	rec := s.rec
	rec.mu.Lock()
	if rec.flushed {
		rec.mu.Unlock()
		s.t.enqueue(oncall.Trace{TraceID: rec.id, Spans: []oncall.Span{sp}})
		return
	}
	rec.spans = append(rec.spans, sp)
	if !s.root {
		rec.mu.Unlock()
		return
	}
	rec.flushed = true
	spans := rec.spans
	rec.spans = nil
	rec.mu.Unlock()
	s.t.enqueue(oncall.Trace{TraceID: rec.id, Spans: spans, Attributes: rec.attrs})
}

func (s *Span) update(fn func(*oncall.Span)) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.done {
		fn(&s.s)
	}
}

func newID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
