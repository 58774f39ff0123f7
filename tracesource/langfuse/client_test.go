package langfuse

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/retry"
	"github.com/oncall-copilot/oncall-copilot/tracesource/sourcetest"
)

const (
	lfFailed  = "4bf92f3577b34da6a3ce929d0e0e4736" // checkout-assistant, 10:12, a tool failed
	lfRefund  = "d1b7e1a2c3f4e5d6a7b8c9d0e1f2a3b4" // refund-assistant, 10:05
	lfBilling = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b" // checkout-assistant on billing-agent, 10:20
)

var (
	windowStart = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	windowEnd   = time.Date(2026, 3, 1, 10, 30, 0, 0, time.UTC)
)

func newTestClient(t *testing.T, url string, opts Options) *Client {
	t.Helper()
	opts.Host = url
	if opts.PublicKey == "" {
		opts.PublicKey, opts.SecretKey = publicKey, secretKey
	}
	opts.Retry = sourcetest.Quick(opts.Retry)
	return sourcetest.Build(t, New, opts)
}

func TestClientSearch(t *testing.T) {
	tests := []struct {
		name        string
		filters     map[string]string
		limit       int
		want        []string
		wantMatched int
		wantList    url.Values // list parameters besides the window and paging
	}{
		{
			name: "window, newest first, two list pages",
			want: []string{lfBilling, lfFailed, lfRefund}, wantMatched: 3,
			wantList: url.Values{},
		},
		{
			name:  "a cap of one keeps the failing run and one healthy run",
			limit: 1,
			want:  []string{lfBilling, lfFailed}, wantMatched: 3,
			wantList: url.Values{},
		},
		{
			name:    "mapped filters go to the list, the rest is checked on the traces",
			filters: map[string]string{"deployment.environment": "production", "gen_ai.agent.name": "checkout-assistant", "service.name": "checkout-agent"},
			want:    []string{lfFailed}, wantMatched: 1,
			wantList: url.Values{"environment": {"production"}, "name": {"checkout-assistant"}},
		},
		{
			name:    "session, user and tags",
			filters: map[string]string{"session.id": "sess-1901", "user.id": "u-12", "langfuse.trace.tags": "refunds"},
			want:    []string{lfRefund}, wantMatched: 1,
			wantList: url.Values{"sessionId": {"sess-1901"}, "userId": {"u-12"}, "tags": {"refunds"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := loadFake(t)
			fake.obsPage = 2
			srv := httptest.NewServer(fake)
			defer srv.Close()
			c := newTestClient(t, srv.URL, Options{PageSize: 2, Concurrency: 1})
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
			lists := fake.seen(pathTraces)
			if len(lists) == 0 {
				t.Fatal("no trace list request")
			}
			for i, q := range lists {
				want := url.Values{
					"fromTimestamp": {"2026-03-01T10:00:00Z"},
					"toTimestamp":   {"2026-03-01T10:30:00Z"},
					"orderBy":       {"timestamp.desc"},
					"limit":         {"2"},
					"page":          {strconv.Itoa(i + 1)},
					"fields":        {traceListFields},
				}
				for k, v := range tt.wantList {
					want[k] = v
				}
				if q.Encode() != want.Encode() {
					t.Errorf("list request %d = %s\nwant %s", i, q.Encode(), want.Encode())
				}
			}
			// The observations come by time range, in pages (here of two),
			// never trace by trace.
			obs := fake.seen(pathObservationsV2)
			if len(obs) != 3 {
				t.Errorf("%d observation requests, want 3 pages of the window's 6 observations", len(obs))
			}
			for _, q := range obs {
				if q.Get("traceId") != "" || q.Get("fields") != windowObservationFields || q.Get("limit") != "1000" ||
					q.Get("fromStartTime") != "2026-03-01T09:59:00Z" || q.Get("toStartTime") != "2026-03-01T10:40:00Z" {
					t.Errorf("observations request %s", q.Encode())
				}
			}
		})
	}
}

func TestClientSearchMapsTraces(t *testing.T) {
	fake := loadFake(t)
	fake.obsPage = 2 // the failed trace's observations come in two pages
	srv := httptest.NewServer(fake)
	defer srv.Close()
	c := newTestClient(t, srv.URL, Options{})
	res, err := c.Search(context.Background(), oncall.TraceQuery{Start: windowStart, End: windowEnd})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Traces) != 3 {
		t.Fatalf("got %v", sourcetest.TraceIDs(res.Traces))
	}
	checkFailedTrace(t, res.Traces[1])
	if cursors := countCursors(fake.seen(pathObservationsV2)); cursors != 2 {
		t.Errorf("%d follow-up pages, want 2 for the window's six observations", cursors)
	}
}

func countCursors(qs []url.Values) int {
	n := 0
	for _, q := range qs {
		if q.Get("cursor") != "" {
			n++
		}
	}
	return n
}

// checkFailedTrace asserts the mapping of the failed checkout trace.
func checkFailedTrace(t *testing.T, tr oncall.Trace) {
	t.Helper()
	if tr.TraceID != lfFailed || len(tr.Spans) != 4 || tr.Source != Name {
		t.Fatalf("trace %s with %d spans from %q, want %s with the trace root and 3 observations", tr.TraceID, len(tr.Spans), tr.Source, lfFailed)
	}
	assertTree(t, &tr)
	if tr.Name != "checkout-assistant" || tr.Service != "checkout-agent" || !tr.Failed() {
		t.Errorf("name %q, service %q, failed %v", tr.Name, tr.Service, tr.Failed())
	}
	if tr.Attributes["session.id"] != "sess-1842" || tr.Attributes["user.id"] != "u-77" {
		t.Errorf("trace attributes = %v", tr.Attributes)
	}
	agent := tr.Span("b7ad6b7169203331")
	if agent == nil || agent.Kind != oncall.KindAgent || agent.ParentID != tr.Root().SpanID {
		t.Errorf("agent span = %+v", agent)
	}
	gen := tr.Span("00f067aa0ba902b7")
	if gen == nil || gen.Kind != oncall.KindLLM || gen.Model != "gpt-4o-2024-08-06" || gen.InputTokens != 812 || gen.OutputTokens != 64 || gen.TotalTokens != 876 || gen.Cost != 0.00267 || gen.ParentID != "b7ad6b7169203331" {
		t.Errorf("generation span = %+v", gen)
	}
	tool := tr.Span("53995c3f42cd8ad8")
	if tool == nil || tool.Kind != oncall.KindTool || !tool.Failed() || !strings.Contains(tool.StatusMessage, "TimeoutError") || tool.ToolName != "lookup_order" {
		t.Errorf("tool span = %+v", tool)
	}
}

// assertTree asserts a well-formed span tree: unique span ids, every
// parent in the trace, exactly one root.
func assertTree(t *testing.T, tr *oncall.Trace) {
	t.Helper()
	seen := map[string]bool{}
	for _, s := range tr.Spans {
		if s.SpanID == "" || seen[s.SpanID] {
			t.Errorf("span id %q empty or repeated", s.SpanID)
		}
		seen[s.SpanID] = true
		if s.TraceID != tr.TraceID {
			t.Errorf("span %s has trace id %q", s.SpanID, s.TraceID)
		}
	}
	roots := 0
	for _, s := range tr.Spans {
		switch {
		case s.ParentID == "":
			roots++
		case !seen[s.ParentID]:
			t.Errorf("span %s: parent %s is not in the trace", s.SpanID, s.ParentID)
		}
	}
	if roots != 1 {
		t.Errorf("%d roots, want 1", roots)
	}
}

func TestClientSearchPrefersTracesMarkedWithErrors(t *testing.T) {
	fake := loadFake(t)
	for _, tr := range fake.traces {
		if tr["id"] == lfRefund {
			tr["errorCount"] = 1 // a list that exposes error counts
		}
	}
	fake.noV2 = true // without the window read, the list's marks choose
	srv := httptest.NewServer(fake)
	defer srv.Close()
	c := newTestClient(t, srv.URL, Options{})
	res, err := c.Search(context.Background(), oncall.TraceQuery{Start: windowStart, End: windowEnd, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := sourcetest.TraceIDs(res.Traces); !slices.Equal(got, []string{lfRefund}) || res.Matched != 3 {
		t.Errorf("traces = %v, matched %d; want the marked %s of 3", got, res.Matched, lfRefund)
	}
}

func TestClientObservationFallbacks(t *testing.T) {
	tests := []struct {
		name           string
		noV2, noLegacy bool
		wantPath       string
	}{
		{"legacy observations", true, false, pathObservations},
		{"trace detail", true, true, pathTraces + "/" + lfFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := loadFake(t)
			fake.noV2, fake.noLegacy, fake.obsPage = tt.noV2, tt.noLegacy, 2
			srv := httptest.NewServer(fake)
			defer srv.Close()
			c := newTestClient(t, srv.URL, Options{Concurrency: 1})
			res, err := c.Search(context.Background(), oncall.TraceQuery{Start: windowStart, End: windowEnd})
			if err != nil {
				t.Fatal(err)
			}
			if got := sourcetest.TraceIDs(res.Traces); !slices.Equal(got, []string{lfBilling, lfFailed, lfRefund}) {
				t.Fatalf("traces = %v", got)
			}
			checkFailedTrace(t, res.Traces[1])
			// Each missing endpoint is tried once, not once per trace.
			if n := len(fake.seen(pathObservationsV2)); n != 1 {
				t.Errorf("%d v2 requests, want 1", n)
			}
			if tt.noLegacy {
				if n := len(fake.seen(pathObservations)); n != 1 {
					t.Errorf("%d legacy requests, want 1", n)
				}
			} else if pages := fake.seen(pathObservations); len(pages) != 4 || pages[2].Get("traceId") != lfFailed || pages[2].Get("page") != "2" {
				t.Errorf("legacy requests = %v, want 4 with a second page for the failed trace", pages)
			}
			if len(fake.seen(tt.wantPath)) == 0 {
				t.Errorf("no request to %s", tt.wantPath)
			}
		})
	}
}

func TestClientGet(t *testing.T) {
	fake := loadFake(t)
	srv := httptest.NewServer(fake)
	defer srv.Close()
	c := newTestClient(t, srv.URL, Options{})
	tr, err := c.Get(context.Background(), lfFailed)
	if err != nil {
		t.Fatal(err)
	}
	checkFailedTrace(t, tr)
	if len(fake.seen(pathTraces+"/"+lfFailed)) != 1 || len(fake.seen(pathObservationsV2)) != 0 {
		t.Errorf("requests: %d detail, %d observations; want the detail only", len(fake.seen(pathTraces+"/"+lfFailed)), len(fake.seen(pathObservationsV2)))
	}
	if _, err := c.Get(context.Background(), "no-such-trace"); !errors.Is(err, oncall.ErrNotFound) {
		t.Errorf("unknown trace: err = %v, want ErrNotFound", err)
	}
}

func TestClientCache(t *testing.T) {
	fake := loadFake(t)
	srv := httptest.NewServer(fake)
	defer srv.Close()
	now := time.Date(2026, 3, 1, 10, 31, 0, 0, time.UTC)
	c := newTestClient(t, srv.URL, Options{CacheTTL: 5 * time.Minute, Now: func() time.Time { return now }})
	ctx := context.Background()

	if _, err := c.Search(ctx, oncall.TraceQuery{Start: windowStart, End: windowEnd}); err != nil {
		t.Fatal(err)
	}
	before := fake.count()
	tr, err := c.Get(ctx, lfFailed)
	if err != nil {
		t.Fatal(err)
	}
	if fake.count() != before {
		t.Errorf("Get after Search sent %d requests, want the cached trace", fake.count()-before)
	}
	tr.Spans[0].Name = "changed by the caller"
	tr.Spans[1].Attributes["x"] = "y"

	again, err := c.Get(ctx, lfFailed)
	if err != nil || again.Spans[0].Name == "changed by the caller" || again.Spans[1].Attributes["x"] != "" {
		t.Errorf("cached trace changed through a returned copy (err %v)", err)
	}
	if _, err := c.Search(ctx, oncall.TraceQuery{Start: windowStart, End: windowEnd}); err != nil {
		t.Fatal(err)
	}
	if n := len(fake.seen(pathObservationsV2)); n != 2 {
		t.Errorf("%d observation requests after two searches, want 2 (one window read each)", n)
	}

	now = now.Add(5 * time.Minute)
	if _, err := c.Get(ctx, lfFailed); err != nil {
		t.Fatal(err)
	}
	if len(fake.seen(pathTraces+"/"+lfFailed)) != 1 {
		t.Error("expired trace not fetched again")
	}
}

func TestClientFailures(t *testing.T) {
	fake := loadFake(t)
	newSource := func(t *testing.T, url string, p retry.Policy, timeout time.Duration) sourcetest.Source {
		return newTestClient(t, url, Options{Retry: p, Timeout: timeout, CacheTTL: -1})
	}
	search := func(ctx context.Context, s sourcetest.Source) error {
		_, err := s.Search(ctx, oncall.TraceQuery{Start: windowStart, End: windowEnd})
		return err
	}
	t.Run("trace list", func(t *testing.T) {
		sourcetest.Suite{
			Backend: Name, Endpoint: "GET " + pathTraces,
			Match: func(r *http.Request) bool { return r.URL.Path == pathTraces },
			Happy: fake, New: newSource, Call: search,
			Secrets: []string{secretKey},
		}.Run(t)
	})
	t.Run("observations", func(t *testing.T) {
		sourcetest.Suite{
			Backend: Name, Endpoint: "GET " + pathObservationsV2,
			Match: func(r *http.Request) bool {
				return r.URL.Path == pathObservationsV2
			},
			Happy: fake, New: func(t *testing.T, url string, p retry.Policy, timeout time.Duration) sourcetest.Source {
				return newTestClient(t, url, Options{Retry: p, Timeout: timeout, CacheTTL: -1, Concurrency: 1})
			},
			Call:    search,
			Secrets: []string{secretKey},
		}.Run(t)
	})
	t.Run("trace detail", func(t *testing.T) {
		sourcetest.Suite{
			Backend: Name, Endpoint: "GET " + pathTraces + "/" + lfFailed,
			Match: func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, pathTraces+"/") },
			Happy: fake, New: newSource,
			Call: func(ctx context.Context, s sourcetest.Source) error {
				_, err := s.Get(ctx, lfFailed)
				return err
			},
			Secrets: []string{secretKey},
		}.Run(t)
	})
}

func TestClientWrongKeys(t *testing.T) {
	srv := httptest.NewServer(loadFake(t))
	defer srv.Close()
	c := newTestClient(t, srv.URL, Options{PublicKey: publicKey, SecretKey: "sk-lf-wrong"})
	_, err := c.Search(context.Background(), oncall.TraceQuery{Start: windowStart, End: windowEnd})
	want := "HTTP 401 (credentials rejected)"
	if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "sk-lf-wrong") {
		t.Errorf("err = %v, want it to contain %q and no key", err, want)
	}
}

func TestNewChecksOptions(t *testing.T) {
	tests := map[string]Options{
		"no host":            {PublicKey: "pk", SecretKey: "sk"},
		"not http":           {Host: "cloud.langfuse.com", PublicKey: "pk", SecretKey: "sk"},
		"no keys":            {Host: "https://cloud.langfuse.com"},
		"credentials in URL": {Host: "https://pk:sk@cloud.langfuse.com", PublicKey: "pk", SecretKey: "sk"},
		"page too large":     {Host: "https://cloud.langfuse.com", PublicKey: "pk", SecretKey: "sk", PageSize: 500},
	}
	for name, opts := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := New(opts); err == nil {
				t.Error("New accepted the options")
			}
		})
	}
}
