package bot

import (
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

func TestEventText(t *testing.T) {
	alert := oncall.Alert{Name: "AgentErrorRateHigh", Severity: "critical", Summary: "support-agent failing"}
	cases := []struct {
		name string
		ev   oncall.IncidentEvent
		want string
	}{
		{"refired", oncall.IncidentEvent{Kind: oncall.EventRefired, Fires: 3}, ":repeat: Re-fired (fire #3) after being resolved; triaging again."},
		{"flapping", oncall.IncidentEvent{Kind: oncall.EventFlapping, Count: 4, Window: time.Hour},
			":warning: Flapping: fired 4 times within 1h. I will not re-triage or post each flap until it settles; the message above keeps its state."},
		{"resolved", oncall.IncidentEvent{Kind: oncall.EventResolved, After: 42 * time.Minute}, ":white_check_mark: Resolved after 42m."},
		{"storm member", oncall.IncidentEvent{Kind: oncall.EventStormMember, Alert: alert, Fires: 2},
			":zap: AgentErrorRateHigh (critical): support-agent failing — re-fired (#2)"},
		{"storm member resolved", oncall.IncidentEvent{Kind: oncall.EventStormMemberResolved, Alert: alert, After: 3*time.Hour + 5*time.Minute},
			":white_check_mark: AgentErrorRateHigh resolved after 3h5m."},
		{"unknown", oncall.IncidentEvent{Kind: "nonsense"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := EventText(tc.ev); got != tc.want {
				t.Errorf("EventText = %q, want %q", got, tc.want)
			}
		})
	}
}
