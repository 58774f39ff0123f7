package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/eval/scenario"
)

// The README's quick start, with the default configuration: its label map
// sends the alert's environment label to deployment.environment while the
// alerting agent writes deployment.environment.name, the store holds
// other services, and triage still ranks the real cause first, whether it
// runs the minute the alert fired or replays it later.
func TestTriageQuickstartWithDefaults(t *testing.T) {
	var exp scenario.Expected
	raw, err := os.ReadFile("../../examples/quickstart/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &exp); err != nil {
		t.Fatal(err)
	}
	fired, err := readAlert(exampleAlert, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"replay", nil},
		{"live", []string{"--at", fired.StartsAt.Add(time.Minute).Format(time.RFC3339)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append([]string{"triage", "--alert", exampleAlert, "--traces", exampleTraces, "--format", "json", "--offline"}, tt.args...)
			if err := run(context.Background(), args, func(string) string { return "" }, &out, &errOut); err != nil {
				t.Fatalf("triage: %v\n%s", err, errOut.String())
			}
			var rep oncall.Report
			if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
				t.Fatal(err)
			}
			if len(rep.Clusters) == 0 || rep.Clusters[0].ToolName != exp.Cause.ToolName || !strings.Contains(rep.Clusters[0].Error, exp.Cause.ErrorContains) {
				t.Fatalf("top cluster %+v, want tool %s failing with %q", rep.Clusters, exp.Cause.ToolName, exp.Cause.ErrorContains)
			}
			if rep.Selection == nil || len(rep.Selection.Filters) == 0 || rep.Selection.Incident+rep.Selection.Baseline >= rep.Selection.Store {
				t.Errorf("selection %+v: want the alerted service's traces only", rep.Selection)
			}
			if rep.Onset.IsZero() || !rep.Onset.Before(fired.StartsAt) {
				t.Errorf("onset %v, want before the alert fired at %v", rep.Onset, fired.StartsAt)
			}
		})
	}
}
