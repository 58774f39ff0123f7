package tempo

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
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
	traceA = "0af7651916cd43dd8448eb211c80319c" // failed, production, 10:12
	traceB = "5b8efff798038103d269b633813fc60c" // ok, production, 10:05; only in the v1 API
	traceC = "1e223ff1f80f1c69f8f0b81c1a2d32ad" // ok, staging, 10:20, partial
	token  = "glc_eyJvIjoiMTIzNCJ9-secret"
)

var (
	windowStart = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	windowEnd   = time.Date(2026, 3, 1, 10, 30, 0, 0, time.UTC)
)

// fakeTempo serves Tempo's query API from testdata and records what it
// was asked.
type fakeTempo struct {
	t    *testing.T
	noV2 bool // answer /api/v2 like a Tempo without it

	mu       sync.Mutex
	searches []*http.Request
	paths    []string
}

func (f *fakeTempo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.paths = append(f.paths, r.URL.Path)
	f.mu.Unlock()
	switch {
	case r.URL.Path == "/api/search":
		f.mu.Lock()
		f.searches = append(f.searches, r)
		f.mu.Unlock()
		if strings.Contains(r.URL.Query().Get("q"), errorSpans) {
			f.searchErrors(w)
			return
		}
		serveFile(f.t, w, "search.json")
	case strings.HasPrefix(r.URL.Path, "/api/v2/traces/"):
		if f.noV2 {
			http.NotFound(w, r)
			return
		}
		id := strings.TrimPrefix(r.URL.Path, "/api/v2/traces/")
		if !serveFile(f.t, w, "v2_"+id+".json") {
			http.Error(w, "trace not found", http.StatusNotFound)
		}
	case strings.HasPrefix(r.URL.Path, "/api/traces/"):
		id := strings.TrimPrefix(r.URL.Path, "/api/traces/")
		if !serveFile(f.t, w, "v1_"+id+".json") {
			http.Error(w, "trace not found", http.StatusNotFound)
		}
	default:
		http.NotFound(w, r)
	}
}

// failingTraces are the testdata traces with a span whose status is an
// error: what `{ status = error }` selects.
var failingTraces = map[string]bool{traceA: true}

// searchErrors answers a search for error spans with the traces of
// search.json that have one, as Tempo evaluates the spanset.
func (f *fakeTempo) searchErrors(w http.ResponseWriter) {
	b, err := os.ReadFile("testdata/search.json")
	if err != nil {
		f.t.Fatal(err)
	}
	var resp struct {
		Traces  []map[string]any `json:"traces"`
		Metrics map[string]any   `json:"metrics"`
	}
	if err := json.Unmarshal(b, &resp); err != nil {
		f.t.Fatal(err)
	}
	out := resp.Traces[:0]
	for _, tr := range resp.Traces {
		if id, _ := tr["traceID"].(string); failingTraces[NormalizeTraceID(id)] {
			out = append(out, tr)
		}
	}
	resp.Traces = out
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

func (f *fakeTempo) requested() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.paths...)
}

func serveFile(t *testing.T, w http.ResponseWriter, name string) bool {
	if strings.ContainsAny(name, "/\\") {
		return false
	}
	return sourcetest.ServeFile(t, w, "testdata/"+name)
}

func newClient(t *testing.T, url string, opts Options) *Client {
	t.Helper()
	opts.URL = url
	opts.Retry = sourcetest.Quick(opts.Retry)
	return sourcetest.Build(t, New, opts)
}

func TestTraceQL(t *testing.T) {
	tests := []struct {
		name    string
		filters map[string]string
		want    string
	}{
		{"no filters", nil, `{}`},
		{"empty values are no filters", map[string]string{"gen_ai.agent.name": ""}, `{}`},
		{
			"resource and span attributes",
			map[string]string{"service.name": "checkout-agent", "gen_ai.agent.name": "refund-assistant", "deployment.environment": "production"},
			`{ resource.deployment.environment = "production" } && { .gen_ai.agent.name = "refund-assistant" } && { resource.service.name = "checkout-agent" }`,
		},
		{
			"values escaped",
			map[string]string{"user.id": "a\"b\\c\nd"},
			`{ .user.id = "a\"b\\c\nd" }`,
		},
		{
			"odd keys quoted",
			map[string]string{"my key\"}": "x"},
			`{ ."my key\"}" = "x" }`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := TraceQL(tt.filters); got != tt.want {
				t.Errorf("TraceQL = %s\nwant      %s", got, tt.want)
			}
		})
	}
}

func TestSearch(t *testing.T) {
	production := map[string]string{"service.name": "checkout-agent", "deployment.environment": "production"}
	tests := []struct {
		name        string
		noV2        bool
		filters     map[string]string
		limit       int
		want        []string
		wantMatched int
		wantPaths   []string // trace fetches, in any order
	}{
		{
			name:    "v2 with v1 fallback per trace, rechecked filters",
			filters: production,
			want:    []string{traceA, traceB}, wantMatched: 2,
			wantPaths: []string{"/api/v2/traces/" + traceC, "/api/v2/traces/" + traceA, "/api/v2/traces/" + traceB, "/api/traces/" + traceB},
		},
		{
			name:  "a cap of one fetches the failing trace and one healthy",
			limit: 1,
			want:  []string{traceA, traceB}, wantMatched: 3,
			wantPaths: []string{"/api/v2/traces/" + traceA, "/api/v2/traces/" + traceB, "/api/traces/" + traceB},
		},
		{
			name:    "tempo without v2",
			noV2:    true,
			filters: production,
			limit:   2,
			want:    []string{traceA, traceB}, wantMatched: 2,
			wantPaths: []string{"/api/v2/traces/" + traceC, "/api/traces/" + traceC, "/api/traces/" + traceA, "/api/traces/" + traceB},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeTempo{t: t, noV2: tt.noV2}
			srv := httptest.NewServer(fake)
			defer srv.Close()
			c := newClient(t, srv.URL, Options{BearerToken: token, OrgID: "tenant-7", Concurrency: 1})
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
			// Traces with an error span first, then all of them.
			if len(fake.searches) != 2 {
				t.Fatalf("%d searches, want 2", len(fake.searches))
			}
			if q := fake.searches[0].URL.Query().Get("q"); q != TraceQL(tt.filters)+" && { status = error }" {
				t.Errorf("first search q = %s, want the error spans", q)
			}
			r := fake.searches[1]
			q := r.URL.Query()
			for k, want := range map[string]string{
				"q":     TraceQL(tt.filters),
				"start": "1772359200",
				"end":   "1772361000",
				"limit": "1000",
			} {
				if got := q.Get(k); got != want {
					t.Errorf("search %s = %q, want %q", k, got, want)
				}
			}
			if got := r.Header.Get("Authorization"); got != "Bearer "+token {
				t.Errorf("Authorization = %q", got)
			}
			if got := r.Header.Get("X-Scope-OrgID"); got != "tenant-7" {
				t.Errorf("X-Scope-OrgID = %q", got)
			}
			var fetched []string
			for _, p := range fake.requested() {
				if p != "/api/search" {
					fetched = append(fetched, p)
				}
			}
			slices.Sort(fetched)
			want := slices.Clone(tt.wantPaths)
			slices.Sort(want)
			if !slices.Equal(fetched, want) {
				t.Errorf("fetched %v, want %v", fetched, want)
			}
		})
	}
}

func TestSearchKeepsPartialStatus(t *testing.T) {
	srv := httptest.NewServer(&fakeTempo{t: t})
	defer srv.Close()
	c := newClient(t, srv.URL, Options{})
	res, err := c.Search(context.Background(), oncall.TraceQuery{Start: windowStart, End: windowEnd, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(res.Traces, func(t oncall.Trace) bool { return t.TraceID == traceC })
	if i < 0 {
		t.Fatalf("got %v, want %s among them", sourcetest.TraceIDs(res.Traces), traceC)
	}
	attrs := res.Traces[i].Attributes
	if attrs[KeyTraceStatus] != "partial" || !strings.Contains(attrs[KeyTraceStatusMessage], "maximum size") {
		t.Errorf("attributes = %v, want the partial status kept", attrs)
	}
}

func TestGet(t *testing.T) {
	for _, noV2 := range []bool{false, true} {
		srv := httptest.NewServer(&fakeTempo{t: t, noV2: noV2})
		c := newClient(t, srv.URL, Options{BasicUser: "tempo", BasicPassword: "hunter2"})
		for _, id := range []string{traceA, "af7651916cd43dd8448eb211c80319c", "CvdlGRbNQ92ESOshHIAxnA==", strings.ToUpper(traceA)} {
			tr, err := c.Get(context.Background(), id)
			if err != nil {
				t.Fatalf("v2=%v Get(%s): %v", !noV2, id, err)
			}
			checkTraceA(t, tr)
		}
		_, err := c.Get(context.Background(), "ffffffffffffffffffffffffffffffff")
		if !errors.Is(err, oncall.ErrNotFound) {
			t.Errorf("v2=%v: unknown trace: err = %v, want ErrNotFound", !noV2, err)
		}
		srv.Close()
	}
}

func TestBasicAuth(t *testing.T) {
	var user, pass string
	var ok bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok = r.BasicAuth()
		_, _ = w.Write([]byte(`{"traces":[]}`))
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, Options{BasicUser: "tempo", BasicPassword: "hunter2"})
	res, err := c.Search(context.Background(), oncall.TraceQuery{Start: windowStart, End: windowEnd})
	if err != nil || len(res.Traces) != 0 || res.Matched != 0 {
		t.Fatalf("Search = %+v, %v; want empty", res, err)
	}
	if !ok || user != "tempo" || pass != "hunter2" {
		t.Errorf("basic auth = %q, %q, %v", user, pass, ok)
	}
}

func checkTraceA(t *testing.T, tr oncall.Trace) {
	t.Helper()
	if tr.TraceID != traceA || len(tr.Spans) != 3 || tr.Source != Name {
		t.Fatalf("trace = %s with %d spans from %q, want %s with 3 from tempo", tr.TraceID, len(tr.Spans), tr.Source, traceA)
	}
	if tr.Service != "checkout-agent" || tr.Attributes["deployment.environment"] != "production" {
		t.Errorf("service %q, attributes %v", tr.Service, tr.Attributes)
	}
	root := tr.Root()
	if root == nil || root.SpanID != "b7ad6b7169203331" || root.Kind != oncall.KindAgent || !root.Failed() {
		t.Fatalf("root = %+v", root)
	}
	llm := tr.Span("00f067aa0ba902b7")
	if llm == nil || llm.ParentID != root.SpanID || llm.Kind != oncall.KindLLM || llm.Model != "gpt-4o" || llm.TotalTokens != 876 {
		t.Errorf("llm span = %+v", llm)
	}
	tool := tr.Span("53995c3f42cd8ad8")
	if tool == nil || tool.ParentID != root.SpanID || tool.Kind != oncall.KindTool || !tool.Failed() || !strings.Contains(tool.StatusMessage, "TimeoutError") {
		t.Errorf("tool span = %+v", tool)
	}
}

func TestFailures(t *testing.T) {
	fake := &fakeTempo{t: t}
	newSource := func(t *testing.T, url string, p retry.Policy, timeout time.Duration) sourcetest.Source {
		return newClient(t, url, Options{BearerToken: token, Retry: p, Timeout: timeout})
	}
	t.Run("search", func(t *testing.T) {
		sourcetest.Suite{
			Backend: Name, Endpoint: "GET /api/search",
			Match: func(r *http.Request) bool {
				return r.URL.Path == "/api/search" && !strings.Contains(r.URL.Query().Get("q"), errorSpans)
			},
			Happy: fake,
			New:   newSource,
			Call: func(ctx context.Context, s sourcetest.Source) error {
				_, err := s.Search(ctx, oncall.TraceQuery{Start: windowStart, End: windowEnd, Limit: 1})
				return err
			},
			Secrets: []string{token},
		}.Run(t)
	})
	t.Run("get", func(t *testing.T) {
		sourcetest.Suite{
			Backend: Name, Endpoint: "GET /api/v2/traces/" + traceA,
			Match: func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/v2/traces/") },
			Happy: fake,
			New:   newSource,
			Call: func(ctx context.Context, s sourcetest.Source) error {
				_, err := s.Get(ctx, traceA)
				return err
			},
			Secrets: []string{token},
		}.Run(t)
	})
}

func TestSearchFailsWhenAFetchFails(t *testing.T) {
	fake := &fakeTempo{t: t}
	faults := &sourcetest.Faults{Next: fake, Match: func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, traceA) }}
	faults.Plan(sourcetest.Fault{Status: http.StatusForbidden})
	srv := httptest.NewServer(faults)
	defer srv.Close()
	c := newClient(t, srv.URL, Options{})
	_, err := c.Search(context.Background(), oncall.TraceQuery{Start: windowStart, End: windowEnd})
	var he *retry.HTTPError
	if !errors.As(err, &he) || he.StatusCode != http.StatusForbidden || !strings.Contains(err.Error(), traceA) {
		t.Fatalf("err = %v, want the 403 of trace %s", err, traceA)
	}
}

func TestNewChecksOptions(t *testing.T) {
	tests := map[string]Options{
		"no URL":                {},
		"not http":              {URL: "tempo:3200"},
		"credentials in URL":    {URL: "http://u:p@tempo:3200"},
		"bearer and basic":      {URL: "http://tempo:3200", BearerToken: "t", BasicUser: "u"},
		"password without user": {URL: "http://tempo:3200", BasicPassword: "p"},
	}
	for name, opts := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := New(opts); err == nil {
				t.Error("New accepted the options")
			}
		})
	}
}
