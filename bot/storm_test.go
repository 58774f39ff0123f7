package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

func testStorm(members int) oncall.Incident {
	inc := testIncident()
	inc.Key, inc.Alert.Name, inc.Alert.Source = "storm-1", "Alert storm", "oncall-copilot"
	sev := []string{"warning", "critical", "info"}
	for i := range members {
		m := oncall.StormMember{
			Key: fmt.Sprintf("m%02d", i), Name: fmt.Sprintf("AgentErrors%02d", i), Service: "checkout-agent",
			Severity: sev[i%3], Status: oncall.IncidentOpen, Fires: 1, JoinedAt: t0.Add(time.Duration(i) * time.Second),
		}
		if i%4 == 3 {
			m.Status = oncall.IncidentResolved
		}
		inc.Members = append(inc.Members, m)
	}
	return inc
}

func TestRenderStorm(t *testing.T) {
	few := testStorm(5)
	few.Members[0].Name = "Name `with` backticks <and> *marks*"
	few.Members[1].Fires = 3
	opts := RenderOptions{Redact: testRedact}
	checkGolden(t, "storm-parent", parentMessage(few, opts))

	many := testStorm(45)
	many.Headline, many.TriagedAt = "Common cause (service=checkout-agent): the payments tool times out.", t0.Add(time.Minute)
	msg := parentMessage(many, opts)
	checkGolden(t, "storm-parent-many", msg)
	raw, err := json.Marshal(msg[0].Blocks)
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	// The table keeps to Slack's section limit and says how many it left
	// out; firing members come before resolved ones.
	if !strings.Contains(text, "25 more not shown") {
		t.Errorf("the table does not count the members it left out: %s", text)
	}
	if strings.Contains(text, `resolved\n`) {
		t.Errorf("a resolved member took a row while firing ones were left out: %s", text)
	}
}

func TestMarkedNote(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	inc := testIncident()
	_, ts, err := f.bot.PostParent(ctx, inc)
	if err != nil {
		t.Fatal(err)
	}
	inc.ThreadTS = ts
	if found, err := f.bot.FindMarkedNote(ctx, inc, "summary-0"); err != nil || found {
		t.Fatalf("before posting: found %v, %v", found, err)
	}
	if err := f.bot.PostMarkedNote(ctx, inc, "summary-0", ":zap: 3 joined the storm"); err != nil {
		t.Fatal(err)
	}
	for mark, want := range map[string]bool{"summary-0": true, "summary-3": false} {
		if found, err := f.bot.FindMarkedNote(ctx, inc, mark); err != nil || found != want {
			t.Errorf("FindMarkedNote(%s) = %v, %v; want %v", mark, found, err, want)
		}
	}
	other := inc
	other.Key = "inc-other"
	if found, _ := f.bot.FindMarkedNote(ctx, other, "summary-0"); found {
		t.Error("another incident's mark was found")
	}
}
