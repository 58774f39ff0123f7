package incident

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/bot"
	"github.com/oncall-copilot/oncall-copilot/bot/slacktest"
	"github.com/oncall-copilot/oncall-copilot/redact"
	"github.com/oncall-copilot/oncall-copilot/retry"
	"github.com/oncall-copilot/oncall-copilot/store/boltdb"
	"github.com/oncall-copilot/oncall-copilot/tracesource/jsonl"
	"github.com/oncall-copilot/oncall-copilot/tracesource/otlp"
	"github.com/oncall-copilot/oncall-copilot/triage"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// writeTraces writes a few agent runs around t0: healthy ones, and in the
// incident window runs whose tool fails.
func writeTraces(t *testing.T) string {
	t.Helper()
	var traces []oncall.Trace
	for i := 0; i < 30; i++ {
		start := t0.Add(-80*time.Minute + time.Duration(i)*150*time.Second)
		failing := start.After(t0.Add(-30*time.Minute)) && i%2 == 0
		tid := fmt.Sprintf("%032x", i+1)
		root := oncall.Span{TraceID: tid, SpanID: fmt.Sprintf("%016x", 100+i), Name: "agent run", Kind: oncall.KindAgent, Start: start, End: start.Add(3 * time.Second), Status: oncall.StatusOK, Attributes: map[string]string{"gen_ai.agent.name": "orders-agent"}}
		tool := oncall.Span{TraceID: tid, SpanID: fmt.Sprintf("%016x", 200+i), ParentID: root.SpanID, Name: "lookup", Kind: oncall.KindTool, ToolName: "lookup", Start: start.Add(time.Second), End: start.Add(2 * time.Second), Status: oncall.StatusOK}
		if failing {
			tool.Status, tool.StatusMessage = oncall.StatusError, "upstream answered 503"
			root.Status, root.StatusMessage = oncall.StatusError, "run failed"
		}
		traces = append(traces, oncall.Trace{TraceID: tid, Spans: []oncall.Span{root, tool}})
	}
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "traces.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := otlp.WriteJSONL(f, traces); err != nil {
		t.Fatal(err)
	}
	return dir
}

type fixture struct {
	svc   *Service
	slack *slacktest.Server
	store *boltdb.Store
}

func newFixture(t *testing.T, triager Triager) *fixture {
	return newFixtureWith(t, triager, Options{Now: func() time.Time { return t0.Add(time.Hour) }})
}

// newFixtureWith builds a fixture whose Service takes opts (its store,
// publisher and triager are filled in).
func newFixtureWith(t *testing.T, triager Triager, opts Options) *fixture {
	t.Helper()
	store, err := boltdb.Open(boltdb.Options{Path: filepath.Join(t.TempDir(), "oncall.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	srv := slacktest.NewServer(t)
	pub, err := bot.New(bot.Options{Token: srv.Token, APIURL: srv.URL + "/", MinInterval: time.Nanosecond,
		Retry: retry.Policy{Attempts: 3, Initial: time.Millisecond, Max: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if triager == nil {
		src, err := jsonl.New(jsonl.Options{Path: writeTraces(t)})
		if err != nil {
			t.Fatal(err)
		}
		red, _ := redact.New(redact.Options{})
		triager, err = triage.NewService(triage.ServiceOptions{Sources: map[string]triage.TraceSource{"jsonl": src}, Redactor: red})
		if err != nil {
			t.Fatal(err)
		}
	}
	opts.Store, opts.Publisher, opts.Triager = store, pub, triager
	svc, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{svc: svc, slack: srv, store: store}
}

func alertJob(id string, status oncall.AlertStatus) oncall.Job {
	a := oncall.Alert{Source: "alertmanager", Fingerprint: "fp1", GroupKey: "g1", Status: status, Name: "OrdersAgentErrors",
		Severity: "critical", Labels: map[string]string{"alertname": "OrdersAgentErrors", "agent": "orders-agent"}, StartsAt: t0}
	if status == oncall.AlertResolved {
		a.EndsAt = t0.Add(42 * time.Minute)
	}
	return oncall.Job{ID: id, Kind: oncall.JobAlert, Alerts: []oncall.Alert{a}, GroupKey: "g1", Route: "default", Channel: "C1"}
}

func parents(s *slacktest.Server) []slacktest.Message {
	var out []slacktest.Message
	for _, m := range s.Messages() {
		if m.ThreadTS == "" {
			out = append(out, m)
		}
	}
	return out
}

func TestLifecycle(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	if err := f.svc.Handle(ctx, alertJob("j1", oncall.AlertFiring)); err != nil {
		t.Fatal(err)
	}
	ps := parents(f.slack)
	if len(ps) != 1 {
		t.Fatalf("parents = %d", len(ps))
	}
	replies := f.slack.Replies("C1", ps[0].TS)
	if len(replies) == 0 || !strings.Contains(string(replies[0].Blocks), "lookup") {
		t.Fatalf("the report should name the failing tool: %+v", replies)
	}
	if len(f.slack.Updates()) == 0 {
		t.Fatal("parent not updated after triage")
	}
	inc, err := f.store.GetIncident(ctx, oncall.IncidentKey("default", "g1"))
	if err != nil || inc.ThreadTS != ps[0].TS || inc.TriagedAt.IsZero() || inc.Report == nil || inc.LeaseOwner != "" {
		t.Fatalf("incident = %+v, %v", inc, err)
	}

	// A re-send posts nothing.
	before := len(f.slack.Messages())
	if err := f.svc.Handle(ctx, alertJob("j2", oncall.AlertFiring)); err != nil {
		t.Fatal(err)
	}
	if got := len(f.slack.Messages()); got != before {
		t.Fatalf("a re-send posted %d messages", got-before)
	}

	// Resolution: a note and an update, once.
	for _, id := range []string{"r1", "r2"} {
		if err := f.svc.Handle(ctx, alertJob(id, oncall.AlertResolved)); err != nil {
			t.Fatal(err)
		}
	}
	replies = f.slack.Replies("C1", ps[0].TS)
	notes := 0
	for _, r := range replies {
		if strings.Contains(r.Text, "Resolved after 42m") {
			notes++
		}
	}
	if notes != 1 {
		t.Fatalf("resolution notes = %d: %+v", notes, replies)
	}

	// A late firing notification of the episode that ended changes nothing.
	before = len(f.slack.Messages())
	if err := f.svc.Handle(ctx, alertJob("late", oncall.AlertFiring)); err != nil {
		t.Fatal(err)
	}
	if inc, _ := f.store.GetIncident(ctx, oncall.IncidentKey("default", "g1")); inc.Status != oncall.IncidentResolved || len(f.slack.Messages()) != before {
		t.Fatalf("a stale firing notification reopened the incident: %s, %d new messages", inc.Status, len(f.slack.Messages())-before)
	}

	// A re-fire (a new episode, starting after the resolution) reopens the
	// same thread and triages again.
	again := alertJob("j3", oncall.AlertFiring)
	again.Alerts[0].StartsAt = t0.Add(50 * time.Minute)
	if err := f.svc.Handle(ctx, again); err != nil {
		t.Fatal(err)
	}
	if len(parents(f.slack)) != 1 {
		t.Fatal("a re-fire opened a second thread")
	}
	inc, _ = f.store.GetIncident(ctx, oncall.IncidentKey("default", "g1"))
	if inc.Status != oncall.IncidentOpen || inc.Fires != 2 || inc.TriagedAt.IsZero() {
		t.Fatalf("after re-fire: %+v", inc)
	}
	var refire bool
	for _, r := range f.slack.Replies("C1", ps[0].TS) {
		refire = refire || strings.Contains(r.Text, "Re-fired")
	}
	if !refire {
		t.Error("no re-fire note")
	}
}

func TestConcurrentDeliveriesPostOneThread(t *testing.T) {
	f := newFixture(t, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- f.svc.Handle(context.Background(), alertJob(fmt.Sprintf("c%d", i), oncall.AlertFiring))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := len(parents(f.slack)); n != 1 {
		t.Fatalf("parents = %d, want 1", n)
	}
	reports := 0
	for _, m := range f.slack.Replies("C1", parents(f.slack)[0].TS) {
		if len(m.Blocks) > 0 {
			reports++
		}
	}
	if reports != 1 {
		t.Errorf("diagnosis replies = %d, want 1", reports)
	}
}

// failingTriager fails a set number of times, as a trace store that is down.
type failingTriager struct {
	fails int
	calls int
}

func (f *failingTriager) Triage(ctx context.Context, req oncall.TriageRequest) (oncall.Report, error) {
	f.calls++
	if f.calls <= f.fails {
		return oncall.Report{}, errors.New("store unreachable")
	}
	return oncall.Report{Alert: req.Alert, Diagnosis: &oncall.Diagnosis{Summary: "A tool failed."}}, nil
}

func TestRetryAfterFailedTriageKeepsOneThread(t *testing.T) {
	tr := &failingTriager{fails: 1}
	f := newFixture(t, tr)
	job := alertJob("j1", oncall.AlertFiring)
	if err := f.svc.Handle(context.Background(), job); err == nil {
		t.Fatal("want the triage error, so the job is retried")
	}
	job.Attempts = 1
	if err := f.svc.Handle(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	if n := len(parents(f.slack)); n != 1 {
		t.Fatalf("parents = %d, want 1", n)
	}
	if tr.calls != 2 {
		t.Errorf("triage calls = %d", tr.calls)
	}
}

func TestResolutionOfUnknownIncidentIsIgnored(t *testing.T) {
	f := newFixture(t, &failingTriager{})
	if err := f.svc.Handle(context.Background(), alertJob("r", oncall.AlertResolved)); err != nil {
		t.Fatal(err)
	}
	if n := len(f.slack.Messages()); n != 0 {
		t.Fatalf("posted %d messages", n)
	}
}
