// Package storetest is the contract every oncall-copilot store backend
// satisfies: one suite that the bbolt and Redis backends both run, so the
// queue, incident and idempotency semantics cannot drift apart.
//
// A backend's test calls Run with a function that opens a fresh, empty store
// reading time from a Clock:
//
//	storetest.Run(t, func(t *testing.T) storetest.Store {
//		clock := storetest.NewClock()
//		s, err := boltdb.Open(boltdb.Options{Path: ..., Now: clock.Now})
//		...
//		t.Cleanup(func() { s.Close() })
//		return storetest.WithClock(s, clock)
//	})
package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// Store is the full method set of a store backend. Consumers declare the
// smaller interfaces they need; this one exists so the suite can hold
// either backend. Every method is safe for concurrent use.
type Store interface {
	// Enqueue adds a job at the back of the queue. An empty ID is
	// generated; a zero EnqueuedAt becomes now.
	Enqueue(ctx context.Context, job oncall.Job) error
	// Dequeue waits up to wait for a job and returns (nil, nil) if none
	// came, or ctx's error if ctx ended first. Retries that fell due and
	// deliveries idle longer than the reclaim timeout are delivered too;
	// Job.Attempts counts the job's earlier deliveries.
	Dequeue(ctx context.Context, consumer string, wait time.Duration) (*oncall.Delivery, error)
	// Ack removes a finished job; acking twice does nothing.
	Ack(ctx context.Context, d oncall.Delivery) error
	// Extend renews d's lease, so it is not reclaimed for another reclaim
	// timeout, without counting a delivery. ErrNotFound if d is not in
	// flight or another consumer reclaimed it.
	Extend(ctx context.Context, d oncall.Delivery) error
	// Retry delivers the job again no earlier than delay from now, with
	// Attempts+1 and LastError = cause. ErrNotFound if d is not in flight.
	Retry(ctx context.Context, d oncall.Delivery, delay time.Duration, cause string) error
	// DeadLetter parks the job with Attempts+1 and LastError = cause.
	// ErrNotFound if d is not in flight.
	DeadLetter(ctx context.Context, d oncall.Delivery, cause string) error
	// DeadLetters lists dead jobs, oldest first.
	DeadLetters(ctx context.Context) ([]oncall.Job, error)
	// RequeueDead queues a dead job again with Attempts reset; ErrNotFound
	// if absent.
	RequeueDead(ctx context.Context, jobID string) error
	// DropDead deletes a dead job; ErrNotFound if absent.
	DropDead(ctx context.Context, jobID string) error
	// QueueStats counts jobs; OldestAge is the age of the next job to be
	// delivered.
	QueueStats(ctx context.Context) (oncall.QueueStats, error)

	// GetIncident returns ErrNotFound (wrapped) when absent.
	GetIncident(ctx context.Context, key string) (oncall.Incident, error)
	// CreateIncident stores inc unless its key exists, atomically, and
	// returns (stored, true), or (existing, false). Zero OpenedAt and
	// UpdatedAt become now.
	CreateIncident(ctx context.Context, inc oncall.Incident) (oncall.Incident, bool, error)
	// UpdateIncident is an atomic read-modify-write. fn may run more than
	// once (on write conflicts) and must not call the store; its error
	// aborts the update and is returned as is. UpdatedAt becomes now unless
	// fn set it. ErrNotFound when absent.
	UpdateIncident(ctx context.Context, key string, fn func(*oncall.Incident) error) (oncall.Incident, error)
	// IncidentByThread returns ErrNotFound (wrapped) when no incident has
	// that Slack thread.
	IncidentByThread(ctx context.Context, channel, threadTS string) (oncall.Incident, error)
	// ListIncidents returns incidents updated at or after since, newest
	// first.
	ListIncidents(ctx context.Context, since time.Time) ([]oncall.Incident, error)
	// PutInvestigation stores what the last triage of an incident saw,
	// replacing an earlier one; GetInvestigation returns it, or
	// ErrNotFound (wrapped).
	PutInvestigation(ctx context.Context, key string, inv oncall.Investigation) error
	GetInvestigation(ctx context.Context, key string) (oncall.Investigation, error)

	// Once reports whether this call recorded key: true the first time
	// within ttl, false while an earlier record lives.
	Once(ctx context.Context, key string, ttl time.Duration) (bool, error)
	// Forget removes a once-key; forgetting an absent key does nothing.
	Forget(ctx context.Context, key string) error

	// JoinBurst records member as arriving at in scope and returns the
	// start of scope's current burst when more than limit members arrived
	// within the window ending at at, else the zero time. A burst lasts
	// while members over the limit keep arriving within a window of each
	// other. Atomic; a member recorded again is not counted twice.
	JoinBurst(ctx context.Context, scope, member string, at time.Time, window time.Duration, limit int) (time.Time, error)

	// PutOutbox adds an item to its channel's outbox, or merges it with
	// the pending item of the same key (the earlier Due and the lower
	// Priority win), and returns it as stored with a new Version.
	PutOutbox(ctx context.Context, item oncall.OutboxItem) (oncall.OutboxItem, error)
	// PendingOutbox lists a channel's items by Priority, Due, Key.
	PendingOutbox(ctx context.Context, channel string) ([]oncall.OutboxItem, error)
	// OutboxChannels lists the channels with pending items.
	OutboxChannels(ctx context.Context) ([]string, error)
	// DoneOutbox removes a sent item unless it was put again since (its
	// Version changed), and reports whether it did.
	DoneOutbox(ctx context.Context, item oncall.OutboxItem) (bool, error)
	// LeaseOutbox takes or renews owner's right to send a channel's items
	// for ttl; false while another owner's lease lives.
	LeaseOutbox(ctx context.Context, channel, owner string, ttl time.Duration) (bool, error)
	// ReleaseOutbox gives owner's lease up.
	ReleaseOutbox(ctx context.Context, channel, owner string) error

	Ping(ctx context.Context) error
	Close() error
}

// Clock is a clock the suite moves by hand. It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock stopped at a fixed instant.
func NewClock() *Clock {
	return &Clock{now: time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)}
}

// Now returns the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// WithClock pairs a store with the clock it was opened with, so that Run
// can move the store's time.
func WithClock(s Store, c *Clock) Store { return clocked{Store: s, clock: c} }

type clocked struct {
	Store
	clock *Clock
}

// Run runs the contract suite. open is called once per subtest and must
// return an empty store built on a fresh Clock and wrapped with WithClock;
// it is responsible for closing the store at cleanup. Subtests run in
// parallel.
//
// Backends whose expiry is measured by a server's own clock (Redis idle
// times and key TTLs) see those deadlines pass in real time, so the suite
// both advances the Clock and polls for a few seconds; such backends
// should be opened with a reclaim idle timeout of about a second.
func Run(t *testing.T, open func(t *testing.T) Store) {
	t.Helper()
	cases := []struct {
		name string
		run  func(t *testing.T, s Store, c *Clock)
	}{
		{"enqueue fills in id and time", testEnqueueDefaults},
		{"delivers in order with every field", testOrder},
		{"ack removes the job", testAck},
		{"unacked delivery is reclaimed after idle", testReclaim},
		{"extended delivery is not reclaimed", testExtend},
		{"retry waits for its delay", testRetryDelay},
		{"attempts count retries and reclaims", testAttempts},
		{"dead letters list requeue and drop", testDeadLetters},
		{"stale delivery cannot be retried or dead-lettered", testStaleDelivery},
		{"queue stats", testStats},
		{"concurrent consumers get each job once", testConcurrentDequeue},
		{"waiting dequeue wakes on enqueue", testDequeueWakes},
		{"dequeue honours its context", testDequeueContext},
		{"dequeue rejects an empty consumer", testDequeueConsumer},
		{"missing incident", testMissingIncident},
		{"create incident claims the key once", testCreateIncident},
		{"racing creates make one incident", testCreateRace},
		{"concurrent updates lose nothing", testUpdateRace},
		{"update error aborts", testUpdateAborts},
		{"update stamps updated at", testUpdateStamps},
		{"thread index follows updates", testThreadIndex},
		{"list incidents newest first since", testListIncidents},
		{"investigation round trip", testInvestigation},
		{"once records and forgets", testOnce},
		{"once expires after ttl", testOnceExpiry},
		{"once rejects bad input", testOnceInput},
		{"bursts slide across fixed boundaries", testBurstSlides},
		{"racing members agree on the burst", testBurstRace},
		{"burst rejects bad input", testBurstInput},
		{"outbox orders by priority then due", testOutboxOrder},
		{"outbox merges puts of one key", testOutboxMerge},
		{"racing outbox puts keep one item per key", testOutboxRace},
		{"one owner sends a channel's outbox", testOutboxLease},
		{"ping", testPing},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			c, ok := s.(clocked)
			if !ok {
				t.Fatalf("open returned %T; wrap the store with storetest.WithClock", s)
			}
			tc.run(t, s, c.clock)
		})
	}
}

// eventually calls f until it reports true or limit of real time passes,
// for deadlines that a server measures with its own clock.
func eventually(t *testing.T, limit time.Duration, f func() bool) bool {
	t.Helper()
	stop := time.Now().Add(limit)
	for {
		if f() {
			return true
		}
		if time.Now().After(stop) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// realLimit bounds how long the suite waits for server-side deadlines.
const realLimit = 10 * time.Second

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
