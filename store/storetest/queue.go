package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

func enqueue(t *testing.T, s Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := s.Enqueue(ctxFor(t), oncall.Job{ID: id, Kind: oncall.JobAlert}); err != nil {
			t.Fatalf("Enqueue(%s): %v", id, err)
		}
	}
}

// mustDequeue takes one delivery that must be ready now.
func mustDequeue(t *testing.T, s Store, consumer string) oncall.Delivery {
	t.Helper()
	d, err := s.Dequeue(ctxFor(t), consumer, time.Second)
	if err != nil {
		t.Fatalf("Dequeue(%s): %v", consumer, err)
	}
	if d == nil {
		t.Fatalf("Dequeue(%s) = nil, want a job", consumer)
	}
	return *d
}

// mustBeEmpty checks that nothing is ready now.
func mustBeEmpty(t *testing.T, s Store, consumer string) {
	t.Helper()
	d, err := s.Dequeue(ctxFor(t), consumer, 0)
	if err != nil {
		t.Fatalf("Dequeue(%s): %v", consumer, err)
	}
	if d != nil {
		t.Fatalf("Dequeue(%s) = job %s (attempts %d), want nothing ready", consumer, d.Job.ID, d.Job.Attempts)
	}
}

// dequeueEventually polls until a delivery arrives, for deliveries that
// depend on a server-side idle clock.
func dequeueEventually(t *testing.T, s Store, consumer string) oncall.Delivery {
	t.Helper()
	var got *oncall.Delivery
	ok := eventually(t, realLimit, func() bool {
		d, err := s.Dequeue(ctxFor(t), consumer, 100*time.Millisecond)
		if err != nil {
			t.Fatalf("Dequeue(%s): %v", consumer, err)
		}
		got = d
		return d != nil
	})
	if !ok {
		t.Fatalf("Dequeue(%s): nothing delivered within %v", consumer, realLimit)
	}
	return *got
}

func stats(t *testing.T, s Store) oncall.QueueStats {
	t.Helper()
	st, err := s.QueueStats(ctxFor(t))
	if err != nil {
		t.Fatalf("QueueStats: %v", err)
	}
	return st
}

func wantStats(t *testing.T, s Store, want oncall.QueueStats) {
	t.Helper()
	if got := stats(t, s); got != want {
		t.Fatalf("QueueStats = %+v, want %+v", got, want)
	}
}

func testEnqueueDefaults(t *testing.T, s Store, c *Clock) {
	if err := s.Enqueue(ctxFor(t), oncall.Job{Kind: oncall.JobAlert, Route: "r"}); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	if err := s.Enqueue(ctxFor(t), oncall.Job{Kind: oncall.JobAlert, Route: "r"}); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	a, b := mustDequeue(t, s, "w"), mustDequeue(t, s, "w")
	if a.Job.ID == "" || b.Job.ID == "" || a.Job.ID == b.Job.ID {
		t.Errorf("generated ids %q and %q, want two distinct non-empty ids", a.Job.ID, b.Job.ID)
	}
	if !a.Job.EnqueuedAt.Equal(c.Now()) {
		t.Errorf("EnqueuedAt = %v, want the store clock's %v", a.Job.EnqueuedAt, c.Now())
	}
	if a.Token == "" || a.Token == b.Token {
		t.Errorf("tokens %q and %q, want two distinct non-empty tokens", a.Token, b.Token)
	}
}

func testOrder(t *testing.T, s Store, c *Clock) {
	first := oncall.Job{
		ID:   "job-0",
		Kind: oncall.JobAlert,
		Alerts: []oncall.Alert{{
			Source: "alertmanager", Fingerprint: "fp", GroupKey: "g", Status: oncall.AlertFiring,
			Name: "AgentErrors", Labels: map[string]string{"service": "checkout"},
			StartsAt: c.Now().Add(-time.Minute), ReceivedAt: c.Now(),
			TraceIDs: []string{"t1", "t2"},
		}},
		GroupKey:   "g",
		Route:      "agents",
		Channel:    "C123",
		Payload:    []byte(`{"k":"v"}`),
		EnqueuedAt: c.Now().Add(-time.Second),
		LastError:  "earlier",
		Attempts:   2,
	}
	if err := s.Enqueue(ctxFor(t), first); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	enqueue(t, s, "job-1", "job-2", "job-3", "job-4")

	d := mustDequeue(t, s, "w")
	if !reflect.DeepEqual(d.Job, first) {
		t.Errorf("first job = %+v\nwant %+v", d.Job, first)
	}
	for i := 1; i < 5; i++ {
		d := mustDequeue(t, s, "w")
		if want := fmt.Sprintf("job-%d", i); d.Job.ID != want {
			t.Errorf("delivery %d = %s, want %s", i, d.Job.ID, want)
		}
	}
	mustBeEmpty(t, s, "w")
}

func testAck(t *testing.T, s Store, c *Clock) {
	enqueue(t, s, "a", "b")
	d := mustDequeue(t, s, "w")
	if err := s.Ack(ctxFor(t), d); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	if err := s.Ack(ctxFor(t), d); err != nil {
		t.Errorf("second Ack: %v, want acks to be idempotent", err)
	}
	wantStats(t, s, oncall.QueueStats{Ready: 1, OldestAge: 0})
	c.Advance(time.Hour)
	if got := mustDequeue(t, s, "w"); got.Job.ID != "b" {
		t.Fatalf("after ack got %s, want b", got.Job.ID)
	}
	mustBeEmpty(t, s, "w")
}

func testReclaim(t *testing.T, s Store, c *Clock) {
	enqueue(t, s, "stuck")
	d1 := mustDequeue(t, s, "crashed")
	mustBeEmpty(t, s, "other")
	if st := stats(t, s); st.InFlight != 1 || st.Ready != 0 {
		t.Fatalf("stats with one delivery out = %+v, want 1 in flight", st)
	}

	c.Advance(time.Hour)
	d2 := dequeueEventually(t, s, "other")
	if d2.Job.ID != d1.Job.ID {
		t.Fatalf("reclaimed %s, want %s", d2.Job.ID, d1.Job.ID)
	}
	if d2.Job.Attempts != d1.Job.Attempts+1 {
		t.Errorf("reclaimed attempts = %d, want %d", d2.Job.Attempts, d1.Job.Attempts+1)
	}
	if err := s.Ack(ctxFor(t), d2); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	wantStats(t, s, oncall.QueueStats{})
}

func testExtend(t *testing.T, s Store, c *Clock) {
	enqueue(t, s, "busy")
	d := mustDequeue(t, s, "alive")
	if d.Consumer != "alive" {
		t.Fatalf("delivery consumer = %q, want alive", d.Consumer)
	}
	// Idle past any reclaim timeout by the store's clock, then renewed:
	// the renewal starts the idle time again.
	c.Advance(time.Hour)
	if err := s.Extend(ctxFor(t), d); err != nil {
		t.Fatalf("Extend: %v", err)
	}
	mustBeEmpty(t, s, "other")

	// Not renewed any more: another consumer takes it over, and the
	// first consumer's lease is gone.
	c.Advance(time.Hour)
	d2 := dequeueEventually(t, s, "other")
	if d2.Job.ID != "busy" || d2.Consumer != "other" {
		t.Fatalf("reclaimed %s by %q, want busy by other", d2.Job.ID, d2.Consumer)
	}
	if d2.Job.Attempts != 1 {
		t.Errorf("reclaimed attempts = %d, want 1: a renewal is not a delivery", d2.Job.Attempts)
	}
	if err := s.Extend(ctxFor(t), d); !errors.Is(err, oncall.ErrNotFound) {
		t.Errorf("Extend(taken over) = %v, want ErrNotFound", err)
	}
	if err := s.Extend(ctxFor(t), d2); err != nil {
		t.Errorf("Extend(new holder) = %v", err)
	}
	if err := s.Ack(ctxFor(t), d2); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	if err := s.Extend(ctxFor(t), d2); !errors.Is(err, oncall.ErrNotFound) {
		t.Errorf("Extend(acked) = %v, want ErrNotFound", err)
	}
	wantStats(t, s, oncall.QueueStats{})
}

func testRetryDelay(t *testing.T, s Store, c *Clock) {
	enqueue(t, s, "flaky")
	d := mustDequeue(t, s, "w")
	if err := s.Retry(ctxFor(t), d, 10*time.Minute, "model timeout"); err != nil {
		t.Fatalf("Retry: %v", err)
	}
	wantStats(t, s, oncall.QueueStats{Delayed: 1})
	mustBeEmpty(t, s, "w")
	c.Advance(9 * time.Minute)
	mustBeEmpty(t, s, "w")

	c.Advance(2 * time.Minute)
	d2 := mustDequeue(t, s, "w")
	if d2.Job.ID != "flaky" || d2.Job.Attempts != 1 || d2.Job.LastError != "model timeout" {
		t.Fatalf("retried delivery = %s attempts %d last error %q, want flaky 1 %q",
			d2.Job.ID, d2.Job.Attempts, d2.Job.LastError, "model timeout")
	}
	if !d2.Job.EnqueuedAt.Equal(d.Job.EnqueuedAt) {
		t.Errorf("EnqueuedAt changed on retry: %v, want %v", d2.Job.EnqueuedAt, d.Job.EnqueuedAt)
	}

	// A zero delay is due at once and joins the back of the queue.
	enqueue(t, s, "later")
	if err := s.Retry(ctxFor(t), d2, 0, "again"); err != nil {
		t.Fatalf("Retry: %v", err)
	}
	if got := mustDequeue(t, s, "w"); got.Job.ID != "later" {
		t.Errorf("got %s, want the job that was waiting before the retry", got.Job.ID)
	}
	if got := mustDequeue(t, s, "w"); got.Job.ID != "flaky" || got.Job.Attempts != 2 {
		t.Errorf("got %s attempts %d, want flaky attempts 2", got.Job.ID, got.Job.Attempts)
	}
}

func testAttempts(t *testing.T, s Store, c *Clock) {
	enqueue(t, s, "j")
	d := mustDequeue(t, s, "w")
	if d.Job.Attempts != 0 {
		t.Fatalf("first delivery attempts = %d, want 0", d.Job.Attempts)
	}
	if err := s.Retry(ctxFor(t), d, time.Second, "e1"); err != nil {
		t.Fatalf("Retry: %v", err)
	}
	c.Advance(time.Minute)
	d = mustDequeue(t, s, "crashed")
	if d.Job.Attempts != 1 {
		t.Fatalf("after retry attempts = %d, want 1", d.Job.Attempts)
	}
	c.Advance(time.Hour)
	d = dequeueEventually(t, s, "w")
	if d.Job.Attempts != 2 || d.Job.LastError != "e1" {
		t.Fatalf("after reclaim attempts = %d last error %q, want 2 %q", d.Job.Attempts, d.Job.LastError, "e1")
	}
	if err := s.Retry(ctxFor(t), d, 0, "e3"); err != nil {
		t.Fatalf("Retry: %v", err)
	}
	d = mustDequeue(t, s, "w")
	if d.Job.Attempts != 3 || d.Job.LastError != "e3" {
		t.Fatalf("after reclaim and retry attempts = %d last error %q, want 3 %q", d.Job.Attempts, d.Job.LastError, "e3")
	}
}

func testDeadLetters(t *testing.T, s Store, c *Clock) {
	enqueue(t, s, "poison", "fine")
	dp, df := mustDequeue(t, s, "w"), mustDequeue(t, s, "w")
	if err := s.DeadLetter(ctxFor(t), dp, "bad payload"); err != nil {
		t.Fatalf("DeadLetter: %v", err)
	}
	if err := s.Ack(ctxFor(t), df); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	wantStats(t, s, oncall.QueueStats{Dead: 1})
	mustBeEmpty(t, s, "w")

	dead, err := s.DeadLetters(ctxFor(t))
	if err != nil {
		t.Fatalf("DeadLetters: %v", err)
	}
	if len(dead) != 1 || dead[0].ID != "poison" || dead[0].LastError != "bad payload" || dead[0].Attempts != 1 {
		t.Fatalf("DeadLetters = %+v, want poison with last error %q and 1 attempt", dead, "bad payload")
	}

	if err := s.RequeueDead(ctxFor(t), "poison"); err != nil {
		t.Fatalf("RequeueDead: %v", err)
	}
	if dead, _ := s.DeadLetters(ctxFor(t)); len(dead) != 0 {
		t.Fatalf("DeadLetters after requeue = %+v, want none", dead)
	}
	d := mustDequeue(t, s, "w")
	if d.Job.ID != "poison" || d.Job.Attempts != 0 {
		t.Fatalf("requeued delivery = %s attempts %d, want poison attempts 0", d.Job.ID, d.Job.Attempts)
	}

	if err := s.DeadLetter(ctxFor(t), d, "still bad"); err != nil {
		t.Fatalf("DeadLetter: %v", err)
	}
	if err := s.DropDead(ctxFor(t), "poison"); err != nil {
		t.Fatalf("DropDead: %v", err)
	}
	wantStats(t, s, oncall.QueueStats{})
	if err := s.RequeueDead(ctxFor(t), "poison"); !errors.Is(err, oncall.ErrNotFound) {
		t.Errorf("RequeueDead(dropped) = %v, want ErrNotFound", err)
	}
	if err := s.DropDead(ctxFor(t), "poison"); !errors.Is(err, oncall.ErrNotFound) {
		t.Errorf("DropDead(dropped) = %v, want ErrNotFound", err)
	}
	mustBeEmpty(t, s, "w")
}

func testStaleDelivery(t *testing.T, s Store, c *Clock) {
	enqueue(t, s, "done")
	d := mustDequeue(t, s, "w")
	if err := s.Ack(ctxFor(t), d); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	if err := s.Retry(ctxFor(t), d, 0, "late"); !errors.Is(err, oncall.ErrNotFound) {
		t.Errorf("Retry(acked) = %v, want ErrNotFound", err)
	}
	if err := s.DeadLetter(ctxFor(t), d, "late"); !errors.Is(err, oncall.ErrNotFound) {
		t.Errorf("DeadLetter(acked) = %v, want ErrNotFound", err)
	}
	wantStats(t, s, oncall.QueueStats{})
	mustBeEmpty(t, s, "w")
}

func testStats(t *testing.T, s Store, c *Clock) {
	wantStats(t, s, oncall.QueueStats{})
	enqueue(t, s, "j1")
	c.Advance(time.Minute)
	enqueue(t, s, "j2", "j3")
	c.Advance(2 * time.Minute)
	wantStats(t, s, oncall.QueueStats{Ready: 3, OldestAge: 3 * time.Minute})

	d1 := mustDequeue(t, s, "w")
	if err := s.Retry(ctxFor(t), d1, time.Hour, "wait"); err != nil {
		t.Fatalf("Retry: %v", err)
	}
	d2 := mustDequeue(t, s, "w")
	wantStats(t, s, oncall.QueueStats{Ready: 1, Delayed: 1, InFlight: 1, OldestAge: 2 * time.Minute})

	if err := s.DeadLetter(ctxFor(t), d2, "no"); err != nil {
		t.Fatalf("DeadLetter: %v", err)
	}
	wantStats(t, s, oncall.QueueStats{Ready: 1, Delayed: 1, Dead: 1, OldestAge: 2 * time.Minute})
}

func testConcurrentDequeue(t *testing.T, s Store, c *Clock) {
	const jobs, workers = 200, 8
	for i := range jobs {
		enqueue(t, s, fmt.Sprintf("job-%03d", i))
	}
	var (
		mu   sync.Mutex
		seen = map[string]int{}
		done int
		wg   sync.WaitGroup
	)
	stop := time.Now().Add(30 * time.Second)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			consumer := fmt.Sprintf("worker-%d", w)
			for time.Now().Before(stop) {
				mu.Lock()
				finished := done == jobs
				mu.Unlock()
				if finished {
					return
				}
				d, err := s.Dequeue(ctxFor(t), consumer, 20*time.Millisecond)
				if err != nil {
					t.Errorf("Dequeue: %v", err)
					return
				}
				if d == nil {
					continue
				}
				mu.Lock()
				seen[d.Job.ID]++
				done++
				mu.Unlock()
				if err := s.Ack(ctxFor(t), *d); err != nil {
					t.Errorf("Ack: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if len(seen) != jobs {
		t.Errorf("delivered %d distinct jobs, want %d", len(seen), jobs)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("job %s delivered %d times, want once", id, n)
		}
	}
	wantStats(t, s, oncall.QueueStats{})
}

func testDequeueWakes(t *testing.T, s Store, c *Clock) {
	type result struct {
		d   *oncall.Delivery
		err error
	}
	got := make(chan result, 1)
	go func() {
		d, err := s.Dequeue(ctxFor(t), "waiter", 20*time.Second)
		got <- result{d, err}
	}()
	enqueue(t, s, "wake")
	r := <-got
	if r.err != nil {
		t.Fatalf("Dequeue: %v", r.err)
	}
	if r.d == nil || r.d.Job.ID != "wake" {
		t.Fatalf("Dequeue = %+v, want the job enqueued while waiting", r.d)
	}
}

func testDequeueContext(t *testing.T, s Store, c *Clock) {
	for _, tc := range []struct {
		name    string
		ctx     func() (context.Context, context.CancelFunc)
		wantErr error
	}{
		{"cancelled", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(ctxFor(t))
			cancel()
			return ctx, cancel
		}, context.Canceled},
		{"deadline before wait ends", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(ctxFor(t), 50*time.Millisecond)
		}, context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := tc.ctx()
			defer cancel()
			d, err := s.Dequeue(ctx, "w", 20*time.Second)
			if !errors.Is(err, tc.wantErr) || d != nil {
				t.Fatalf("Dequeue = %v, %v; want nil, %v", d, err, tc.wantErr)
			}
		})
	}
	// An empty queue with a short wait is not an error.
	d, err := s.Dequeue(ctxFor(t), "w", 30*time.Millisecond)
	if err != nil || d != nil {
		t.Fatalf("Dequeue(empty) = %v, %v; want nil, nil", d, err)
	}
}

func testDequeueConsumer(t *testing.T, s Store, c *Clock) {
	enqueue(t, s, "j")
	if _, err := s.Dequeue(ctxFor(t), "", 0); err == nil {
		t.Fatal("Dequeue with an empty consumer name succeeded, want an error")
	}
	if d := mustDequeue(t, s, "w"); d.Job.ID != "j" {
		t.Fatalf("got %s, want j still queued", d.Job.ID)
	}
}
