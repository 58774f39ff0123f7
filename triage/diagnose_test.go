package triage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/llm"
	"github.com/oncall-copilot/oncall-copilot/llm/llmtest"
	"github.com/oncall-copilot/oncall-copilot/retry"
)

// update rewrites the golden files of package triage: go test -update.
var update = flag.Bool("update", false, "rewrite golden files in testdata")

func diagnoseGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs at line %d (run with -update to accept):\nwant %q\n got %q", path, i+1, w, g)
			}
		}
	}
}

func TestPromptGolden(t *testing.T) {
	ev := BuildEvidence(fxReport(), fxTraces(), EvidenceOptions{Budget: 8000, Counter: estimateCounter{}, Redact: newSession(t)})
	req := diagnosisRequest(ev)
	var b strings.Builder
	for _, m := range req.Messages {
		b.WriteString("=== " + string(m.Role) + " ===\n" + m.Content + "\n")
	}
	b.WriteString("=== response schema " + req.SchemaName + " ===\n" + string(req.Schema) + "\n")
	diagnoseGolden(t, filepath.Join("testdata", "diagnose", "prompt.golden"), []byte(b.String()))

	if !json.Valid(req.Schema) {
		t.Error("the response schema is not valid JSON")
	}
	if req.MaxTokens <= 0 || len(req.Messages) != 2 || req.Messages[1].Content != ev.Text {
		t.Errorf("request = %+v", req)
	}
}

// scriptedModel answers from a list and records what it was asked.
type scriptedModel struct {
	replies []scriptedReply
	asked   []oncall.ChatRequest
}

type scriptedReply struct {
	content string
	err     error
}

func (m *scriptedModel) Chat(_ context.Context, req oncall.ChatRequest) (oncall.ChatResponse, error) {
	m.asked = append(m.asked, req)
	if len(m.asked) > len(m.replies) {
		return oncall.ChatResponse{}, errors.New("scriptedModel: no reply left")
	}
	r := m.replies[len(m.asked)-1]
	if r.err != nil {
		return oncall.ChatResponse{}, r.err
	}
	return oncall.ChatResponse{Content: r.content, Model: "fake-model", Usage: oncall.Usage{PromptTokens: 1000, CompletionTokens: 100, Cost: 0.01}}, nil
}

// answerJSON builds a model answer.
func answerJSON(t *testing.T, causes ...map[string]any) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"summary":    "lookup_order times out since release 2.3.0.",
		"causes":     causes,
		"fixes":      []map[string]string{{"type": "harness", "change": "Add a 5s timeout with one retry.", "where": "lookup_order"}, {"type": "Model Provider", "change": "x", "where": ""}},
		"next_steps": []string{"Roll back to 2.2.1."},
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func cause(title, conf string, refs ...[2]string) map[string]any {
	var ev []map[string]string
	for _, r := range refs {
		ev = append(ev, map[string]string{"trace_id": r[0], "span_id": r[1], "note": "see " + r[1]})
	}
	return map[string]any{"title": title, "detail": "d", "confidence": conf, "evidence": ev}
}

func TestDiagnose(t *testing.T) {
	good := answerJSON(t, cause("Order service timeouts", "high", [2]string{fxTrace1, fxSpanErr1}))
	tests := []struct {
		name        string
		replies     []scriptedReply
		wantErr     string
		wantCalls   int
		wantTitles  []string
		wantConf    []oncall.Confidence
		wantDropped int
		check       func(t *testing.T, d *oncall.Diagnosis, asked []oncall.ChatRequest)
	}{
		{
			name: "grounded answer", replies: []scriptedReply{{content: good}}, wantCalls: 1,
			wantTitles: []string{"Order service timeouts"}, wantConf: []oncall.Confidence{oncall.ConfidenceHigh},
			check: func(t *testing.T, d *oncall.Diagnosis, _ []oncall.ChatRequest) {
				if d.Model != "fake-model" || d.Offline != "" {
					t.Errorf("model %q offline %q", d.Model, d.Offline)
				}
				if len(d.Fixes) != 2 || d.Fixes[0].Type != "harness" || d.Fixes[1].Type != "model_provider" {
					t.Errorf("fixes = %+v", d.Fixes)
				}
				if len(d.NextSteps) != 1 {
					t.Errorf("next steps = %q", d.NextSteps)
				}
			},
		},
		{
			name: "unknown ids are dropped",
			replies: []scriptedReply{{content: answerJSON(t,
				cause("Invented", "high", [2]string{"deadbeefdeadbeefdeadbeefdeadbeef", ""}),
				cause("Half right", "medium", [2]string{fxTrace1, "0000000000000bad"}, [2]string{strings.ToUpper(fxTrace2), fxSpanErr2}),
				cause("No evidence", "low"),
			)}},
			wantCalls: 1, wantTitles: []string{"Half right"}, wantConf: []oncall.Confidence{oncall.ConfidenceMedium}, wantDropped: 3,
			check: func(t *testing.T, d *oncall.Diagnosis, _ []oncall.ChatRequest) {
				ev := d.Causes[0].Evidence
				if len(ev) != 1 || ev[0].TraceID != fxTrace2 || ev[0].SpanID != fxSpanErr2 {
					t.Errorf("evidence = %+v, want the upper-cased id rewritten as shown", ev)
				}
			},
		},
		{
			name: "ids invented in prose are removed",
			replies: []scriptedReply{{content: func() string {
				b, _ := json.Marshal(map[string]any{
					"summary": "Trace " + fxTrace1 + " and trace 0a1b2c3d4e5f60718293a4b5c6d7e8f9 show lookup_order timing out.",
					"causes": []map[string]any{{"title": "Timeouts in span 9f8e7d6c5b4a3210", "detail": "Started in 1234567890123456 runs, see 7f3c1d22-5b0e-4c8e-9a51-3e6f0d2b9c41.",
						"confidence": "high", "evidence": []map[string]string{{"trace_id": fxTrace1, "span_id": fxSpanErr1, "note": "like 0xabcdefabcdefabcd"}}}},
					"fixes":      []map[string]string{{"type": "tool", "change": "Raise the timeout seen in fedcba9876543210fedcba9876543210.", "where": "span " + fxSpanErr1}},
					"next_steps": []string{"Open trace FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF."},
				})
				return string(b)
			}()}},
			wantCalls: 1, wantTitles: []string{"Timeouts in span " + UnverifiedIDMarker}, wantConf: []oncall.Confidence{oncall.ConfidenceHigh}, wantDropped: 6,
			check: func(t *testing.T, d *oncall.Diagnosis, _ []oncall.ChatRequest) {
				all := d.Summary + d.Causes[0].Detail + d.Causes[0].Evidence[0].Note + d.Fixes[0].Change + d.Fixes[0].Where + strings.Join(d.NextSteps, " ")
				for _, invented := range []string{"0a1b2c3d4e5f60718293a4b5c6d7e8f9", "9f8e7d6c5b4a3210", "7f3c1d22", "abcdefabcdefabcd", "fedcba98", "FFFFFFFF"} {
					if strings.Contains(all, invented) {
						t.Errorf("invented id %s reached the diagnosis: %q", invented, all)
					}
				}
				for _, shown := range []string{fxTrace1, fxSpanErr1, "1234567890123456"} {
					if !strings.Contains(all, shown) {
						t.Errorf("%s was shown (or is a number) and should stay: %q", shown, all)
					}
				}
			},
		},
		{
			name:      "high confidence away from the top cluster is lowered",
			replies:   []scriptedReply{{content: answerJSON(t, cause("The healthy run did it", "high", [2]string{fxHealthy, ""}))}},
			wantCalls: 1, wantTitles: []string{"The healthy run did it"}, wantConf: []oncall.Confidence{oncall.ConfidenceMedium},
		},
		{
			name:      "nothing grounded falls back to the analysis",
			replies:   []scriptedReply{{content: answerJSON(t, cause("Invented", "high", [2]string{"nope", ""}))}},
			wantCalls: 1, wantDropped: 1,
			wantTitles: []string{"tool lookup_order: timeout after <n>s", "loop tool lookup_order: repeated identical calls", "latency llm chat"},
			wantConf:   []oncall.Confidence{oncall.ConfidenceMedium, oncall.ConfidenceLow, oncall.ConfidenceMedium},
		},
		{
			name:      "fenced JSON is read",
			replies:   []scriptedReply{{content: "Here is the diagnosis:\n```json\n" + good + "\n```"}},
			wantCalls: 1, wantTitles: []string{"Order service timeouts"}, wantConf: []oncall.Confidence{oncall.ConfidenceHigh},
		},
		{
			name:      "invalid answer is repaired once",
			replies:   []scriptedReply{{content: `{"summary": "cut off`}, {content: good}},
			wantCalls: 2, wantTitles: []string{"Order service timeouts"}, wantConf: []oncall.Confidence{oncall.ConfidenceHigh},
			check: func(t *testing.T, _ *oncall.Diagnosis, asked []oncall.ChatRequest) {
				msgs := asked[1].Messages
				if len(msgs) != 4 || msgs[2].Role != oncall.RoleAssistant || msgs[2].Content != `{"summary": "cut off` ||
					msgs[3].Role != oncall.RoleUser || !strings.Contains(msgs[3].Content, "not a valid diagnosis") {
					t.Errorf("repair messages = %+v", msgs)
				}
				if len(asked[1].Schema) == 0 {
					t.Error("repair call dropped the schema")
				}
			},
		},
		{
			name:      "missing causes is invalid",
			replies:   []scriptedReply{{content: `{"summary":"s"}`}, {content: `{"summary":"s","causes":"none"}`}},
			wantCalls: 2, wantErr: "invalid after one repair",
		},
		{
			name:      "model error",
			replies:   []scriptedReply{{err: errors.New("model POST https://api.example.com/v1/chat/completions: HTTP 503")}},
			wantCalls: 1, wantErr: "HTTP 503",
		},
		{
			name:      "repair call fails",
			replies:   []scriptedReply{{content: "not json"}, {err: errors.New("boom")}},
			wantCalls: 2, wantErr: "repair",
		},
	}
	rep := fxReport()
	ev := BuildEvidence(rep, fxTraces(), EvidenceOptions{Counter: estimateCounter{}, Redact: newSession(t)})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &scriptedModel{replies: tt.replies}
			d, usage, err := Diagnose(context.Background(), m, rep, ev)
			if len(m.asked) != tt.wantCalls || usage.Calls != tt.wantCalls {
				t.Errorf("asked %d times, usage counts %d calls; want %d", len(m.asked), usage.Calls, tt.wantCalls)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Diagnose: %v", err)
			}
			if usage.PromptTokens != 1000*tt.wantCalls {
				t.Errorf("usage = %+v", usage)
			}
			var titles []string
			var confs []oncall.Confidence
			for _, c := range d.Causes {
				titles, confs = append(titles, c.Title), append(confs, c.Confidence)
				for _, e := range c.Evidence {
					if !ev.TraceIDs[e.TraceID] && !inCluster(rep, e.TraceID) {
						t.Errorf("cause %q cites unknown trace %s", c.Title, e.TraceID)
					}
				}
			}
			if strings.Join(titles, "|") != strings.Join(tt.wantTitles, "|") {
				t.Errorf("causes = %q, want %q", titles, tt.wantTitles)
			}
			if len(confs) == len(tt.wantConf) {
				for i := range confs {
					if confs[i] != tt.wantConf[i] {
						t.Errorf("cause %d confidence %s, want %s", i, confs[i], tt.wantConf[i])
					}
				}
			}
			if d.Dropped != tt.wantDropped {
				t.Errorf("Dropped = %d, want %d", d.Dropped, tt.wantDropped)
			}
			if tt.check != nil {
				tt.check(t, d, m.asked)
			}
		})
	}
}

func inCluster(rep oncall.Report, traceID string) bool {
	for _, c := range rep.Clusters {
		for _, id := range c.TraceIDs {
			if id == traceID {
				return true
			}
		}
	}
	return false
}

func TestDiagnoseNoModel(t *testing.T) {
	if _, _, err := Diagnose(context.Background(), nil, fxReport(), Evidence{}); err == nil {
		t.Error("Diagnose without a model did not fail")
	}
}

// TestDiagnoseThroughLLMClient runs a diagnosis through the real model
// adapter against a fake OpenAI server that does not support json_schema
// and answers badly once: the client falls back to JSON mode and the
// diagnosis repairs the answer.
func TestDiagnoseThroughLLMClient(t *testing.T) {
	srv := llmtest.NewServer(t)
	srv.Enqueue(
		llmtest.Status(400, "", "response_format json_schema is not supported by this server"),
		llmtest.Text(`{"summary": "lookup_order`),
		llmtest.Reply{
			Content:      answerJSON(t, cause("Order service timeouts", "high", [2]string{fxTrace1, fxSpanErr1})),
			Model:        "gpt-4o-mini-2024-07-18",
			PromptTokens: 3000, CompletionTokens: 200,
		},
	)
	client, err := llm.New(llm.Options{BaseURL: srv.URL, APIKey: "test-key", Model: "gpt-4o-mini", Retry: retry.Policy{Attempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	var _ Model = client

	rep := fxReport()
	ev := BuildEvidence(rep, fxTraces(), EvidenceOptions{Counter: NewTokenCounter("gpt-4o-mini"), Redact: newSession(t)})
	d, usage, err := Diagnose(context.Background(), client, rep, ev)
	if err != nil {
		t.Fatalf("Diagnose: %v", err)
	}
	if len(d.Causes) != 1 || d.Causes[0].Evidence[0].SpanID != fxSpanErr1 || d.Model != "gpt-4o-mini-2024-07-18" {
		t.Errorf("diagnosis = %+v", d)
	}
	if usage.Calls != 2 || usage.PromptTokens < 3000 || usage.Cost <= 0 {
		t.Errorf("usage = %+v, want two answered calls, priced", usage)
	}

	reqs := srv.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	first := reqs[0]
	if first.Model != "gpt-4o-mini" || first.ResponseFormat == nil || first.ResponseFormat.Type != "json_schema" ||
		first.ResponseFormat.JSONSchema.Name != schemaName || !first.ResponseFormat.JSONSchema.Strict {
		t.Errorf("first request: model %q response_format %+v", first.Model, first.ResponseFormat)
	}
	if len(first.Messages) != 2 || first.Messages[0].Content != systemPrompt || first.Messages[1].Content != ev.Text {
		t.Errorf("first request messages differ from the prompt")
	}
	if strings.Contains(string(first.Raw), fxAPIKey) || strings.Contains(string(first.Raw), "jane.doe@example.com") {
		t.Error("a secret from the traces reached the model")
	}
	for i, r := range reqs[1:] {
		if r.ResponseFormat == nil || r.ResponseFormat.Type != "json_object" {
			t.Errorf("request %d response_format = %+v, want json_object", i+2, r.ResponseFormat)
		}
	}
	if last := reqs[2].Messages; len(last) != 4 || last[2].Role != "assistant" || last[3].Role != "user" {
		t.Errorf("repair request messages = %+v", last)
	}
}

func TestOfflineDiagnosisGolden(t *testing.T) {
	d := OfflineDiagnosis(fxReport(), "no model configured")
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	diagnoseGolden(t, filepath.Join("testdata", "diagnose", "offline.golden"), append(b, '\n'))

	if d.Offline != "no model configured" || d.Model != "" {
		t.Errorf("offline %q model %q", d.Offline, d.Model)
	}
	if len(d.Causes) != 3 || d.Causes[0].Evidence[0].TraceID != fxTrace1 || d.Causes[0].Evidence[0].SpanID != fxSpanErr1 {
		t.Errorf("causes = %+v", d.Causes)
	}
}

func TestOfflineDiagnosisWithoutClusters(t *testing.T) {
	rep := fxReport()
	rep.Clusters, rep.Suspects = nil, nil
	d := OfflineDiagnosis(rep, "model unavailable: HTTP 503")
	if len(d.Causes) != 0 || !strings.Contains(d.Summary, "no failure, latency or cost pattern") {
		t.Errorf("diagnosis = %+v", d)
	}
	rep.TracesExamined = 0
	if d := OfflineDiagnosis(rep, "x"); !strings.Contains(d.Summary, "no traces") {
		t.Errorf("summary = %q", d.Summary)
	}
}

func TestRemedies(t *testing.T) {
	tests := []struct {
		name     string
		c        oncall.Cluster
		wantType []string
		wantWord string
	}{
		{"rate limited model", oncall.Cluster{Kind: "error", SpanKind: oncall.KindLLM, SpanName: "chat", Error: "HTTP 429: rate limit reached"}, []string{"harness", "model_provider"}, "Retry-After"},
		{"rejected credentials", oncall.Cluster{Kind: "error", SpanKind: oncall.KindTool, SpanName: "crm", Error: "401 Unauthorized"}, []string{"config_infra"}, "credentials"},
		{"context too long", oncall.Cluster{Kind: "error", SpanKind: oncall.KindLLM, SpanName: "chat", Error: "This model's maximum context length is <n> tokens"}, []string{"prompt", "harness"}, "Trim"},
		{"tool timeout", oncall.Cluster{Kind: "error", SpanKind: oncall.KindTool, ToolName: "search", Error: "deadline exceeded"}, []string{"harness", "tool"}, "timeout"},
		{"model timeout", oncall.Cluster{Kind: "error", SpanKind: oncall.KindLLM, Error: "request timed out"}, []string{"model_provider"}, "fallback"},
		{"server error", oncall.Cluster{Kind: "error", SpanKind: oncall.KindTool, Error: "HTTP 502 from upstream"}, []string{"harness", "tool"}, "backoff"},
		{"duration is not a status", oncall.Cluster{Kind: "error", SpanKind: oncall.KindTool, Error: "failed after 450ms"}, []string{"tool"}, "inside the tool"},
		{"loop", oncall.Cluster{Kind: "loop", SpanKind: oncall.KindTool, Error: "repeated identical calls"}, []string{"harness", "prompt"}, "max-iterations"},
		{"slow model", oncall.Cluster{Kind: "latency", SpanKind: oncall.KindLLM}, []string{"model_provider"}, "slowest span"},
		{"cost", oncall.Cluster{Kind: "cost", SpanKind: oncall.KindLLM}, []string{"prompt", "model_provider"}, "max_tokens"},
		{"bad tool arguments", oncall.Cluster{Kind: "error", SpanKind: oncall.KindTool, Error: "validation error: field required"}, []string{"tool"}, "arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fixes := remedies(tt.c)
			var types []string
			var all string
			for _, f := range fixes {
				types = append(types, f.Type)
				all += f.Change
			}
			if strings.Join(types, ",") != strings.Join(tt.wantType, ",") {
				t.Errorf("fix types = %v, want %v", types, tt.wantType)
			}
			if !strings.Contains(all, tt.wantWord) {
				t.Errorf("fixes %q do not mention %q", all, tt.wantWord)
			}
		})
	}
}
