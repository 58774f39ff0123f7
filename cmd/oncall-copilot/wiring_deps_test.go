package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/bot"
	"github.com/oncall-copilot/oncall-copilot/config"
	"github.com/oncall-copilot/oncall-copilot/incident"
	"github.com/oncall-copilot/oncall-copilot/llm/llmtest"
	"github.com/oncall-copilot/oncall-copilot/redact"
	"github.com/oncall-copilot/oncall-copilot/triage"
)

// testDeps builds the shared clients of cfg for a test.
func testDeps(t *testing.T, cfg config.Config, tel *telemetry) *deps {
	t.Helper()
	red, err := redact.New(redact.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := newDeps(cfg, "", "", red, slog.New(slog.DiscardHandler), tel)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// testLifecycle is the incident lifecycle over store, posting to slack,
// for the Slack handlers.
func testLifecycle(t *testing.T, store backend, slack *bot.Slack) bot.Lifecycle {
	t.Helper()
	inc, err := incident.New(incident.Options{Store: store, Publisher: slack, Triager: &triage.Service{}, Requeue: store})
	if err != nil {
		t.Fatal(err)
	}
	return inc
}

// TestDependenciesBuiltOnce checks that triage, the follow-up assistant
// and the digests get the same model client (so one circuit breaker and
// one meter), the same trace-store client and the same redactor, and that
// a call through the assistant's or the digest's clients shows in
// /metrics.
func TestDependenciesBuiltOnce(t *testing.T) {
	model := llmtest.NewServer(t)
	model.Handle(func(req llmtest.Request) llmtest.Reply {
		return llmtest.JSON(map[string]any{"summary": "ok"})
	})
	cfg := config.Default()
	cfg.Model.APIKey = "sk-test-not-a-real-key-000000000000"
	cfg.Model.BaseURL = config.URL(model.URL)
	cfg.Traces.JSONL.Path = exampleTraces
	log := slog.New(slog.DiscardHandler)
	tel, err := newTelemetry(cfg, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	d := testDeps(t, cfg, tel)
	if d.Client == nil || d.Model == nil {
		t.Fatal("no model client with a key configured")
	}

	tri, err := triageOptions(cfg, d, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	dig, err := digestBuilderOptions(cfg, nil, d, log)
	if err != nil {
		t.Fatal(err)
	}
	as, err := assistantOptions(cfg, d, log)
	if err != nil {
		t.Fatal(err)
	}
	if tri.Model != d.Model || dig.Model != d.Model || as.Model != d.Model {
		t.Errorf("model clients differ: triage %p, digest %p, assistant %p, shared %p", tri.Model, dig.Model, as.Model, d.Model)
	}
	src := d.Sources["jsonl"]
	if src == nil || tri.Sources["jsonl"] != src || dig.Source != src || as.Source != src {
		t.Errorf("trace clients differ: triage %p, digest %p, assistant %p, shared %p", tri.Sources["jsonl"], dig.Source, as.Source, src)
	}
	if tri.Redactor != d.Redactor || dig.Redactor != d.Redactor || as.Redactor != d.Redactor {
		t.Error("redactors differ")
	}

	// The shared clients are the measured ones: the assistant's model
	// call and the digest's trace search are counted.
	if _, err := as.Model.Chat(t.Context(), oncall.ChatRequest{Messages: []oncall.ChatMessage{{Role: oncall.RoleUser, Content: "hi"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := dig.Source.Search(t.Context(), oncall.TraceQuery{Limit: 1}); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	tel.Register(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{`oncall_model_calls_total{model="` + cfg.Model.Name + `",outcome="ok"} 1`, `oncall_trace_store_calls_total{op="search",outcome="ok",source="jsonl"} 1`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
