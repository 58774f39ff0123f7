package incident

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/bot"
	"github.com/oncall-copilot/oncall-copilot/bot/slacktest"
	"github.com/oncall-copilot/oncall-copilot/retry"
	"github.com/oncall-copilot/oncall-copilot/store/boltdb"
)

// lostAnswer is a publisher whose parent posts reach Slack but whose
// answers are lost the first lose times, as when a worker dies or a call
// times out after Slack accepted the message.
type lostAnswer struct {
	*bot.Slack
	lose        int // parent answers to lose
	loseReports int // report answers to lose
}

func (p *lostAnswer) PostReport(ctx context.Context, inc oncall.Incident, rep oncall.Report) error {
	err := p.Slack.PostReport(ctx, inc, rep)
	if err == nil && p.loseReports > 0 {
		p.loseReports--
		return errors.New("slack chat.postMessage: connection reset by peer")
	}
	return err
}

func (p *lostAnswer) PostParent(ctx context.Context, inc oncall.Incident) (string, string, error) {
	channel, ts, err := p.Slack.PostParent(ctx, inc)
	if err == nil && p.lose > 0 {
		p.lose--
		return "", "", errors.New("slack chat.postMessage: context deadline exceeded")
	}
	return channel, ts, err
}

// lookupFixture is an incident service over the real store and the fake
// Slack, whose publisher loses answers; its finder is the real Slack's,
// which the publisher embeds.
type lookupFixture struct {
	svc   *Service
	slack *slacktest.Server
	store *boltdb.Store
	pub   *lostAnswer
}

func newLookupFixture(t *testing.T, lose int) *lookupFixture {
	t.Helper()
	store, err := boltdb.Open(boltdb.Options{Path: filepath.Join(t.TempDir(), "oncall.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	srv := slacktest.NewServer(t)
	now := t0.Add(time.Hour)
	srv.UseClock(func() time.Time { return now }) // Slack's clock agrees with ours
	b, err := bot.New(bot.Options{Token: srv.Token, APIURL: srv.URL + "/", MinInterval: time.Nanosecond,
		Retry: retry.Policy{Attempts: 3, Initial: time.Millisecond, Max: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	pub := &lostAnswer{Slack: b, lose: lose}
	opts := Options{Store: store, Publisher: pub, Triager: &failingTriager{}, Now: func() time.Time { return now }}
	svc, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return &lookupFixture{svc: svc, slack: srv, store: store, pub: pub}
}

// reports counts the diagnosis replies in the one parent's thread.
func (f *lookupFixture) reports(t *testing.T) int {
	t.Helper()
	ps := parents(f.slack)
	if len(ps) != 1 {
		t.Fatalf("parents = %d, want 1: %+v", len(ps), f.slack.Messages())
	}
	return len(f.slack.Replies("C1", ps[0].TS))
}

func TestRetryFindsTheParentAnEarlierAttemptPosted(t *testing.T) {
	tests := []struct {
		name  string
		retry oncall.Job // the delivery after the lost answer
	}{
		{"the same job again", func() oncall.Job { j := alertJob("j1", oncall.AlertFiring); j.Attempts = 1; return j }()},
		// The first job's failed attempt gave its lease up.
		{"another delivery of the group", alertJob("j2", oncall.AlertFiring)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newLookupFixture(t, 1)
			ctx := context.Background()
			if err := f.svc.Handle(ctx, alertJob("j1", oncall.AlertFiring)); err == nil {
				t.Fatal("the lost answer should fail the job, so it is retried")
			}
			if n := len(parents(f.slack)); n != 1 {
				t.Fatalf("the first attempt posted %d parents", n)
			}
			if err := f.svc.Handle(ctx, tt.retry); err != nil {
				t.Fatalf("retry: %v", err)
			}
			if n := f.reports(t); n != 1 {
				t.Errorf("diagnosis replies = %d, want 1", n)
			}
			if n := f.slack.CallCount("conversations.history"); n != 1 {
				t.Errorf("history read %d times, want once", n)
			}
			inc, err := f.store.GetIncident(ctx, oncall.IncidentKey("default", "g1"))
			if err != nil || inc.ThreadTS != parents(f.slack)[0].TS || inc.TriagedAt.IsZero() {
				t.Errorf("incident = %+v, %v", inc, err)
			}
		})
	}
}

func TestParentLookupOnlyAfterAnAttemptToPost(t *testing.T) {
	f := newLookupFixture(t, 0)
	ctx := context.Background()
	// Slack fails the first attempt outright: nothing was posted, and the
	// retry looks, finds nothing and posts.
	f.slack.Fail("chat.postMessage", 3, slacktest.HTTPStatus(http.StatusInternalServerError))
	if err := f.svc.Handle(ctx, alertJob("j1", oncall.AlertFiring)); err == nil {
		t.Fatal("want the Slack failure")
	}
	if n := len(f.slack.Messages()); n != 0 {
		t.Fatalf("posted %d messages", n)
	}
	job := alertJob("j1", oncall.AlertFiring)
	job.Attempts = 1
	if err := f.svc.Handle(ctx, job); err != nil {
		t.Fatal(err)
	}
	if n := f.reports(t); n != 1 {
		t.Errorf("diagnosis replies = %d", n)
	}
	if n := f.slack.CallCount("conversations.history"); n != 1 {
		t.Errorf("history read %d times, want once", n)
	}

	// A group that posts at the first attempt never reads the history.
	g := newLookupFixture(t, 0)
	if err := g.svc.Handle(ctx, alertJob("k1", oncall.AlertFiring)); err != nil {
		t.Fatal(err)
	}
	if n := g.slack.CallCount("conversations.history"); n != 0 {
		t.Errorf("a first attempt read the history %d times", n)
	}
}

func TestParentLookupFailures(t *testing.T) {
	tests := []struct {
		name        string
		fault       slacktest.Fault
		times       int
		wantErr     bool
		wantParents int
	}{
		// Slack refuses the read (no channels:history scope): post anyway.
		{"channel cannot be searched", slacktest.APIError("missing_scope"), 1, false, 2},
		// Slack is down: retry the job later rather than guess.
		{"history unavailable", slacktest.HTTPStatus(http.StatusServiceUnavailable), 3, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newLookupFixture(t, 1)
			ctx := context.Background()
			if err := f.svc.Handle(ctx, alertJob("j1", oncall.AlertFiring)); err == nil {
				t.Fatal("want the lost answer")
			}
			f.slack.Fail("conversations.history", tt.times, tt.fault)
			job := alertJob("j1", oncall.AlertFiring)
			job.Attempts = 1
			err := f.svc.Handle(ctx, job)
			if (err != nil) != tt.wantErr {
				t.Fatalf("retry: err = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr && !strings.Contains(err.Error(), "look for parent") {
				t.Errorf("error does not say what failed: %v", err)
			}
			if n := len(parents(f.slack)); n != tt.wantParents {
				t.Errorf("parents = %d, want %d", n, tt.wantParents)
			}
		})
	}
}

func TestWithoutFinderAParentMayRepeat(t *testing.T) {
	// The documented cost of a publisher that cannot search: a lost
	// answer posts the parent twice.
	f := newLookupFixture(t, 1)
	f.svc.opts.Finder = nil
	ctx := context.Background()
	_ = f.svc.Handle(ctx, alertJob("j1", oncall.AlertFiring))
	job := alertJob("j1", oncall.AlertFiring)
	job.Attempts = 1
	if err := f.svc.Handle(ctx, job); err != nil {
		t.Fatal(err)
	}
	if n := len(parents(f.slack)); n != 2 {
		t.Errorf("parents = %d, want 2 without a finder", n)
	}
}

func TestRetryFindsTheReportAnEarlierAttemptPosted(t *testing.T) {
	f := newLookupFixture(t, 0)
	f.pub.loseReports = 1
	ctx := context.Background()
	if err := f.svc.Handle(ctx, alertJob("j1", oncall.AlertFiring)); err == nil {
		t.Fatal("the lost answer should fail the job")
	}
	job := alertJob("j1", oncall.AlertFiring)
	job.Attempts = 1
	if err := f.svc.Handle(ctx, job); err != nil {
		t.Fatal(err)
	}
	if n := f.reports(t); n != 1 {
		t.Errorf("diagnosis replies = %d, want 1", n)
	}
	if n := f.slack.CallCount("conversations.replies"); n != 1 {
		t.Errorf("thread read %d times, want once", n)
	}
	inc, err := f.store.GetIncident(ctx, oncall.IncidentKey("default", "g1"))
	if err != nil || inc.TriagedAt.IsZero() || inc.Report == nil || inc.Headline == "" {
		t.Errorf("the triage was not recorded: %+v, %v", inc, err)
	}
	if len(f.slack.Updates()) == 0 {
		t.Error("the parent was not updated after the triage")
	}

	// A re-fire is a new triage: its report is posted, not looked up.
	if err := f.svc.Handle(ctx, alertJob("r1", oncall.AlertResolved)); err != nil {
		t.Fatal(err)
	}
	again := alertJob("j2", oncall.AlertFiring)
	again.Alerts[0].StartsAt = t0.Add(50 * time.Minute) // after the resolution
	if err := f.svc.Handle(ctx, again); err != nil {
		t.Fatal(err)
	}
	if n := f.reports(t); n < 4 { // report, resolution note, re-fire note, report
		t.Errorf("after a re-fire the thread has %d replies", n)
	}
	if n := f.slack.CallCount("conversations.replies"); n != 1 {
		t.Errorf("a re-fire read the thread (%d reads)", n)
	}
}

func TestSlackRefusalDeadLettersAtOnce(t *testing.T) {
	f := newLookupFixture(t, 0)
	f.slack.Fail("chat.postMessage", 1, slacktest.APIError("not_in_channel"))
	err := f.svc.Handle(context.Background(), alertJob("j1", oncall.AlertFiring))
	if err == nil || !retry.IsPermanent(err) {
		t.Fatalf("a refused post should be permanent, so the job is dead-lettered at once: %v", err)
	}
}

func TestRetryUpdatesTheParentAFailedAttemptLeftStale(t *testing.T) {
	f := newLookupFixture(t, 0)
	ctx := context.Background()
	f.slack.Fail("chat.update", 3, slacktest.HTTPStatus(http.StatusBadGateway))
	if err := f.svc.Handle(ctx, alertJob("j1", oncall.AlertFiring)); err == nil {
		t.Fatal("want the failed update")
	}
	if n := len(f.slack.Updates()); n != 0 {
		t.Fatalf("%d updates went through", n)
	}
	// A re-send of the group changes nothing; the job's retry updates the
	// parent to show the triage.
	if err := f.svc.Handle(ctx, alertJob("j2", oncall.AlertFiring)); err != nil {
		t.Fatal(err)
	}
	if n := len(f.slack.Updates()); n != 0 {
		t.Fatalf("a re-send updated the parent %d times", n)
	}
	job := alertJob("j1", oncall.AlertFiring)
	job.Attempts = 1
	if err := f.svc.Handle(ctx, job); err != nil {
		t.Fatal(err)
	}
	ups := f.slack.Updates()
	if len(ups) != 1 || !strings.Contains(string(ups[0].Blocks), "Diagnosis") {
		t.Errorf("updates after the retry: %+v", ups)
	}
	if n := f.reports(t); n != 1 {
		t.Errorf("diagnosis replies = %d", n)
	}
}
