package oncall

import "time"

// Investigation is what one triage saw, kept beside its incident for the
// incident page: how the traces were chosen, failing runs over time, and
// the evidence traces themselves. Everything in it is redacted before it
// is stored; trace content stays untrusted text.
type Investigation struct {
	IncidentKey string      `json:"incident_key"`
	TriagedAt   time.Time   `json:"triaged_at"`
	Search      TraceSearch `json:"search"`
	Onset       Onset       `json:"onset"`
	// Traces are the evidence: example runs of the top clusters and the
	// healthy run for contrast, spans capped and excerpts shortened.
	Traces []Trace `json:"traces"`
	// Healthy is the trace id of the healthy run among Traces, if any.
	Healthy string `json:"healthy,omitempty"`
}

// TraceSearch says where and over which windows a triage read its
// traces; which labels selected them is the report's Selection.
type TraceSearch struct {
	Source        string    `json:"source"`
	WindowStart   time.Time `json:"window_start"`
	WindowEnd     time.Time `json:"window_end"`
	BaselineStart time.Time `json:"baseline_start"`
	MaxTraces     int       `json:"max_traces"` // per window
	Read          int       `json:"read"`       // traces read from the source, both windows
	NamedByAlert  int       `json:"named_by_alert,omitempty"`
}

// Onset is failing runs per minute across the baseline and incident
// windows, in total and for the top clusters.
type Onset struct {
	Start    time.Time     `json:"start"` // the first minute
	Step     time.Duration `json:"step_ns"`
	Runs     []int         `json:"runs"`    // runs started per step
	Failing  []int         `json:"failing"` // failing runs started per step
	Clusters []OnsetSeries `json:"clusters,omitempty"`
	// At is when the top cluster was first seen; FiringAt when the
	// alert fired.
	At       time.Time `json:"at,omitzero"`
	FiringAt time.Time `json:"firing_at,omitzero"`
}

// OnsetSeries is one cluster's runs per step.
type OnsetSeries struct {
	Signature string `json:"signature"`
	Counts    []int  `json:"counts"`
}

// ThreadAnswer is one follow-up question asked in an incident's thread
// and the copilot's answer, both redacted.
type ThreadAnswer struct {
	TS       string    `json:"ts,omitempty"` // the question's Slack message
	User     string    `json:"user,omitempty"`
	Question string    `json:"question"`
	Answer   string    `json:"answer"`
	At       time.Time `json:"at"`
}
