package triage

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/tracesource/jsonl"
)

// What a source could not read reaches the report once, however many
// windows were searched, and the traces it could read are still analysed.
func TestUnreadableInputIsReported(t *testing.T) {
	var traces []oncall.Trace
	for i := range 30 {
		start := svcT0.Add(-85*time.Minute + time.Duration(i)*3*time.Minute)
		traces = append(traces, fleetTrace(i+1, "orders", "orders-svc", start, i%3 == 0))
	}
	dir := writeFleet(t, traces)
	if err := os.WriteFile(filepath.Join(dir, "events.jsonl"), []byte(`{"event":"login"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := jsonl.New(jsonl.Options{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	svc := newTestService(t, map[string]TraceSource{"jsonl": src})
	rep, err := svc.Triage(context.Background(), oncall.TriageRequest{Alert: oncall.Alert{Name: "OrdersErrors", StartsAt: svcT0}})
	if err != nil {
		t.Fatal(err)
	}
	var said []string
	for _, m := range rep.Missing {
		if strings.Contains(m, "events.jsonl") {
			said = append(said, m)
		}
	}
	if len(said) != 1 || !strings.HasPrefix(said[0], "not read from jsonl: ") {
		t.Errorf("missing = %q, want events.jsonl reported once", rep.Missing)
	}
	if rep.TracesExamined == 0 {
		t.Error("the readable traces were not analysed")
	}
}
