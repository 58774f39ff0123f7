// Package langfuse reads traces from Langfuse: the trace and observation
// objects of its public API and of its trace exports
// ({"trace": {...}, "observations": [...]}), mapped onto oncall.Trace.
package langfuse

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/tracesource/semconv"
)

// TraceObject is a Langfuse trace as GET /api/public/traces/{id} and the
// trace export return it. Fields the API may send as null decode as zero
// values.
type TraceObject struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Timestamp   time.Time       `json:"timestamp"`
	Environment string          `json:"environment"`
	Tags        []string        `json:"tags"`
	Release     string          `json:"release"`
	Version     string          `json:"version"`
	UserID      string          `json:"userId"`
	SessionID   string          `json:"sessionId"`
	Input       json.RawMessage `json:"input"`
	Output      json.RawMessage `json:"output"`
	// Metadata is any JSON; OTel-ingested traces hold a JSON string with
	// "attributes", "resourceAttributes" and "scope" objects.
	Metadata json.RawMessage `json:"metadata"`
	// Latency is the trace's duration in seconds.
	Latency float64 `json:"latency"`
	// Observations holds the full observations when the API embeds them;
	// the list endpoint sends only their ids, which are dropped.
	Observations Observations `json:"observations"`
}

// Observation is a Langfuse observation (span, generation, event, agent,
// tool, ...) as the public API and the trace export return it.
type Observation struct {
	ID                  string          `json:"id"`
	TraceID             string          `json:"traceId"`
	ParentObservationID string          `json:"parentObservationId"`
	Type                string          `json:"type"`
	Name                string          `json:"name"`
	StartTime           time.Time       `json:"startTime"`
	EndTime             time.Time       `json:"endTime"`
	CompletionStartTime time.Time       `json:"completionStartTime"`
	Level               string          `json:"level"`
	StatusMessage       string          `json:"statusMessage"`
	Version             string          `json:"version"`
	Environment         string          `json:"environment"`
	Model               string          `json:"model"`
	ProvidedModelName   string          `json:"providedModelName"`
	InternalModel       string          `json:"internalModel"`
	ModelParameters     json.RawMessage `json:"modelParameters"`
	Input               json.RawMessage `json:"input"`
	Output              json.RawMessage `json:"output"`
	Metadata            json.RawMessage `json:"metadata"`
	// UsageDetails and CostDetails are the current usage and cost objects
	// ({"input": 60, "output": 15, "total": 75, ...}).
	UsageDetails Numbers `json:"usageDetails"`
	CostDetails  Numbers `json:"costDetails"`
	// Usage is the legacy usage object ({"input", "output", "total",
	// "unit", "totalCost", ...}).
	Usage Numbers `json:"usage"`
	// The flat usage and cost fields of older and newer API versions.
	PromptTokens        float64 `json:"promptTokens"`
	CompletionTokens    float64 `json:"completionTokens"`
	TotalTokens         float64 `json:"totalTokens"`
	InputUsage          float64 `json:"inputUsage"`
	OutputUsage         float64 `json:"outputUsage"`
	TotalUsage          float64 `json:"totalUsage"`
	CalculatedTotalCost float64 `json:"calculatedTotalCost"`
	TotalCost           float64 `json:"totalCost"`
	PromptName          string  `json:"promptName"`
	PromptVersion       int     `json:"promptVersion"`
}

// Numbers is a JSON object of numbers; entries that are not numbers
// (units, nulls) are dropped instead of failing the decode.
type Numbers map[string]float64

// UnmarshalJSON implements json.Unmarshaler.
func (n *Numbers) UnmarshalJSON(b []byte) error {
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil // not an object: no numbers
	}
	out := make(Numbers, len(raw))
	for k, v := range raw {
		if f, ok := v.(float64); ok {
			out[k] = f
		}
	}
	*n = out
	return nil
}

// Observations is a list of observations that tolerates the ids the list
// endpoint sends in their place.
type Observations []Observation

// UnmarshalJSON implements json.Unmarshaler.
func (o *Observations) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := make(Observations, 0, len(raw))
	for _, r := range raw {
		if r = bytes.TrimSpace(r); len(r) == 0 || r[0] != '{' {
			continue
		}
		var ob Observation
		if err := json.Unmarshal(r, &ob); err != nil {
			return err
		}
		out = append(out, ob)
	}
	*o = out
	return nil
}

// Export is a Langfuse trace export: the trace and its observations.
type Export struct {
	Trace        *TraceObject `json:"trace"`
	Observations Observations `json:"observations"`
}

// ErrNoTrace is returned when an export names no trace.
var ErrNoTrace = errors.New("no trace id")

// DecodeExport decodes a Langfuse trace export ({"trace": ...,
// "observations": [...]}) or a trace object with embedded observations
// into a trace. Observations outside the top-level list are used only when
// it is absent.
func DecodeExport(data []byte) (oncall.Trace, error) {
	var ex Export
	if err := json.Unmarshal(data, &ex); err != nil {
		return oncall.Trace{}, fmt.Errorf("decode langfuse export: %w", err)
	}
	if ex.Trace == nil {
		var t TraceObject
		if err := json.Unmarshal(data, &t); err != nil {
			return oncall.Trace{}, fmt.Errorf("decode langfuse trace: %w", err)
		}
		ex.Trace = &t
	}
	if ex.Trace.ID == "" {
		return oncall.Trace{}, fmt.Errorf("decode langfuse export: %w", ErrNoTrace)
	}
	obs := ex.Observations
	if obs == nil {
		obs = ex.Trace.Observations
	}
	return TraceFromAPI(*ex.Trace, obs), nil
}

// TraceFromAPI maps a Langfuse trace and its observations onto a trace.
//
// The trace itself becomes a root span whose id is the trace id, carrying
// the trace's name, time, input and output and its trace-level attributes
// (langfuse.release, langfuse.version, langfuse.environment,
// langfuse.trace.tags, user.id, session.id, the resource attributes and
// the trace metadata as langfuse.trace.metadata.*). Observations hang under
// their parent observation, or under that root when they have no parent or
// their parent is not in the list; observations without an id are dropped,
// and an id listed twice keeps its first observation.
// Each observation's OTel attributes and resource attributes (kept in its
// metadata by Langfuse's OTel ingestion) become span attributes and go
// through semconv.Apply after the Langfuse fields are mapped, so explicit
// fields win.
func TraceFromAPI(trace TraceObject, obs []Observation) oncall.Trace {
	rootID := trace.ID
	ids := make(map[string]bool, len(obs))
	for i := range obs {
		ids[obs[i].ID] = true
	}
	if ids[rootID] {
		rootID = trace.ID + "/trace"
	}
	t := oncall.Trace{TraceID: trace.ID, Name: trace.Name, Source: "langfuse"}
	t.Spans = make([]oncall.Span, 0, len(obs)+1)
	t.Spans = append(t.Spans, rootSpan(&trace, rootID))
	root := &t.Spans[0]
	seen := make(map[string]bool, len(obs))
	for i := range obs {
		if obs[i].ID == "" {
			continue // nothing could refer to it, and span ids must exist
		}
		if seen[obs[i].ID] {
			continue // listed twice (overlapping pages, a re-export): one span per id
		}
		seen[obs[i].ID] = true
		s := observationSpan(&obs[i], trace.ID)
		if s.ParentID == "" || !ids[s.ParentID] || s.ParentID == s.SpanID {
			s.ParentID = rootID
		}
		if s.Start.Before(root.Start) && !s.Start.IsZero() {
			root.Start = s.Start
		}
		if s.End.After(root.End) {
			root.End = s.End
		}
		if root.Service == "" {
			root.Service = s.Service
		}
		t.Spans = append(t.Spans, s)
	}
	semconv.FinishTrace(&t)
	return t
}

func rootSpan(tr *TraceObject, id string) oncall.Span {
	s := oncall.Span{
		TraceID: tr.ID,
		SpanID:  id,
		Name:    tr.Name,
		Kind:    oncall.KindSpan,
		Start:   tr.Timestamp,
		Input:   jsonText(tr.Input),
		Output:  jsonText(tr.Output),
	}
	if tr.Latency > 0 && !tr.Timestamp.IsZero() {
		s.End = tr.Timestamp.Add(time.Duration(tr.Latency * float64(time.Second)))
	}
	attrs := make(map[string]string)
	md := parseMetadata(tr.Metadata)
	// The attributes Langfuse copied from the root OTel span describe that
	// span, which is an observation of its own: keep only what describes
	// the whole trace, so tokens and costs are not counted twice.
	for k, v := range md.attributes {
		if semconv.IsTraceLevel(k) {
			attrs[k] = v
		}
	}
	for k, v := range md.resource {
		if _, ok := attrs[k]; !ok {
			attrs[k] = v
		}
	}
	for k, v := range md.other {
		attrs["langfuse.trace.metadata."+k] = v
	}
	set := func(k, v string) {
		if v != "" {
			attrs[k] = v
		}
	}
	set("langfuse.release", tr.Release)
	set("langfuse.version", tr.Version)
	set("langfuse.environment", tr.Environment)
	set("user.id", tr.UserID)
	set("session.id", tr.SessionID)
	if len(tr.Tags) > 0 {
		b, _ := json.Marshal(tr.Tags)
		attrs["langfuse.trace.tags"] = string(b)
	}
	s.Service = attrs["service.name"]
	if len(attrs) > 0 {
		s.Attributes = attrs
	}
	return s
}

func observationSpan(o *Observation, traceID string) oncall.Span {
	if traceID == "" {
		traceID = o.TraceID
	}
	s := oncall.Span{
		TraceID:       traceID,
		SpanID:        o.ID,
		ParentID:      o.ParentObservationID,
		Name:          o.Name,
		Kind:          semconv.KindFromLangfuse(o.Type),
		Start:         o.StartTime,
		End:           o.EndTime,
		Status:        semconv.LevelStatus(o.Level),
		StatusMessage: o.StatusMessage,
		Model:         firstOf(o.Model, o.ProvidedModelName, o.InternalModel),
		Input:         jsonText(o.Input),
		Output:        jsonText(o.Output),
	}
	s.InputTokens, s.OutputTokens, s.TotalTokens = usage(o)
	s.Cost = cost(o)

	attrs := make(map[string]string)
	md := parseMetadata(o.Metadata)
	for k, v := range md.attributes {
		attrs[k] = v
	}
	for k, v := range md.resource {
		if _, ok := attrs[k]; !ok {
			attrs[k] = v
		}
	}
	for k, v := range md.other {
		attrs["langfuse.observation.metadata."+k] = v
	}
	if o.PromptName != "" {
		attrs["langfuse.observation.prompt.name"] = o.PromptName
		if o.PromptVersion != 0 {
			attrs["langfuse.observation.prompt.version"] = strconv.Itoa(o.PromptVersion)
		}
	}
	if p := jsonText(o.ModelParameters); p != "" && p != "{}" {
		attrs["langfuse.observation.model.parameters"] = p
	}
	if !o.CompletionStartTime.IsZero() {
		attrs["langfuse.observation.completion_start_time"] = o.CompletionStartTime.UTC().Format(time.RFC3339Nano)
	}
	if o.Version != "" {
		attrs["langfuse.observation.version"] = o.Version
	}
	if o.Level != "" && !strings.EqualFold(o.Level, "DEFAULT") {
		attrs[semconv.KeyObservationLevel] = o.Level
	}
	s.Service = attrs["service.name"]
	if len(attrs) > 0 {
		s.Attributes = attrs
	}
	semconv.Apply(&s, attrs)
	if s.Kind == oncall.KindTool && s.ToolArgs == "" {
		s.ToolArgs = s.Input
	}
	if !semconv.SpendsTokens(s.Kind) {
		keepUsageAsAttributes(&s)
	}
	return s
}

// keepUsageAsAttributes moves the usage and cost Langfuse reports on an
// observation that is not a model call (usually the sum over its children)
// out of the canonical fields, where summing over spans would count it
// twice, into Langfuse's usage and cost attributes.
func keepUsageAsAttributes(s *oncall.Span) {
	if s.TotalTokens > 0 {
		b, _ := json.Marshal(map[string]int64{"input": s.InputTokens, "output": s.OutputTokens, "total": s.TotalTokens})
		if s.Attributes == nil {
			s.Attributes = make(map[string]string)
		}
		s.Attributes["langfuse.observation.usage_details"] = string(b)
	}
	if s.Cost > 0 {
		b, _ := json.Marshal(map[string]float64{"total": s.Cost})
		if s.Attributes == nil {
			s.Attributes = make(map[string]string)
		}
		s.Attributes["langfuse.observation.cost_details"] = string(b)
	}
	s.InputTokens, s.OutputTokens, s.TotalTokens, s.Cost = 0, 0, 0, 0
}

// usage reads token counts from the first usage representation that has
// any: usageDetails, the legacy usage object, the flat fields.
func usage(o *Observation) (in, out, total int64) {
	for _, m := range []Numbers{o.UsageDetails, o.Usage} {
		if len(m) == 0 {
			continue
		}
		if in, out, total = semconv.UsageFromMap(m); total > 0 {
			return in, out, total
		}
	}
	in, out, total = int64(o.InputUsage), int64(o.OutputUsage), int64(o.TotalUsage)
	if total == 0 && in+out == 0 {
		in, out, total = int64(o.PromptTokens), int64(o.CompletionTokens), int64(o.TotalTokens)
	}
	if total == 0 {
		total = in + out
	}
	return in, out, total
}

// cost reads the total cost in USD: costDetails, then the calculated and
// total cost fields, then the legacy usage object's totalCost.
func cost(o *Observation) float64 {
	if len(o.CostDetails) > 0 {
		if c := semconv.CostFromMap(o.CostDetails); c > 0 {
			return c
		}
	}
	for _, c := range []float64{o.CalculatedTotalCost, o.TotalCost, o.Usage["totalCost"]} {
		if c > 0 {
			return c
		}
	}
	return 0
}

// metadata is a Langfuse metadata value split into the OTel span
// attributes, the OTel resource attributes and everything else, all
// flattened to strings.
type metadata struct {
	attributes, resource, other map[string]string
}

// parseMetadata reads metadata given as an object or as a JSON string
// holding one. A string that is not a JSON object is kept whole under the
// key "metadata" of other.
func parseMetadata(raw json.RawMessage) metadata {
	var md metadata
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return md
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil || s == "" {
			return md
		}
		raw = []byte(s)
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		md.other = map[string]string{"metadata": jsonText(raw)}
		return md
	}
	for k, v := range obj {
		switch k {
		case "attributes":
			md.attributes = flatObject(v)
		case "resourceAttributes":
			md.resource = flatObject(v)
		case "scope":
			// Instrumentation scope: may hold SDK keys, not useful for
			// analysis.
		default:
			if t := jsonText(v); t != "" {
				if md.other == nil {
					md.other = make(map[string]string)
				}
				md.other[k] = t
			}
		}
	}
	return md
}

// flatObject flattens a JSON object's values to strings; nested values
// become compact JSON, nulls are dropped.
func flatObject(raw json.RawMessage) map[string]string {
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return nil
	}
	out := make(map[string]string, len(obj))
	for k, v := range obj {
		if t := jsonText(v); t != "" {
			out[k] = t
		}
	}
	return out
}

// jsonText renders a JSON value as text: a string as its contents, null as
// "", anything else as compact JSON. SDKs that serialise their input before
// sending it leave a JSON string inside the string; that is unwrapped once
// more.
func jsonText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return ""
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return string(raw)
		}
		var inner string
		if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' && json.Unmarshal([]byte(s), &inner) == nil {
			return inner
		}
		return s
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return string(raw)
	}
	return buf.String()
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}
