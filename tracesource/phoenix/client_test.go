package phoenix

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/retry"
	"github.com/oncall-copilot/oncall-copilot/tracesource/sourcetest"
)

const (
	traceA  = "0af7651916cd43dd8448eb211c80319c" // failed, 10:12, flat attributes
	traceB  = "5b8efff798038103d269b633813fc60c" // ok, 10:05, nested attributes (older Phoenix)
	traceC  = "1e223ff1f80f1c69f8f0b81c1a2d32ad" // root started before the window
	apiKey  = "phx-key-4f9a1c-secret"
	project = "checkout-agent"
)

var (
	windowStart = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	windowEnd   = time.Date(2026, 3, 1, 10, 30, 0, 0, time.UTC)
)

// fakePhoenix answers GET /v1/projects/{project}/spans from testdata: the
// window's spans in two cursor pages, or one trace for a trace_id filter.
// An old Phoenix ignores trace_id.
type fakePhoenix struct {
	t   *testing.T
	old bool

	mu      sync.Mutex
	queries []url.Values
	auth    []string
}

func (f *fakePhoenix) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/projects/"+project+"/spans" {
		http.Error(w, `{"detail":"Not Found"}`, http.StatusNotFound)
		return
	}
	q := r.URL.Query()
	f.mu.Lock()
	f.queries = append(f.queries, q)
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	f.mu.Unlock()
	name := "spans_page1.json"
	switch {
	case len(q["trace_id"]) > 0 && !f.old:
		if len(q["trace_id"]) != 1 {
			f.t.Errorf("trace_id = %v, want one id", q["trace_id"])
		}
		name = "trace_" + q.Get("trace_id") + ".json"
	case q.Get("cursor") == "U3BhbjoxMDA=":
		name = "spans_page2.json"
	case q.Get("cursor") != "":
		http.Error(w, `{"detail":"Invalid cursor"}`, http.StatusUnprocessableEntity)
		return
	}
	if !sourcetest.ServeFile(f.t, w, "testdata/"+name) {
		_, _ = w.Write([]byte(`{"data":[],"next_cursor":null}`))
	}
}

func newClient(t *testing.T, url string, opts Options) *Client {
	t.Helper()
	opts.BaseURL = url
	if opts.Project == "" {
		opts.Project = project
	}
	opts.Retry = sourcetest.Quick(opts.Retry)
	return sourcetest.Build(t, New, opts)
}

func TestSearch(t *testing.T) {
	tests := []struct {
		name        string
		filters     map[string]string
		limit       int
		want        []string
		wantMatched int
		notKeptC    bool // C is sampled out, so not completed
	}{
		{name: "all traces newest first", want: []string{traceA, traceB, traceC}, wantMatched: 3},
		{name: "a cap of one keeps the failing trace and one healthy", limit: 1, want: []string{traceA, traceB}, wantMatched: 3, notKeptC: true},
		{name: "filter on a flat attribute", filters: map[string]string{"session.id": "sess-1842"}, want: []string{traceA}, wantMatched: 1},
		{name: "filter on a nested attribute", filters: map[string]string{"agent.name": "refund-assistant"}, want: []string{traceB}, wantMatched: 1},
		{name: "filter on the completed root", filters: map[string]string{"session.id": "sess-1777"}, want: []string{traceC}, wantMatched: 1},
		{name: "project stands for the service", filters: map[string]string{"service.name": project, "llm.model_name": "gpt-4o-mini"}, want: []string{traceB, traceC}, wantMatched: 2},
		{name: "no match", filters: map[string]string{"service.name": "billing-agent"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakePhoenix{t: t}
			srv := httptest.NewServer(fake)
			defer srv.Close()
			c := newClient(t, srv.URL, Options{APIKey: apiKey, PageSize: 4})
			res, err := c.Search(context.Background(), oncall.TraceQuery{Start: windowStart, End: windowEnd, Filters: tt.filters, Limit: tt.limit})
			if err != nil {
				t.Fatal(err)
			}
			if got := sourcetest.TraceIDs(res.Traces); !slices.Equal(got, tt.want) {
				t.Errorf("traces = %v, want %v", got, tt.want)
			}
			if res.Matched != tt.wantMatched {
				t.Errorf("Matched = %d, want %d", res.Matched, tt.wantMatched)
			}
			// Two pages of the window, then the lookup that completes C.
			want := []url.Values{
				{"start_time": {"2026-03-01T10:00:00Z"}, "end_time": {"2026-03-01T10:30:00Z"}, "limit": {"4"}},
				{"start_time": {"2026-03-01T10:00:00Z"}, "end_time": {"2026-03-01T10:30:00Z"}, "limit": {"4"}, "cursor": {"U3BhbjoxMDA="}},
				{"trace_id": {traceC}, "limit": {"4"}},
			}
			if tt.notKeptC {
				want = want[:2]
			}
			if len(fake.queries) != len(want) {
				t.Fatalf("queries = %v, want %v", fake.queries, want)
			}
			for i := range want {
				if fake.queries[i].Encode() != want[i].Encode() {
					t.Errorf("query %d = %s, want %s", i, fake.queries[i].Encode(), want[i].Encode())
				}
				if fake.auth[i] != "Bearer "+apiKey {
					t.Errorf("query %d Authorization = %q", i, fake.auth[i])
				}
			}
		})
	}
}

// A search the span cap stopped says so instead of passing for the whole
// window.
func TestSearchSaysWhenTheSpanCapStopsIt(t *testing.T) {
	srv := httptest.NewServer(&fakePhoenix{t: t})
	defer srv.Close()
	for _, tt := range []struct {
		maxSpans int
		capped   bool
	}{{4, true}, {1000, false}} {
		c := newClient(t, srv.URL, Options{APIKey: apiKey, PageSize: 4, MaxSpans: tt.maxSpans})
		res, err := c.Search(context.Background(), oncall.TraceQuery{Start: windowStart, End: windowEnd})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(res.Sampling, "spans only (the cap)"); got != tt.capped {
			t.Errorf("max spans %d: sampling %q, want capped %v", tt.maxSpans, res.Sampling, tt.capped)
		}
	}
}

func TestSearchMapsSpans(t *testing.T) {
	srv := httptest.NewServer(&fakePhoenix{t: t})
	defer srv.Close()
	c := newClient(t, srv.URL, Options{})
	res, err := c.Search(context.Background(), oncall.TraceQuery{Start: windowStart, End: windowEnd})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]oncall.Trace{}
	for _, tr := range res.Traces {
		byID[tr.TraceID] = tr
		if tr.Source != Name || tr.Root() == nil {
			t.Errorf("trace %s: source %q, root %v", tr.TraceID, tr.Source, tr.Root())
		}
	}
	checkTraceA(t, byID[traceA])

	b := byID[traceB]
	llm := b.Span("2c5e1c9ee5b1f1a4")
	if llm == nil || llm.Kind != oncall.KindLLM || llm.Model != "gpt-4o-mini" || llm.InputTokens != 301 || llm.TotalTokens != 341 || llm.Input != "Refund order A-0042" {
		t.Errorf("nested LLM span = %+v", llm)
	}
	if got := llm.Attributes["llm.input_messages.0.message.role"]; got != "user" {
		t.Errorf("list of objects flattened to %q, want user", got)
	}
	if got := llm.Attributes["tag.tags"]; got != `["refunds","beta"]` {
		t.Errorf("tag.tags = %q", got)
	}
	if b.Attributes["session.id"] != "sess-1901" {
		t.Errorf("trace B attributes = %v", b.Attributes)
	}

	cTrace := byID[traceC]
	if len(cTrace.Spans) != 2 || cTrace.Root() == nil || cTrace.Root().SpanID != "7d8e9f0a1b2c3d4e" || !cTrace.Start.Equal(time.Date(2026, 3, 1, 9, 59, 50, 0, time.UTC)) {
		t.Errorf("trace C not completed: %d spans, start %v", len(cTrace.Spans), cTrace.Start)
	}
}

func checkTraceA(t *testing.T, tr oncall.Trace) {
	t.Helper()
	if tr.TraceID != traceA || len(tr.Spans) != 3 {
		t.Fatalf("trace %s with %d spans, want %s with 3", tr.TraceID, len(tr.Spans), traceA)
	}
	if tr.Service != project || tr.Name != "checkout-assistant" || tr.Attributes["session.id"] != "sess-1842" {
		t.Errorf("service %q, name %q, attributes %v", tr.Service, tr.Name, tr.Attributes)
	}
	root := tr.Root()
	if root == nil || root.SpanID != "b7ad6b7169203331" || root.Kind != oncall.KindAgent || !root.Failed() || root.StatusMessage != "tool call failed" {
		t.Fatalf("root = %+v", root)
	}
	llm := tr.Span("00f067aa0ba902b7")
	if llm == nil || llm.ParentID != root.SpanID || llm.Kind != oncall.KindLLM || llm.Model != "gpt-4o-2024-08-06" ||
		llm.Provider != "openai" || llm.InputTokens != 812 || llm.OutputTokens != 64 || llm.TotalTokens != 876 || llm.Cost != 0.00267 {
		t.Errorf("llm span = %+v", llm)
	}
	tool := tr.Span("53995c3f42cd8ad8")
	if tool == nil || tool.Kind != oncall.KindTool || tool.ToolName != "lookup_order" || tool.ToolArgs != `{"order_id": "A-1009"}` || !tool.Failed() {
		t.Fatalf("tool span = %+v", tool)
	}
	ex := tool.Exceptions()
	if len(ex) != 1 || ex[0].Attributes["exception.type"] != "TimeoutError" || ex[0].Time.IsZero() {
		t.Errorf("tool exceptions = %+v", ex)
	}
	if got := tr.Duration(); got != 4200*time.Millisecond {
		t.Errorf("duration = %v", got)
	}
}

func TestGet(t *testing.T) {
	for _, old := range []bool{false, true} {
		fake := &fakePhoenix{t: t, old: old}
		srv := httptest.NewServer(fake)
		c := newClient(t, srv.URL, Options{PageSize: 4})
		for _, id := range []string{traceA, strings.ToUpper(traceA), "CvdlGRbNQ92ESOshHIAxnA=="} {
			tr, err := c.Get(context.Background(), id)
			if err != nil {
				t.Fatalf("old=%v Get(%s): %v", old, id, err)
			}
			checkTraceA(t, tr)
		}
		if _, err := c.Get(context.Background(), "ffffffffffffffffffffffffffffffff"); !errors.Is(err, oncall.ErrNotFound) {
			t.Errorf("old=%v: unknown trace: err = %v, want ErrNotFound", old, err)
		}
		if got := fake.queries[0].Get("trace_id"); got != traceA {
			t.Errorf("trace_id = %q, want %q", got, traceA)
		}
		srv.Close()
	}
}

func TestSearchOnOldPhoenixSkipsCompletion(t *testing.T) {
	fake := &fakePhoenix{t: t, old: true}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	c := newClient(t, srv.URL, Options{})
	// Learn that trace_id is ignored.
	if _, err := c.Get(context.Background(), traceA); err != nil {
		t.Fatal(err)
	}
	before := len(fake.queries)
	res, err := c.Search(context.Background(), oncall.TraceQuery{Start: windowStart, End: windowEnd})
	if err != nil || len(res.Traces) != 3 {
		t.Fatalf("Search = %v traces, %v", sourcetest.TraceIDs(res.Traces), err)
	}
	for _, q := range fake.queries[before:] {
		if q.Has("trace_id") {
			t.Errorf("completion lookup %s sent to a Phoenix that ignores trace_id", q.Encode())
		}
	}
}

func TestFailures(t *testing.T) {
	fake := &fakePhoenix{t: t}
	newSource := func(t *testing.T, url string, p retry.Policy, timeout time.Duration) sourcetest.Source {
		return newClient(t, url, Options{APIKey: apiKey, Retry: p, Timeout: timeout})
	}
	endpoint := "GET /v1/projects/" + project + "/spans"
	t.Run("search", func(t *testing.T) {
		sourcetest.Suite{
			Backend: Name, Endpoint: endpoint,
			Match: func(r *http.Request) bool { return r.URL.Query().Get("cursor") == "" && !r.URL.Query().Has("trace_id") },
			Happy: fake,
			New:   newSource,
			Call: func(ctx context.Context, s sourcetest.Source) error {
				_, err := s.Search(ctx, oncall.TraceQuery{Start: windowStart, End: windowEnd})
				return err
			},
			Secrets: []string{apiKey},
		}.Run(t)
	})
	t.Run("second page", func(t *testing.T) {
		sourcetest.Suite{
			Backend: Name, Endpoint: endpoint,
			Match: func(r *http.Request) bool { return r.URL.Query().Get("cursor") != "" },
			Happy: fake,
			New:   newSource,
			Call: func(ctx context.Context, s sourcetest.Source) error {
				_, err := s.Search(ctx, oncall.TraceQuery{Start: windowStart, End: windowEnd})
				return err
			},
			Secrets: []string{apiKey},
		}.Run(t)
	})
	t.Run("get", func(t *testing.T) {
		sourcetest.Suite{
			Backend: Name, Endpoint: endpoint,
			Match: func(r *http.Request) bool { return r.URL.Query().Has("trace_id") },
			Happy: fake,
			New:   newSource,
			Call: func(ctx context.Context, s sourcetest.Source) error {
				_, err := s.Get(ctx, traceA)
				return err
			},
			Secrets: []string{apiKey},
		}.Run(t)
	})
}

func TestNewChecksOptions(t *testing.T) {
	tests := map[string]Options{
		"no URL":             {},
		"not http":           {BaseURL: "phoenix:6006"},
		"credentials in URL": {BaseURL: "http://u:p@phoenix:6006"},
		"slash in project":   {BaseURL: "http://phoenix:6006", Project: "a/b"},
		"page too large":     {BaseURL: "http://phoenix:6006", PageSize: 5000},
	}
	for name, opts := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := New(opts); err == nil {
				t.Error("New accepted the options")
			}
		})
	}
}
