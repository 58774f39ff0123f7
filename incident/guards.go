package incident

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/retry"
)

// noteRefire tells the thread that a resolved group fired again, once
// when it starts flapping, and not at every flap after that.
func (s *Service) noteRefire(ctx context.Context, inc oncall.Incident) error {
	var ev oncall.IncidentEvent
	switch {
	case !inc.Flapping:
		ev = oncall.IncidentEvent{Kind: oncall.EventRefired, Fires: inc.Fires}
	case len(inc.FireTimes) == s.opts.FlapThreshold:
		ev = oncall.IncidentEvent{Kind: oncall.EventFlapping, Count: len(inc.FireTimes), Window: s.opts.FlapWindow}
	}
	if ev.Kind != "" {
		if err := s.opts.Publisher.PostEvent(ctx, inc, ev); err != nil {
			return fmt.Errorf("post re-fire note: %w", err)
		}
	}
	if err := s.opts.Publisher.UpdateParent(ctx, inc); err != nil {
		return fmt.Errorf("update parent: %w", err)
	}
	return nil
}

// checkStorm decides once, before a new incident's parent is posted,
// whether it belongs to an alert storm in its channel: more than
// StormThreshold new incidents within a sliding StormWindow. The store
// counts the window and names the storm in one atomic step, so replicas
// agree, and a burst that straddles a clock boundary is one storm.
func (s *Service) checkStorm(ctx context.Context, key string, inc oncall.Incident) (oncall.Incident, error) {
	if inc.StormChecked || s.opts.StormThreshold < 0 {
		return inc, nil
	}
	member := fmt.Sprintf("%s:%d", key, inc.OpenedAt.Unix())
	start, err := s.opts.Store.JoinBurst(ctx, "storm:"+inc.Channel, member, inc.OpenedAt, s.opts.StormWindow, s.opts.StormThreshold)
	if err != nil {
		return inc, fmt.Errorf("storm guard: %w", err)
	}
	storm := ""
	if !start.IsZero() {
		storm = oncall.IncidentKey(inc.Route, fmt.Sprintf("storm:%s:%d", inc.Channel, start.Unix()))
	}
	inc, err = s.opts.Store.UpdateIncident(ctx, key, func(inc *oncall.Incident) error {
		if !inc.StormChecked {
			inc.StormChecked, inc.Storm = true, storm
		}
		return nil
	})
	if err != nil {
		return inc, fmt.Errorf("record storm decision: %w", err)
	}
	return inc, nil
}

// joinStorm lists an incident in its storm's thread instead of opening a
// thread of its own, opening the storm thread first if needed. Incidents
// in a storm are not triaged one by one.
func (s *Service) joinStorm(ctx context.Context, log *slog.Logger, key, job string, inc oncall.Incident) error {
	storm, err := s.stormIncident(ctx, inc, job)
	if err != nil {
		return err
	}
	if err := s.opts.Publisher.PostEvent(ctx, storm, oncall.IncidentEvent{Kind: oncall.EventStormMember, Alert: inc.Alert, Fires: inc.Fires}); err != nil {
		return fmt.Errorf("post to storm thread: %w", err)
	}
	now := s.opts.Now().UTC()
	if _, err := s.opts.Store.UpdateIncident(ctx, key, func(inc *oncall.Incident) error {
		inc.TriagedAt = now
		inc.Headline = "Listed in an alert storm thread; not triaged on its own."
		return nil
	}); err != nil {
		return fmt.Errorf("record storm membership: %w", err)
	}
	// Count the member on the storm's parent message, once per incident.
	first, err := s.opts.Store.Once(ctx, "storm-member:"+storm.Key+":"+key+fmt.Sprint(inc.Fires), 24*s.opts.StormWindow)
	if err != nil {
		return fmt.Errorf("storm count: %w", err)
	}
	if first {
		storm, err = s.opts.Store.UpdateIncident(ctx, storm.Key, func(st *oncall.Incident) error {
			st.Fires++
			st.Alert.Summary = fmt.Sprintf("%d more incidents in this channel within %s; each is listed in the thread.", st.Fires, oncall.FormatDuration(s.opts.StormWindow))
			return nil
		})
		if err != nil {
			return fmt.Errorf("storm count: %w", err)
		}
		if err := s.opts.Publisher.UpdateParent(ctx, storm); err != nil {
			return fmt.Errorf("update storm parent: %w", err)
		}
	}
	log.Info("incident joined an alert storm", "storm", storm.Key)
	return nil
}

// stormIncident returns the storm incident with its thread posted. The
// job holding its lease posts the parent; others are retried shortly.
func (s *Service) stormIncident(ctx context.Context, member oncall.Incident, job string) (oncall.Incident, error) {
	now := s.opts.Now().UTC()
	storm, created, err := s.opts.Store.CreateIncident(ctx, oncall.Incident{
		Key:     member.Storm,
		Status:  oncall.IncidentOpen,
		Route:   member.Route,
		Channel: member.Channel,
		Alert: oncall.Alert{
			Source: "oncall-copilot", Name: "Alert storm", Severity: "warning", Status: oncall.AlertFiring,
			Summary:  "New incidents in this channel are arriving faster than one thread each can be read; they are listed in the thread.",
			StartsAt: now, Labels: map[string]string{"alertname": "Alert storm"},
		},
		OpenedAt:     now,
		StormChecked: true,
		TriagedAt:    now,
		Headline:     "Incidents of this storm are listed in the thread.",
		LeaseOwner:   job,
		LeaseUntil:   now.Add(s.opts.Lease),
	})
	if err != nil {
		return storm, fmt.Errorf("claim storm incident: %w", err)
	}
	if storm.ThreadTS != "" {
		return storm, nil
	}
	if !created {
		var held bool
		if storm, held, err = s.lease(ctx, storm.Key, job, now); err != nil {
			return storm, err
		}
		if storm.ThreadTS != "" {
			return storm, nil
		}
		if !held {
			// Another job is posting the storm thread; try again shortly.
			return storm, fmt.Errorf("storm thread %s not posted yet", member.Storm)
		}
	}
	defer s.release(storm.Key, job)
	ctx, stop := s.keepLease(ctx, storm.Key, job)
	defer stop()
	return s.postParent(ctx, storm.Key, storm)
}

// stormNote tells the storm thread of a member incident what happened
// to it.
func (s *Service) stormNote(ctx context.Context, inc oncall.Incident, ev oncall.IncidentEvent) error {
	storm, err := s.opts.Store.GetIncident(ctx, inc.Storm)
	if err != nil {
		return fmt.Errorf("storm of %s: %w", inc.Key, err)
	}
	if storm.ThreadTS == "" {
		return retry.Permanent(fmt.Errorf("storm %s has no thread", inc.Storm))
	}
	return s.opts.Publisher.PostEvent(ctx, storm, ev)
}

// recent keeps the times at or after since.
func recent(times []time.Time, since time.Time) []time.Time {
	out := times[:0]
	for _, t := range times {
		if !t.Before(since) {
			out = append(out, t)
		}
	}
	return out
}
