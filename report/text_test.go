package report

import (
	"flag"
	"os"
	"strings"
	"testing"
	"time"
	"unicode"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func sampleReport() oncall.Report {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	return oncall.Report{
		Alert:     oncall.Alert{Name: "AgentErrorRateHigh", Status: oncall.AlertFiring, Severity: "critical", Summary: "support-agent failing 23% of runs"},
		AlertKind: oncall.AlertKindErrors, WindowStart: t0.Add(-30 * time.Minute), WindowEnd: t0, BaselineStart: t0.Add(-90 * time.Minute),
		TracesExamined: 40, FailingTraces: 9, FailuresPerMinute: 0.3, BaselineTraces: 80,
		AlertKindFrom: "the alert's query", Onset: t0.Add(-34 * time.Minute),
		Selection: &oncall.Selection{
			Filters: []oncall.LabelMatch{{Label: "app", Value: "support-agent", Attributes: []string{"gen_ai.agent.name", "root span name"}, Traces: 120}},
			Store:   300, Incident: 40, Baseline: 80,
		},
		Clusters: []oncall.Cluster{
			{Kind: "error", SpanKind: oncall.KindTool, SpanName: "lookup_order", ToolName: "lookup_order", Error: "ReadTimeout: read timed out after <dur>", Count: 8, New: true, TraceIDs: []string{"4bf92f3577b34da6a3ce929d0e0e4736"}, SpanIDs: []string{"00f067aa0ba902b7"}},
			{Kind: "error", SpanKind: oncall.KindRetriever, SpanName: "vector_search", Error: "empty result", Count: 12, BaselineCount: 24, TraceIDs: []string{"5cf92f3577b34da6a3ce929d0e0e4737"}},
			{Kind: "latency", SpanKind: oncall.KindLLM, SpanName: "chat gpt-4o", Count: 5, BaselineCount: 1, Detail: "p95 8.2s vs 1.1s baseline (×7.5)"},
		},
		Suspects: []oncall.Suspect{{Attribute: "service.version", Value: "2.4.0", FailingCount: 9, FailingTotal: 9, HealthyCount: 3, HealthyTotal: 111, BaselineValue: "2.3.9"}},
		Diagnosis: &oncall.Diagnosis{
			Summary: "lookup_order started timing out after release 2.4.0.",
			Causes: []oncall.Cause{{Title: "lookup_order times out", Confidence: oncall.ConfidenceHigh, Detail: "8 of 40 runs.",
				Evidence: []oncall.Evidence{{TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7", Note: "the tool span"}}}},
			Fixes:     []oncall.Fix{{Type: "harness", Change: "Raise the tool timeout and retry once", Where: "lookup_order client"}},
			NextSteps: []string{"Roll back 2.4.0 if the timeouts persist."},
			Offline:   "no model configured",
		},
		Missing: []string{"baseline window: 20 of 100 matching traces left out by the cap of 80"},
	}
}

func TestRenderTextGolden(t *testing.T) {
	got := RenderText(sampleReport())
	const path = "testdata/report.golden"
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report -update)", err)
	}
	if got != string(want) {
		t.Errorf("text report differs from %s (run go test ./report -update and review the diff):\n%s", path, got)
	}
}

func TestRenderTextSaysWhatTheAlertAsks(t *testing.T) {
	for kind, want := range map[oncall.AlertKind]string{
		oncall.AlertKindLatency: "what got slower?", oncall.AlertKindCost: "what spends more tokens?", oncall.AlertKindErrors: "what started failing?",
	} {
		r := sampleReport()
		r.AlertKind = kind
		if !strings.Contains(RenderText(r), want) {
			t.Errorf("%s: missing %q", kind, want)
		}
	}
}

// TestRenderTextShowsUnsafeCharacters: a terminal obeys escape sequences
// and carriage returns and shows bidi overrides; text from alerts, traces
// and the model shows them as code points instead.
func TestRenderTextShowsUnsafeCharacters(t *testing.T) {
	const unsafe = "Pay\u202eecivreS\u202c down\u200b \x00\x1b[2J\rOK"
	rep := sampleReport()
	rep.Alert.Name, rep.Alert.Summary = unsafe, unsafe
	rep.Clusters[0].Error, rep.Clusters[0].SpanName = unsafe, unsafe
	rep.Diagnosis.Summary, rep.Diagnosis.NextSteps[0] = unsafe, unsafe
	rep.Missing[0] = unsafe
	got := RenderText(rep)
	for _, r := range got {
		if (unicode.IsControl(r) && r != '\n') || unicode.Is(unicode.Cf, r) {
			t.Fatalf("report carries U+%04X:\n%s", r, got)
		}
	}
	if !strings.Contains(got, "ALERT   Pay[U+202E]ecivreS[U+202C] down[U+200B] [U+0000][U+001B][2J[U+000D]OK") {
		t.Errorf("the alert name is not shown as written:\n%s", got)
	}
}
