package assistant

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/llm"
	"github.com/oncall-copilot/oncall-copilot/llm/llmtest"
	"github.com/oncall-copilot/oncall-copilot/redact"
	"github.com/oncall-copilot/oncall-copilot/retry"
	"github.com/oncall-copilot/oncall-copilot/tracesource/jsonl"
	"github.com/oncall-copilot/oncall-copilot/tracesource/otlp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// now is the test clock: an hour after the fixture traces begin.
var now = time.Date(2026, 3, 14, 10, 0, 0, 0, time.UTC)

const (
	testSecret = "sk-proj-Zx9_yW8-vU7tS6rQ5pO4nM3lK2jI1hG0fE"
	// failingTrace is the first failing run of the incident window.
	failingTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	failingSpan  = "00f067aa0ba90001"
	failingLLM   = "00f067aa0ba90002"
)

// traceID and spanID make deterministic hex ids.
func traceID(i int) string { return fmt.Sprintf("%032x", 0xabc000+i) }
func spanID(i, j int) string {
	return fmt.Sprintf("%016x", (0xabc000+i)*16+j)
}

// fixtureTraces are an hour of runs of one agent: healthy until 09:30,
// then most runs fail in the lookup tool with an upstream timeout.
func fixtureTraces() []oncall.Trace {
	var out []oncall.Trace
	start := now.Add(-time.Hour)
	first := true
	for i := range 40 {
		at := start.Add(time.Duration(i) * 90 * time.Second)
		failing := at.After(now.Add(-30*time.Minute)) && i%4 != 0
		tid, root, tool := traceID(i), spanID(i, 0), spanID(i, 1)
		if failing && first {
			tid, tool, first = failingTrace, failingSpan, false
		}
		t := oncall.Trace{TraceID: tid}
		rootSpan := oncall.Span{TraceID: tid, SpanID: root, Name: "support-agent", Kind: oncall.KindAgent, Service: "support-agent",
			Start: at, End: at.Add(3 * time.Second), Status: oncall.StatusOK, Attributes: map[string]string{"gen_ai.agent.name": "support-agent"}}
		llmSpan := oncall.Span{TraceID: tid, SpanID: spanID(i, 2), ParentID: root, Name: "chat gpt-4o-mini", Kind: oncall.KindLLM, Service: "support-agent",
			Start: at.Add(100 * time.Millisecond), End: at.Add(900 * time.Millisecond), Status: oncall.StatusOK, Model: "gpt-4o-mini",
			InputTokens: 800, OutputTokens: 120, TotalTokens: 920, Input: "user asks about order 1182; key " + testSecret}
		toolSpan := oncall.Span{TraceID: tid, SpanID: tool, ParentID: root, Name: "lookup_order", Kind: oncall.KindTool, Service: "support-agent",
			Start: at.Add(time.Second), End: at.Add(2 * time.Second), Status: oncall.StatusOK, ToolName: "lookup_order",
			ToolArgs: `{"order":"1182"}`, Output: strings.Repeat("order line; ", 600)}
		if failing {
			toolSpan.Status = oncall.StatusError
			toolSpan.StatusMessage = "upstream timeout after 30s"
			toolSpan.End = at.Add(31 * time.Second)
			rootSpan.Status = oncall.StatusError
			rootSpan.StatusMessage = "tool failed"
			rootSpan.End = at.Add(32 * time.Second)
		}
		if tid == failingTrace {
			llmSpan.SpanID = failingLLM
		}
		t.Spans = []oncall.Span{rootSpan, llmSpan, toolSpan}
		t.Finish()
		out = append(out, t)
	}
	return out
}

// writeTraces writes traces as OTLP JSONL and returns a source over them.
func writeTraces(t *testing.T, traces []oncall.Trace) *jsonl.Source {
	t.Helper()
	var buf bytes.Buffer
	if err := otlp.WriteJSONL(&buf, traces); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "traces.jsonl")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := jsonl.New(jsonl.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// testIncident is the incident the fixture traces belong to, as triaged.
func testIncident() oncall.Incident {
	a := oncall.Alert{
		Source: "alertmanager", Fingerprint: "f1", GroupKey: "g1", Status: oncall.AlertFiring, Name: "AgentErrorRate",
		Severity: "critical", Summary: "support-agent error rate 60% over 10m", StartsAt: now.Add(-20 * time.Minute),
		Labels: map[string]string{"alertname": "AgentErrorRate", "agent": "support-agent", "severity": "critical"},
	}
	rep := oncall.Report{
		Alert: a, AlertKind: oncall.AlertKindErrors, WindowStart: now.Add(-50 * time.Minute), WindowEnd: now.Add(-20 * time.Minute),
		BaselineStart: now.Add(-110 * time.Minute), TracesExamined: 20, BaselineTraces: 13, FailingTraces: 9, FailuresPerMinute: 0.3,
		Clusters: []oncall.Cluster{{
			Signature: "tool lookup_order: upstream timeout after <n>s", Kind: "error", SpanKind: oncall.KindTool, SpanName: "lookup_order",
			ToolName: "lookup_order", Error: "upstream timeout after <n>s", Count: 9, Rate: 0.45, New: true,
			TraceIDs: []string{failingTrace}, SpanIDs: []string{failingSpan}, FirstSeen: now.Add(-29 * time.Minute),
		}},
		Suspects: []oncall.Suspect{{Attribute: "peer.region", Value: "eu-west-2", FailingCount: 9, FailingTotal: 9, HealthyCount: 1, HealthyTotal: 11, BaselineValue: "eu-west-1"}},
		Diagnosis: &oncall.Diagnosis{
			Summary: "The order lookup tool times out since 09:31; the agent fails the run. Contact " + "oncall@example.com",
			Causes: []oncall.Cause{{Title: "Order lookup upstream timeouts", Confidence: oncall.ConfidenceHigh,
				Evidence: []oncall.Evidence{{TraceID: failingTrace, SpanID: failingSpan, Note: "30s timeout"}}}},
			Fixes:     []oncall.Fix{{Type: "tool", Change: "Lower the lookup timeout to 5s and return a partial answer."}},
			NextSteps: []string{"Check the order service's latency."},
			Model:     "gpt-4o-mini",
		},
	}
	return oncall.Incident{
		Key: "inc1", Status: oncall.IncidentOpen, Alert: a, Alerts: []oncall.Alert{a}, Channel: "C1", ThreadTS: "1700000000.000100",
		OpenedAt: now.Add(-19 * time.Minute), TriagedAt: now.Add(-18 * time.Minute), Fires: 1, Report: &rep, Diagnosis: rep.Diagnosis,
	}
}

// newTestAssistant wires an Assistant to the fake model server and the
// fixture traces.
func newTestAssistant(t *testing.T, srv *llmtest.Server, edit func(*Options)) *Assistant {
	t.Helper()
	m, err := llm.New(llm.Options{BaseURL: srv.URL, APIKey: "test", Model: "gpt-4o-mini", Retry: retry.Policy{Attempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	red, err := redact.New(redact.Options{})
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{
		Model: m, Source: writeTraces(t, fixtureTraces()), Redactor: red, ModelName: "gpt-4o-mini",
		Filters: []string{"service.name", "gen_ai.agent.name"}, Now: func() time.Time { return now },
	}
	if edit != nil {
		edit(&opts)
	}
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func call(name, args string) oncall.ToolCall { return oncall.ToolCall{Name: name, Arguments: args} }

func checkGolden(t *testing.T, name string, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test ./assistant -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("%s differs; if the change is intended, run go test ./assistant -update\ngot:\n%s", path, got)
	}
}
