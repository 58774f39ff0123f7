package oncall

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Cluster is one failure signature and the spans that share it across runs,
// with its counts in the incident window and the baseline window.
type Cluster struct {
	Signature     string    `json:"signature"`
	Kind          string    `json:"kind"` // error, latency, loop, cost, empty_output, guardrail, max_iterations
	SpanKind      SpanKind  `json:"span_kind"`
	SpanName      string    `json:"span_name"`
	ToolName      string    `json:"tool_name,omitempty"`
	Error         string    `json:"error"` // normalised error text or finding
	Count         int       `json:"count"` // traces with it in the incident window
	BaselineCount int       `json:"baseline_count"`
	Rate          float64   `json:"rate"`          // share of incident-window traces
	BaselineRate  float64   `json:"baseline_rate"` // share of baseline-window traces
	Score         float64   `json:"score"`         // ranking score: change against baseline
	New           bool      `json:"new"`           // absent from the baseline
	TraceIDs      []string  `json:"trace_ids"`     // examples, incident window
	SpanIDs       []string  `json:"span_ids"`      // the origin spans of TraceIDs, same order
	FirstSeen     time.Time `json:"first_seen,omitzero"`
	Detail        string    `json:"detail,omitempty"` // e.g. "p95 4.1s vs 0.8s"
}

// Suspect is an attribute value over-represented in failing traces.
type Suspect struct {
	Attribute     string `json:"attribute"`
	Value         string `json:"value"`
	FailingCount  int    `json:"failing_count"`
	FailingTotal  int    `json:"failing_total"`
	HealthyCount  int    `json:"healthy_count"`
	HealthyTotal  int    `json:"healthy_total"`
	BaselineValue string `json:"baseline_value,omitempty"` // the value healthy traces mostly had
}

// Report is the deterministic analysis of an alert's traces.
type Report struct {
	Alert         Alert     `json:"alert"`
	AlertKind     AlertKind `json:"alert_kind"`
	AlertKindFrom string    `json:"alert_kind_from,omitempty"` // what said the kind: "the alert's query", "what changed in the traces"
	WindowStart   time.Time `json:"window_start"`
	WindowEnd     time.Time `json:"window_end"`
	BaselineStart time.Time `json:"baseline_start"`
	// Onset is when the top cluster's rate changed, read from the traces;
	// zero when the traces do not show it. Traces before it are compared
	// as the baseline.
	Onset time.Time `json:"onset,omitzero"`
	// Selection says how the traces were chosen from the store.
	Selection         *Selection    `json:"selection,omitempty"`
	TracesExamined    int           `json:"traces_examined"`
	BaselineTraces    int           `json:"baseline_traces"`
	FailingTraces     int           `json:"failing_traces"`
	FailuresPerMinute float64       `json:"failures_per_minute"`
	Clusters          []Cluster     `json:"clusters"`
	Suspects          []Suspect     `json:"suspects,omitempty"`
	HealthyExample    string        `json:"healthy_example,omitempty"` // a trace id for contrast
	Missing           []string      `json:"missing,omitempty"`         // what could not be read, and what caps left out
	Diagnosis         *Diagnosis    `json:"diagnosis,omitempty"`
	Usage             Usage         `json:"usage"`
	Duration          time.Duration `json:"duration_ns"`
	EvidenceCut       []string      `json:"evidence_cut,omitempty"` // what the token budget left out of the prompt
	// Investigation is what the triage saw, for the incident page. It
	// is stored apart from the incident, so it is never part of the
	// report's JSON.
	Investigation *Investigation `json:"-"`
}

// Selection is how a triage chose its traces: which alert labels it
// correlated with which trace attributes, which it could not use, and how
// many traces each window held before and after.
type Selection struct {
	Filters []LabelMatch `json:"filters"`          // labels used: every selected trace carries each
	Unused  []LabelMatch `json:"unused,omitempty"` // labels no selected trace carries; not used
	// Store counts the traces the store returned for both windows before
	// any label was applied; Incident and Baseline those selected.
	Store    int `json:"store_traces"`
	Incident int `json:"incident_traces"`
	Baseline int `json:"baseline_traces"`
}

// Describe says in one sentence how the traces were selected, for a
// person to tell a wrong correlation at a glance.
func (s *Selection) Describe() string {
	if s == nil {
		return ""
	}
	var b strings.Builder
	if len(s.Filters) == 0 {
		b.WriteString("No alert label matched a trace attribute: all traces of the windows were read")
	} else {
		b.WriteString("Traces selected by ")
		for i, m := range s.Filters {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(m.Label + "=" + m.Value)
			if len(m.Attributes) > 0 {
				b.WriteString(" (" + strings.Join(m.Attributes, ", ") + ")")
			}
		}
	}
	fmt.Fprintf(&b, ": %d of the store's %d in the windows, %d incident and %d baseline", s.Incident+s.Baseline, s.Store, s.Incident, s.Baseline)
	for _, m := range s.Unused {
		if m.Traces == 0 {
			fmt.Fprintf(&b, "; no trace carries %s=%s, so it was not used", m.Label, m.Value)
		} else {
			fmt.Fprintf(&b, "; %s=%s was not used: its %d traces share none with the labels above", m.Label, m.Value, m.Traces)
		}
	}
	return b.String()
}

// LabelMatch is one alert label and the trace attributes that carry its
// value.
type LabelMatch struct {
	Label      string   `json:"label"`
	Value      string   `json:"value"`
	Attributes []string `json:"attributes,omitempty"` // e.g. deployment.environment.name
	Traces     int      `json:"traces"`               // traces of both windows that carry it
	Mapped     string   `json:"mapped,omitempty"`     // the attribute label_map names for it
}

// OnsetText says when the incident started against when the alert fired:
// "started 06:41 UTC, 4 min before the alert fired"; empty without an
// onset.
func (r Report) OnsetText() string {
	if r.Onset.IsZero() {
		return ""
	}
	s := "started " + r.Onset.UTC().Format("15:04") + " UTC"
	fired := r.Alert.StartsAt
	if fired.IsZero() {
		return s
	}
	d := fired.Sub(r.Onset)
	rel := "before"
	if d < 0 {
		d, rel = -d, "after"
	}
	if m := int(d.Round(time.Minute) / time.Minute); m > 0 {
		return fmt.Sprintf("%s, %d min %s the alert fired", s, m, rel)
	}
	return s + ", when the alert fired"
}

// Confidence is how sure a diagnosis is of a cause.
type Confidence string

// Confidence levels.
const (
	ConfidenceHigh   Confidence = "high"
	ConfidenceMedium Confidence = "medium"
	ConfidenceLow    Confidence = "low"
)

// Evidence points at a trace, and optionally a span in it.
type Evidence struct {
	TraceID string `json:"trace_id"`
	SpanID  string `json:"span_id,omitempty"`
	Note    string `json:"note,omitempty"`
}

// Cause is one probable cause of an incident.
type Cause struct {
	Title      string     `json:"title"`
	Detail     string     `json:"detail,omitempty"`
	Confidence Confidence `json:"confidence"`
	Evidence   []Evidence `json:"evidence"`
}

// Fix is one suggested change. Type is prompt, tool, harness,
// model_provider or config_infra.
type Fix struct {
	Type   string `json:"type"`
	Change string `json:"change"`
	Where  string `json:"where,omitempty"`
}

// Diagnosis is the model's grounded reading of a report, or the
// deterministic one when no model answered.
type Diagnosis struct {
	Summary   string   `json:"summary"`
	Causes    []Cause  `json:"causes"`
	Fixes     []Fix    `json:"fixes"`
	NextSteps []string `json:"next_steps"`
	Model     string   `json:"model,omitempty"` // empty for the deterministic diagnosis
	// Offline says why no model diagnosed: "no model configured",
	// "model unavailable: ...". Empty when the model answered.
	Offline string `json:"offline,omitempty"`
	Dropped int    `json:"dropped_citations,omitempty"` // citations of unknown ids removed
}

// Usage is what the model calls of a triage or answer cost.
type Usage struct {
	PromptTokens     int     `json:"prompt_tokens"`
	CompletionTokens int     `json:"completion_tokens"`
	Cost             float64 `json:"cost_usd"`
	Calls            int     `json:"calls"`
}

// Add sums two usages.
func (u Usage) Add(o Usage) Usage {
	return Usage{
		PromptTokens:     u.PromptTokens + o.PromptTokens,
		CompletionTokens: u.CompletionTokens + o.CompletionTokens,
		Cost:             u.Cost + o.Cost,
		Calls:            u.Calls + o.Calls,
	}
}

// TriageRequest asks for the triage of one alert.
type TriageRequest struct {
	Alert   Alert
	Route   string
	Options TriageOptions
}

// TriageOptions are what a route asks of the triage of its alerts. Jobs
// carry them as JSON in Job.Payload (empty when a route sets nothing), e.g.
//
//	{"trace_source":"phoenix","label_map":{"team":"team.name"},"window_ns":900000000000,"model":false}
type TriageOptions struct {
	// TraceSource names the configured trace source to read instead of
	// the default one.
	TraceSource string `json:"trace_source,omitempty"`
	// LabelMap overrides entries of the configured correlation map from
	// alert labels to trace attributes; an empty value removes an entry.
	LabelMap map[string]string `json:"label_map,omitempty"`
	// Window and Baseline override the incident and baseline windows.
	Window   time.Duration `json:"window_ns,omitempty"`
	Baseline time.Duration `json:"baseline_ns,omitempty"`
	// Model false asks for the deterministic analysis only; absent means
	// the default.
	Model *bool `json:"model,omitempty"`
}

// IsZero reports whether the options ask for nothing beyond the defaults.
func (o TriageOptions) IsZero() bool {
	return o.TraceSource == "" && len(o.LabelMap) == 0 && o.Window == 0 && o.Baseline == 0 && o.Model == nil
}

// Offline reports whether the route asked for no model call.
func (o TriageOptions) Offline() bool { return o.Model != nil && !*o.Model }

// DecodeTriageOptions reads the options a job's Payload carries; an empty
// payload gives the zero options.
func DecodeTriageOptions(payload []byte) (TriageOptions, error) {
	var o TriageOptions
	if len(payload) == 0 {
		return o, nil
	}
	if err := json.Unmarshal(payload, &o); err != nil {
		return o, fmt.Errorf("decode triage options: %w", err)
	}
	return o, nil
}
