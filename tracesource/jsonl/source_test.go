package jsonl

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/tracesource/otlp"
)

var t0 = time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)

// genTrace builds an agent run with an LLM call and a tool call starting at
// start; failing traces end in a tool error.
func genTrace(n int, start time.Time, service, agent string, failing bool) oncall.Trace {
	id := fmt.Sprintf("%032x", 0x1000+n)
	sid := func(i int) string { return fmt.Sprintf("%016x", n*16+i+1) }
	attrs := func(extra ...string) map[string]string {
		m := map[string]string{"service.name": service, "deployment.environment.name": "prod"}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		return m
	}
	root := oncall.Span{TraceID: id, SpanID: sid(0), Name: "run " + agent, Kind: oncall.KindAgent, Service: service,
		Start: start, End: start.Add(3 * time.Second), Attributes: attrs("gen_ai.agent.name", agent)}
	llm := oncall.Span{TraceID: id, SpanID: sid(1), ParentID: sid(0), Name: "chat", Kind: oncall.KindLLM, Service: service,
		Start: start.Add(100 * time.Millisecond), End: start.Add(time.Second), Model: "model-a", InputTokens: 100, OutputTokens: 10, TotalTokens: 110,
		Attributes: attrs()}
	tool := oncall.Span{TraceID: id, SpanID: sid(2), ParentID: sid(0), Name: "execute_tool fetch", Kind: oncall.KindTool, Service: service,
		Start: start.Add(time.Second), End: start.Add(2 * time.Second), ToolName: "fetch", ToolArgs: `{"n":1}`, Status: oncall.StatusOK, Attributes: attrs()}
	if failing {
		tool.Status, tool.StatusMessage = oncall.StatusError, "upstream unavailable"
	}
	t := oncall.Trace{TraceID: id, Spans: []oncall.Span{root, llm, tool}}
	t.Finish()
	return t
}

func writeJSONL(t testing.TB, path string, traces []oncall.Trace) {
	t.Helper()
	var buf bytes.Buffer
	if err := otlp.WriteJSONL(&buf, traces); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, buf.Bytes())
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(path, ".gz") {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(data)
		zw.Close()
		data = buf.Bytes()
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

const langfuseLine = `{"trace":{"id":"lf-trace-1","name":"checkout","timestamp":"2026-05-04T12:30:00Z","environment":"prod","userId":"u1","metadata":{"resourceAttributes":{"service.name":"shop"}}},` +
	`"observations":[{"id":"g1","type":"GENERATION","name":"plan","startTime":"2026-05-04T12:30:01Z","endTime":"2026-05-04T12:30:02Z","model":"model-b","usageDetails":{"input":5,"output":5,"total":10},"level":"ERROR","statusMessage":"rate limited"}]}`

// phoenixLines are the spans of one trace in Phoenix's flat export shape,
// the root in the nested form and the child in a flattened data frame form.
const phoenixLines = `{"name":"agent","context":{"trace_id":"AB00000000000000000000000000000C","span_id":"00000000000000a1"},"parent_id":null,"span_kind":"AGENT","start_time":"2026-05-04T12:40:00.000000+00:00","end_time":"2026-05-04T12:40:05.000000+00:00","status_code":"OK","status_message":"","attributes":{"gen_ai":{"agent":{"name":"phoenix-agent"}},"input":{"value":"hi"}},"events":[]}
{"name":"llm","context.trace_id":"0xab00000000000000000000000000000c","context.span_id":"0x00000000000000a2","parent_id":"0x00000000000000a1","span_kind":"LLM","start_time":"2026-05-04T12:40:01Z","end_time":"2026-05-04T12:40:02Z","status_code":"ERROR","status_message":"context length exceeded","attributes.llm.model_name":"model-c","attributes.llm.token_count.prompt":9000,"attributes.llm.input_messages":[{"message":{"role":"user","content":"x"}}],"events":[{"name":"exception","timestamp":"2026-05-04T12:40:02Z","attributes":{"exception.type":"BadRequest","exception.message":"too long"}}]}
`

func fixtureDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	writeJSONL(t, filepath.Join(dir, "a.jsonl"), []oncall.Trace{
		genTrace(1, t0, "support", "triager", false),
		genTrace(2, t0.Add(10*time.Minute), "support", "triager", true),
		genTrace(3, t0.Add(20*time.Minute), "billing", "biller", true),
	})
	writeJSONL(t, filepath.Join(dir, "sub", "b.jsonl.gz"), []oncall.Trace{
		genTrace(4, t0.Add(-2*time.Hour), "support", "triager", true), // before the window
		genTrace(5, t0.Add(50*time.Minute), "support", "triager", false),
	})
	writeFile(t, filepath.Join(dir, "sub", "lf.ndjson"), []byte("not json at all\n"+langfuseLine+"\n{\"unknown\":true}\n"))
	writeFile(t, filepath.Join(dir, "phoenix.jsonl"), []byte(phoenixLines))
	writeFile(t, filepath.Join(dir, "README.md"), []byte("{not a trace file}"))
	// One pretty-printed export per file, as Langfuse's export writes it.
	writeFile(t, filepath.Join(dir, "exports", "one.json"), []byte(`{
  "trace": {
    "id": "lf-trace-2",
    "name": "refund",
    "timestamp": "2026-05-04T12:45:00Z"
  },
  "observations": [
    {"id": "t1", "type": "TOOL", "name": "refund_api", "startTime": "2026-05-04T12:45:01Z", "endTime": "2026-05-04T12:45:02Z"}
  ]
}
`))
	return dir
}

func newSource(t testing.TB, path string) *Source {
	t.Helper()
	s, err := New(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSearch(t *testing.T) {
	src := newSource(t, fixtureDir(t))
	window := oncall.TraceQuery{Start: t0.Add(-time.Minute), End: t0.Add(time.Hour)}
	with := func(q oncall.TraceQuery, f func(*oncall.TraceQuery)) oncall.TraceQuery { f(&q); return q }
	tests := []struct {
		name    string
		q       oncall.TraceQuery
		want    []string // trace ids, newest first
		matched int
	}{
		{"window", window, []string{id(5), "lf-trace-2", "ab00000000000000000000000000000c", "lf-trace-1", id(3), id(2), id(1)}, 7},
		{"a cap keeps failing runs besides a uniform sample of healthy ones", with(window, func(q *oncall.TraceQuery) { q.Limit = 2 }),
			[]string{id(5), "ab00000000000000000000000000000c", id(2), id(1)}, 7},
		{"service filter", with(window, func(q *oncall.TraceQuery) { q.Filters = map[string]string{"service.name": "support"} }), []string{id(5), id(2), id(1)}, 3},
		{"agent and environment", with(window, func(q *oncall.TraceQuery) {
			q.Filters = map[string]string{"gen_ai.agent.name": "biller", "deployment.environment.name": "prod"}
		}), []string{id(3)}, 1},
		{"agent from nested phoenix attributes", with(window, func(q *oncall.TraceQuery) { q.Filters = map[string]string{"gen_ai.agent.name": "phoenix-agent"} }), []string{"ab00000000000000000000000000000c"}, 1},
		{"langfuse trace name", with(window, func(q *oncall.TraceQuery) { q.Filters = map[string]string{"trace.name": "checkout"} }), []string{"lf-trace-1"}, 1},
		{"filters must all match", with(window, func(q *oncall.TraceQuery) {
			q.Filters = map[string]string{"service.name": "support", "gen_ai.agent.name": "biller"}
		}), nil, 0},
		{"open window", oncall.TraceQuery{Filters: map[string]string{"service.name": "support"}}, []string{id(5), id(2), id(1), id(4)}, 4},
		{"window end is exclusive", oncall.TraceQuery{Start: t0.Add(-3 * time.Hour), End: t0}, []string{id(4)}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := src.Search(context.Background(), tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(res.Traces); strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("traces %v, want %v", got, tt.want)
			}
			if res.Matched != tt.matched {
				t.Errorf("matched %d, want %d", res.Matched, tt.matched)
			}
			for _, tr := range res.Traces {
				if tr.Source != SourceName || tr.Root() == nil || tr.Start.IsZero() {
					t.Errorf("trace %s: source %q, root %v, start %v", tr.TraceID, tr.Source, tr.Root(), tr.Start)
				}
			}
		})
	}
	if got := src.Skipped(); got != 18 { // 2 bad records per search of lf.ndjson, 9 searches
		t.Errorf("skipped %d records, want 18", got)
	}
}

func TestSearchDecodesEveryShape(t *testing.T) {
	src := newSource(t, fixtureDir(t))
	res, err := src.Search(context.Background(), oncall.TraceQuery{Start: t0, End: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]oncall.Trace{}
	for _, tr := range res.Traces {
		byID[tr.TraceID] = tr
	}
	t.Run("otlp", func(t *testing.T) {
		tr := byID[id(2)]
		if len(tr.Spans) != 3 || !tr.Failed() || tr.Service != "support" || tr.Attributes["gen_ai.agent.name"] != "triager" {
			t.Errorf("spans %d failed %v service %q attrs %v", len(tr.Spans), tr.Failed(), tr.Service, tr.Attributes)
		}
	})
	t.Run("langfuse line", func(t *testing.T) {
		tr := byID["lf-trace-1"]
		llm := tr.Span("g1")
		if tr.Name != "checkout" || tr.Service != "shop" || llm == nil || llm.Model != "model-b" || !llm.Failed() || llm.TotalTokens != 10 {
			t.Errorf("trace %+v", tr)
		}
	})
	t.Run("langfuse pretty-printed file", func(t *testing.T) {
		tr := byID["lf-trace-2"]
		if s := tr.Span("t1"); tr.Name != "refund" || s == nil || s.Kind != oncall.KindTool {
			t.Errorf("trace %+v", tr)
		}
	})
	t.Run("phoenix spans across lines", func(t *testing.T) {
		tr := byID["ab00000000000000000000000000000c"]
		if len(tr.Spans) != 2 {
			t.Fatalf("got %d spans", len(tr.Spans))
		}
		root, llm := tr.Span("00000000000000a1"), tr.Span("00000000000000a2")
		if root == nil || llm == nil || llm.ParentID != root.SpanID {
			t.Fatalf("root %v llm %v", root, llm)
		}
		if root.Kind != oncall.KindAgent || root.Input != "hi" || root.Status != oncall.StatusOK {
			t.Errorf("root %+v", root)
		}
		if llm.Kind != oncall.KindLLM || llm.Model != "model-c" || llm.InputTokens != 9000 || !llm.Failed() || llm.StatusMessage != "context length exceeded" {
			t.Errorf("llm %+v", llm)
		}
		if llm.Attributes["llm.input_messages.0.message.role"] != "user" || len(llm.Exceptions()) != 1 {
			t.Errorf("llm attributes %v events %v", llm.Attributes, llm.Events)
		}
		if want := time.Date(2026, 5, 4, 12, 40, 5, 0, time.UTC); !tr.End.Equal(want) {
			t.Errorf("end %v, want %v", tr.End, want)
		}
	})
}

func TestSpansOfOneTraceAcrossFiles(t *testing.T) {
	// The first file holds a span long before the window, the second the
	// rest of the trace inside it: the early span must not be lost.
	dir := t.TempDir()
	tr := genTrace(7, t0, "svc", "agent", false)
	early := tr
	early.Spans = []oncall.Span{tr.Spans[0]}
	early.Spans[0].Start, early.Spans[0].End = t0.Add(-6*time.Hour), t0.Add(-5*time.Hour)
	rest := tr
	rest.Spans = tr.Spans[1:]
	writeJSONL(t, filepath.Join(dir, "1.jsonl"), []oncall.Trace{early})
	writeJSONL(t, filepath.Join(dir, "2.jsonl"), []oncall.Trace{rest})
	src := newSource(t, dir)
	res, err := src.Search(context.Background(), oncall.TraceQuery{Start: t0, End: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Traces) != 1 || len(res.Traces[0].Spans) != 3 {
		t.Fatalf("got %d traces, spans %v", len(res.Traces), res.Traces)
	}
	if got := res.Traces[0]; !got.Start.Equal(t0.Add(-6*time.Hour)) || got.Root().SpanID != tr.Spans[0].SpanID {
		t.Errorf("trace start %v root %s", got.Start, got.Root().SpanID)
	}
}

func TestSameTraceInTwoFiles(t *testing.T) {
	dir := t.TempDir()
	tr := genTrace(8, t0, "svc", "agent", false)
	writeJSONL(t, filepath.Join(dir, "1.jsonl"), []oncall.Trace{tr})
	writeJSONL(t, filepath.Join(dir, "copy", "1.jsonl"), []oncall.Trace{tr})
	src := newSource(t, dir)
	res, err := src.Search(context.Background(), oncall.TraceQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Traces) != 1 || len(res.Traces[0].Spans) != 3 {
		t.Fatalf("got %d traces, spans %d", len(res.Traces), len(res.Traces[0].Spans))
	}
	got, err := src.Get(context.Background(), tr.TraceID)
	if err != nil || len(got.Spans) != 3 {
		t.Errorf("Get: %d spans, err %v", len(got.Spans), err)
	}
}

func TestSearchBoundsMemory(t *testing.T) {
	// With a limit of 3 (and so a keep cap of 3), at most 12 traces hold
	// spans at any time, yet the result is 3 failing and 3 healthy
	// complete traces standing for all 200, and all are counted.
	dir := t.TempDir()
	var traces []oncall.Trace
	for i := range 200 {
		// Interleave old and new so eviction has to happen.
		start := t0.Add(time.Duration((i*37)%200) * time.Second)
		traces = append(traces, genTrace(i, start, "svc", "agent", i%2 == 0))
	}
	// Split every trace over two lines so partly held traces occur.
	var halves []oncall.Trace
	for _, tr := range traces {
		a, b := tr, tr
		a.Spans, b.Spans = tr.Spans[:1], tr.Spans[1:]
		halves = append(halves, a, b)
	}
	writeJSONL(t, filepath.Join(dir, "many.jsonl"), halves)

	q, _ := newQuery(oncall.TraceQuery{Limit: 3})
	c := newCollector(q)
	src := newSource(t, dir)
	maxHeld := 0
	if _, err := src.scan(context.Background(), nil, func(spans []oncall.Span) {
		c.add(spans)
		maxHeld = max(maxHeld, len(c.held))
	}); err != nil {
		t.Fatal(err)
	}
	if maxHeld > 12 {
		t.Errorf("held spans of %d traces at once, want at most 12", maxHeld)
	}

	res, err := src.Search(context.Background(), oncall.TraceQuery{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if res.Matched != 200 || len(res.Traces) != 6 {
		t.Fatalf("matched %d, returned %d", res.Matched, len(res.Traces))
	}
	failing, total := 0, 0.0
	for i, tr := range res.Traces {
		if i > 0 && tr.Start.After(res.Traces[i-1].Start) {
			t.Errorf("trace %d is newer than the one before", i)
		}
		if len(tr.Spans) != 3 {
			t.Errorf("trace %s has %d spans, want 3", tr.TraceID, len(tr.Spans))
		}
		if tr.Failed() {
			failing++
		}
		total += res.Weights[tr.TraceID]
	}
	if failing != 3 || math.Abs(total-200) > 1e-6 || res.Sampling == "" {
		t.Errorf("%d failing traces, weights adding up to %.0f, note %q; want 3, 200 and a note", failing, total, res.Sampling)
	}
}

func TestSearchReadsEvictedTracesAgain(t *testing.T) {
	// The only matching traces are the oldest, so their spans are evicted
	// while newer, non-matching traces stream by; they must come back
	// complete.
	dir := t.TempDir()
	var traces []oncall.Trace
	for i := range 60 {
		svc := "busy"
		if i < 3 {
			svc = "rare"
		}
		traces = append(traces, genTrace(i, t0.Add(time.Duration(i)*time.Second), svc, "agent", false))
	}
	writeJSONL(t, filepath.Join(dir, "t.jsonl"), traces)
	res, err := newSource(t, dir).Search(context.Background(), oncall.TraceQuery{Limit: 3, Filters: map[string]string{"service.name": "rare"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(res.Traces); strings.Join(got, ",") != strings.Join([]string{id(2), id(1), id(0)}, ",") || res.Matched != 3 {
		t.Fatalf("traces %v matched %d", got, res.Matched)
	}
	for _, tr := range res.Traces {
		if len(tr.Spans) != 3 {
			t.Errorf("trace %s has %d spans, want 3", tr.TraceID, len(tr.Spans))
		}
	}
}

func TestGet(t *testing.T) {
	dir := fixtureDir(t)
	src := newSource(t, dir)
	tests := []struct {
		name, id string
		spans    int
		err      error
	}{
		{"hex", id(3), 3, nil},
		{"upper-case hex", strings.ToUpper(id(3)), 3, nil},
		{"gzipped file", id(4), 3, nil},
		{"langfuse id", "lf-trace-1", 2, nil},
		{"phoenix with 0x", "0xab00000000000000000000000000000c", 2, nil},
		{"missing", fmt.Sprintf("%032x", 0xdead), 0, oncall.ErrNotFound},
		{"empty", " ", 0, oncall.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := src.Get(context.Background(), tt.id)
			if !errors.Is(err, tt.err) || (err != nil) != (tt.err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if len(tr.Spans) != tt.spans {
				t.Errorf("got %d spans, want %d", len(tr.Spans), tt.spans)
			}
		})
	}
}

func TestFailures(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "broken.jsonl.gz"), nil)
	os.WriteFile(filepath.Join(dir, "broken.jsonl.gz"), []byte("this is not gzip"), 0o644)

	t.Run("unreadable file names the file", func(t *testing.T) {
		_, err := newSource(t, dir).Search(context.Background(), oncall.TraceQuery{})
		if err == nil || !strings.Contains(err.Error(), "broken.jsonl.gz") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("missing path", func(t *testing.T) {
		_, err := newSource(t, filepath.Join(dir, "nope")).Search(context.Background(), oncall.TraceQuery{})
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := newSource(t, fixtureDir(t)).Search(ctx, oncall.TraceQuery{})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("empty window", func(t *testing.T) {
		_, err := newSource(t, fixtureDir(t)).Search(context.Background(), oncall.TraceQuery{Start: t0, End: t0})
		if err == nil {
			t.Error("empty window accepted")
		}
	})
	t.Run("options", func(t *testing.T) {
		if _, err := New(Options{}); err == nil {
			t.Error("empty path accepted")
		}
		if _, err := New(Options{Path: "x", MaxLineBytes: -1}); err == nil {
			t.Error("negative line cap accepted")
		}
	})
}

func TestLongAndGarbageLines(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	otlp.WriteJSONL(&buf, []oncall.Trace{genTrace(1, t0, "svc", "a", false)})
	good := buf.String()
	long := `{"resourceSpans":[],"pad":"` + strings.Repeat("x", 5000) + `"}`
	input := strings.Join([]string{long, good, "\x00\xff garbage", `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"01"}]}]}]}`, "", "   ", `[1,2]`, `{"trace":{"name":"no id"}}`, good}, "\n")
	writeFile(t, filepath.Join(dir, "mixed.jsonl"), []byte(input))
	src, err := New(Options{Path: dir, MaxLineBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	res, err := src.Search(context.Background(), oncall.TraceQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Traces) != 1 || len(res.Traces[0].Spans) != 3 { // the good line twice, spans kept once
		t.Errorf("got %d traces (%v)", len(res.Traces), ids(res.Traces))
	}
	if got := src.Skipped(); got != 5 {
		t.Errorf("skipped %d, want 5 (too long, garbage, span without id, array of numbers, export without id)", got)
	}
}

func id(n int) string { return fmt.Sprintf("%032x", 0x1000+n) }

func ids(traces []oncall.Trace) []string {
	var out []string
	for _, t := range traces {
		out = append(out, t.TraceID)
	}
	return out
}
