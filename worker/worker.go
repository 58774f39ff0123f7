// Package worker runs queued jobs: a pool of consumers that dequeue, call
// a handler, and ack, retry with backoff, or dead-letter each job. A panic
// in one job is recovered and counted as a failed attempt; on shutdown,
// in-flight jobs get a deadline to finish and are handed back otherwise.
//
// A delivery is a lease: while its handler runs, the worker renews it
// every Heartbeat, so the queue hands it to another consumer only when it
// has not been renewed for Lease (its process died or lost the queue).
// Settling a job (ack, retry, dead letter) is retried until it lands or
// the lease lapses, after which the job is another consumer's to run.
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
	// Extend renews d's lease; oncall.ErrNotFound means another consumer
	// took d over or it is settled.
	Extend(ctx context.Context, d oncall.Delivery) error
	// Ack, Retry and DeadLetter return oncall.ErrNotFound (Ack may
	// return nil) when d is no longer held.
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
	// Lease is how long the queue keeps a delivery for its consumer
	// without a renewal before another consumer may take it over: the
	// queue's reclaim timeout. Default 20s.
	Lease time.Duration
	// Heartbeat is how often a running job's lease is renewed; default
	// a quarter of Lease, so three renewals in a row may fail.
	Heartbeat time.Duration
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
	if opts.Lease <= 0 {
		opts.Lease = 20 * time.Second
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = opts.Lease / 4
	}
	if opts.Heartbeat >= opts.Lease {
		return nil, fmt.Errorf("worker: heartbeat %v must be shorter than the lease %v", opts.Heartbeat, opts.Lease)
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

// process runs one delivery under its lease and settles it with the
// queue.
func (p *Pool) process(ctx context.Context, d oncall.Delivery) {
	job := d.Job
	log := p.log.With("job", job.ID, "kind", job.Kind, "attempt", job.Attempts+1)
	start := time.Now()
	l := p.hold(ctx, d, log)
	err := p.call(l.ctx, job)
	until, lost := l.stop()
	if lost {
		// Another consumer runs the job now; settling it here would
		// undo that consumer's delivery.
		p.opts.Observer.JobDone(job.Kind, "lease_lost", time.Since(start))
		log.Warn("job lease lost to another consumer; leaving the job to it", "err", err)
		return
	}
	switch {
	case err == nil:
		p.settle(until, log, "ack", func(sctx context.Context) error { return p.opts.Queue.Ack(sctx, d) })
		p.opts.Observer.JobDone(job.Kind, "done", time.Since(start))
		log.Info("job done", "took", time.Since(start).Round(time.Millisecond))
	case ctx.Err() != nil:
		// Shutting down: hand the job back untouched for another consumer.
		p.settle(until, log, "hand back", func(sctx context.Context) error {
			return p.opts.Queue.Retry(sctx, d, 0, "interrupted by shutdown")
		})
		p.opts.Observer.JobDone(job.Kind, "handed_back", time.Since(start))
		log.Warn("job handed back on shutdown")
	case retry.IsPermanent(err) || job.Attempts+1 >= p.opts.MaxAttempts:
		p.settle(until, log, "dead-letter", func(sctx context.Context) error {
			return p.opts.Queue.DeadLetter(sctx, d, err.Error())
		})
		p.opts.Observer.JobDone(job.Kind, "dead", time.Since(start))
		log.Error("job dead-lettered", "err", err)
	default:
		delay := retry.Backoff(p.opts.Backoff, job.Attempts)
		p.settle(until, log, "retry", func(sctx context.Context) error {
			return p.opts.Queue.Retry(sctx, d, delay, err.Error())
		})
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
