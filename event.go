package oncall

import (
	"errors"
	"fmt"
	"time"
)

// EventKind says what happened to an incident.
type EventKind string

// Kinds of IncidentEvent.
const (
	// EventRefired: a resolved incident fired again (Fires is the fire).
	EventRefired EventKind = "refired"
	// EventFlapping: the incident fired Count times within Window and is
	// not re-triaged until it settles.
	EventFlapping EventKind = "flapping"
	// EventResolved: the incident resolved after firing for After.
	EventResolved EventKind = "resolved"
	// EventStormMember: Alert's incident joined the storm thread the
	// event is posted in (Fires is its fire).
	EventStormMember EventKind = "storm_member"
	// EventStormMemberResolved: Alert's incident, listed in the storm
	// thread the event is posted in, resolved after firing for After.
	EventStormMemberResolved EventKind = "storm_member_resolved"
	// EventStormSummary: Members joined the storm thread the event is
	// posted in, the From-th to the To-th of its members (from 1).
	EventStormSummary EventKind = "storm_summary"
)

// IncidentEvent is something that happened to an incident, told in its
// thread (or its storm's). The incident lifecycle publishes events; the
// Slack adapter words them.
type IncidentEvent struct {
	Kind   EventKind
	Fires  int
	Count  int
	Window time.Duration
	After  time.Duration
	// Alert is the storm member's alert (EventStormMember,
	// EventStormMemberResolved).
	Alert Alert
	// From, To and Members are a storm summary's (EventStormSummary).
	From, To int
	Members  []StormMember
}

// FormatDuration renders a duration as people read it: 42m, 3h5m, 2d4h.
func FormatDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		h := int(d.Hours())
		m := int(d.Minutes()) - h*60
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%dm", h, m)
	default:
		days := int(d.Hours()) / 24
		return fmt.Sprintf("%dd%dh", days, int(d.Hours())-days*24)
	}
}

// Why the incident lifecycle declines a request made in Slack. The Slack
// handlers word them for the person who asked.
var (
	// ErrIncidentResolved: the incident is resolved; a re-run waits for
	// its alert to fire again.
	ErrIncidentResolved = errors.New("incident is resolved")
	// ErrGroupUnknown: the incident's alert group, which a re-run
	// queues, is unknown.
	ErrGroupUnknown = errors.New("incident's alert group is unknown")
	// ErrNothingFiring: every alert of the incident has resolved.
	ErrNothingFiring = errors.New("incident's alerts have all resolved")
	// ErrRerunPending: a re-run was asked for moments ago.
	ErrRerunPending = errors.New("a re-run of the triage is already queued")
)
