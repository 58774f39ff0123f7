package incident

import (
	"context"
	"fmt"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// noteRefire tells the thread that a resolved group fired again, once
// when it starts flapping, and not at every flap after that.
func (s *Service) noteRefire(ctx context.Context, inc oncall.Incident) error {
	if _, ok := s.refireEvent(inc); ok {
		if err := s.note(ctx, inc, "refire"); err != nil {
			return err
		}
	}
	return s.updateParent(ctx, inc)
}

// refireEvent is the event of a re-fire; false when it gets none.
func (s *Service) refireEvent(inc oncall.Incident) (oncall.IncidentEvent, bool) {
	switch {
	case !inc.Flapping:
		return oncall.IncidentEvent{Kind: oncall.EventRefired, Fires: inc.Fires}, true
	case len(inc.FireTimes) == s.opts.FlapThreshold:
		return oncall.IncidentEvent{Kind: oncall.EventFlapping, Count: len(inc.FireTimes), Window: s.opts.FlapWindow}, true
	}
	return oncall.IncidentEvent{}, false
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
