package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/analysis"
	"github.com/oncall-copilot/oncall-copilot/bot/slacktest"
	"github.com/oncall-copilot/oncall-copilot/config"
	"github.com/oncall-copilot/oncall-copilot/llm/llmtest"
	"github.com/oncall-copilot/oncall-copilot/redact"
	"github.com/oncall-copilot/oncall-copilot/selftrace"
	"github.com/oncall-copilot/oncall-copilot/tracesource/jsonl"
)

// readSelfTraces loads the copilot's own traces through its JSONL trace
// source, as an engineer pointing TRACE_JSONL_PATH at them would.
func readSelfTraces(t *testing.T, path string, q oncall.TraceQuery) []oncall.Trace {
	t.Helper()
	src, err := jsonl.New(jsonl.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if q.Filters == nil {
		q.Filters = map[string]string{"service.name": selftrace.DefaultService}
	}
	q.Limit = 1000
	res, err := src.Search(t.Context(), q)
	if err != nil {
		t.Fatalf("read self traces: %v", err)
	}
	if src.Skipped() != 0 {
		t.Errorf("%d self-trace records could not be read", src.Skipped())
	}
	return res.Traces
}

func spansOf(tr oncall.Trace, kind oncall.SpanKind) []oncall.Span {
	var out []oncall.Span
	for _, s := range tr.Spans {
		if s.Kind == kind {
			out = append(out, s)
		}
	}
	return out
}

func TestServeExposesMetricsAndTracesItself(t *testing.T) {
	alertBody, err := os.ReadFile(exampleAlert)
	if err != nil {
		t.Fatal(err)
	}
	slack := slacktest.NewServer(t)
	model := groundedModel(t)
	selfPath := filepath.Join(t.TempDir(), "self", "traces.jsonl")
	srv := startServer(t, map[string]string{
		"LISTEN_ADDR":          "127.0.0.1:0",
		"DATA_DIR":             t.TempDir(),
		"WEBHOOK_TOKEN":        webhookToken,
		"SLACK_BOT_TOKEN":      slack.Token,
		"SLACK_API_URL":        slack.URL + "/",
		"SLACK_CHANNEL":        channel,
		"SLACK_SIGNING_SECRET": signingSecret,
		"TRACE_JSONL_PATH":     exampleTraces,
		"OPENAI_API_KEY":       "sk-test-not-a-real-key-000000000000",
		"OPENAI_BASE_URL":      model.URL,
		"OPENAI_MODEL":         "gpt-4o-mini",
		"SELF_TRACE_PATH":      selfPath,
	})
	if resp := srv.postAlert(t, alertBody); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("webhook answered %d", resp.StatusCode)
	}
	slacktest.WaitFor(t, func() bool { return len(slack.Updates()) >= 1 }, 20*time.Second)
	var parent slacktest.Message
	for _, m := range slack.Messages() {
		if m.ThreadTS == "" {
			parent = m
		}
	}
	askInThread(t, srv, parent.TS, "evt-telemetry", 0)
	slacktest.WaitFor(t, func() bool { return len(slack.Replies(channel, parent.TS)) >= 2 }, 20*time.Second)

	resp, err := http.Get(srv.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(b)
	for _, want := range []string{
		`oncall_webhook_requests_total{outcome="accepted",source="alertmanager"} 1`,
		`oncall_job_duration_seconds_count{kind="alert",outcome="done"} 1`,
		`oncall_triage_duration_seconds_count{outcome="diagnosed"} 1`,
		`oncall_model_calls_total{model="gpt-4o-mini",outcome="ok"} `,
		`oncall_model_tokens_total{model="gpt-4o-mini",type="prompt"} `,
		`oncall_slack_calls_total{method="chat.postMessage",outcome="ok"} `,
		`oncall_trace_store_calls_total{op="search",outcome="ok",source="jsonl"} `,
		`oncall_queue_up 1`,
		`oncall_queue_jobs{state="dead"} 0`,
		`process_resident_memory_bytes `,
	} {
		if !strings.Contains(body, "\n"+want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, "sk-test-not-a-real-key") || strings.Contains(body, webhookToken) {
		t.Error("/metrics shows a secret")
	}
	if err := srv.stop(); err != nil {
		t.Fatalf("serve returned %v", err)
	}

	// Shutdown flushed the self traces: one triage and one follow-up.
	traces := readSelfTraces(t, selfPath, oncall.TraceQuery{})
	byName := map[string]oncall.Trace{}
	for _, tr := range traces {
		byName[tr.Name] = tr
	}
	tri, ok := byName["triage"]
	if !ok {
		t.Fatalf("no triage trace among %d self traces", len(traces))
	}
	root := tri.Root()
	if root.Kind != oncall.KindAgent || root.Attributes["oncall.job.id"] == "" || root.Attributes["oncall.incident.key"] == "" ||
		root.Attributes["triage.outcome"] != "diagnosed" || root.Attributes["service.version"] != version {
		t.Errorf("triage root span = %+v", *root)
	}
	var steps []string
	for _, s := range spansOf(tri, oncall.KindChain) {
		steps = append(steps, s.Name)
	}
	slices.Sort(steps)
	if !slices.Equal(steps, []string{"triage.finish", "triage.prepare"}) {
		t.Errorf("triage steps = %v", steps)
	}
	llmSpans := spansOf(tri, oncall.KindLLM)
	if len(llmSpans) != 1 || llmSpans[0].Model != "gpt-4o-mini" || llmSpans[0].InputTokens == 0 || llmSpans[0].Cost <= 0 || llmSpans[0].Status != oncall.StatusOK {
		t.Errorf("triage LLM spans = %+v", llmSpans)
	}
	searches := 0
	for _, s := range spansOf(tri, oncall.KindTool) {
		if s.ToolName == "search_traces" && s.ParentID != "" && s.Status == oncall.StatusOK {
			searches++
		}
	}
	if searches != 2 {
		t.Errorf("triage searched the trace store %d times, want 2 (incident and baseline windows)", searches)
	}
	fu, ok := byName["follow-up"]
	if !ok || len(spansOf(fu, oncall.KindLLM)) == 0 || fu.Root().Attributes["follow_up.outcome"] != "answered" {
		t.Errorf("follow-up trace = %+v", fu)
	}
	for _, tr := range traces {
		raw, _ := json.Marshal(tr)
		if strings.Contains(string(raw), "sk-test-not-a-real-key") {
			t.Errorf("self trace %s carries the API key", tr.TraceID)
		}
	}

	// The log line of the triage names its incident, job and trace.
	var logged bool
	for _, line := range strings.Split(srv.stderr.String(), "\n") {
		if strings.Contains(line, `"msg":"triage finished"`) {
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("log line is not JSON: %s", line)
			}
			logged = rec["trace_id"] == tri.TraceID && rec["job"] == root.Attributes["oncall.job.id"] && rec["incident"] == root.Attributes["oncall.incident.key"]
			if !logged {
				t.Errorf("triage log line = %s", line)
			}
		}
	}
	if !logged {
		t.Errorf("no triage log line:\n%s", srv.stderr.String())
	}
}

// TestCopilotTriagesItself runs triages whose model starts failing, writes
// the copilot's own traces to JSONL, reads them back through the JSONL
// trace source, and analyses them like any agent's traces: the failing
// model calls are the top cluster.
func TestCopilotTriagesItself(t *testing.T) {
	model := llmtest.NewServer(t)
	var failing atomic.Bool
	var calls atomic.Int64
	model.Handle(func(req llmtest.Request) llmtest.Reply {
		n := calls.Add(1)
		if failing.Load() && n%3 != 0 {
			return llmtest.Status(http.StatusUnauthorized, "", "Incorrect API key provided.")
		}
		return llmtest.JSON(map[string]any{"summary": "A tool fails.", "causes": []any{}, "fixes": []any{}, "next_steps": []string{"Look."}})
	})
	selfPath := filepath.Join(t.TempDir(), "self.jsonl")
	cfg := config.Default()
	cfg.Model.APIKey = "sk-test-not-a-real-key-000000000000"
	cfg.Model.BaseURL = config.URL(model.URL)
	cfg.Telemetry.SelfTracePath = selfPath
	log := slog.New(slog.DiscardHandler)
	tel, err := newTelemetry(cfg, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	red, err := redact.New(redact.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := newDeps(cfg, exampleTraces, "", red, log, tel)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := newTriage(cfg, d, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	tri := tel.triager(svc, modelOn(cfg))
	alert, err := readAlert(exampleAlert, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}

	const runs = 6
	runOne := func() {
		if _, err := tri.Triage(t.Context(), oncall.TriageRequest{Alert: alert}); err != nil {
			t.Fatalf("triage: %v", err)
		}
	}
	start := time.Now()
	for range runs {
		runOne()
	}
	boundary := time.Now()
	failing.Store(true)
	for range runs {
		runOne()
	}
	end := time.Now().Add(time.Second)
	if err := tel.tracer.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}

	traces := readSelfTraces(t, selfPath, oncall.TraceQuery{Start: start, End: end})
	if len(traces) != 2*runs {
		t.Fatalf("read %d self traces, want %d", len(traces), 2*runs)
	}
	var failed []string
	for _, tr := range traces {
		for _, s := range spansOf(tr, oncall.KindLLM) {
			if s.Failed() {
				failed = append(failed, tr.TraceID)
			}
		}
	}
	if len(failed) != 4 {
		t.Fatalf("%d self traces with a failed model call, want 4 (two of every three in the incident window)", len(failed))
	}
	rep := analysis.Analyze(oncall.Alert{Name: "CopilotTriageErrors", StartsAt: end}, traces, analysis.Options{
		Incident: analysis.Window{Start: boundary, End: end},
		Baseline: analysis.Window{Start: start, End: boundary},
	})
	if len(rep.Clusters) == 0 {
		t.Fatalf("no clusters in the copilot's own traces: %+v", rep)
	}
	top := rep.Clusters[0]
	if top.SpanKind != oncall.KindLLM || top.SpanName != "chat gpt-4o-mini" || top.Count != 4 || top.BaselineCount != 0 || !top.New {
		t.Errorf("top cluster = %+v", top)
	}
	if !strings.Contains(top.Error, "401") && !strings.Contains(strings.ToLower(top.Error), "credentials") {
		t.Errorf("top cluster error %q does not say the model refused the key", top.Error)
	}
	for _, id := range top.TraceIDs {
		if !slices.Contains(failed, id) {
			t.Errorf("top cluster cites trace %s, which has no failed model call", id)
		}
	}
}
