// Package redisdb keeps oncall-copilot's job queue, incidents and
// idempotency keys in Redis, so several replicas share one queue and one
// set of incidents.
//
// Jobs live in a Redis Stream read through a consumer group; deliveries
// idle longer than the reclaim timeout are taken over with XAUTOCLAIM;
// delayed retries wait in a sorted set scored by due time and move back
// into the stream when due; dead letters are a second stream. Incidents are
// JSON strings with a sorted set by update time and a hash from Slack
// thread to incident. Once-keys are SET NX PX. Every key starts with
// Options.Prefix.
package redisdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Options configures Open.
type Options struct {
	// URL locates the server: redis://[user:password@]host:port/db or
	// rediss:// for TLS. Required. It never appears in errors or logs.
	URL string
	// Prefix starts every key, so deployments can share a server.
	// Defaults to "oncall:".
	Prefix string
	// Group names the stream consumer group all replicas read through.
	// Defaults to "workers".
	Group string
	// Now is the store's clock; it dates jobs, retry due times and
	// incidents. Defaults to time.Now. Reclaim idle times and once-key
	// TTLs are measured by the server's clock.
	Now func() time.Time
	// Logger receives reclaimed deliveries and dropped corrupt entries.
	// Defaults to discarding.
	Logger *slog.Logger
	// ReclaimIdle is how long a delivery may go unacknowledged before
	// another consumer takes it over. Defaults to 5 minutes.
	ReclaimIdle time.Duration
	// RequirePersistence makes Open fail with ErrNotPersistent when the
	// server says it keeps nothing across a restart. Without it that is
	// an error in the log. A server that refuses to say (CONFIG disabled)
	// is a warning either way.
	RequirePersistence bool
	// EpochCheck is how often Run looks for a server that lost its data.
	// Defaults to 5 seconds.
	EpochCheck time.Duration
	// OnDataLoss, when set, is called each time the store finds the
	// server's data gone.
	OnDataLoss func(at time.Time)
	// PollInterval is the longest a Dequeue blocks in one read before it
	// looks again for due retries and idle deliveries; it also bounds how
	// late Dequeue notices a cancelled context. Defaults to 1 second.
	PollInterval time.Duration
}

func (o *Options) validate() error {
	var errs []error
	if o.URL == "" {
		errs = append(errs, errors.New("url is required"))
	}
	if o.ReclaimIdle < 0 {
		errs = append(errs, fmt.Errorf("reclaim idle %v is negative", o.ReclaimIdle))
	} else if o.ReclaimIdle > 0 && o.ReclaimIdle < time.Millisecond {
		errs = append(errs, fmt.Errorf("reclaim idle %v is below Redis's millisecond resolution", o.ReclaimIdle))
	}
	if o.EpochCheck < 0 {
		errs = append(errs, fmt.Errorf("epoch check %v is negative", o.EpochCheck))
	}
	if o.PollInterval < 0 {
		errs = append(errs, fmt.Errorf("poll interval %v is negative", o.PollInterval))
	}
	return errors.Join(errs...)
}

// keys are the Redis keys of one store.
type keys struct {
	prefix   string // of every key
	jobs     string // stream of ready and in-flight jobs
	delayed  string // sorted set: job JSON scored by due time (ms)
	dead     string // stream of dead letters
	incident string // prefix of incident keys
	updated  string // sorted set: incident key scored by UpdatedAt (ms)
	threads  string // hash: channel \x00 thread ts → incident key
	once     string // prefix of once-keys
	burst    string // prefix of sliding windows (sorted sets) and their bursts
}

func keysFor(prefix string) keys {
	return keys{
		prefix:   prefix,
		jobs:     prefix + "jobs",
		delayed:  prefix + "jobs:delayed",
		dead:     prefix + "jobs:dead",
		incident: prefix + "incident:",
		updated:  prefix + "incidents:updated",
		threads:  prefix + "incidents:threads",
		once:     prefix + "once:",
		burst:    prefix + "burst:",
	}
}

// Store is a Redis-backed store. Its methods are safe for concurrent use,
// and any number of Stores in any number of processes may share a prefix.
type Store struct {
	rdb         *redis.Client
	k           keys
	group       string
	now         func() time.Time
	log         *slog.Logger
	reclaimIdle time.Duration
	poll        time.Duration

	claimScript, extendScript, retryScript, deadScript, requeueScript, createScript, burstScript *redis.Script

	epochCheck time.Duration
	onLoss     func(time.Time)

	bufs jobBuffers // encoding buffers of Enqueue and EnqueueOnce

	// checking lets one CheckEpoch at a time compare and rejoin, so
	// the periodic check and a worker that found the stream gone count
	// one loss once.
	checking sync.Mutex
	mu       sync.Mutex
	cursor   string    // where the next XAUTOCLAIM scan of the pending list starts
	epoch    string    // the server's epoch this store joined
	lostAt   time.Time // when the server's data was last found gone
	losses   int       // how often this store found it gone
}

// Open connects to Redis, checks the connection and creates the consumer
// group if it does not exist.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("open redis store: %w", err)
	}
	ropts, err := parseURL(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("open redis store: %w", err)
	}
	ropts.ContextTimeoutEnabled = true
	if opts.Prefix == "" {
		opts.Prefix = "oncall:"
	}
	if opts.Group == "" {
		opts.Group = "workers"
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
	if opts.EpochCheck == 0 {
		opts.EpochCheck = 5 * time.Second
	}
	s := &Store{
		rdb:           redis.NewClient(ropts),
		k:             keysFor(opts.Prefix),
		group:         opts.Group,
		now:           opts.Now,
		log:           opts.Logger.With("component", "store", "backend", "redis"),
		reclaimIdle:   opts.ReclaimIdle,
		poll:          opts.PollInterval,
		claimScript:   redis.NewScript(claimLua),
		extendScript:  redis.NewScript(extendLua),
		retryScript:   redis.NewScript(retryLua),
		deadScript:    redis.NewScript(deadLetterLua),
		requeueScript: redis.NewScript(requeueLua),
		createScript:  redis.NewScript(createIncidentLua),
		burstScript:   redis.NewScript(joinBurstLua),
		cursor:        "0-0",
		epochCheck:    opts.EpochCheck,
		onLoss:        opts.OnDataLoss,
	}
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		s.rdb.Close()
		return nil, fmt.Errorf("open redis store at %s: %w", ropts.Addr, err)
	}
	if err := s.checkPersistence(ctx, opts.RequirePersistence); err != nil {
		s.rdb.Close()
		return nil, fmt.Errorf("open redis store at %s: %w", ropts.Addr, err)
	}
	if err := s.joinEpoch(ctx); err != nil {
		s.rdb.Close()
		return nil, fmt.Errorf("open redis store at %s: %w", ropts.Addr, err)
	}
	if err := s.ensureGroup(ctx); err != nil {
		s.rdb.Close()
		return nil, fmt.Errorf("open redis store at %s: %w", ropts.Addr, err)
	}
	return s, nil
}

// checkPersistence logs what the server keeps across a restart, and
// refuses a server that keeps nothing if required to.
func (s *Store) checkPersistence(ctx context.Context, require bool) error {
	p, err := s.CheckPersistence(ctx)
	if err != nil {
		return err
	}
	switch {
	case !p.Known:
		s.log.Warn("cannot check redis persistence; make sure the server keeps an append-only file or snapshots, "+
			"or a restart loses every queued alert", "why", p.Why)
	case !p.Durable() && require:
		return fmt.Errorf("%w (appendonly no, save \"\"): a restart would lose every queued alert; "+
			"enable appendonly, or unset REDIS_REQUIRE_PERSISTENCE to run anyway", ErrNotPersistent)
	case !p.Durable():
		s.log.Error("REDIS KEEPS NOTHING ACROSS A RESTART (appendonly no, save \"\"): a restart loses every queued alert, " +
			"incident and dedupe key; enable appendonly, or set REDIS_REQUIRE_PERSISTENCE to refuse such a server")
	case !p.AOF:
		s.log.Warn("redis persistence is RDB snapshots only: alerts queued since the last snapshot are lost on a restart", "save", p.Save)
	default:
		s.log.Info("redis persistence", "persistence", p.String())
	}
	return nil
}

// parseURL parses a Redis URL without letting its credentials into the
// error.
func parseURL(raw string) (*redis.Options, error) {
	if _, err := url.Parse(raw); err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("parse redis url: %v", err)
	}
	o, err := redis.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("parse redis url: %w", err)
	}
	return o, nil
}

// ensureGroup creates the consumer group, and the stream with it, reading
// from the start of the stream so jobs added before it existed are kept.
func (s *Store) ensureGroup(ctx context.Context) error {
	err := s.rdb.XGroupCreateMkStream(ctx, s.k.jobs, s.group, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("create consumer group %s: %w", s.group, err)
	}
	return nil
}

// isNoGroup reports whether err says the stream or its group is gone,
// as after someone deleted the stream key.
func isNoGroup(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "NOGROUP") || strings.Contains(err.Error(), "no such key"))
}

// Ping checks the connection.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("ping redis: %w", err)
	}
	return nil
}

// Close closes the connections.
func (s *Store) Close() error {
	if err := s.rdb.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
		return fmt.Errorf("close redis store: %w", err)
	}
	return nil
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// ms is t as a sorted-set score.
func ms(t time.Time) float64 { return float64(t.UnixMilli()) }
