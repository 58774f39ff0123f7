package worker

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/retry"
	"github.com/oncall-copilot/oncall-copilot/store/boltdb"
)

func openQueue(t *testing.T) *boltdb.Store {
	t.Helper()
	s, err := boltdb.Open(boltdb.Options{Path: filepath.Join(t.TempDir(), "q.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// runUntil runs a pool until cond holds (or a generous limit passes).
func runUntil(t *testing.T, p *Pool, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !cond() {
		t.Fatal("condition not reached")
	}
}

func fastOptions(q Queue, h HandlerFunc) Options {
	return Options{
		Queue: q, Handler: h, Workers: 2, MaxAttempts: 3,
		Backoff:  retry.Policy{Initial: time.Millisecond, Max: 2 * time.Millisecond},
		PollWait: 20 * time.Millisecond, Drain: time.Second,
	}
}

func TestOutcomes(t *testing.T) {
	tests := []struct {
		name      string
		handler   func(calls int) error
		wantCalls int
		wantDead  int
	}{
		{"success is acked", func(int) error { return nil }, 1, 0},
		{"failure is retried until success", func(c int) error {
			if c < 2 {
				return errors.New("flaky")
			}
			return nil
		}, 2, 0},
		{"permanent failure is dead-lettered at once", func(int) error { return retry.Permanent(errors.New("bad job")) }, 1, 1},
		{"attempts run out", func(int) error { return errors.New("always") }, 3, 1},
		{"panic is recovered and retried", func(c int) error {
			if c == 1 {
				panic("boom")
			}
			return nil
		}, 2, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := openQueue(t)
			var calls atomic.Int32
			p, err := New(fastOptions(q, func(ctx context.Context, job oncall.Job) error {
				return tt.handler(int(calls.Add(1)))
			}))
			if err != nil {
				t.Fatal(err)
			}
			if err := q.Enqueue(context.Background(), oncall.Job{ID: "j1", Kind: oncall.JobAlert}); err != nil {
				t.Fatal(err)
			}
			settled := func() bool {
				st, err := q.QueueStats(context.Background())
				return err == nil && st.Ready+st.Delayed+st.InFlight == 0 && int(calls.Load()) >= tt.wantCalls
			}
			runUntil(t, p, settled)
			if got := int(calls.Load()); got != tt.wantCalls {
				t.Errorf("handler calls = %d, want %d", got, tt.wantCalls)
			}
			dead, err := q.DeadLetters(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(dead) != tt.wantDead {
				t.Errorf("dead letters = %d, want %d", len(dead), tt.wantDead)
			}
		})
	}
}

func TestShutdownHandsBackInterruptedJobs(t *testing.T) {
	q := openQueue(t)
	started := make(chan struct{})
	var once sync.Once
	opts := fastOptions(q, func(ctx context.Context, job oncall.Job) error {
		once.Do(func() { close(started) })
		<-ctx.Done() // a job that would run forever
		return ctx.Err()
	})
	opts.Drain = 50 * time.Millisecond
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Enqueue(context.Background(), oncall.Job{ID: "long", Kind: oncall.JobAlert}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	<-started
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	d, err := q.Dequeue(context.Background(), "next", time.Second)
	if err != nil || d == nil {
		t.Fatalf("the interrupted job must be back in the queue: %v %v", d, err)
	}
	if d.Job.ID != "long" {
		t.Errorf("got job %q", d.Job.ID)
	}
	dead, _ := q.DeadLetters(context.Background())
	if len(dead) != 0 {
		t.Errorf("an interrupted job must not be dead-lettered")
	}
}
