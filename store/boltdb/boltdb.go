// Package boltdb keeps oncall-copilot's job queue, incidents and
// idempotency keys in a single bbolt file: the embedded default store for
// one process. Every change is one bbolt transaction, so a restart loses no
// queued job and no incident.
//
// bbolt locks its file, so only one process may open a store; within that
// process a Store is safe for concurrent use by many goroutines.
package boltdb

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Options configures Open.
type Options struct {
	// Path is the database file, created if missing. Required.
	Path string
	// Now is the store's clock; it dates jobs, retries, deliveries,
	// incidents and once-keys. Defaults to time.Now.
	Now func() time.Time
	// Logger receives reclaimed deliveries and dropped corrupt records.
	// Defaults to discarding.
	Logger *slog.Logger
	// ReclaimIdle is how long a delivery may go unacknowledged before it is
	// handed to another consumer. Defaults to 5 minutes.
	ReclaimIdle time.Duration
	// PollInterval is how often a waiting Dequeue looks again for retries
	// that fell due and deliveries to reclaim. Defaults to 1 second.
	PollInterval time.Duration
	// LockTimeout is how long Open waits for another process to release
	// the file. Defaults to 5 seconds.
	LockTimeout time.Duration
}

func (o *Options) validate() error {
	var errs []error
	if o.Path == "" {
		errs = append(errs, errors.New("path is required"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"reclaim idle", o.ReclaimIdle}, {"poll interval", o.PollInterval}, {"lock timeout", o.LockTimeout}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s %v is negative", d.name, d.v))
		}
	}
	return errors.Join(errs...)
}

// Store is a bbolt-backed store. Its methods are safe for concurrent use.
type Store struct {
	db          *bolt.DB
	now         func() time.Time
	log         *slog.Logger
	reclaimIdle time.Duration
	poll        time.Duration

	mu     sync.Mutex
	wake   chan struct{} // closed and replaced whenever a job becomes ready
	closed chan struct{}
	close  sync.Once
}

// Bucket names.
const (
	bucketReady        = "jobs_ready"        // seq → job
	bucketDelayed      = "jobs_delayed"      // due time + seq → job
	bucketInFlight     = "jobs_inflight"     // seq → delivery record
	bucketDeliveries   = "jobs_delivered_at" // delivered time + seq → nil
	bucketDead         = "jobs_dead"         // seq → job
	bucketIncidents    = "incidents"         // key → incident
	bucketUpdated      = "incidents_updated" // updated time + key → nil
	bucketThreads      = "incident_threads"  // channel \x00 thread ts → key
	bucketOnce         = "once"              // key → expiry time
	bucketOnceExpiry   = "once_expiry"       // expiry time + key → nil
	bucketBursts       = "bursts"            // scope → sliding window (JSON)
	bucketOutbox       = "outbox"            // channel \x00 key → pending Slack message (JSON)
	bucketOutboxLeases = "outbox_leases"     // channel → who sends its outbox, until when (JSON)
)

// Open opens or creates the store file at opts.Path.
func Open(opts Options) (*Store, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("open bolt store: %w", err)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ReclaimIdle == 0 {
		opts.ReclaimIdle = 5 * time.Minute
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = time.Second
	}
	if opts.LockTimeout == 0 {
		opts.LockTimeout = 5 * time.Second
	}
	db, err := bolt.Open(opts.Path, 0o600, &bolt.Options{Timeout: opts.LockTimeout})
	if err != nil {
		return nil, fmt.Errorf("open bolt store %s: %w", opts.Path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range []string{
			bucketReady, bucketDelayed, bucketInFlight, bucketDeliveries, bucketDead,
			bucketIncidents, bucketUpdated, bucketThreads, bucketOnce, bucketOnceExpiry,
			bucketBursts, bucketOutbox, bucketOutboxLeases,
		} {
			if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
				return fmt.Errorf("bucket %s: %w", name, err)
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open bolt store %s: %w", opts.Path, err)
	}
	return &Store{
		db:          db,
		now:         opts.Now,
		log:         opts.Logger.With("component", "store", "backend", "bolt"),
		reclaimIdle: opts.ReclaimIdle,
		poll:        opts.PollInterval,
		wake:        make(chan struct{}),
		closed:      make(chan struct{}),
	}, nil
}

// Ping reports whether the store is open.
func (s *Store) Ping(ctx context.Context) error {
	select {
	case <-s.closed:
		return errClosed
	default:
	}
	return s.db.View(func(*bolt.Tx) error { return nil })
}

// Close releases the file. Waiting Dequeue calls return an error.
func (s *Store) Close() error {
	var err error
	s.close.Do(func() {
		close(s.closed)
		err = s.db.Close()
	})
	return err
}

// errClosed is returned by calls on a closed store.
var errClosed = errors.New("bolt store is closed")

// notify wakes every waiting Dequeue.
func (s *Store) notify() {
	s.mu.Lock()
	close(s.wake)
	s.wake = make(chan struct{})
	s.mu.Unlock()
}

func (s *Store) wakeChan() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wake
}

// timeKey encodes t so that byte order is time order, including times
// outside the range int64 nanoseconds can hold.
func timeKey(t time.Time) []byte {
	var n uint64
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		n = 0
	case t.After(time.Unix(0, math.MaxInt64)):
		n = math.MaxUint64
	default:
		n = uint64(t.UnixNano()) ^ (1 << 63)
	}
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), n)
}

func keyTime(k []byte) time.Time {
	return time.Unix(0, int64(binary.BigEndian.Uint64(k[:8])^(1<<63)))
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), seq) }

func joinKey(a, b []byte) []byte { return append(append(make([]byte, 0, len(a)+len(b)), a...), b...) }

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}
