package incident

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

func TestTriageKeepsItsInvestigationApart(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	if err := f.svc.Handle(ctx, alertJob("j1", oncall.AlertFiring)); err != nil {
		t.Fatal(err)
	}
	key := oncall.IncidentKey("default", "g1")
	inv, err := f.store.GetInvestigation(ctx, key)
	if err != nil {
		t.Fatalf("no investigation kept: %v", err)
	}
	if inv.IncidentKey != key || !inv.TriagedAt.Equal(t0.Add(time.Hour)) || len(inv.Traces) == 0 || inv.Search.Source != "jsonl" || len(inv.Onset.Failing) == 0 {
		t.Errorf("investigation: key %q, triaged %s, %d traces, source %q, %d onset steps",
			inv.IncidentKey, inv.TriagedAt, len(inv.Traces), inv.Search.Source, len(inv.Onset.Failing))
	}
	inc, err := f.store.GetIncident(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(inc)
	if inc.Report == nil || strings.Contains(string(raw), `"spans"`) {
		t.Error("the incident record carries the evidence traces, or lost its report")
	}
}
