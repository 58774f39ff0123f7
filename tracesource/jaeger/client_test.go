package jaeger

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/retry"
	"github.com/oncall-copilot/oncall-copilot/tracesource/sourcetest"
)

const (
	traceA = "0af7651916cd43dd8448eb211c80319c" // failed, checkout-assistant, production
	traceB = "5b8efff798038103d269b633813fc60c" // ok, refund-assistant, production
	traceC = "1e223ff1f80f1c69f8f0b81c1a2d32ad" // ok, staging
)

var (
	windowStart = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	windowEnd   = time.Date(2026, 3, 1, 10, 30, 0, 0, time.UTC)
)

// fakeJaeger serves the v3 query API from testdata and records the
// queries it received.
type fakeJaeger struct {
	t       *testing.T
	search  string // testdata file answering /api/v3/traces
	queries []map[string][]string
}

func (f *fakeJaeger) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/api/v3/traces":
		f.queries = append(f.queries, r.URL.Query())
		if f.search == "" {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":{"httpCode":404,"message":"No traces found"}}`))
			return
		}
		if strings.Contains(r.URL.Query().Get("query.attributes"), `"error":"true"`) {
			f.searchErrors(w)
			return
		}
		serveFile(f.t, w, f.search)
	case r.URL.Path == "/api/v3/traces/"+traceA:
		serveFile(f.t, w, "trace.json")
	case strings.HasPrefix(r.URL.Path, "/api/v3/traces/"):
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":{"httpCode":404,"message":"trace not found"}}`))
	default:
		http.NotFound(w, r)
	}
}

// searchErrors answers a search for error=true as Jaeger does: the
// traces of the fixture with a span whose status is an error (Jaeger tags
// such spans error=true), whole; 404 "No traces found" when none.
func (f *fakeJaeger) searchErrors(w http.ResponseWriter) {
	if f.search == "" {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":{"httpCode":404,"message":"No traces found"}}`))
		return
	}
	b, err := os.ReadFile("testdata/" + f.search)
	if err != nil {
		f.t.Fatal(err)
	}
	type span = map[string]any
	type doc struct {
		Result struct {
			ResourceSpans []struct {
				Resource   any `json:"resource"`
				ScopeSpans []struct {
					Scope any    `json:"scope"`
					Spans []span `json:"spans"`
				} `json:"scopeSpans"`
			} `json:"resourceSpans"`
		} `json:"result"`
	}
	var docs []doc
	failing := map[any]bool{}
	dec := json.NewDecoder(bytes.NewReader(b))
	for dec.More() {
		var d doc
		if err := dec.Decode(&d); err != nil {
			f.t.Fatal(err)
		}
		for _, rs := range d.Result.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, sp := range ss.Spans {
					if st, _ := sp["status"].(map[string]any); st["code"] == float64(2) || st["code"] == "STATUS_CODE_ERROR" {
						failing[sp["traceId"]] = true
					}
				}
			}
		}
		docs = append(docs, d)
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	for _, d := range docs {
		for i := range d.Result.ResourceSpans {
			rs := &d.Result.ResourceSpans[i]
			for j := range rs.ScopeSpans {
				ss := &rs.ScopeSpans[j]
				ss.Spans = slices.DeleteFunc(ss.Spans, func(sp span) bool { return !failing[sp["traceId"]] })
			}
		}
		_ = enc.Encode(d)
	}
}

func serveFile(t *testing.T, w http.ResponseWriter, name string) {
	if !sourcetest.ServeFile(t, w, "testdata/"+name) {
		t.Errorf("read fixture: no %s", name)
		w.WriteHeader(http.StatusInternalServerError)
	}
}

func newClient(t *testing.T, url string, opts Options) *Client {
	t.Helper()
	opts.QueryURL = url
	opts.Retry = sourcetest.Quick(opts.Retry)
	return sourcetest.Build(t, New, opts)
}

func TestSearch(t *testing.T) {
	tests := []struct {
		name        string
		fixture     string
		filters     map[string]string
		service     string
		limit       int
		want        []string
		wantMatched int
		wantAttrs   map[string]string
	}{
		{
			name:    "filters sent and rechecked, newest first",
			fixture: "search.json",
			filters: map[string]string{"service.name": "checkout-agent", "deployment.environment": "production"},
			want:    []string{traceA, traceB}, wantMatched: 2,
			wantAttrs: map[string]string{"deployment.environment": "production"},
		},
		{
			name:    "agent filter",
			fixture: "search.json",
			filters: map[string]string{"service.name": "checkout-agent", "gen_ai.agent.name": "refund-assistant"},
			want:    []string{traceB}, wantMatched: 1,
			wantAttrs: map[string]string{"gen_ai.agent.name": "refund-assistant"},
		},
		{
			name:    "default service and limit",
			fixture: "search.json",
			service: "checkout-agent",
			limit:   2,
			want:    []string{traceC, traceA, traceB}, wantMatched: 3, // the failing A besides the cap
		},
		{
			name:    "streamed results",
			fixture: "search_stream.json",
			filters: map[string]string{"service.name": "checkout-agent"},
			want:    []string{traceC, traceA, traceB}, wantMatched: 3,
		},
		{
			name:    "no traces found",
			filters: map[string]string{"service.name": "checkout-agent"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeJaeger{t: t, search: tt.fixture}
			srv := httptest.NewServer(fake)
			defer srv.Close()
			c := newClient(t, srv.URL, Options{Service: tt.service})
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
			// The failing traces first, then all of them.
			if len(fake.queries) != 2 {
				t.Fatalf("%d searches, want 2", len(fake.queries))
			}
			if a := first(fake.queries[0]["query.attributes"]); !strings.Contains(a, `"error":"true"`) {
				t.Errorf("first search attributes %s, want error=true", a)
			}
			q := fake.queries[1]
			wantLimit := "100"
			if tt.limit > 0 {
				wantLimit = "2"
			}
			for k, want := range map[string]string{
				"query.service_name":   "checkout-agent",
				"query.start_time_min": "2026-03-01T10:00:00Z",
				"query.start_time_max": "2026-03-01T10:30:00Z",
				"query.search_depth":   wantLimit,
			} {
				if got := first(q[k]); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			var attrs map[string]string
			if raw := first(q["query.attributes"]); raw != "" {
				if err := json.Unmarshal([]byte(raw), &attrs); err != nil {
					t.Fatalf("query.attributes %q: %v", raw, err)
				}
			}
			if len(attrs) != len(tt.wantAttrs) {
				t.Errorf("query.attributes = %v, want %v", attrs, tt.wantAttrs)
			}
			for k, v := range tt.wantAttrs {
				if attrs[k] != v {
					t.Errorf("query.attributes[%s] = %q, want %q", k, attrs[k], v)
				}
			}
		})
	}
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func TestSearchNeedsService(t *testing.T) {
	c := newClient(t, "http://127.0.0.1:1", Options{})
	if _, err := c.Search(context.Background(), oncall.TraceQuery{Start: windowStart, End: windowEnd}); err == nil {
		t.Fatal("search without a service succeeded")
	}
}

func TestGet(t *testing.T) {
	srv := httptest.NewServer(&fakeJaeger{t: t})
	defer srv.Close()
	c := newClient(t, srv.URL, Options{})

	for _, id := range []string{traceA, strings.ToUpper(traceA), "CvdlGRbNQ92ESOshHIAxnA=="} {
		tr, err := c.Get(context.Background(), id)
		if err != nil {
			t.Fatalf("Get(%s): %v", id, err)
		}
		checkTraceA(t, tr)
	}

	_, err := c.Get(context.Background(), traceB)
	if !errors.Is(err, oncall.ErrNotFound) {
		t.Errorf("Get of an unknown trace: err = %v, want ErrNotFound", err)
	}
}

func TestGetWrongURLIsNotNotFound(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	c := newClient(t, srv.URL, Options{})
	_, err := c.Get(context.Background(), traceA)
	if err == nil || errors.Is(err, oncall.ErrNotFound) {
		t.Fatalf("err = %v, want an HTTP error that is not ErrNotFound", err)
	}
	var he *retry.HTTPError
	if !errors.As(err, &he) || he.StatusCode != http.StatusNotFound {
		t.Errorf("err = %v, want HTTP 404", err)
	}
}

// checkTraceA asserts the decoded failed trace: tree, kinds, status, model,
// tokens and the tool's exception.
func checkTraceA(t *testing.T, tr oncall.Trace) {
	t.Helper()
	if tr.TraceID != traceA || len(tr.Spans) != 3 || tr.Source != Name {
		t.Fatalf("trace = %s with %d spans from %q, want %s with 3 from jaeger", tr.TraceID, len(tr.Spans), tr.Source, traceA)
	}
	if tr.Service != "checkout-agent" || tr.Name != "invoke_agent checkout-assistant" {
		t.Errorf("service, name = %q, %q", tr.Service, tr.Name)
	}
	if tr.Attributes["deployment.environment"] != "production" || tr.Attributes["session.id"] != "sess-1842" {
		t.Errorf("trace attributes = %v", tr.Attributes)
	}
	root := tr.Root()
	if root == nil || root.SpanID != "b7ad6b7169203331" || root.Kind != oncall.KindAgent {
		t.Fatalf("root = %+v", root)
	}
	llm := tr.Span("00f067aa0ba902b7")
	if llm == nil || llm.Kind != oncall.KindLLM || llm.Model != "gpt-4o" || llm.InputTokens != 812 || llm.OutputTokens != 64 || llm.ParentID != root.SpanID {
		t.Errorf("llm span = %+v", llm)
	}
	tool := tr.Span("53995c3f42cd8ad8")
	if tool == nil || tool.Kind != oncall.KindTool || tool.ToolName != "lookup_order" || !tool.Failed() || len(tool.Exceptions()) != 1 {
		t.Fatalf("tool span = %+v", tool)
	}
	if !strings.Contains(tool.StatusMessage, "TimeoutError") {
		t.Errorf("tool status message = %q", tool.StatusMessage)
	}
	if got := tr.Duration(); got != 4200*time.Millisecond {
		t.Errorf("duration = %v, want 4.2s", got)
	}
}

func TestSearchDecodesSpans(t *testing.T) {
	srv := httptest.NewServer(&fakeJaeger{t: t, search: "search.json"})
	defer srv.Close()
	c := newClient(t, srv.URL, Options{})
	res, err := c.Search(context.Background(), oncall.TraceQuery{Start: windowStart, End: windowEnd, Filters: map[string]string{"service.name": "checkout-agent"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range res.Traces {
		if tr.TraceID == traceA {
			checkTraceA(t, tr)
			return
		}
	}
	t.Fatalf("trace %s not found in %v", traceA, sourcetest.TraceIDs(res.Traces))
}

func TestFailures(t *testing.T) {
	fake := &fakeJaeger{t: t, search: "search.json"}
	newSource := func(t *testing.T, url string, p retry.Policy, timeout time.Duration) sourcetest.Source {
		return newClient(t, url, Options{Retry: p, Timeout: timeout})
	}
	t.Run("search", func(t *testing.T) {
		sourcetest.Suite{
			Backend:  Name,
			Endpoint: "GET /api/v3/traces",
			Match: func(r *http.Request) bool {
				return r.URL.Path == "/api/v3/traces" && !strings.Contains(r.URL.Query().Get("query.attributes"), `"error":"true"`)
			},
			Happy: fake,
			New:   newSource,
			Call: func(ctx context.Context, s sourcetest.Source) error {
				_, err := s.Search(ctx, oncall.TraceQuery{Start: windowStart, End: windowEnd, Filters: map[string]string{"service.name": "checkout-agent"}})
				return err
			},
		}.Run(t)
	})
	t.Run("get", func(t *testing.T) {
		sourcetest.Suite{
			Backend:  Name,
			Endpoint: "GET /api/v3/traces/" + traceA,
			Match:    func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/v3/traces/") },
			Happy:    fake,
			New:      newSource,
			Call: func(ctx context.Context, s sourcetest.Source) error {
				_, err := s.Get(ctx, traceA)
				return err
			},
		}.Run(t)
	})
}

func TestNewChecksOptions(t *testing.T) {
	for _, u := range []string{"", "jaeger:16686", "ftp://jaeger", "http://"} {
		if _, err := New(Options{QueryURL: u}); err == nil {
			t.Errorf("New accepted query URL %q", u)
		}
	}
}
