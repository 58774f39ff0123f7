package otlp

import (
	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/tracesource/semconv"
)

// GroupTraces groups spans by trace id, in order of first appearance, and
// finishes each trace with semconv.FinishTrace: spans sorted by start,
// start/end/name/service filled in, and trace-level attributes (service,
// deployment environment, agent, user, session, ...) taken from the root
// span first and then from the other spans.
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
		semconv.FinishTrace(&traces[i])
	}
	return traces
}
