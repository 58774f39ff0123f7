package incident

import (
	"context"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/bot/slacktest"
)

// routeChannels is a route table reduced to its channels.
type routeChannels map[string]string

func (r routeChannels) Channel(route string) (string, bool) {
	ch, ok := r[route]
	return ch, ok
}

// TestIncidentKeepsTheChannelID: a job queued with a channel name posts
// the parent by name and keeps the id Slack answers with, which every
// later call (the update after triage, the resolution) needs.
func TestIncidentKeepsTheChannelID(t *testing.T) {
	f := newFixture(t, nil)
	ch := f.slack.AddChannel(slacktest.Channel{Name: "agents-oncall", IsMember: true})
	ctx := context.Background()
	job := alertJob("j1", oncall.AlertFiring)
	job.Channel = "#agents-oncall"
	if err := f.svc.Handle(ctx, job); err != nil {
		t.Fatalf("fire: %v", err)
	}
	res := alertJob("j2", oncall.AlertResolved)
	res.Channel = "#agents-oncall"
	if err := f.svc.Handle(ctx, res); err != nil {
		t.Fatalf("resolve: %v", err)
	}
	inc, err := f.store.GetIncident(ctx, oncall.IncidentKey("default", "g1"))
	if err != nil || inc.Channel != ch.ID {
		t.Fatalf("incident channel %q (%v), want the id %s", inc.Channel, err, ch.ID)
	}
	if n := len(f.slack.Updates()); n != 2 {
		t.Errorf("%d parent updates, want 2 (triage, resolution)", n)
	}
	for _, c := range f.slack.Calls() {
		if c.Error != "" {
			t.Errorf("%s refused: %s", c.Method, c.Error)
		}
	}
}

// TestNeverPostedIncidentFollowsItsRoute: an incident whose parent could
// not be posted takes the channel its route names now when its job runs
// again, as after a fix and jobs retry.
func TestNeverPostedIncidentFollowsItsRoute(t *testing.T) {
	routes := routeChannels{"default": "C0WRONG"}
	f := newFixtureWith(t, nil, Options{Now: func() time.Time { return t0.Add(time.Hour) }, Routes: routes})
	good := f.slack.AddChannel(slacktest.Channel{Name: "agents-oncall", IsMember: true})
	ctx := context.Background()
	job := alertJob("j1", oncall.AlertFiring)
	if err := f.svc.Handle(ctx, job); err == nil {
		t.Fatal("posting to a channel that does not exist passed")
	}
	routes["default"] = good.ID // the configuration fixed
	job.Attempts = 1
	if err := f.svc.Handle(ctx, job); err != nil {
		t.Fatalf("retry: %v", err)
	}
	ps := parents(f.slack)
	if len(ps) != 1 || ps[0].Channel != good.ID {
		t.Fatalf("parents %+v, want one in %s", ps, good.ID)
	}
	inc, err := f.store.GetIncident(ctx, oncall.IncidentKey("default", "g1"))
	if err != nil || inc.Channel != good.ID || inc.ThreadTS != ps[0].TS {
		t.Errorf("incident %s/%s (%v), want %s/%s", inc.Channel, inc.ThreadTS, err, good.ID, ps[0].TS)
	}
}
