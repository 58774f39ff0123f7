package boltdb_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/store/boltdb"
	"github.com/oncall-copilot/oncall-copilot/store/storetest"
)

func open(t *testing.T, opts boltdb.Options) *boltdb.Store {
	t.Helper()
	s, err := boltdb.Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store {
		clock := storetest.NewClock()
		s := open(t, boltdb.Options{Path: filepath.Join(t.TempDir(), "oncall.db"), Now: clock.Now})
		return storetest.WithClock(s, clock)
	})
}

func TestOpenValidates(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts boltdb.Options
		want string
	}{
		{"no path", boltdb.Options{}, "path is required"},
		{"negative reclaim idle", boltdb.Options{Path: "x.db", ReclaimIdle: -time.Second}, "reclaim idle -1s is negative"},
		{"negative poll", boltdb.Options{Path: "x.db", PollInterval: -time.Second}, "poll interval -1s is negative"},
		{"every problem at once", boltdb.Options{ReclaimIdle: -1, LockTimeout: -1}, "path is required\nreclaim idle -1ns is negative\nlock timeout -1ns is negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := boltdb.Open(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestReopenKeepsState is the restart promise: whatever was queued, in
// flight, delayed, dead, opened or recorded survives closing the file.
func TestReopenKeepsState(t *testing.T) {
	ctx := t.Context()
	clock := storetest.NewClock()
	path := filepath.Join(t.TempDir(), "oncall.db")
	opts := boltdb.Options{Path: path, Now: clock.Now}

	s, err := boltdb.Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	for _, id := range []string{"in-flight", "delayed", "dead", "ready"} {
		if err := s.Enqueue(ctx, oncall.Job{ID: id, Kind: oncall.JobAlert}); err != nil {
			t.Fatalf("Enqueue: %v", err)
		}
	}
	take := func(s *boltdb.Store) oncall.Delivery {
		t.Helper()
		d, err := s.Dequeue(ctx, "w", 0)
		if err != nil || d == nil {
			t.Fatalf("Dequeue = %v, %v", d, err)
		}
		return *d
	}
	take(s) // in-flight: the process dies before acking
	if err := s.Retry(ctx, take(s), time.Minute, "later"); err != nil {
		t.Fatalf("Retry: %v", err)
	}
	if err := s.DeadLetter(ctx, take(s), "broken"); err != nil {
		t.Fatalf("DeadLetter: %v", err)
	}
	inc := oncall.Incident{Key: "inc", Status: oncall.IncidentOpen, Channel: "C1", ThreadTS: "1.2", Fires: 3}
	if _, _, err := s.CreateIncident(ctx, inc); err != nil {
		t.Fatalf("CreateIncident: %v", err)
	}
	if _, err := s.Once(ctx, "event", time.Hour); err != nil {
		t.Fatalf("Once: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = open(t, opts)
	st, err := s.QueueStats(ctx)
	if err != nil {
		t.Fatalf("QueueStats: %v", err)
	}
	if want := (oncall.QueueStats{Ready: 1, Delayed: 1, InFlight: 1, Dead: 1}); st != want {
		t.Errorf("stats after reopen = %+v, want %+v", st, want)
	}
	if got, err := s.IncidentByThread(ctx, "C1", "1.2"); err != nil || got.Fires != 3 {
		t.Errorf("IncidentByThread after reopen = %+v, %v; want the incident with 3 fires", got, err)
	}
	if first, err := s.Once(ctx, "event", time.Hour); err != nil || first {
		t.Errorf("Once after reopen = %v, %v; want false", first, err)
	}
	if dead, err := s.DeadLetters(ctx); err != nil || len(dead) != 1 || dead[0].ID != "dead" {
		t.Errorf("DeadLetters after reopen = %+v, %v; want the dead job", dead, err)
	}

	clock.Advance(time.Hour)
	var got []string
	for range 3 {
		d := take(s)
		got = append(got, fmt.Sprintf("%s/%d", d.Job.ID, d.Job.Attempts))
		if err := s.Ack(ctx, d); err != nil {
			t.Fatalf("Ack: %v", err)
		}
	}
	// The stale delivery is reclaimed first, then the ready job, then the
	// retry that fell due and joined the back of the queue.
	if want := "in-flight/1 ready/0 delayed/1"; strings.Join(got, " ") != want {
		t.Errorf("after reopen delivered %v, want %s", got, want)
	}
}

func TestSecondProcessIsLockedOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "oncall.db")
	open(t, boltdb.Options{Path: path})
	_, err := boltdb.Open(boltdb.Options{Path: path, LockTimeout: 20 * time.Millisecond})
	if err == nil {
		t.Fatal("second Open of a locked file succeeded, want an error")
	}
}

func TestClosedStore(t *testing.T) {
	s, err := boltdb.Open(boltdb.Options{Path: filepath.Join(t.TempDir(), "oncall.db")})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := s.Ping(t.Context()); err == nil {
		t.Error("Ping on a closed store succeeded")
	}
	if _, err := s.Dequeue(t.Context(), "w", time.Second); err == nil {
		t.Error("Dequeue on a closed store succeeded")
	}
	if err := s.Enqueue(t.Context(), oncall.Job{ID: "x"}); err == nil {
		t.Error("Enqueue on a closed store succeeded")
	}
}

func TestUpdateIncidentIsTransactional(t *testing.T) {
	ctx := t.Context()
	s := open(t, boltdb.Options{Path: filepath.Join(t.TempDir(), "oncall.db")})
	if _, _, err := s.CreateIncident(ctx, oncall.Incident{Key: "k", Feedback: []oncall.Feedback{{User: "U1"}}}); err != nil {
		t.Fatalf("CreateIncident: %v", err)
	}
	boom := errors.New("boom")
	_, err := s.UpdateIncident(ctx, "k", func(inc *oncall.Incident) error {
		inc.Feedback[0].User = "changed in place"
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("UpdateIncident = %v, want boom", err)
	}
	got, err := s.GetIncident(ctx, "k")
	if err != nil || got.Feedback[0].User != "U1" {
		t.Fatalf("GetIncident = %+v, %v; want the feedback untouched", got, err)
	}
}

func BenchmarkEnqueue(b *testing.B) {
	s, err := boltdb.Open(boltdb.Options{Path: filepath.Join(b.TempDir(), "oncall.db")})
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	defer s.Close()
	alerts := []oncall.Alert{{Source: "alertmanager", Name: "AgentErrorRate", GroupKey: "g", Status: oncall.AlertFiring,
		Labels: map[string]string{"service": "support-agent", "severity": "page"}}}
	ctx := b.Context()
	for b.Loop() {
		if err := s.Enqueue(ctx, oncall.Job{Kind: oncall.JobAlert, Alerts: alerts, GroupKey: "g", Route: "agents"}); err != nil {
			b.Fatalf("Enqueue: %v", err)
		}
	}
}
