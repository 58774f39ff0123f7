package incident

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// clock is a settable time source for the guards' windows.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func countText(msgs []string, s string) int {
	n := 0
	for _, m := range msgs {
		if strings.Contains(m, s) {
			n++
		}
	}
	return n
}

func TestFlappingGuard(t *testing.T) {
	tr := &failingTriager{}
	c := &clock{now: t0}
	f := newFixtureWith(t, tr, Options{Now: c.Now, FlapThreshold: 3, FlapWindow: time.Hour})
	ctx := context.Background()
	// Fire, resolve, fire, resolve, ... every five minutes.
	for i := 0; i < 5; i++ {
		c.now = t0.Add(time.Duration(2*i) * 5 * time.Minute)
		fire := alertJob(fmt.Sprintf("f%d", i), oncall.AlertFiring)
		fire.Alerts[0].StartsAt = c.now
		if err := f.svc.Handle(ctx, fire); err != nil {
			t.Fatal(err)
		}
		c.now = c.now.Add(5 * time.Minute)
		res := alertJob(fmt.Sprintf("r%d", i), oncall.AlertResolved)
		res.Alerts[0].StartsAt, res.Alerts[0].EndsAt = c.now.Add(-5*time.Minute), c.now
		if err := f.svc.Handle(ctx, res); err != nil {
			t.Fatal(err)
		}
	}
	ps := parents(f.slack)
	if len(ps) != 1 {
		t.Fatalf("parents = %d", len(ps))
	}
	var texts []string
	for _, r := range f.slack.Replies("C1", ps[0].TS) {
		texts = append(texts, r.Text)
	}
	// Fires 1 and 2 are triaged; from fire 3 on the group is flapping.
	if tr.calls != 2 {
		t.Errorf("triages = %d, want 2 (no re-triage while flapping)", tr.calls)
	}
	if n := countText(texts, "Flapping"); n != 1 {
		t.Errorf("flapping notes = %d, want 1:\n%s", n, strings.Join(texts, "\n"))
	}
	if n := countText(texts, "Resolved after"); n != 2 {
		t.Errorf("resolution notes = %d, want 2 (none while flapping):\n%s", n, strings.Join(texts, "\n"))
	}
	inc, _ := f.store.GetIncident(ctx, oncall.IncidentKey("default", "g1"))
	if !inc.Flapping || inc.Fires != 5 || inc.Status != oncall.IncidentResolved {
		t.Errorf("incident: flapping %v fires %d status %s", inc.Flapping, inc.Fires, inc.Status)
	}

	// After a quiet hour it fires again: it has settled, and is triaged.
	c.now = c.now.Add(2 * time.Hour)
	late := alertJob("late", oncall.AlertFiring)
	late.Alerts[0].StartsAt = c.now
	if err := f.svc.Handle(ctx, late); err != nil {
		t.Fatal(err)
	}
	if tr.calls != 3 {
		t.Errorf("triages after settling = %d, want 3", tr.calls)
	}
}

func groupJob(group string) oncall.Job {
	j := alertJob("job-"+group, oncall.AlertFiring)
	j.GroupKey = group
	j.Alerts[0].GroupKey = group
	j.Alerts[0].Name = "Alert" + group
	return j
}

func TestStormGuard(t *testing.T) {
	tr := &failingTriager{}
	c := &clock{now: t0}
	f := newFixtureWith(t, tr, Options{Now: c.Now, StormThreshold: 2, StormWindow: 5 * time.Minute, StormSummaryEvery: time.Minute})
	ctx := context.Background()
	for i := 0; i < 6; i++ {
		c.now = t0.Add(time.Duration(i) * 10 * time.Second)
		if err := f.svc.Handle(ctx, groupJob(fmt.Sprintf("g%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	// A re-send of a storm member changes nothing.
	if err := f.svc.Handle(ctx, groupJob("g5")); err != nil {
		t.Fatal(err)
	}
	ps := parents(f.slack)
	if len(ps) != 3 {
		t.Fatalf("threads = %d, want 2 incidents and 1 storm", len(ps))
	}
	storm := ps[2]
	if !strings.Contains(storm.Text+string(storm.Blocks), "Alert storm") {
		t.Fatalf("third thread is not the storm: %s", storm.Text)
	}
	stormLines := func() []string {
		var lines []string
		for _, r := range f.slack.Replies("C1", storm.TS) {
			lines = append(lines, r.Text)
		}
		return lines
	}
	// Members cost no reply each: the thread holds the storm's one
	// triage, and its parent's table lists them.
	if lines := stormLines(); len(lines) != 1 || !strings.Contains(lines[0], "Triage of Common cause") {
		t.Errorf("storm thread before the first summary:\n%s", strings.Join(lines, "\n"))
	}
	if tr.calls != 3 {
		t.Errorf("triages = %d, want 3 (two incidents and one for the storm, not one per member)", tr.calls)
	}
	ups := f.slack.Updates()
	last := ups[len(ups)-1]
	table := last.Text + string(last.Blocks)
	if last.TS != storm.TS || !strings.Contains(table, "4 incidents in this channel") || !strings.Contains(table, "Common cause (agent=orders-agent)") {
		t.Errorf("storm parent does not show the count and the diagnosis: %s", table)
	}
	for _, g := range []string{"Alertg2", "Alertg3", "Alertg4", "Alertg5"} {
		if strings.Count(table, g) != 1 {
			t.Errorf("%s is in the storm table %d times", g, strings.Count(table, g))
		}
	}
	// A storm member's resolution changes the table, not the thread.
	r := groupJob("g3")
	r.ID = "r-g3"
	r.Alerts[0].Status = oncall.AlertResolved
	r.Alerts[0].EndsAt = t0.Add(2 * time.Minute)
	if err := f.svc.Handle(ctx, r); err != nil {
		t.Fatal(err)
	}
	if n := len(stormLines()); n != 1 {
		t.Errorf("a resolution posted in the storm thread: %d replies", n)
	}
	ups = f.slack.Updates()
	if got := string(ups[len(ups)-1].Blocks); !strings.Contains(got, "3 firing, 1 resolved") {
		t.Errorf("table after the resolution: %s", got)
	}
	// A minute on, the next member brings one summary of who joined.
	c.now = t0.Add(2 * time.Minute)
	if err := f.svc.Handle(ctx, groupJob("g6")); err != nil {
		t.Fatal(err)
	}
	lines := stormLines()
	if len(lines) != 2 {
		t.Fatalf("storm thread after a minute:\n%s", strings.Join(lines, "\n"))
	}
	for _, g := range []string{"Alertg2", "Alertg3", "Alertg4", "Alertg5", "Alertg6"} {
		if countText(lines, g) != 1 {
			t.Errorf("%s listed %d times in the storm thread:\n%s", g, countText(lines, g), strings.Join(lines, "\n"))
		}
	}
	// At most one summary per interval.
	c.now = c.now.Add(10 * time.Second)
	if err := f.svc.Handle(ctx, groupJob("g7")); err != nil {
		t.Fatal(err)
	}
	if n := len(stormLines()); n != 2 {
		t.Errorf("a second summary within the interval: %d replies", n)
	}

	// In a later window, new incidents get threads of their own again.
	c.now = t0.Add(time.Hour)
	if err := f.svc.Handle(ctx, groupJob("later")); err != nil {
		t.Fatal(err)
	}
	if n := len(parents(f.slack)); n != 4 {
		t.Errorf("threads = %d, want a fourth of its own", n)
	}
}

// A burst that straddles a five-minute mark of the clock is one storm:
// the window slides with the incidents, it is not a fixed bucket.
func TestStormAcrossABoundaryIsOneStorm(t *testing.T) {
	tr := &failingTriager{}
	c := &clock{now: t0}
	f := newFixtureWith(t, tr, Options{Now: c.Now, StormThreshold: 2, StormWindow: 5 * time.Minute})
	ctx := context.Background()
	// Ten new groups, one every 30s from 10:02:30 to 10:07:00.
	for i := range 10 {
		c.now = t0.Add(150*time.Second + time.Duration(i)*30*time.Second)
		if err := f.svc.Handle(ctx, groupJob(fmt.Sprintf("b%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	var storms, own int
	for _, p := range parents(f.slack) {
		if strings.Contains(p.Text+string(p.Blocks), "Alert storm") {
			storms++
		} else {
			own++
		}
	}
	if storms != 1 || own != 2 {
		t.Fatalf("%d storm threads and %d incident threads, want 1 storm and the first 2 incidents", storms, own)
	}
	if tr.calls != 3 {
		t.Errorf("triages = %d, want 3 (the first 2 incidents and the storm)", tr.calls)
	}
}
