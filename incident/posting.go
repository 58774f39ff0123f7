package incident

// Posting exactly once: the work lease that keeps concurrent deliveries of
// a group from posting twice, and the markers that send a retried job to
// look in Slack before posting again.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/retry"
)

// lease takes the incident's work lease for job, unless another job holds
// it and it has not expired.
func (s *Service) lease(ctx context.Context, key, job string, now time.Time) (oncall.Incident, bool, error) {
	held := false
	inc, err := s.opts.Store.UpdateIncident(ctx, key, func(inc *oncall.Incident) error {
		held = false
		if inc.LeaseOwner != "" && inc.LeaseOwner != job && now.Before(inc.LeaseUntil) {
			return nil
		}
		held = true
		inc.LeaseOwner, inc.LeaseUntil = job, now.Add(s.opts.Lease)
		return nil
	})
	if err != nil {
		return inc, false, fmt.Errorf("lease incident: %w", err)
	}
	return inc, held, nil
}

// errLeaseLost ends a job's work on an incident whose lease another job
// took over after this one failed to renew it.
var errLeaseLost = errors.New("incident lease taken over by another job")

// keepLease renews the incident's lease for job every third of the
// lease while the job works on it, so the lease lives exactly as long as
// the job: a job whose process dies stops renewing, and its lease lapses
// within one lease time instead of blocking the group's next deliveries.
// If another job took the lease over, the returned context is cancelled.
// stop ends the renewals.
func (s *Service) keepLease(ctx context.Context, key, job string) (_ context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(max(s.opts.Lease/3, time.Millisecond))
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			lost := false
			rctx, rcancel := context.WithTimeout(ctx, s.opts.Lease/3)
			_, err := s.opts.Store.UpdateIncident(rctx, key, func(inc *oncall.Incident) error {
				lost = inc.LeaseOwner != job
				if !lost {
					inc.LeaseUntil = s.opts.Now().Add(s.opts.Lease)
				}
				return nil
			})
			rcancel()
			switch {
			case err != nil:
				s.log.Warn("renew incident lease failed", "incident", key, "job", job, "err", err)
			case lost:
				s.log.Warn("incident lease taken over; stopping", "incident", key, "job", job)
				cancel(errLeaseLost)
				return
			}
		}
	}()
	return ctx, func() {
		close(quit)
		<-done
		cancel(nil)
	}
}

// release gives the lease up once the job's work is done or failed; a
// failed job takes it again on its retry.
func (s *Service) release(key, job string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := s.opts.Store.UpdateIncident(ctx, key, func(inc *oncall.Incident) error {
		if inc.LeaseOwner == job {
			inc.LeaseOwner, inc.LeaseUntil = "", time.Time{}
		}
		return nil
	})
	if err != nil {
		s.log.Warn("release lease failed", "incident", key, "err", err)
	}
}

// postingTTL is how long the marker of a parent being posted lives: past
// any retry of the job that set it.
const postingTTL = 7 * 24 * time.Hour

// postParent posts the incident's parent message and records its ts. A
// job can die between the two, so a marker is set just before posting:
// an attempt that finds it set looks the parent up and records it
// instead of posting it again. After the store lost its data, markers
// and threads it knew are gone, so every parent is looked up first, as
// far back as the search goes. A channel that cannot be searched is
// logged and not an error; a second parent is better than none.
func (s *Service) postParent(ctx context.Context, key string, inc oncall.Incident) (oncall.Incident, error) {
	if s.opts.Finder != nil {
		marker := fmt.Sprintf("incident-parent:%s:%d", key, inc.OpenedAt.Unix())
		first, err := s.opts.Store.Once(ctx, marker, postingTTL)
		if err != nil {
			return inc, fmt.Errorf("mark parent posting: %w", err)
		}
		forgot := s.storeForgot()
		if !first || forgot {
			look := inc
			if forgot {
				look.OpenedAt = time.Time{} // the thread may be older than this incident record
			}
			ts, err := s.opts.Finder.FindParent(ctx, look)
			switch {
			case retry.IsPermanent(err):
				s.log.Warn("cannot look for the parent an earlier attempt may have posted; posting it", "incident", key, "err", err)
			case err != nil:
				return inc, fmt.Errorf("look for parent: %w", err)
			case ts != "" && first:
				s.log.Info("thread the store forgot found in Slack; continuing in it", "incident", key, "thread", ts)
				return s.recordParent(ctx, key, "", ts)
			case ts != "":
				s.log.Info("parent posted by an earlier attempt found", "incident", key, "thread", ts)
				return s.recordParent(ctx, key, "", ts)
			}
		}
	}
	channel, ts, err := s.opts.Publisher.PostParent(ctx, inc)
	if err != nil {
		return inc, fmt.Errorf("post parent: %w", err)
	}
	return s.recordParent(ctx, key, channel, ts)
}

// storeForgot reports whether the store lost its data within the
// recovery window.
func (s *Service) storeForgot() bool {
	if s.opts.StoreLostAt == nil {
		return false
	}
	at := s.opts.StoreLostAt()
	return !at.IsZero() && s.opts.Now().Sub(at) < s.opts.RecoveryWindow
}

// recordParent stores the parent's ts, and the id of its channel when
// known, unless a thread is stored already.
func (s *Service) recordParent(ctx context.Context, key, channelID, ts string) (oncall.Incident, error) {
	inc, err := s.opts.Store.UpdateIncident(ctx, key, func(inc *oncall.Incident) error {
		if inc.ThreadTS == "" {
			inc.ThreadTS = ts
			if channelID != "" {
				inc.Channel = channelID
			}
		}
		return nil
	})
	if err != nil {
		return inc, fmt.Errorf("record thread: %w", err)
	}
	return inc, nil
}

// postReport posts the triage report unless an earlier attempt did: as
// with the parent, a marker set just before posting (or a store that
// lost its markers) sends a later attempt to look in the thread first. The triage is run again either
// way, so the incident records a report.
func (s *Service) postReport(ctx context.Context, log *slog.Logger, key string, inc oncall.Incident, rep oncall.Report) error {
	if s.opts.Reports != nil {
		marker := fmt.Sprintf("incident-report:%s:%d:%d", key, inc.OpenedAt.Unix(), inc.Fires)
		first, err := s.opts.Store.Once(ctx, marker, postingTTL)
		if err != nil {
			return fmt.Errorf("mark report posting: %w", err)
		}
		if !first || s.storeForgot() {
			found, err := s.opts.Reports.FindReport(ctx, inc)
			switch {
			case retry.IsPermanent(err):
				log.Warn("cannot look for the report an earlier attempt may have posted; posting it", "err", err)
			case err != nil:
				return fmt.Errorf("look for report: %w", err)
			case found:
				log.Info("report posted by an earlier attempt found")
				return nil
			}
		}
	}
	if err := s.opts.Publisher.PostReport(ctx, inc, rep); err != nil {
		return fmt.Errorf("post report: %w", err)
	}
	return nil
}
