package incident

import (
	"context"
	"fmt"
	"slices"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// What people do to an incident from Slack. The Slack handlers call
// these and word the outcome; every change of an incident's state is
// made here. at is when the person acted.

// Requeuer queues a re-run of an incident's triage (an alert job) and
// forgets the claim that keeps a re-run asked for twice from running
// twice when queueing fails.
type Requeuer interface {
	Enqueue(ctx context.Context, job oncall.Job) error
	Forget(ctx context.Context, key string) error
}

// rerunClaim is how long a re-run claim keeps a second request out.
const rerunClaim = 2 * time.Minute

// Acknowledge marks the incident acknowledged by user. changed is false
// when it was resolved or acknowledged already; inc says which, and by
// whom.
func (s *Service) Acknowledge(ctx context.Context, key, user string, at time.Time) (inc oncall.Incident, changed bool, err error) {
	inc, err = s.opts.Store.UpdateIncident(ctx, key, func(inc *oncall.Incident) error {
		changed = false
		if inc.Status == oncall.IncidentResolved || !inc.AckedAt.IsZero() {
			return nil
		}
		changed = true
		inc.Status = oncall.IncidentAcknowledged
		inc.AckedAt, inc.AckedBy = at, user
		inc.UpdatedAt = at
		return nil
	})
	if err != nil {
		return inc, false, fmt.Errorf("acknowledge incident %s: %w", key, err)
	}
	return inc, changed, nil
}

// Resolve marks the incident resolved by hand. changed is false when it
// was resolved already.
func (s *Service) Resolve(ctx context.Context, key string, at time.Time) (inc oncall.Incident, changed bool, err error) {
	inc, err = s.opts.Store.UpdateIncident(ctx, key, func(inc *oncall.Incident) error {
		changed = false
		if inc.Status == oncall.IncidentResolved {
			return nil
		}
		changed = true
		inc.Status = oncall.IncidentResolved
		inc.ResolvedAt = at
		inc.UpdatedAt = at
		return nil
	})
	if err != nil {
		return inc, false, fmt.Errorf("resolve incident %s: %w", key, err)
	}
	return inc, changed, nil
}

// Rerun asks for a new triage of the incident: Handle triages an alert
// job only while TriagedAt is zero, so it is cleared, then an alert job
// for the incident's alert group is queued. It declines with
// oncall.ErrIncidentResolved, ErrGroupUnknown, ErrNothingFiring or
// ErrRerunPending.
func (s *Service) Rerun(ctx context.Context, inc oncall.Incident, at time.Time) (oncall.Incident, error) {
	if inc.Status == oncall.IncidentResolved {
		return inc, oncall.ErrIncidentResolved
	}
	alerts := inc.Alerts
	if len(alerts) == 0 {
		alerts = []oncall.Alert{inc.Alert}
	}
	group, ok := groupKey(inc, alerts)
	if !ok {
		return inc, oncall.ErrGroupUnknown
	}
	firing := false
	for _, al := range alerts {
		if !al.Resolved() {
			firing = true
		}
	}
	if !firing {
		return inc, oncall.ErrNothingFiring
	}
	if s.opts.Requeue == nil {
		return inc, fmt.Errorf("re-run triage of %s: no queue configured", inc.Key)
	}
	key := inc.Key
	onceKey := "slack:rerun:" + key
	first, err := s.opts.Store.Once(ctx, onceKey, rerunClaim)
	if err != nil {
		return inc, fmt.Errorf("claim re-run of %s: %w", key, err)
	}
	if !first {
		return inc, oncall.ErrRerunPending
	}
	inc, err = s.opts.Store.UpdateIncident(ctx, key, func(inc *oncall.Incident) error {
		inc.TriagedAt = time.Time{}
		inc.UpdatedAt = at
		return nil
	})
	if err == nil {
		err = s.opts.Requeue.Enqueue(ctx, oncall.Job{
			Kind: oncall.JobAlert, Alerts: alerts, GroupKey: group, Route: inc.Route, Channel: inc.Channel, EnqueuedAt: at,
		})
	}
	if err != nil {
		if ferr := s.opts.Requeue.Forget(context.WithoutCancel(ctx), onceKey); ferr != nil {
			s.log.Error("forget re-run claim", "incident", key, "err", ferr)
		}
		return inc, fmt.Errorf("re-run triage of %s: %w", key, err)
	}
	return inc, nil
}

// groupKey finds the alert group key the incident key was made from.
func groupKey(inc oncall.Incident, alerts []oncall.Alert) (string, bool) {
	for _, al := range append([]oncall.Alert{inc.Alert}, alerts...) {
		if al.GroupKey != "" && oncall.IncidentKey(inc.Route, al.GroupKey) == inc.Key {
			return al.GroupKey, true
		}
	}
	return "", false
}

// RecordFeedback keeps user's verdict on the diagnosis: one per user,
// the latest; changing it clears the reason given with the earlier one.
func (s *Service) RecordFeedback(ctx context.Context, key, user string, helpful bool, at time.Time) (oncall.Incident, error) {
	inc, err := s.opts.Store.UpdateIncident(ctx, key, func(inc *oncall.Incident) error {
		for i := range inc.Feedback {
			if inc.Feedback[i].User == user {
				if inc.Feedback[i].Helpful != helpful {
					inc.Feedback[i].Reason = ""
				}
				inc.Feedback[i].Helpful, inc.Feedback[i].At = helpful, at
				return nil
			}
		}
		inc.Feedback = append(inc.Feedback, oncall.Feedback{User: user, Helpful: helpful, At: at})
		return nil
	})
	if err != nil {
		return inc, fmt.Errorf("record feedback on %s: %w", key, err)
	}
	return inc, nil
}

// RecordReason keeps why user found the diagnosis unhelpful, on their
// latest unhelpful verdict or as one.
func (s *Service) RecordReason(ctx context.Context, key, user, reason string, at time.Time) error {
	_, err := s.opts.Store.UpdateIncident(ctx, key, func(inc *oncall.Incident) error {
		for i := len(inc.Feedback) - 1; i >= 0; i-- {
			if inc.Feedback[i].User == user && !inc.Feedback[i].Helpful {
				inc.Feedback[i].Reason = reason
				return nil
			}
		}
		inc.Feedback = append(inc.Feedback, oncall.Feedback{User: user, Helpful: false, Reason: reason, At: at})
		return nil
	})
	if err != nil {
		return fmt.Errorf("record feedback reason on %s: %w", key, err)
	}
	return nil
}

// RecordAnswer keeps a question of the incident's thread and its answer
// (already redacted) for the incident page, at most keep of them, the
// latest. A redelivered question replaces its earlier record.
func (s *Service) RecordAnswer(ctx context.Context, key string, qa oncall.ThreadAnswer, keep int) error {
	_, err := s.opts.Store.UpdateIncident(ctx, key, func(inc *oncall.Incident) error {
		inc.Answers = slices.DeleteFunc(inc.Answers, func(x oncall.ThreadAnswer) bool { return qa.TS != "" && x.TS == qa.TS })
		inc.Answers = append(inc.Answers, qa)
		if n := len(inc.Answers); n > keep {
			inc.Answers = inc.Answers[n-keep:]
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record answer on %s: %w", key, err)
	}
	return nil
}
