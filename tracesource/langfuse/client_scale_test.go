package langfuse

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/analysis"
	"github.com/oncall-copilot/oncall-copilot/retry"
)

// The incident and baseline windows of the scale tests.
var (
	scaleIncident = analysis.Window{Start: time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC), End: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	scaleBaseline = analysis.Window{Start: time.Date(2026, 3, 2, 8, 30, 0, 0, time.UTC), End: scaleIncident.Start}
)

// scaleFake is a Langfuse project holding n runs in each window of an
// agent that calls a model and a tool: in the incident window one run in
// ten fails on a tool timeout, in the baseline one in a hundred fails on
// a rate limit.
func scaleFake(t *testing.T, n int) *fakeLangfuse {
	f := &fakeLangfuse{t: t, obs: map[string][]map[string]any{}}
	add := func(w analysis.Window, prefix string, i int, failing bool, msg string) {
		step := w.End.Sub(w.Start) / time.Duration(n)
		start := w.Start.Add(time.Duration(i) * step)
		id := fmt.Sprintf("%s%06d", prefix, i)
		ts := func(d time.Duration) string { return start.Add(d).UTC().Format("2006-01-02T15:04:05.000Z") }
		f.traces = append(f.traces, map[string]any{
			"id": id, "projectId": "p1", "name": "checkout-assistant", "timestamp": ts(0),
			"environment": "production", "tags": []any{"checkout"}, "release": "2026.03.01", "userId": fmt.Sprintf("u-%d", i%50),
			"sessionId": nil, "input": "Where is my order?", "output": "It ships tomorrow.", "metadata": `{"resourceAttributes":{"service.name":"checkout-agent"}}`,
			"observations": []any{}, "scores": []any{}, "latency": 2.5, "totalCost": 0.001, "public": false, "bookmarked": false,
		})
		level, status := "DEFAULT", any(nil)
		if failing {
			level, status = "ERROR", msg
		}
		f.obs[id] = []map[string]any{
			{"id": id + "-a", "traceId": id, "type": "AGENT", "name": "checkout-assistant", "startTime": ts(0), "endTime": ts(2500 * time.Millisecond),
				"parentObservationId": nil, "level": "DEFAULT", "environment": "production", "output": "It ships tomorrow."},
			{"id": id + "-g", "traceId": id, "type": "GENERATION", "name": "plan", "startTime": ts(10 * time.Millisecond), "endTime": ts(900 * time.Millisecond),
				"parentObservationId": id + "-a", "level": "DEFAULT", "providedModelName": "gpt-4o-mini",
				"usageDetails": map[string]any{"input": 400, "output": 40, "total": 440}, "costDetails": map[string]any{"total": 0.0004}},
			{"id": id + "-t", "traceId": id, "type": "TOOL", "name": "lookup_order", "startTime": ts(1 * time.Second), "endTime": ts(2 * time.Second),
				"parentObservationId": id + "-a", "level": level, "statusMessage": status, "input": `{"order":"A-1"}`},
		}
	}
	for i := range n {
		add(scaleIncident, "inc", i, i%10 == 3, "TimeoutError: lookup_order timed out after 30s")
		add(scaleBaseline, "base", i, i%100 == 7, "RateLimitError: 429 from orders API")
	}
	return f
}

// every10th429 answers every tenth request with a 429 and a Retry-After,
// as a hosted Langfuse does past its per-minute limit.
type every10th429 struct {
	next http.Handler
	mu   sync.Mutex
	n    int
}

func (h *every10th429) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.n++
	limited := h.n%10 == 0
	h.mu.Unlock()
	if limited {
		w.Header().Set("Retry-After", "2")
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"message": "Rate limit exceeded"})
		return
	}
	h.next.ServeHTTP(w, r)
}

// triageWindows searches both windows as triage does and analyses them.
func triageWindows(t *testing.T, c *Client, maxTraces int) (oncall.Report, []oncall.TraceSearchResult) {
	t.Helper()
	var traces []oncall.Trace
	weights := map[string]float64{}
	var results []oncall.TraceSearchResult
	for _, w := range []analysis.Window{scaleIncident, scaleBaseline} {
		res, err := c.Search(context.Background(), oncall.TraceQuery{Start: w.Start, End: w.End, Limit: maxTraces, KeepLimit: maxTraces})
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, res)
		traces = append(traces, res.Traces...)
		for id, x := range res.Weights {
			weights[id] = x
		}
	}
	rep := analysis.Analyze(oncall.Alert{Name: "agent errors"}, traces, analysis.Options{Incident: scaleIncident, Baseline: scaleBaseline, Weights: weights})
	return rep, results
}

func TestClientScaleBoundedRequests(t *testing.T) {
	small := scaleFake(t, 100)
	srvSmall := httptest.NewServer(small)
	defer srvSmall.Close()
	want, _ := triageWindows(t, newTestClient(t, srvSmall.URL, Options{}), 500)
	if len(want.Clusters) == 0 {
		t.Fatal("no cluster over 100 runs")
	}

	big := scaleFake(t, 2000)
	srv := httptest.NewServer(big)
	defer srv.Close()
	got, results := triageWindows(t, newTestClient(t, srv.URL, Options{}), 500)
	if n := big.count(); n > 100 {
		t.Errorf("%d requests for 2,000 runs a window, want at most 100", n)
	}
	if n := len(big.seen(pathObservationsV2)); n > 2*(3*2000/1000+2) {
		t.Errorf("%d observation requests, want pages of 1,000", n)
	}
	if len(got.Clusters) == 0 || got.Clusters[0].Signature != want.Clusters[0].Signature {
		t.Fatalf("top cluster over 2,000 runs = %+v, want %q as over 100", got.Clusters, want.Clusters[0].Signature)
	}
	if top := got.Clusters[0]; top.Count != 200 || top.Rate != 0.1 || got.TracesExamined != 2000 {
		t.Errorf("top cluster counts %d at rate %v over %d runs, want 200 at 0.1 of 2,000 (weighted)", top.Count, top.Rate, got.TracesExamined)
	}
	if results[0].Matched != 2000 || results[0].Sampling == "" {
		t.Errorf("incident window: matched %d, sampling %q; want 2000 and a note", results[0].Matched, results[0].Sampling)
	}
	t.Logf("%d requests; incident window: %s", big.count(), results[0].Sampling)
}

func TestClientScaleRateLimited(t *testing.T) {
	fake := scaleFake(t, 2000)
	calm := httptest.NewServer(fake)
	defer calm.Close()
	want, wantRes := triageWindows(t, newTestClient(t, calm.URL, Options{}), 500)

	limited := &every10th429{next: scaleFake(t, 2000)}
	srv := httptest.NewServer(limited)
	defer srv.Close()
	var mu sync.Mutex
	var slept []time.Duration
	p := retry.Policy{Attempts: 4, Initial: time.Millisecond, Max: time.Millisecond, Sleep: func(_ context.Context, d time.Duration) error {
		mu.Lock()
		defer mu.Unlock()
		slept = append(slept, d)
		return nil
	}}
	stopped := time.Date(2026, 3, 2, 10, 5, 0, 0, time.UTC)
	got, gotRes := triageWindows(t, newTestClient(t, srv.URL, Options{Retry: p, Now: func() time.Time { return stopped }}), 500)
	for i := range wantRes {
		if !slices.Equal(traceIDs(gotRes[i].Traces), traceIDs(wantRes[i].Traces)) || gotRes[i].Matched != wantRes[i].Matched {
			t.Errorf("window %d: rate-limited search kept %d of %d traces, want the same %d of %d", i, len(gotRes[i].Traces), gotRes[i].Matched, len(wantRes[i].Traces), wantRes[i].Matched)
		}
	}
	if got.Clusters[0].Signature != want.Clusters[0].Signature || got.Clusters[0].Count != want.Clusters[0].Count {
		t.Errorf("top cluster %q x%d, want %q x%d", got.Clusters[0].Signature, got.Clusters[0].Count, want.Clusters[0].Signature, want.Clusters[0].Count)
	}
	// Each 429'd request is retried after its Retry-After, and the
	// requests sent after it wait it out too (the client's clock stands
	// still here, so every wait is the whole 2 s).
	limits := limited.n / 10
	for _, d := range slept {
		if d != 2*time.Second {
			t.Errorf("waited %v, want the 2s Retry-After", d)
		}
	}
	if len(slept) <= limits {
		t.Errorf("%d waits for %d 429s; want a retry per 429 and the other requests held back", len(slept), limits)
	}
}

func traceIDs(ts []oncall.Trace) []string {
	out := make([]string, len(ts))
	for i := range ts {
		out[i] = ts[i].TraceID
	}
	return out
}

// A window read cut short by MaxObservations leaves older traces partly
// read; those the sample keeps are fetched on their own, whole.
func TestClientWindowReadCutShort(t *testing.T) {
	fake := loadFake(t)
	fake.obsPage = 2
	srv := httptest.NewServer(fake)
	defer srv.Close()
	c := newTestClient(t, srv.URL, Options{MaxObservations: 2, Concurrency: 1})
	res, err := c.Search(context.Background(), oncall.TraceQuery{Start: windowStart, End: windowEnd})
	if err != nil {
		t.Fatal(err)
	}
	if got := traceIDs(res.Traces); !slices.Equal(got, []string{lfBilling, lfFailed, lfRefund}) {
		t.Fatalf("traces = %v", got)
	}
	checkFailedTrace(t, res.Traces[1])
	var byTrace []string
	for _, q := range fake.seen(pathObservationsV2) {
		if id := q.Get("traceId"); id != "" && q.Get("cursor") == "" {
			byTrace = append(byTrace, id)
		}
	}
	slices.Sort(byTrace)
	if want := []string{lfFailed, lfRefund}; !slices.Equal(byTrace, want) {
		t.Errorf("fetched on their own: %v, want the traces the cut read did not cover %v", byTrace, want)
	}
}
