package oncall

import (
	"sort"
	"time"
)

// SpanKind is what a span does in an agent run, after mapping the
// OpenInference and OTel GenAI conventions onto one vocabulary.
type SpanKind string

// Span kinds.
const (
	KindAgent     SpanKind = "agent"
	KindLLM       SpanKind = "llm"
	KindTool      SpanKind = "tool"
	KindRetriever SpanKind = "retriever"
	KindChain     SpanKind = "chain"
	KindEmbedding SpanKind = "embedding"
	KindReranker  SpanKind = "reranker"
	KindGuardrail SpanKind = "guardrail"
	KindEvaluator SpanKind = "evaluator"
	KindEvent     SpanKind = "event"
	KindHTTP      SpanKind = "http"
	KindSpan      SpanKind = "span" // anything else
)

// SpanStatus is a span's outcome.
type SpanStatus string

// Span statuses. Warning maps Langfuse's WARNING level.
const (
	StatusUnset   SpanStatus = ""
	StatusOK      SpanStatus = "ok"
	StatusError   SpanStatus = "error"
	StatusWarning SpanStatus = "warning"
)

// SpanEvent is an event recorded on a span, such as an exception.
type SpanEvent struct {
	Name       string            `json:"name"`
	Time       time.Time         `json:"time,omitzero"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

// Span is one unit of work in a trace. Attribute values are flattened to
// strings; typed fields hold what the analysis reads most.
type Span struct {
	TraceID       string            `json:"trace_id"`
	SpanID        string            `json:"span_id"`
	ParentID      string            `json:"parent_id,omitempty"`
	Name          string            `json:"name"`
	Kind          SpanKind          `json:"kind"`
	Service       string            `json:"service,omitempty"`
	Start         time.Time         `json:"start"`
	End           time.Time         `json:"end,omitzero"`
	Status        SpanStatus        `json:"status,omitempty"`
	StatusMessage string            `json:"status_message,omitempty"`
	Events        []SpanEvent       `json:"events,omitempty"`
	Model         string            `json:"model,omitempty"`
	Provider      string            `json:"provider,omitempty"`
	InputTokens   int64             `json:"input_tokens,omitempty"`
	OutputTokens  int64             `json:"output_tokens,omitempty"`
	TotalTokens   int64             `json:"total_tokens,omitempty"`
	Cost          float64           `json:"cost,omitempty"` // USD
	ToolName      string            `json:"tool_name,omitempty"`
	ToolArgs      string            `json:"tool_args,omitempty"`
	Input         string            `json:"input,omitempty"`
	Output        string            `json:"output,omitempty"`
	Attributes    map[string]string `json:"attributes,omitempty"`
}

// Duration is End minus Start, or zero when the span has not ended.
func (s *Span) Duration() time.Duration {
	if s.End.IsZero() || s.End.Before(s.Start) {
		return 0
	}
	return s.End.Sub(s.Start)
}

// Failed reports whether the span ended in error.
func (s *Span) Failed() bool { return s.Status == StatusError }

// Exceptions returns the span's exception events.
func (s *Span) Exceptions() []SpanEvent {
	var out []SpanEvent
	for _, e := range s.Events {
		if e.Name == "exception" {
			out = append(out, e)
		}
	}
	return out
}

// Trace is one agent run: a tree of spans sharing a trace id.
type Trace struct {
	TraceID    string            `json:"trace_id"`
	Name       string            `json:"name,omitempty"` // the root span's name
	Service    string            `json:"service,omitempty"`
	Start      time.Time         `json:"start"`
	End        time.Time         `json:"end,omitzero"`
	Spans      []Span            `json:"spans"`
	Attributes map[string]string `json:"attributes,omitempty"` // trace-level: resource, release, environment, user, session, tags
	Source     string            `json:"source,omitempty"`     // which trace source it came from
}

// Duration is End minus Start.
func (t *Trace) Duration() time.Duration {
	if t.End.IsZero() || t.End.Before(t.Start) {
		return 0
	}
	return t.End.Sub(t.Start)
}

// Failed reports whether any span of the trace ended in error.
func (t *Trace) Failed() bool {
	for i := range t.Spans {
		if t.Spans[i].Failed() {
			return true
		}
	}
	return false
}

// Root returns the span without a parent in the trace (the earliest if
// several), or nil for a trace without spans.
func (t *Trace) Root() *Span {
	ids := make(map[string]bool, len(t.Spans))
	for i := range t.Spans {
		ids[t.Spans[i].SpanID] = true
	}
	var root *Span
	for i := range t.Spans {
		s := &t.Spans[i]
		if s.ParentID != "" && ids[s.ParentID] {
			continue
		}
		if root == nil || s.Start.Before(root.Start) {
			root = s
		}
	}
	return root
}

// Span returns the span with the given id, or nil.
func (t *Trace) Span(id string) *Span {
	for i := range t.Spans {
		if t.Spans[i].SpanID == id {
			return &t.Spans[i]
		}
	}
	return nil
}

// Finish fills the trace-level fields (name, service, start, end) from its
// spans and sorts the spans by start time. Sources call it after decoding.
func (t *Trace) Finish() {
	sort.SliceStable(t.Spans, func(i, j int) bool { return t.Spans[i].Start.Before(t.Spans[j].Start) })
	for i := range t.Spans {
		s := &t.Spans[i]
		if t.Start.IsZero() || s.Start.Before(t.Start) {
			t.Start = s.Start
		}
		if s.End.After(t.End) {
			t.End = s.End
		}
	}
	if r := t.Root(); r != nil {
		if t.Name == "" {
			t.Name = r.Name
		}
		if t.Service == "" {
			t.Service = r.Service
		}
	}
}

// TraceQuery asks a trace source for the traces of a time window.
type TraceQuery struct {
	Start, End time.Time
	// Filters are trace attribute names with the values they must have,
	// such as service.name or gen_ai.agent.name; a source maps them onto
	// what it can filter on and filters the rest itself.
	Filters map[string]string
	// Limit caps the traces returned; zero means the source's default.
	// A source that samples (see SampleRuns) caps the healthy runs with it
	// and keeps failing and slow runs up to KeepLimit besides.
	Limit int
	// KeepLimit caps the failing and slow runs a sampling source keeps
	// besides Limit; zero means Limit.
	KeepLimit int
}

// TraceSearchResult is what a source found for a query.
type TraceSearchResult struct {
	Traces []Trace
	// Matched counts the traces that matched before Limit cut; when it is
	// larger than len(Traces) the difference was left out.
	Matched int
	// Unreadable says, one sentence each, what the source holds but could
	// not read (a file of unknown records, an encoding it does not
	// support), so a report can tell "no traces" from "traces it could
	// not use". The traces it could read are still returned.
	Unreadable []string
	// Weights, from a source that sampled the window, give each returned
	// trace the number of matching runs it stands for; traces not in it
	// stand for themselves. Sampling says how it sampled, for the report.
	Weights  map[string]float64
	Sampling string
}

// MatchesFilters reports whether every filter holds for the trace: each
// attribute name has the value on the trace's own attributes or on any
// span's, with service.name also matching the service and trace.name the
// trace's name, and an attribute under any of its AttributeAliases.
// Empty values match anything. Sources call it for the
// filters they cannot send to their store.
func (t *Trace) MatchesFilters(filters map[string]string) bool {
	for k, v := range filters {
		if v != "" && !t.hasAttr(k, v) {
			return false
		}
	}
	return true
}

func (t *Trace) hasAttr(k, v string) bool {
	for _, k := range AttributeAliases(k) {
		if t.hasOwnAttr(k, v) {
			return true
		}
	}
	return false
}

func (t *Trace) hasOwnAttr(k, v string) bool {
	if t.Attributes[k] == v || (k == "service.name" && t.Service == v) || (k == "trace.name" && t.Name == v) {
		return true
	}
	for i := range t.Spans {
		s := &t.Spans[i]
		if s.Attributes[k] == v || (k == "service.name" && s.Service == v) {
			return true
		}
	}
	return false
}

// attributeAliases are the spellings of one attribute across generations
// of the semantic conventions and the stores that rename them.
var attributeAliases = [][]string{
	{"deployment.environment.name", "deployment.environment", "langfuse.environment"},
	{"gen_ai.agent.name", "agent.name"},
	{"gen_ai.provider.name", "gen_ai.system"},
	{"service.name", "langfuse.trace.metadata.service.name"},
}

// AttributeAliases returns key and the other names the semantic
// conventions give the same attribute (deployment.environment and its
// newer deployment.environment.name), key first.
func AttributeAliases(key string) []string {
	for _, g := range attributeAliases {
		for _, k := range g {
			if k == key {
				out := []string{key}
				for _, o := range g {
					if o != key {
						out = append(out, o)
					}
				}
				return out
			}
		}
	}
	return []string{key}
}
