// Package digest builds and schedules the periodic digest of an on-call
// rotation: the incidents of the window (opened, resolved, still open,
// time to acknowledge and resolve, the noisiest alerts), the fleet's top
// failure clusters against the previous window and the agents failing
// most, the copilot's own model spend and feedback, an optional short
// narrative by the model, and a small PNG chart.
//
// A Builder computes a Digest deterministically from stored incidents and
// the traces of the window; RenderText and Chart turn it into plain text
// and PNG, and a Poster (bot) renders and posts it to Slack; a Scheduler
// posts it on cron schedules, once per scheduled fire across all
// replicas. The Digest itself is digest/view's, so that its renderers
// need not import the analysis.
package digest

import (
	"time"

	"github.com/oncall-copilot/oncall-copilot/digest/view"
)

// The digest's types are view's.
type (
	Digest        = view.Digest
	IncidentStats = view.IncidentStats
	Durations     = view.Durations
	AlertNoise    = view.AlertNoise
	OpenIncident  = view.OpenIncident
	FleetStats    = view.FleetStats
	Trend         = view.Trend
	AgentRate     = view.AgentRate
	CopilotStats  = view.CopilotStats
	Narrative     = view.Narrative
	Bucket        = view.Bucket
)

// Trends.
const (
	TrendNew    = view.TrendNew
	TrendUp     = view.TrendUp
	TrendDown   = view.TrendDown
	TrendSteady = view.TrendSteady
)

// Request asks a Builder for the digest of a window.
type Request struct {
	Name       string
	Start, End time.Time
	Location   *time.Location // nil: UTC
}

// RenderText renders the digest as plain text for a terminal or a log
// (view.RenderText).
func RenderText(d Digest) string { return view.RenderText(d) }
