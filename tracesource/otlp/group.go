package otlp

import (
	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/tracesource/semconv"
)

// KeyTraceName carries a trace name that differs from its root span's
// name (Langfuse names traces independently of their spans).
const KeyTraceName = "langfuse.trace.name"

// GroupTraces groups spans by trace id, in order of first appearance, and
// finishes each trace: spans sorted by start, start/end/name/service filled
// in, and trace-level attributes (see semconv.IsTraceLevel: service,
// deployment environment, agent, user, session, ...) taken from the root
// span first and then from the other spans in start order.
func GroupTraces(spans []oncall.Span) []oncall.Trace {
	index := make(map[string]int)
	var traces []oncall.Trace
	for i := range spans {
		id := spans[i].TraceID
		j, ok := index[id]
		if !ok {
			j = len(traces)
			index[id] = j
			traces = append(traces, oncall.Trace{TraceID: id})
		}
		traces[j].Spans = append(traces[j].Spans, spans[i])
	}
	for i := range traces {
		FinishTrace(&traces[i])
	}
	return traces
}

// FinishTrace calls Trace.Finish and fills the trace-level attributes and
// name from the spans, keeping attributes the trace already has.
func FinishTrace(t *oncall.Trace) {
	t.Finish()
	root := t.Root()
	if root == nil {
		return
	}
	if n := root.Attributes[KeyTraceName]; n != "" {
		t.Name = n
	}
	add := func(attrs map[string]string) {
		for k, v := range attrs {
			if !semconv.IsTraceLevel(k) {
				continue
			}
			if t.Attributes == nil {
				t.Attributes = make(map[string]string)
			}
			if _, ok := t.Attributes[k]; !ok {
				t.Attributes[k] = v
			}
		}
	}
	add(root.Attributes)
	for i := range t.Spans {
		add(t.Spans[i].Attributes)
	}
	if t.Service == "" {
		t.Service = t.Attributes["service.name"]
	}
}
