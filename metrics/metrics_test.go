package metrics_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/alerts"
	"github.com/oncall-copilot/oncall-copilot/bot"
	"github.com/oncall-copilot/oncall-copilot/bot/slacktest"
	"github.com/oncall-copilot/oncall-copilot/llm"
	"github.com/oncall-copilot/oncall-copilot/llm/llmtest"
	"github.com/oncall-copilot/oncall-copilot/metrics"
	"github.com/oncall-copilot/oncall-copilot/retry"
	"github.com/oncall-copilot/oncall-copilot/store/boltdb"
	"github.com/oncall-copilot/oncall-copilot/tracesource/jsonl"
	"github.com/oncall-copilot/oncall-copilot/worker"
)

const token = "webhook-token-never-shown"

func openStore(t *testing.T) *boltdb.Store {
	t.Helper()
	s, err := boltdb.Open(boltdb.Options{Path: filepath.Join(t.TempDir(), "oncall.db"), PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newMetrics(t *testing.T, q metrics.QueueStatser) (*metrics.Metrics, *httptest.Server) {
	t.Helper()
	m, err := metrics.New(metrics.Options{Queue: q})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	m.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return m, srv
}

// scrape reads /metrics as Prometheus would.
func scrape(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	return string(b)
}

// wantSeries checks each series line (name{labels} value) is exposed.
func wantSeries(t *testing.T, body string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains("\n"+body, "\n"+l+"\n") {
			t.Errorf("/metrics lacks %q", l)
		}
	}
}

func post(t *testing.T, url, auth string, body []byte) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestIntakeQueueAndWorkersAreCounted(t *testing.T) {
	store := openStore(t)
	m, msrv := newMetrics(t, store)
	h, err := alerts.NewHandler(alerts.Options{Queue: store, Router: alerts.DefaultRoute{Channel: "C1"}, Token: token, Deduper: store, Observer: m})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	intake := httptest.NewServer(mux)
	defer intake.Close()

	firing, err := os.ReadFile("../alerts/testdata/alertmanager-firing.json")
	if err != nil {
		t.Fatal(err)
	}
	pd, err := os.ReadFile("../alerts/testdata/pagerduty-triggered.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path, auth string
		body       []byte
		want       int
	}{
		{"/webhooks/alertmanager", token, firing, http.StatusAccepted},
		{"/webhooks/alertmanager", token, firing, http.StatusAccepted},
		{"/webhooks/alertmanager", "wrong", firing, http.StatusUnauthorized},
		{"/webhooks/alertmanager", token, []byte(`{"version":"4"`), http.StatusBadRequest},
		{"/webhooks/no-such-source", token, firing, http.StatusNotFound},
		{"/webhooks/pagerduty", token, pd, http.StatusAccepted},
		{"/webhooks/pagerduty", token, pd, http.StatusOK}, // a replay
	} {
		if got := post(t, intake.URL+c.path, c.auth, c.body); got != c.want {
			t.Fatalf("POST %s answered %d, want %d", c.path, got, c.want)
		}
	}
	body := scrape(t, msrv)
	wantSeries(t, body,
		`oncall_webhook_requests_total{outcome="accepted",source="alertmanager"} 2`,
		`oncall_webhook_requests_total{outcome="unauthorized",source="alertmanager"} 1`,
		`oncall_webhook_requests_total{outcome="invalid",source="alertmanager"} 1`,
		`oncall_webhook_requests_total{outcome="unknown_source",source="unknown"} 1`,
		`oncall_webhook_requests_total{outcome="duplicate",source="pagerduty"} 1`,
		`oncall_dedupe_hits_total{source="pagerduty"} 1`,
		`oncall_queue_jobs{state="ready"} 3`,
		`oncall_queue_jobs{state="dead"} 0`,
		`oncall_queue_up 1`,
	)
	if !strings.Contains(body, `oncall_alerts_received_total{outcome="accepted",source="alertmanager"} `) {
		t.Errorf("alerts received not counted:\n%s", grep(body, "alerts_received"))
	}
	if strings.Contains(body, token) {
		t.Error("/metrics shows the webhook token")
	}

	// Workers: one job dies at once, the others succeed.
	var handled int
	pool, err := worker.New(worker.Options{Queue: store, Workers: 1, PollWait: 20 * time.Millisecond, Observer: m,
		Handler: func(ctx context.Context, job oncall.Job) error {
			handled++
			if handled == 1 {
				return retry.Permanent(errors.New("incident: bad job"))
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- pool.Run(ctx) }()
	slacktest.WaitFor(t, func() bool {
		return strings.Contains(scrape(t, msrv), `oncall_job_duration_seconds_count{kind="alert",outcome="done"} 2`)
	}, 10*time.Second)
	cancel()
	<-done
	body = scrape(t, msrv)
	wantSeries(t, body,
		`oncall_job_duration_seconds_count{kind="alert",outcome="dead"} 1`,
		`oncall_dead_letters_total{kind="alert"} 1`,
		`oncall_queue_jobs{state="ready"} 0`,
		`oncall_queue_jobs{state="dead"} 1`,
	)
}

// failingQueue cannot report its backlog.
type failingQueue struct{}

func (failingQueue) QueueStats(ctx context.Context) (oncall.QueueStats, error) {
	<-ctx.Done() // an unreachable server: the scrape's timeout ends it
	return oncall.QueueStats{}, ctx.Err()
}

func TestUnreachableQueueScrapesAsDown(t *testing.T) {
	m, err := metrics.New(metrics.Options{Queue: failingQueue{}, ScrapeTimeout: 20 * time.Millisecond, NoRuntime: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(b)
	wantSeries(t, body, `oncall_queue_up 0`)
	if strings.Contains(body, "oncall_queue_jobs{") || strings.Contains(body, "go_goroutines") {
		t.Errorf("exposition:\n%s", body)
	}
}

func TestSlackCallsAndRateLimitsAreCounted(t *testing.T) {
	m, msrv := newMetrics(t, nil)
	fake := slacktest.NewServer(t)
	fake.Fail("chat.postMessage", 1, slacktest.RateLimited(time.Second))
	fake.Fail("chat.update", 1, slacktest.APIError("channel_not_found"))
	slack, err := bot.New(bot.Options{Token: slacktest.Token, APIURL: fake.URL + "/", Observer: m, MinInterval: time.Nanosecond,
		Retry: retry.Policy{Attempts: 3, Initial: time.Millisecond, Sleep: func(context.Context, time.Duration) error { return nil }}})
	if err != nil {
		t.Fatal(err)
	}
	inc := oncall.Incident{Key: "k", Channel: "C1", Alert: oncall.Alert{Name: "AgentErrorRate", Status: oncall.AlertFiring}}
	if _, inc.ThreadTS, err = slack.PostParent(t.Context(), inc); err != nil {
		t.Fatalf("PostParent after a 429: %v", err)
	}
	if err := slack.UpdateParent(t.Context(), inc); err == nil {
		t.Fatal("UpdateParent succeeded against channel_not_found")
	}
	wantSeries(t, scrape(t, msrv),
		`oncall_slack_calls_total{method="chat.postMessage",outcome="rate_limited"} 1`,
		`oncall_slack_calls_total{method="chat.postMessage",outcome="ok"} 1`,
		`oncall_slack_calls_total{method="chat.update",outcome="error"} 1`,
		`oncall_slack_rate_limited_total{method="chat.postMessage"} 1`,
		`oncall_slack_call_duration_seconds_count{method="chat.postMessage"} 2`,
	)
}

func TestModelCallsTokensAndCostAreCounted(t *testing.T) {
	m, msrv := newMetrics(t, nil)
	srv := llmtest.NewServer(t)
	srv.Enqueue(
		llmtest.Reply{Content: "fine", PromptTokens: 1000, CompletionTokens: 200},
		llmtest.Status(http.StatusTooManyRequests, "", "Rate limit reached"),
		llmtest.Status(http.StatusUnauthorized, "", "Incorrect API key"),
	)
	client, err := llm.New(llm.Options{BaseURL: srv.URL, APIKey: "sk-never-shown", Model: "gpt-4o-mini", Retry: retry.Policy{Attempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	model := m.Model("gpt-4o-mini", client)
	for range 3 {
		_, _ = model.Chat(t.Context(), oncall.ChatRequest{Messages: []oncall.ChatMessage{{Role: oncall.RoleUser, Content: "why"}}})
	}
	body := scrape(t, msrv)
	wantSeries(t, body,
		`oncall_model_calls_total{model="gpt-4o-mini",outcome="ok"} 1`,
		`oncall_model_calls_total{model="gpt-4o-mini",outcome="rate_limited"} 1`,
		`oncall_model_calls_total{model="gpt-4o-mini",outcome="unauthorized"} 1`,
		`oncall_model_tokens_total{model="gpt-4o-mini",type="prompt"} 1000`,
		`oncall_model_tokens_total{model="gpt-4o-mini",type="completion"} 200`,
		`oncall_model_call_duration_seconds_count{model="gpt-4o-mini"} 3`,
	)
	if !strings.Contains(body, `oncall_model_cost_usd_total{model="gpt-4o-mini"} `) || strings.Contains(body, "sk-never-shown") {
		t.Errorf("cost missing or key shown:\n%s", grep(body, "oncall_model"))
	}
}

func TestTraceStoreCallsAreCounted(t *testing.T) {
	m, msrv := newMetrics(t, nil)
	src, err := jsonl.New(jsonl.Options{Path: "../examples/quickstart/traces"})
	if err != nil {
		t.Fatal(err)
	}
	missing, err := jsonl.New(jsonl.Options{Path: filepath.Join(t.TempDir(), "absent")})
	if err != nil {
		t.Fatal(err)
	}
	ts := m.TraceSource("jsonl", src)
	res, err := ts.Search(t.Context(), oncall.TraceQuery{Limit: 5})
	if err != nil || len(res.Traces) == 0 {
		t.Fatalf("search: %d traces, %v", len(res.Traces), err)
	}
	if _, err := ts.Get(t.Context(), "ffffffffffffffffffffffffffffffff"); !errors.Is(err, oncall.ErrNotFound) {
		t.Fatalf("get of an unknown id: %v", err)
	}
	if _, err := m.TraceSource("archive", missing).Search(t.Context(), oncall.TraceQuery{}); err == nil {
		t.Fatal("search of a missing path succeeded")
	}
	wantSeries(t, scrape(t, msrv),
		`oncall_trace_store_calls_total{op="search",outcome="ok",source="jsonl"} 1`,
		`oncall_trace_store_calls_total{op="get",outcome="not_found",source="jsonl"} 1`,
		`oncall_trace_store_calls_total{op="search",outcome="error",source="archive"} 1`,
		`oncall_trace_store_call_duration_seconds_count{op="search",source="jsonl"} 1`,
	)
}

func TestTriageAndSelfTraceAreCounted(t *testing.T) {
	m, msrv := newMetrics(t, nil)
	m.TriageDone("diagnosed", 120, 3*time.Second)
	m.TriageDone("error", 0, time.Second)
	m.SelfTraceSpans("exported", 7)
	m.SelfTraceSpans("dropped", 0)
	body := scrape(t, msrv)
	wantSeries(t, body,
		`oncall_triage_duration_seconds_count{outcome="diagnosed"} 1`,
		`oncall_triage_duration_seconds_count{outcome="error"} 1`,
		`oncall_triage_traces_count 1`,
		`oncall_triage_traces_sum 120`,
		`oncall_selftrace_spans_total{outcome="exported"} 7`,
	)
	if strings.Contains(body, `outcome="dropped"`) {
		t.Error("zero dropped spans created a series")
	}
}

func TestModelOutcome(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, "ok"},
		{&retry.HTTPError{StatusCode: 429}, "rate_limited"},
		{errors.Join(errors.New("model"), &retry.HTTPError{StatusCode: 503}), "server_error"},
		{&retry.HTTPError{StatusCode: 403}, "unauthorized"},
		{&retry.HTTPError{StatusCode: 400}, "rejected"},
		{context.DeadlineExceeded, "timeout"},
		{context.Canceled, "canceled"},
		{errors.New("connection reset"), "error"},
	} {
		if got := metrics.ModelOutcome(tc.err); got != tc.want {
			t.Errorf("ModelOutcome(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func grep(body, word string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// lostStore is a store that found its data gone n times, last at at.
type lostStore struct {
	n  int
	at time.Time
}

func (s lostStore) DataLosses() int       { return s.n }
func (s lostStore) DataLostAt() time.Time { return s.at }

func TestStoreDataLossIsExposed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store lostStore
		want  []string
	}{
		{"never", lostStore{}, []string{"oncall_store_data_losses_total 0", "oncall_store_data_lost_timestamp_seconds 0"}},
		{"once", lostStore{1, time.Unix(1_780_000_000, 0)}, []string{"oncall_store_data_losses_total 1", "oncall_store_data_lost_timestamp_seconds 1.78e+09"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := metrics.New(metrics.Options{DataLoss: tc.store, NoRuntime: true})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(m.Handler())
			defer srv.Close()
			resp, err := http.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, w := range tc.want {
				wantSeries(t, string(b), w)
			}
		})
	}
}
