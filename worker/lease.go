package worker

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/retry"
)

// settleBackoff paces the attempts to settle a job while the queue is
// unreachable.
var settleBackoff = retry.Policy{Initial: 200 * time.Millisecond, Max: 2 * time.Second}

// settle runs op until it lands, or the queue says the delivery is no
// longer ours, or the lease lapses at until: from then on the queue may
// hand the job to another consumer, which settles it in turn. A job is
// thus never dropped because the queue was briefly unreachable.
func (p *Pool) settle(until time.Time, log *slog.Logger, op string, fn func(context.Context) error) {
	for n := 0; ; n++ {
		ctx, cancel := context.WithDeadline(context.Background(), until)
		err := fn(ctx)
		cancel()
		switch {
		case err == nil:
			if n > 0 {
				log.Info("settled job after the queue came back", "op", op, "tries", n+1)
			}
			return
		case errors.Is(err, oncall.ErrNotFound):
			log.Warn("job was settled or taken over already", "op", op, "err", err)
			return
		}
		wait := retry.Backoff(settleBackoff, n)
		if time.Now().Add(wait).After(until) {
			log.Error("cannot settle job before its lease lapses; another consumer will run it again", "op", op, "tries", n+1, "err", err)
			return
		}
		log.Warn("settling job failed, trying again", "op", op, "tries", n+1, "err", err)
		_ = retry.Sleep(context.Background(), wait)
	}
}

// lease is a running job's hold on its delivery.
type lease struct {
	ctx    context.Context // the job's; cancelled if the lease is lost
	cancel context.CancelFunc
	quit   chan struct{}
	done   chan struct{}

	mu    sync.Mutex
	until time.Time // when the queue may hand the delivery on
	lost  bool
}

// hold starts renewing d's lease every Heartbeat until stop.
func (p *Pool) hold(ctx context.Context, d oncall.Delivery, log *slog.Logger) *lease {
	l := &lease{quit: make(chan struct{}), done: make(chan struct{}), until: time.Now().Add(p.opts.Lease)}
	l.ctx, l.cancel = context.WithCancel(ctx)
	go func() {
		defer close(l.done)
		tick := time.NewTicker(p.opts.Heartbeat)
		defer tick.Stop()
		for {
			select {
			case <-l.quit:
				return
			case <-tick.C:
			}
			at := time.Now()
			ectx, cancel := context.WithTimeout(context.Background(), p.opts.Heartbeat)
			err := p.opts.Queue.Extend(ectx, d)
			cancel()
			switch {
			case err == nil:
				l.mu.Lock()
				l.until = at.Add(p.opts.Lease)
				l.mu.Unlock()
			case errors.Is(err, oncall.ErrNotFound):
				l.mu.Lock()
				l.lost = true
				l.mu.Unlock()
				l.cancel()
				log.Warn("job lease taken over; stopping the job", "err", err)
				return
			default:
				log.Warn("renewing job lease failed", "err", err)
			}
		}
	}()
	return l
}

// stop ends the renewals and reports when the lease lapses and whether
// it was lost.
func (l *lease) stop() (until time.Time, lost bool) {
	close(l.quit)
	<-l.done
	l.cancel()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.until, l.lost
}
