// Package view is the digest as people read it, apart from how it is
// computed and posted: the neutral Digest that digest builds, the words
// its renderings share, and its plain-text rendering. bot renders the
// same Digest as Block Kit; view imports neither Slack nor the analysis.
package view

import (
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// Digest is what one digest says. Every text in it that came from
// alerts, traces or the model is redacted; it is not yet escaped for any
// output format.
type Digest struct {
	Name  string    `json:"name"` // the schedule's name, "on demand" for the command
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Zone  string    `json:"zone"` // IANA zone the digest shows times in

	Incidents IncidentStats `json:"incidents"`
	Fleet     FleetStats    `json:"fleet"`
	Copilot   CopilotStats  `json:"copilot"`
	Narrative *Narrative    `json:"narrative,omitempty"`
	// Buckets divide the window for the chart: hours for windows up to
	// two days, longer buckets beyond.
	Buckets []Bucket `json:"buckets"`
	// Quiet is set when no incident was opened, resolved or left open,
	// no failure cluster is new against the previous window, and the
	// trace source, if any, answered.
	Quiet bool `json:"quiet"`
	// Missing says what the digest could not read or left out.
	Missing []string `json:"missing,omitempty"`
}

// IncidentStats describe the incidents of the window.
type IncidentStats struct {
	Opened        int            `json:"opened"`
	Resolved      int            `json:"resolved"`
	StillOpen     int            `json:"still_open"` // open at the end of the window, whenever opened
	TimeToAck     Durations      `json:"time_to_ack"`
	TimeToResolve Durations      `json:"time_to_resolve"`
	Noisiest      []AlertNoise   `json:"noisiest,omitempty"`
	Open          []OpenIncident `json:"open,omitempty"` // the longest-open first, a few
}

// Durations summarise a set of durations.
type Durations struct {
	Count  int           `json:"count"`
	Median time.Duration `json:"median_ns"`
	Max    time.Duration `json:"max_ns"`
}

// AlertNoise is how much one alert name fired in the window.
type AlertNoise struct {
	Name      string `json:"name"`
	Incidents int    `json:"incidents"`
	Fires     int    `json:"fires"`
}

// OpenIncident is an incident still open at the end of the window.
type OpenIncident struct {
	Key      string    `json:"key"`
	Name     string    `json:"name"`
	Severity string    `json:"severity,omitempty"`
	OpenedAt time.Time `json:"opened_at"`
	Acked    bool      `json:"acked"`
}

// FleetStats describe the agent runs of the window against the previous
// window of the same length.
type FleetStats struct {
	Runs        int `json:"runs"`
	Failing     int `json:"failing"`
	PrevRuns    int `json:"prev_runs"`
	PrevFailing int `json:"prev_failing"`
	// Clusters are the top failure clusters of the window, ranked by
	// change against the previous window; New marks those absent from it.
	Clusters    []oncall.Cluster `json:"clusters"`
	NewClusters int              `json:"new_clusters"` // among all failure clusters, not only the top ones
	Agents      []AgentRate      `json:"agents"`       // highest failure rate first
}

// Trend is how an agent's failure rate moved against the previous window.
type Trend string

// Trends.
const (
	TrendNew    Trend = "new" // no runs in the previous window
	TrendUp     Trend = "up"
	TrendDown   Trend = "down"
	TrendSteady Trend = "steady"
)

// AgentRate is one agent's failure rate in the window and the previous one.
type AgentRate struct {
	Agent       string  `json:"agent"`
	Runs        int     `json:"runs"`
	Failing     int     `json:"failing"`
	Rate        float64 `json:"rate"`
	PrevRuns    int     `json:"prev_runs"`
	PrevFailing int     `json:"prev_failing"`
	PrevRate    float64 `json:"prev_rate"`
	Trend       Trend   `json:"trend"`
}

// CopilotStats are the copilot's own costs and how people rated it.
type CopilotStats struct {
	Triages   int          `json:"triages"` // incidents triaged in the window
	Usage     oncall.Usage `json:"usage"`   // model usage of those triages
	Helpful   int          `json:"helpful"`
	Unhelpful int          `json:"unhelpful"`
}

// Narrative is the model's short reading of the digest.
type Narrative struct {
	Text  string       `json:"text"`
	Model string       `json:"model,omitempty"`
	Usage oncall.Usage `json:"usage"`
}

// Bucket is one slice of the window, for the chart.
type Bucket struct {
	Start   time.Time `json:"start"`
	Runs    int       `json:"runs"`
	Failing int       `json:"failing"`
	Opened  int       `json:"incidents_opened"`
}
