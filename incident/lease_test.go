package incident

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// blockingTriager holds every triage until released or its context ends.
type blockingTriager struct {
	started chan struct{}
	release chan struct{}
	mu      sync.Mutex
	cause   error // why the context of the last triage ended, if it did
}

func (b *blockingTriager) Triage(ctx context.Context, req oncall.TriageRequest) (oncall.Report, error) {
	b.started <- struct{}{}
	select {
	case <-b.release:
		return oncall.Report{}, nil
	case <-ctx.Done():
		b.mu.Lock()
		b.cause = context.Cause(ctx)
		b.mu.Unlock()
		return oncall.Report{}, ctx.Err()
	}
}

// manualClock is a clock tests move by hand.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// waitFor polls cond; the renewals run on a real ticker.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 1000 {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestIncidentLeaseIsRenewedWhileTheJobWorks(t *testing.T) {
	clock := &manualClock{now: t0.Add(time.Hour)}
	tri := &blockingTriager{started: make(chan struct{}, 4), release: make(chan struct{})}
	f := newFixtureWith(t, tri, Options{Now: clock.Now, Lease: 30 * time.Millisecond})
	key := oncall.IncidentKey("default", "g1")

	done := make(chan error, 1)
	go func() { done <- f.svc.Handle(context.Background(), alertJob("first", oncall.AlertFiring)) }()
	<-tri.started

	// Far past the lease the first job took: its renewals keep moving
	// the lease along, so a second delivery of the group stays out.
	clock.Advance(time.Hour)
	waitFor(t, "a lease renewal", func() bool {
		inc, err := f.store.GetIncident(context.Background(), key)
		return err == nil && inc.LeaseOwner == "first" && inc.LeaseUntil.After(clock.Now())
	})
	if err := f.svc.Handle(context.Background(), alertJob("second", oncall.AlertFiring)); err != nil {
		t.Fatalf("second delivery: %v", err)
	}
	select {
	case <-tri.started:
		t.Fatal("a second job triaged the incident while the first held a live lease")
	default:
	}

	close(tri.release)
	if err := <-done; err != nil {
		t.Fatalf("first job: %v", err)
	}
	inc, err := f.store.GetIncident(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	if inc.LeaseOwner != "" || inc.TriagedAt.IsZero() {
		t.Errorf("after the job: lease owner %q, triaged at %v; want released and triaged", inc.LeaseOwner, inc.TriagedAt)
	}
	if n := len(parents(f.slack)); n != 1 {
		t.Errorf("%d parent messages, want 1", n)
	}
}

func TestIncidentLeaseTakenOverStopsTheJob(t *testing.T) {
	clock := &manualClock{now: t0.Add(time.Hour)}
	tri := &blockingTriager{started: make(chan struct{}, 4), release: make(chan struct{})}
	f := newFixtureWith(t, tri, Options{Now: clock.Now, Lease: 30 * time.Millisecond})
	key := oncall.IncidentKey("default", "g1")

	done := make(chan error, 1)
	go func() { done <- f.svc.Handle(context.Background(), alertJob("stalled", oncall.AlertFiring)) }()
	<-tri.started
	// Another job took the lease, as after this one's renewals failed
	// for longer than a lease.
	if _, err := f.store.UpdateIncident(context.Background(), key, func(inc *oncall.Incident) error {
		inc.LeaseOwner, inc.LeaseUntil = "other", clock.Now().Add(time.Hour)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	err := <-done
	if err == nil {
		t.Fatal("the job finished as if it still held the incident")
	}
	tri.mu.Lock()
	cause := tri.cause
	tri.mu.Unlock()
	if !errors.Is(cause, errLeaseLost) {
		t.Errorf("triage stopped by %v, want the lost lease", cause)
	}
	inc, err := f.store.GetIncident(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	if inc.LeaseOwner != "other" {
		t.Errorf("lease owner %q after the stalled job ended, want the new holder's lease kept", inc.LeaseOwner)
	}
}

// A job that died holding the incident's lease stops renewing it, and
// with the default lease the group's next delivery takes over within
// seconds instead of being skipped for fifteen minutes.
func TestDeadJobsIncidentLeaseLapsesInSeconds(t *testing.T) {
	clock := &manualClock{now: t0.Add(time.Hour)}
	f := newFixtureWith(t, nil, Options{Now: clock.Now})
	ctx := context.Background()
	key := oncall.IncidentKey("default", "g1")
	job := alertJob("dead", oncall.AlertFiring)
	if _, _, err := f.store.CreateIncident(ctx, oncall.Incident{
		Key: key, Status: oncall.IncidentOpen, Alert: job.Alerts[0], Alerts: job.Alerts, Route: "default", Channel: "C1",
		OpenedAt: clock.Now(), Fires: 1, FireTimes: []time.Time{clock.Now()},
		LeaseOwner: "dead", LeaseUntil: clock.Now().Add(f.svc.opts.Lease),
	}); err != nil {
		t.Fatal(err)
	}

	clock.Advance(5 * time.Second)
	if err := f.svc.Handle(ctx, alertJob("early", oncall.AlertFiring)); err != nil {
		t.Fatal(err)
	}
	if n := len(parents(f.slack)); n != 0 {
		t.Fatalf("%d parents while the lease was live, want none", n)
	}

	clock.Advance(f.svc.opts.Lease)
	if err := f.svc.Handle(ctx, alertJob("next", oncall.AlertFiring)); err != nil {
		t.Fatal(err)
	}
	if n := len(parents(f.slack)); n != 1 {
		t.Fatalf("%d parents after the dead job's lease lapsed, want 1", n)
	}
	if f.svc.opts.Lease > 30*time.Second {
		t.Errorf("default incident lease %v, want seconds", f.svc.opts.Lease)
	}
}
