package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// leaseQueue is a queue of one delivery that records how it was renewed
// and settled. Like the stores, it answers oncall.ErrNotFound to a
// consumer that no longer holds the delivery, and an error while
// "unreachable" until the given time.
type leaseQueue struct {
	mu          sync.Mutex
	pending     *oncall.Delivery
	downUntil   time.Time // every call fails before then
	takenAt     time.Time // after then, the delivery belongs to someone else
	extends     []time.Time
	settleTries int
	lastTry     time.Time
	settled     string // "ack", "retry" or "dead" once one landed
}

var errUnreachable = errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")

func (q *leaseQueue) Dequeue(ctx context.Context, consumer string, wait time.Duration) (*oncall.Delivery, error) {
	q.mu.Lock()
	d := q.pending
	q.pending = nil
	q.mu.Unlock()
	if d != nil {
		d.Consumer = consumer
		return d, nil
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(wait):
		return nil, nil
	}
}

func (q *leaseQueue) check() error {
	now := time.Now()
	if now.Before(q.downUntil) {
		return errUnreachable
	}
	if !q.takenAt.IsZero() && !now.Before(q.takenAt) {
		return fmt.Errorf("delivery taken over: %w", oncall.ErrNotFound)
	}
	return nil
}

func (q *leaseQueue) Extend(ctx context.Context, d oncall.Delivery) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.check(); err != nil {
		return err
	}
	q.extends = append(q.extends, time.Now())
	return nil
}

func (q *leaseQueue) settle(how string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.settleTries++
	q.lastTry = time.Now()
	if err := q.check(); err != nil {
		return err
	}
	q.settled = how
	return nil
}

func (q *leaseQueue) Ack(ctx context.Context, d oncall.Delivery) error { return q.settle("ack") }
func (q *leaseQueue) Retry(ctx context.Context, d oncall.Delivery, delay time.Duration, cause string) error {
	return q.settle("retry")
}
func (q *leaseQueue) DeadLetter(ctx context.Context, d oncall.Delivery, cause string) error {
	return q.settle("dead")
}

// runOne runs a pool on q until its one job is handled and settled or
// given up, on synctest's clock.
func runOne(t *testing.T, q *leaseQueue, h HandlerFunc) {
	t.Helper()
	p, err := New(Options{Queue: q, Handler: h, Workers: 1, Lease: 20 * time.Second, PollWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	time.Sleep(5 * time.Minute) // longer than any job and settling below
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestLongJobKeepsItsLease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := &leaseQueue{pending: &oncall.Delivery{Job: oncall.Job{ID: "slow"}, Token: "1"}}
		start := time.Now()
		runOne(t, q, func(ctx context.Context, job oncall.Job) error {
			time.Sleep(2 * time.Minute) // six leases long
			return nil
		})
		if q.settled != "ack" {
			t.Fatalf("settled %q, want ack", q.settled)
		}
		// Renewed every 5s (a quarter of the lease) for the whole job.
		if len(q.extends) < 23 {
			t.Fatalf("lease renewed %d times in a 2m job, want every 5s", len(q.extends))
		}
		last := start
		for _, at := range q.extends {
			if gap := at.Sub(last); gap > 5*time.Second {
				t.Errorf("lease renewal gap %v, want at most 5s", gap)
			}
			last = at
		}
	})
}

func TestSettleIsRetriedUntilTheQueueIsBack(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler error
		want    string
	}{
		{"ack", nil, "ack"},
		{"retry", errors.New("model timeout"), "retry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				q := &leaseQueue{pending: &oncall.Delivery{Job: oncall.Job{ID: "j"}, Token: "1"}}
				runOne(t, q, func(ctx context.Context, job oncall.Job) error {
					time.Sleep(3 * time.Second)
					// The queue goes away for 10s as the job ends.
					q.mu.Lock()
					q.downUntil = time.Now().Add(10 * time.Second)
					q.mu.Unlock()
					return tc.handler
				})
				if q.settled != tc.want {
					t.Fatalf("settled %q after %d tries, want %s once the queue is back", q.settled, q.settleTries, tc.want)
				}
				if q.settleTries < 3 {
					t.Errorf("settled in %d tries, want it retried through the outage", q.settleTries)
				}
			})
		})
	}
}

func TestSettleGivesUpWhenTheLeaseLapses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := &leaseQueue{pending: &oncall.Delivery{Job: oncall.Job{ID: "j"}, Token: "1"}}
		start := time.Now()
		runOne(t, q, func(ctx context.Context, job oncall.Job) error {
			q.mu.Lock()
			q.downUntil = time.Now().Add(time.Hour)
			q.mu.Unlock()
			time.Sleep(12 * time.Second) // renewals fail from now on
			return nil
		})
		if q.settled != "" {
			t.Fatalf("settled %q with the queue down", q.settled)
		}
		if q.settleTries < 2 {
			t.Errorf("ack tried %d times, want it retried while the lease lasts", q.settleTries)
		}
		// No renewal landed, so the lease lapsed 20s after delivery, 8s
		// after the job ended: from then on the job may run elsewhere,
		// and this worker must have stopped trying.
		if len(q.extends) != 0 {
			t.Fatalf("renewals landed with the queue down: %v", q.extends)
		}
		if took := q.lastTry.Sub(start); took > 20*time.Second || took < 14*time.Second {
			t.Errorf("last ack try %v after delivery, want within the 20s lease and after a few tries", took)
		}
	})
}

func TestLostLeaseStopsTheJobAndLeavesItToTheNewHolder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := &leaseQueue{pending: &oncall.Delivery{Job: oncall.Job{ID: "j"}, Token: "1"}}
		q.takenAt = time.Now().Add(7 * time.Second)
		var jobErr error
		runOne(t, q, func(ctx context.Context, job oncall.Job) error {
			select {
			case <-ctx.Done():
				jobErr = ctx.Err()
			case <-time.After(time.Minute):
			}
			return jobErr
		})
		if !errors.Is(jobErr, context.Canceled) {
			t.Fatalf("job context ended with %v, want cancelled when the lease was taken over", jobErr)
		}
		if q.settleTries != 0 {
			t.Errorf("the worker settled a delivery it no longer held (%d tries, %q)", q.settleTries, q.settled)
		}
	})
}
