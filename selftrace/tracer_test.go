package selftrace_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/selftrace"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// clock advances a millisecond on every reading.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

// memSink keeps what it is given; it fails while fail is set.
type memSink struct {
	mu     sync.Mutex
	traces []oncall.Trace
	calls  int
	fail   error
}

func (m *memSink) Export(_ context.Context, traces []oncall.Trace) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if m.fail != nil {
		return m.fail
	}
	m.traces = append(m.traces, traces...)
	return nil
}

func (m *memSink) Traces() []oncall.Trace {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]oncall.Trace(nil), m.traces...)
}

// countObserver sums spans by outcome.
type countObserver struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *countObserver) SelfTraceSpans(outcome string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[outcome] += n
}

func (c *countObserver) get(outcome string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[outcome]
}

func newTracer(t *testing.T, sink selftrace.Sink, opts selftrace.Options) *selftrace.Tracer {
	t.Helper()
	opts.Sink = sink
	if opts.Now == nil {
		opts.Now = newClock().Now
	}
	tr, err := selftrace.New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return tr
}

func TestNewValidates(t *testing.T) {
	for name, opts := range map[string]selftrace.Options{
		"no sink":         {},
		"negative queue":  {Sink: &memSink{}, QueueSize: -1},
		"negative batch":  {Sink: &memSink{}, BatchSize: -1},
		"negative flush":  {Sink: &memSink{}, FlushInterval: -time.Second},
		"negative export": {Sink: &memSink{}, ExportTimeout: -time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := selftrace.New(opts); err == nil {
				t.Fatal("New accepted invalid options")
			}
		})
	}
}

func TestSpansFormOneTraceExportedWhenTheRootEnds(t *testing.T) {
	sink := &memSink{}
	tr := newTracer(t, sink, selftrace.Options{Attributes: map[string]string{"service.version": "1.2.3"}})
	ctx := selftrace.WithBaggage(t.Context(), "oncall.job.id", "job-1")
	ctx, root := tr.Start(ctx, "triage", oncall.KindAgent)
	cctx, step := tr.Start(ctx, "triage.prepare", oncall.KindChain)
	_, tool := tr.Start(cctx, "search_traces", oncall.KindTool)
	tool.SetTool("search_traces", `{"source":"jsonl"}`)
	tool.OK()
	tool.End()
	step.SetInt("triage.traces", 42)
	step.End()
	if err := tr.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := len(sink.Traces()); got != 0 {
		t.Fatalf("%d traces exported before the root ended", got)
	}
	root.Fail(errors.New("model unavailable"))
	root.End()
	root.Set("late", "ignored") // after End: no effect
	if err := tr.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	traces := sink.Traces()
	if len(traces) != 1 {
		t.Fatalf("exported %d traces, want 1", len(traces))
	}
	got := traces[0]
	if got.TraceID != root.TraceID() || len(got.TraceID) != 32 || len(got.Spans) != 3 {
		t.Fatalf("trace %s with %d spans, want %s with 3", got.TraceID, len(got.Spans), root.TraceID())
	}
	if got.Name != "triage" || got.Service != selftrace.DefaultService || got.Source != selftrace.SourceName || got.Attributes["service.version"] != "1.2.3" {
		t.Errorf("trace fields = name %q service %q source %q attrs %v", got.Name, got.Service, got.Source, got.Attributes)
	}
	byName := map[string]oncall.Span{}
	for _, s := range got.Spans {
		byName[s.Name] = s
		if s.TraceID != got.TraceID || len(s.SpanID) != 16 || !s.End.After(s.Start) {
			t.Errorf("span %s: trace %s id %q %v..%v", s.Name, s.TraceID, s.SpanID, s.Start, s.End)
		}
	}
	r, p, tool2 := byName["triage"], byName["triage.prepare"], byName["search_traces"]
	if r.ParentID != "" || p.ParentID != r.SpanID || tool2.ParentID != p.SpanID {
		t.Errorf("parents: root %q prepare %q (want %q) tool %q (want %q)", r.ParentID, p.ParentID, r.SpanID, tool2.ParentID, p.SpanID)
	}
	if r.Attributes["oncall.job.id"] != "job-1" || p.Attributes["oncall.job.id"] != "" {
		t.Errorf("baggage: root %v, child %v; want the job id on the root only", r.Attributes, p.Attributes)
	}
	if r.Status != oncall.StatusError || r.StatusMessage != "model unavailable" || len(r.Exceptions()) != 1 || r.Attributes["late"] != "" {
		t.Errorf("root status %q %q events %v attrs %v", r.Status, r.StatusMessage, r.Events, r.Attributes)
	}
	if tool2.Kind != oncall.KindTool || tool2.ToolName != "search_traces" || tool2.Status != oncall.StatusOK || p.Attributes["triage.traces"] != "42" {
		t.Errorf("tool %+v, prepare attrs %v", tool2, p.Attributes)
	}
}

func TestNilTracerAndSpanDoNothing(t *testing.T) {
	var tr *selftrace.Tracer
	ctx, sp := tr.Start(t.Context(), "x", oncall.KindChain)
	if sp != nil || ctx != t.Context() {
		t.Fatal("a nil tracer started a span")
	}
	sp.Set("a", "b")
	sp.SetModel("m", "p", oncall.Usage{PromptTokens: 1})
	sp.Fail(errors.New("x"))
	sp.OK()
	sp.End()
	if sp.TraceID() != "" || tr.Stats() != (selftrace.Stats{}) || tr.Flush(t.Context()) != nil {
		t.Fatal("nil tracer reported something")
	}
	var m selftrace.Chatter = fakeModel{}
	if tr.Model(m, "gpt", "openai") != m {
		t.Error("a nil tracer wrapped the model")
	}
}

func TestFullQueueDropsInsteadOfBlocking(t *testing.T) {
	sink := &memSink{}
	obs := &countObserver{}
	tr := newTracer(t, sink, selftrace.Options{QueueSize: 2, Observer: obs})
	for range 5 {
		ctx, root := tr.Start(t.Context(), "triage", oncall.KindAgent)
		_, child := tr.Start(ctx, "step", oncall.KindChain)
		child.End()
		root.End() // never blocks, though nothing exports
	}
	if err := tr.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := len(sink.Traces()); got != 2 {
		t.Errorf("exported %d traces, want the 2 the queue held", got)
	}
	st := tr.Stats()
	if st.Dropped != 6 || st.Exported != 4 || obs.get("dropped") != 6 || obs.get("exported") != 4 {
		t.Errorf("stats %+v, observer %v; want 6 dropped and 4 exported spans", st, obs.n)
	}
}

func TestLongTraceIsCappedAndLateSpansStillExported(t *testing.T) {
	sink := &memSink{}
	tr := newTracer(t, sink, selftrace.Options{MaxSpansPerTrace: 3})
	ctx, root := tr.Start(t.Context(), "follow-up", oncall.KindAgent)
	var late *selftrace.Span
	for i := range 4 {
		_, sp := tr.Start(ctx, "step", oncall.KindChain)
		if i == 0 {
			late = sp
			continue
		}
		sp.End()
	}
	root.End()
	late.End() // ends after its root
	if err := tr.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	traces := sink.Traces()
	if len(traces) != 2 || len(traces[0].Spans) != 2 || len(traces[1].Spans) != 1 || traces[1].TraceID != root.TraceID() {
		t.Fatalf("exported %d traces: %+v", len(traces), traces)
	}
	if st := tr.Stats(); st.Dropped != 2 {
		t.Errorf("dropped %d spans, want the 2 over the cap", st.Dropped)
	}
}

func TestRunExportsInBatchesAndFlushesOnShutdown(t *testing.T) {
	sink := &memSink{}
	tr := newTracer(t, sink, selftrace.Options{BatchSize: 2, FlushInterval: time.Hour})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- tr.Run(ctx) }()
	for range 5 {
		_, root := tr.Start(t.Context(), "triage", oncall.KindAgent)
		root.End()
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := len(sink.Traces()); got != 5 {
		t.Errorf("exported %d traces by shutdown, want 5", got)
	}
}

func TestFailedExportIsCountedNotReturned(t *testing.T) {
	sink := &memSink{fail: errors.New("collector down")}
	var logs bytes.Buffer
	tr := newTracer(t, sink, selftrace.Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	_, root := tr.Start(t.Context(), "triage", oncall.KindAgent)
	root.End()
	if err := tr.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := tr.Stats(); st.Failed != 1 || st.Exported != 0 {
		t.Errorf("stats %+v, want 1 failed span", st)
	}
	if !strings.Contains(logs.String(), "collector down") {
		t.Errorf("the failure was not logged: %s", logs.String())
	}
}

func TestLogHandlerAddsTraceIDs(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(selftrace.LogHandler(slog.NewJSONHandler(&buf, nil))).With("component", "test")
	tr := newTracer(t, &memSink{}, selftrace.Options{})
	ctx, sp := tr.Start(t.Context(), "triage", oncall.KindAgent)
	log.InfoContext(ctx, "triage done", "incident", "abc")
	log.Info("no context")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("logged %d lines", len(lines))
	}
	if !strings.Contains(lines[0], `"trace_id":"`+sp.TraceID()+`"`) || !strings.Contains(lines[0], `"span_id":"`+sp.SpanID()+`"`) || !strings.Contains(lines[0], `"component":"test"`) {
		t.Errorf("line with a span context: %s", lines[0])
	}
	if strings.Contains(lines[1], "trace_id") {
		t.Errorf("line without a span context has a trace id: %s", lines[1])
	}
}
