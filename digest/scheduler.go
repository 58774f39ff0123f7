package digest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// OnceStore records idempotency keys shared by all replicas.
type OnceStore interface {
	// Once reports whether this call recorded key: true the first time
	// within ttl, false while an earlier record lives.
	Once(ctx context.Context, key string, ttl time.Duration) (bool, error)
	// Forget removes key.
	Forget(ctx context.Context, key string) error
}

// Poster renders a digest for its channel and posts it with its chart (a
// PNG, nil for none) and the chart's alternative text.
type Poster interface {
	SendDigest(ctx context.Context, channel string, d Digest, chart []byte, chartAlt string) error
}

// SchedulerOptions configure a Scheduler.
type SchedulerOptions struct {
	Schedules []Schedule // from ParseSchedule, each with a unique Name and a Channel; at least one
	Store     OnceStore  // required
	// Build computes a digest, usually (*Builder).Build. Required.
	Build  func(ctx context.Context, req Request) (Digest, error)
	Poster Poster // required
	// Grace is how late a fire may still be posted, by a replica that
	// was down or busy at fire time, when nobody posted it; 1h when zero.
	Grace time.Duration
	// RetryDelay is how long Run waits before trying again a fire whose
	// digest could not be built, while the grace lasts; 5m when zero.
	RetryDelay time.Duration
	// Now is the wall clock; time.Now when nil. Run's timers run on real
	// time, so tests of Run use testing/synctest; Tick takes its time as
	// an argument.
	Now    func() time.Time
	Logger *slog.Logger
}

// Outcome is what a scheduler did with one fire of a schedule.
type Outcome string

// Outcomes.
const (
	Posted        Outcome = "posted"
	AlreadyPosted Outcome = "already_posted" // another replica, or an earlier run, claimed the fire
	SkippedQuiet  Outcome = "skipped_quiet"
	Failed        Outcome = "failed"
)

// Result is the outcome of one fire.
type Result struct {
	Schedule string
	Fire     time.Time
	Outcome  Outcome
	Err      error // for Failed
}

// Scheduler posts digests on their schedules, exactly once per scheduled
// fire across every replica sharing its store: the first replica to
// record the fire's key (schedule name and local fire time) in the store
// posts, the key is kept beyond the grace period rather than released
// after the run, and a replica that was down at fire time posts within
// the grace period if nobody did. A digest covers the window that ends at
// its fire time, whenever it is posted, so any replica posts the same
// digest.
//
// A fire whose digest could not be built is released for a retry; a fire
// whose posting failed is not, as part of it may have reached Slack.
//
// With the embedded store, which one process holds open, "replicas" are
// schedulers sharing one store in that process. Safe for concurrent use.
type Scheduler struct {
	opts  SchedulerOptions
	log   *slog.Logger
	jobs  []cron.Job
	chain cron.Chain

	mu      sync.Mutex
	handled map[string]time.Time // schedule → the last fire this scheduler is done with
	retry   map[string]time.Time // schedule → when to try a failed fire again
	running sync.WaitGroup
}

// NewScheduler checks opts and returns a Scheduler.
func NewScheduler(opts SchedulerOptions) (*Scheduler, error) {
	var errs []error
	if len(opts.Schedules) == 0 {
		errs = append(errs, errors.New("at least one schedule is required"))
	}
	names := map[string]bool{}
	for i, s := range opts.Schedules {
		switch {
		case s.Name == "":
			errs = append(errs, fmt.Errorf("schedule %d: a name is required", i))
		case names[s.Name]:
			errs = append(errs, fmt.Errorf("schedule %q: the name is used twice", s.Name))
		}
		names[s.Name] = true
		if s.Channel == "" {
			errs = append(errs, fmt.Errorf("schedule %q: a channel is required", s.Name))
		}
		if s.sched == nil {
			errs = append(errs, fmt.Errorf("schedule %q: not built by ParseSchedule", s.Name))
		}
		if s.Window < 0 {
			errs = append(errs, fmt.Errorf("schedule %q: window must not be negative", s.Name))
		}
	}
	if opts.Store == nil {
		errs = append(errs, errors.New("a store is required"))
	}
	if opts.Build == nil {
		errs = append(errs, errors.New("a build function is required"))
	}
	if opts.Poster == nil {
		errs = append(errs, errors.New("a poster is required"))
	}
	if opts.Grace < 0 || opts.RetryDelay < 0 {
		errs = append(errs, errors.New("grace and retry delay must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("digest scheduler: %w", err)
	}
	opts.Grace = cmp.Or(opts.Grace, time.Hour)
	opts.RetryDelay = cmp.Or(opts.RetryDelay, 5*time.Minute)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Scheduler{
		opts:    opts,
		log:     opts.Logger.With("component", "digest"),
		handled: map[string]time.Time{},
		retry:   map[string]time.Time{},
	}
	cl := cronLogger{s.log}
	s.chain = cron.NewChain(cron.Recover(cl), cron.SkipIfStillRunning(cl))
	return s, nil
}

// keyTTL is how long a fire's key is kept: past the grace period, so
// that no replica can post the fire again, with a margin for clocks that
// disagree.
func (s *Scheduler) keyTTL() time.Duration { return s.opts.Grace + 24*time.Hour }

// due returns the fire of sc this scheduler should act on at now: the
// latest within the grace period that it is not done with.
func (s *Scheduler) due(sc Schedule, now time.Time) (time.Time, bool) {
	fire, ok := sc.Latest(now, s.opts.Grace)
	if !ok {
		return time.Time{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if done, ok := s.handled[sc.Name]; ok && !fire.After(done) {
		return time.Time{}, false
	}
	if at, ok := s.retry[sc.Name]; ok && now.Before(at) {
		return time.Time{}, false
	}
	return fire, true
}

// Tick acts on every schedule due at now, one after the other, and
// returns what it did; schedules not due are left out. Tests drive the
// scheduler with it; Run calls the same code on a timer.
func (s *Scheduler) Tick(ctx context.Context, now time.Time) []Result {
	var out []Result
	for _, sc := range s.opts.Schedules {
		if fire, ok := s.due(sc, now); ok {
			out = append(out, s.fire(ctx, sc, fire, now))
		}
	}
	return out
}

// Run posts digests until ctx ends, then waits for the ones in progress.
// It first catches up on fires missed within the grace period, then
// sleeps until the next fire or retry. It keeps its own timer over the
// schedules' cron.Schedule.Next rather than cron.Cron's, so that the
// fire a job acts on is computed from the clock the same way as in Tick,
// which tests drive with an injected clock. Each schedule runs as a cron job
// wrapped in Recover and SkipIfStillRunning: a panic is logged, and a
// fire that comes while the schedule's previous digest is still being
// built or posted is skipped (its key stays free for another replica).
func (s *Scheduler) Run(ctx context.Context) error {
	jobs := make([]cron.Job, len(s.opts.Schedules))
	for i, sc := range s.opts.Schedules {
		jobs[i] = s.chain.Then(cron.FuncJob(func() {
			now := s.opts.Now()
			if fire, ok := s.due(sc, now); ok {
				s.fire(ctx, sc, fire, now)
			}
		}))
	}
	start := func() {
		now := s.opts.Now()
		for i, sc := range s.opts.Schedules {
			if _, ok := s.due(sc, now); ok {
				s.running.Go(jobs[i].Run)
			}
		}
	}
	s.log.Info("digest scheduler started", "schedules", len(s.opts.Schedules), "grace", s.opts.Grace)
	start()
	for {
		wait := s.nextWake(s.opts.Now())
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			s.running.Wait()
			return nil
		case <-timer.C:
		}
		start()
	}
}

// nextWake is how long until the next fire or retry of any schedule.
func (s *Scheduler) nextWake(now time.Time) time.Duration {
	next := now.Add(24 * time.Hour) // look again at least daily
	for _, sc := range s.opts.Schedules {
		if f := sc.Next(now); !f.IsZero() && f.Before(next) {
			next = f
		}
	}
	s.mu.Lock()
	for _, at := range s.retry {
		if at.After(now) && at.Before(next) {
			next = at
		}
	}
	s.mu.Unlock()
	return max(next.Sub(now), time.Millisecond)
}

// fire claims, builds and posts one fire of sc.
func (s *Scheduler) fire(ctx context.Context, sc Schedule, fire, now time.Time) (res Result) {
	res = Result{Schedule: sc.Name, Fire: fire}
	log := s.log.With("digest", sc.Name, "fire", fire.Format(time.RFC3339))
	key := sc.key(fire)
	claimed, posting := false, false
	defer func() {
		if r := recover(); r != nil {
			res.Outcome, res.Err = Failed, fmt.Errorf("digest %s: panic: %v", sc.Name, r)
		}
		if res.Outcome != Failed {
			s.done(sc.Name, fire)
			log.Info("digest fire handled", "outcome", res.Outcome)
			return
		}
		log.Error("digest failed", "err", res.Err, "posting", posting)
		if claimed && !posting {
			s.release(ctx, sc, fire, now, key, log)
		} else if posting {
			s.done(sc.Name, fire)
		} else {
			s.retryLater(sc, fire, now)
		}
	}()

	first, err := s.opts.Store.Once(ctx, key, s.keyTTL())
	if err != nil {
		res.Outcome, res.Err = Failed, fmt.Errorf("claim digest %s at %s: %w", sc.Name, fire.Format(time.RFC3339), err)
		return res
	}
	if !first {
		res.Outcome = AlreadyPosted
		return res
	}
	claimed = true
	start, end := sc.WindowOf(fire)
	d, err := s.opts.Build(ctx, Request{Name: sc.Name, Start: start, End: end, Location: sc.Location()})
	if err != nil {
		res.Outcome, res.Err = Failed, fmt.Errorf("build digest %s: %w", sc.Name, err)
		return res
	}
	if d.Quiet && sc.SkipQuiet {
		res.Outcome = SkippedQuiet
		return res
	}
	chart, err := Chart(d)
	if err != nil {
		log.Warn("digest chart left out", "err", err)
		chart = nil
	}
	posting = true
	if err := s.opts.Poster.SendDigest(ctx, sc.Channel, d, chart, ChartAlt(d)); err != nil {
		res.Outcome, res.Err = Failed, fmt.Errorf("post digest %s to %s: %w", sc.Name, sc.Channel, err)
		return res
	}
	res.Outcome = Posted
	return res
}

func (s *Scheduler) done(name string, fire time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handled[name] = fire
	delete(s.retry, name)
}

// release frees a claimed fire that posted nothing, so this or another
// replica can try again while the grace period lasts.
func (s *Scheduler) release(ctx context.Context, sc Schedule, fire, now time.Time, key string, log *slog.Logger) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.opts.Store.Forget(fctx, key); err != nil {
		log.Error("digest claim not released: the fire will not be retried", "err", err)
		s.done(sc.Name, fire)
		return
	}
	s.retryLater(sc, fire, now)
}

// retryLater schedules another attempt at fire if one fits in the grace
// period, and gives the fire up otherwise.
func (s *Scheduler) retryLater(sc Schedule, fire, now time.Time) {
	at := now.Add(s.opts.RetryDelay)
	if at.After(fire.Add(s.opts.Grace)) {
		s.done(sc.Name, fire)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.retry[sc.Name] = at
}

// cronLogger adapts slog to the logger of robfig's job wrappers.
type cronLogger struct{ l *slog.Logger }

func (c cronLogger) Info(msg string, kv ...any) { c.l.Info("cron: "+msg, kv...) }
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error("cron: "+msg, append(kv, "err", err)...)
}
