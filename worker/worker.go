// Package worker runs queued jobs: a pool of consumers that dequeue, call
// a handler, and ack, retry with backoff, or dead-letter each job. A panic
// in one job is recovered and counted as a failed attempt; on shutdown,
// in-flight jobs get a deadline to finish and are handed back otherwise.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/retry"
)

// Queue is what the pool needs of a job queue.
type Queue interface {
	Dequeue(ctx context.Context, consumer string, wait time.Duration) (*oncall.Delivery, error)
	Ack(ctx context.Context, d oncall.Delivery) error
	Retry(ctx context.Context, d oncall.Delivery, delay time.Duration, cause string) error
	DeadLetter(ctx context.Context, d oncall.Delivery, cause string) error
}

// HandlerFunc processes one job. An error marked retry.Permanent sends the
// job to the dead letters at once; any other error retries it.
type HandlerFunc func(ctx context.Context, job oncall.Job) error

// Observer is told what happened to each job; metrics implement it.
type Observer interface {
	JobDone(kind oncall.JobKind, outcome string, d time.Duration)
}

type nopObserver struct{}

func (nopObserver) JobDone(oncall.JobKind, string, time.Duration) {}

// Options configure a Pool.
type Options struct {
	Queue       Queue       // required
	Handler     HandlerFunc // required
	Workers     int         // default 4
	Name        string      // consumer name prefix, unique per process; default "worker"
	MaxAttempts int         // deliveries before a job is dead-lettered; default 8
	Backoff     retry.Policy
	PollWait    time.Duration // how long one Dequeue waits; default 2s
	JobTimeout  time.Duration // default 10m
	// Drain is how long in-flight jobs may run on after shutdown begins
	// before they are cancelled and handed back; default 15s.
	Drain    time.Duration
	Logger   *slog.Logger
	Observer Observer
}

// Pool runs jobs from a queue.
type Pool struct {
	opts Options
	log  *slog.Logger
}

// New checks opts and returns a pool.
func New(opts Options) (*Pool, error) {
	if opts.Queue == nil || opts.Handler == nil {
		return nil, errors.New("worker: a queue and a handler are required")
	}
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.Name == "" {
		opts.Name = "worker"
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 8
	}
	if opts.Backoff.Initial <= 0 {
		opts.Backoff = retry.Policy{Initial: 2 * time.Second, Max: 5 * time.Minute}
	}
	if opts.PollWait <= 0 {
		opts.PollWait = 2 * time.Second
	}
	if opts.JobTimeout <= 0 {
		opts.JobTimeout = 10 * time.Minute
	}
	if opts.Drain <= 0 {
		opts.Drain = 15 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Observer == nil {
		opts.Observer = nopObserver{}
	}
	return &Pool{opts: opts, log: opts.Logger.With("component", "worker")}, nil
}

// Run consumes jobs until ctx is done, then lets in-flight jobs finish
// within the drain deadline. It returns nil on a clean shutdown.
func (p *Pool) Run(ctx context.Context) error {
	// Jobs run under their own context, cancelled only when the drain
	// deadline passes after shutdown began.
	jobCtx, cancelJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelJobs()
	go func() {
		<-ctx.Done()
		t := time.NewTimer(p.opts.Drain)
		defer t.Stop()
		select {
		case <-t.C:
			cancelJobs()
		case <-jobCtx.Done():
		}
	}()
	var wg sync.WaitGroup
	for i := 0; i < p.opts.Workers; i++ {
		wg.Add(1)
		consumer := p.opts.Name + "-" + strconv.Itoa(i)
		go func() {
			defer wg.Done()
			p.consume(ctx, jobCtx, consumer)
		}()
	}
	wg.Wait()
	return nil
}

func (p *Pool) consume(ctx, jobCtx context.Context, consumer string) {
	failures := 0
	for ctx.Err() == nil {
		d, err := p.opts.Queue.Dequeue(ctx, consumer, p.opts.PollWait)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			p.log.Warn("dequeue failed", "consumer", consumer, "err", err)
			_ = retry.Sleep(ctx, retry.Backoff(retry.Policy{Initial: 200 * time.Millisecond, Max: 10 * time.Second}, min(failures, 10)))
			continue
		}
		failures = 0
		if d == nil {
			continue
		}
		p.process(jobCtx, *d)
	}
}

// process runs one delivery and settles it with the queue.
func (p *Pool) process(ctx context.Context, d oncall.Delivery) {
	job := d.Job
	log := p.log.With("job", job.ID, "kind", job.Kind, "attempt", job.Attempts+1)
	start := time.Now()
	err := p.call(ctx, job)
	settle, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	switch {
	case err == nil:
		if aerr := p.opts.Queue.Ack(settle, d); aerr != nil {
			log.Error("ack failed", "err", aerr)
		}
		p.opts.Observer.JobDone(job.Kind, "done", time.Since(start))
		log.Info("job done", "took", time.Since(start).Round(time.Millisecond))
	case ctx.Err() != nil:
		// Shutting down: hand the job back untouched for another consumer.
		if rerr := p.opts.Queue.Retry(settle, d, 0, "interrupted by shutdown"); rerr != nil {
			log.Error("hand back failed", "err", rerr)
		}
		p.opts.Observer.JobDone(job.Kind, "handed_back", time.Since(start))
		log.Warn("job handed back on shutdown")
	case retry.IsPermanent(err) || job.Attempts+1 >= p.opts.MaxAttempts:
		if derr := p.opts.Queue.DeadLetter(settle, d, err.Error()); derr != nil {
			log.Error("dead-letter failed", "err", derr)
		}
		p.opts.Observer.JobDone(job.Kind, "dead", time.Since(start))
		log.Error("job dead-lettered", "err", err)
	default:
		delay := retry.Backoff(p.opts.Backoff, job.Attempts)
		if rerr := p.opts.Queue.Retry(settle, d, delay, err.Error()); rerr != nil {
			log.Error("retry failed", "err", rerr)
		}
		p.opts.Observer.JobDone(job.Kind, "retry", time.Since(start))
		log.Warn("job failed, will retry", "err", err, "in", delay.Round(time.Millisecond))
	}
}

// call runs the handler with a timeout, turning a panic into an error.
func (p *Pool) call(ctx context.Context, job oncall.Job) (err error) {
	ctx, cancel := context.WithTimeout(ctx, p.opts.JobTimeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			p.log.Error("job panicked", "job", job.ID, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return p.opts.Handler(ctx, job)
}
