package eval

import (
	"bytes"
	"context"
	"testing"

	"github.com/oncall-copilot/oncall-copilot/scenario"
)

// TestBundledScenarios is the acceptance bar of the analysis: on the
// bundled scenarios the deterministic ranking puts the real cause first in
// at least 90% and in the top three always, the root-cause error always
// reaches the prompt, no planted secret leaks, and no prompt exceeds the
// budget.
func TestBundledScenarios(t *testing.T) {
	scenarios, err := scenario.LoadAll("../examples/scenarios")
	if err != nil {
		t.Fatal(err)
	}
	if len(scenarios) < 30 {
		t.Fatalf("want at least 30 bundled scenarios, found %d", len(scenarios))
	}
	results, tot, err := Run(context.Background(), scenarios, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	WriteTable(&table, results, tot)
	t.Log("\n" + table.String())
	for _, r := range results {
		if r.Err != "" {
			t.Errorf("%s: %s", r.Scenario, r.Err)
		}
		if r.Rank == 0 || r.Rank > 3 {
			t.Errorf("%s: the expected cause is not in the top three (top: %s)", r.Scenario, r.Top)
		}
		if !r.EvidenceRecall {
			t.Errorf("%s: the root-cause error is not in the prompt", r.Scenario)
		}
		for _, l := range r.Leaks {
			t.Errorf("%s: planted secret leaked to %s", r.Scenario, l)
		}
		if r.PromptTokens > r.Budget {
			t.Errorf("%s: prompt of %d tokens over the budget of %d", r.Scenario, r.PromptTokens, r.Budget)
		}
	}
	if tot.CauseAt1 < 0.9 {
		t.Errorf("cause@1 = %.2f, want >= 0.9", tot.CauseAt1)
	}
}

func TestMatches(t *testing.T) {
	// Tested through the scenario labels' own shape: kind, names, words.
	c := scenarioCluster("tool", "call lookup", "lookup", "HTTP 503: upstream unavailable")
	tests := []struct {
		name string
		want scenario.Cause
		ok   bool
	}{
		{"tool name and error", scenario.Cause{SpanKind: "tool", ToolName: "lookup", ErrorContains: "503"}, true},
		{"span name", scenario.Cause{SpanKind: "tool", SpanName: "call lookup"}, true},
		{"wrong kind", scenario.Cause{SpanKind: "llm", ToolName: "lookup"}, false},
		{"wrong tool", scenario.Cause{SpanKind: "tool", ToolName: "search"}, false},
		{"wrong error", scenario.Cause{SpanKind: "tool", ToolName: "lookup", ErrorContains: "429"}, false},
	}
	for _, tt := range tests {
		if got := Matches(c, tt.want); got != tt.ok {
			t.Errorf("%s: Matches = %v, want %v", tt.name, got, tt.ok)
		}
	}
}
