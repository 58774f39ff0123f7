package oncall

import (
	"strings"
	"time"
)

// OutboxItem is a Slack message, or an edit of one, waiting in a
// channel's outbox. It names what to send, not its content: the sender
// renders it from the incident's state when its turn comes, so an item
// put again before it is sent is sent once, showing the latest state.
type OutboxItem struct {
	Channel string `json:"channel"` // the Slack channel it goes to
	// Key says what to send, such as "parent:<incident key>"; a channel
	// holds one pending item per key.
	Key string `json:"key"`
	// Priority orders a channel's items: lower goes first.
	Priority int `json:"priority"`
	// Due is when the item may be sent, not before.
	Due time.Time `json:"due"`
	// Version is set by the store each time the item is put, so that a
	// sender removes only what it sent, not a newer put of the same key.
	Version int64 `json:"version"`
}

// SeverityRank orders alert severities as the sources name them, most
// severe first: 0 critical, 1 error/high, 2 warning, 3 info, 4 unknown.
func SeverityRank(severity string) int {
	switch strings.ToLower(strings.TrimSpace(severity)) {
	case "critical", "crit", "p1", "sev1", "page", "emergency", "fatal", "disaster":
		return 0
	case "error", "high", "major", "p2", "sev2":
		return 1
	case "warning", "warn", "medium", "p3", "sev3", "average":
		return 2
	case "info", "low", "minor", "p4", "p5", "sev4", "informational", "information":
		return 3
	}
	return 4
}
