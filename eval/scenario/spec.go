package scenario

import (
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// Category names the cause of a scenario's incident.
type Category string

// Categories of incident causes.
const (
	ToolTimeout        Category = "tool_timeout"
	RateLimit          Category = "llm_rate_limit"
	ContextLength      Category = "context_length_exceeded"
	InvalidToolArgs    Category = "invalid_tool_args"
	MaxIterations      Category = "max_iterations"
	HandoffFailure     Category = "handoff_failure"
	ModelRegression    Category = "model_regression"
	Upstream5xx        Category = "upstream_5xx"
	ExpiredCredentials Category = "expired_credentials"
	LatencySpike       Category = "latency_spike"
	CostBlowup         Category = "cost_blowup"
)

// Spec describes one scenario to generate. Equal specs generate equal
// bytes.
type Spec struct {
	Name     string
	Category Category
	Seed     uint64
	// Flavor picks one way the category's cause shows up (which layer
	// fails, how it is reported); it is taken modulo the category's
	// number of flavors.
	Flavor int
	// Noisy makes one steady background failure more frequent in the
	// incident window than the cause itself.
	Noisy bool
	// Large records one tool output of about 200 KB in full.
	Large bool
}

// Window lengths, relative to the alert's startsAt (T): the incident
// window is [T-30m, T+30m], what a triage run later sees of a firing
// alert, and the baseline window [T-90m, T-30m]. The alert fires 2 to 15
// minutes after the onset, at the first evaluation its rule holds.
const (
	IncidentWindow = 30 * time.Minute
	BaselineWindow = 60 * time.Minute
)

// baseTime anchors every scenario's clock so regenerated files are
// identical.
var baseTime = time.Date(2025, time.June, 2, 0, 0, 0, 0, time.UTC)

// Cause describes the span where a scenario's incident originates. Empty
// fields do not apply (an LLM span has no tool; a latency or cost cause
// has no error).
type Cause struct {
	SpanKind      oncall.SpanKind `json:"span_kind"`
	SpanName      string          `json:"span_name"`
	ToolName      string          `json:"tool_name"`
	ErrorContains string          `json:"error_contains"`
}

// Suspect is an attribute value that changed together with the cause: a
// new prompt version, model, release or pod.
type Suspect struct {
	Attribute string `json:"attribute"`
	Value     string `json:"value"`
	Baseline  string `json:"baseline,omitempty"` // the value healthy runs had
}

// TimeRange is a closed-open interval [Start, End).
type TimeRange struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Contains reports whether t falls in the range.
func (r TimeRange) Contains(t time.Time) bool { return !t.Before(r.Start) && t.Before(r.End) }

// Counts is how many traces show something in each window.
type Counts struct {
	Incident int `json:"incident"`
	Baseline int `json:"baseline"`
}

// Background is a steady failure or finding that is not the cause.
type Background struct {
	Label         string          `json:"label"`
	SpanKind      oncall.SpanKind `json:"span_kind"`
	SpanName      string          `json:"span_name"`
	ToolName      string          `json:"tool_name,omitempty"`
	ErrorContains string          `json:"error_contains,omitempty"`
	Traces        Counts          `json:"traces"`
}

// Expected is the label of a scenario: what a correct triage finds. It is
// written as expected.json.
type Expected struct {
	Category       Category         `json:"category"`
	Cause          Cause            `json:"cause"`
	AlertKind      oncall.AlertKind `json:"alert_kind"`
	PlantedSecrets []string         `json:"planted_secrets"`
	Description    string           `json:"description"`

	Agent          string       `json:"agent"`
	Service        string       `json:"service"`
	Suspect        *Suspect     `json:"suspect,omitempty"`
	Onset          time.Time    `json:"onset"`
	IncidentWindow TimeRange    `json:"incident_window"`
	BaselineWindow TimeRange    `json:"baseline_window"`
	CauseTraces    Counts       `json:"cause_traces"`
	ExampleTraces  []string     `json:"example_trace_ids"`
	Background     []Background `json:"background"`
	Noisy          bool         `json:"noisy"`
	Injection      bool         `json:"prompt_injection"`
	Traces         Counts       `json:"traces"`
	Fleet          Fleet        `json:"fleet"`
}

// Fleet is what else the scenario's trace store holds, and how the alert
// names what the traces carry.
type Fleet struct {
	// Services and Agents are every service and agent that wrote traces.
	Services []string `json:"services"`
	Agents   []string `json:"agents"`
	// EnvironmentKeys are the resource attributes the agents write the
	// environment under (deployment.environment, or the newer
	// deployment.environment.name).
	EnvironmentKeys []string `json:"environment_keys"`
	// AlertLabels maps each alert label that names the alerting agent to
	// the trace attribute carrying its value.
	AlertLabels map[string]string `json:"alert_labels"`
	// AlertDelay is how long after the onset the alert fired.
	AlertDelaySeconds int `json:"alert_delay_seconds"`
	// OtherIncident is another service's own incident in the same window,
	// when it has one.
	OtherIncident *OtherIncident `json:"other_incident,omitempty"`
}

// OtherIncident is a failure of another service in the incident window,
// louder than the scenario's cause; a triage that blames it mixed up
// services.
type OtherIncident struct {
	Service  string    `json:"service"`
	Agent    string    `json:"agent"`
	ToolName string    `json:"tool_name"`
	Onset    time.Time `json:"onset"`
	// Traces are the failing runs, every one.
	Traces []string `json:"trace_ids"`
}
