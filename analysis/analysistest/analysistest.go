// Package analysistest builds synthetic agent runs for the tests and
// benchmarks of analysis and triage. They are shaped like real
// OpenInference and GenAI traces once mapped onto oncall.Span: an agent
// root, a chain around the steps, LLM calls with models and token counts,
// tools with arguments and HTTP client spans under them.
package analysistest

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// Builder builds one trace span by span. It is not safe for concurrent
// use.
type Builder struct {
	tr oncall.Trace
	n  int
}

// NewTrace starts a trace with the given id and start time.
func NewTrace(id string, start time.Time) *Builder {
	return &Builder{tr: oncall.Trace{TraceID: id, Start: start, Source: "test", Attributes: map[string]string{}}}
}

// Attr sets a trace-level attribute.
func (b *Builder) Attr(k, v string) *Builder {
	b.tr.Attributes[k] = v
	return b
}

// Span adds a span starting at offset from the trace start and returns
// its id.
func (b *Builder) Span(parent string, kind oncall.SpanKind, name string, offset, dur time.Duration, opts ...SpanOpt) string {
	b.n++
	id := fmt.Sprintf("%s.%02d", b.tr.TraceID, b.n)
	s := oncall.Span{
		TraceID:  b.tr.TraceID,
		SpanID:   id,
		ParentID: parent,
		Name:     name,
		Kind:     kind,
		Service:  "support-api",
		Start:    b.tr.Start.Add(offset),
		End:      b.tr.Start.Add(offset + dur),
		Status:   oncall.StatusOK,
	}
	for _, o := range opts {
		o(&s)
	}
	b.tr.Spans = append(b.tr.Spans, s)
	return id
}

// Len is the number of spans added so far.
func (b *Builder) Len() int { return b.n }

// Spans are the spans added so far, to change in place.
func (b *Builder) Spans() []oncall.Span { return b.tr.Spans }

// Append adds spans as they are, for shapes Span does not make (a
// parent cycle, say).
func (b *Builder) Append(spans ...oncall.Span) { b.tr.Spans = append(b.tr.Spans, spans...) }

// Start is the trace's start time.
func (b *Builder) Start() time.Time { return b.tr.Start }

// Done returns the trace, its start and end taken from its spans.
func (b *Builder) Done() oncall.Trace {
	t := b.tr
	t.Start = time.Time{}
	t.Finish()
	return t
}

// SpanOpt sets something on a span as Span adds it.
type SpanOpt func(*oncall.Span)

// Failed sets an error status with a message.
func Failed(msg string) SpanOpt {
	return func(s *oncall.Span) { s.Status, s.StatusMessage = oncall.StatusError, msg }
}

// Raised records an exception event and an error status, the way OTel
// instrumentations do.
func Raised(typ, msg string) SpanOpt {
	return func(s *oncall.Span) {
		s.Status = oncall.StatusError
		s.Events = append(s.Events, oncall.SpanEvent{Name: "exception", Time: s.End, Attributes: map[string]string{
			"exception.type": typ, "exception.message": msg, "exception.stacktrace": "Traceback (most recent call last):\n  ...",
		}})
	}
}

// HTTPCode sets the HTTP response status code.
func HTTPCode(code int) SpanOpt {
	return func(s *oncall.Span) { SetAttr(s, "http.response.status_code", strconv.Itoa(code)) }
}

// Call makes the span a call of tool with args.
func Call(tool, args string) SpanOpt {
	return func(s *oncall.Span) { s.ToolName, s.ToolArgs = tool, args }
}

// Model makes the span a model call with its tokens and cost.
func Model(name, provider string, in, out int64, cost float64) SpanOpt {
	return func(s *oncall.Span) {
		s.Model, s.Provider = name, provider
		s.InputTokens, s.OutputTokens, s.TotalTokens, s.Cost = in, out, in+out, cost
	}
}

// Output sets the span's output.
func Output(text string) SpanOpt { return func(s *oncall.Span) { s.Output = text } }

// SpanAttr sets a span attribute.
func SpanAttr(k, v string) SpanOpt { return func(s *oncall.Span) { SetAttr(s, k, v) } }

// SetAttr sets a span attribute on a span already built.
func SetAttr(s *oncall.Span, k, v string) {
	if s.Attributes == nil {
		s.Attributes = map[string]string{}
	}
	s.Attributes[k] = v
}

// BenchTraces builds n runs of about spans spans each, a fifth of them
// failing, the even ones in the incident window from incidentStart and the
// odd ones in the baseline window from baselineStart: the runs the
// analysis and triage benchmarks read, so their figures compare.
func BenchTraces(n, spans int, incidentStart, baselineStart time.Time) []oncall.Trace {
	traces := make([]oncall.Trace, 0, n)
	for i := range n {
		start := incidentStart.Add(time.Duration(i) * 5 * time.Second)
		if i%2 == 1 {
			start = baselineStart.Add(time.Duration(i) * 10 * time.Second)
		}
		b := NewTrace(fmt.Sprintf("%032x", i), start)
		b.Attr("service.version", fmt.Sprintf("1.%d", i%3)).Attr("session.id", fmt.Sprintf("s%d", i))
		fail := i%5 == 0
		var rootOpts []SpanOpt
		if fail {
			rootOpts = append(rootOpts, Failed("run failed"))
		}
		root := b.Span("", oncall.KindAgent, "agent", 0, time.Duration(spans)*100*time.Millisecond, append(rootOpts, Output("ok"))...)
		chain := b.Span(root, oncall.KindChain, "loop", time.Millisecond, time.Duration(spans)*100*time.Millisecond-2*time.Millisecond)
		for k := 0; b.n < spans; k++ {
			at := time.Duration(k) * 300 * time.Millisecond
			b.Span(chain, oncall.KindLLM, "chat", at, 100*time.Millisecond, Model("m1", "p", 900, 100, 0.001), SpanAttr("llm.prompt_template.version", "v1"))
			var opts []SpanOpt
			if fail && k == 3 {
				opts = append(opts, Raised("TimeoutError", fmt.Sprintf("timed out after %dms calling %s", 3000+k, "10.0.0.7:8080")))
			}
			tool := b.Span(chain, oncall.KindTool, fmt.Sprintf("tool%d", k%7), at+100*time.Millisecond, 150*time.Millisecond, append(opts, Call(fmt.Sprintf("tool%d", k%7), fmt.Sprintf(`{"q": %d}`, k)))...)
			b.Span(tool, oncall.KindHTTP, "POST", at+110*time.Millisecond, 100*time.Millisecond, HTTPCode(200))
		}
		// Resource and content attributes, as decoded spans carry them.
		for k := range b.tr.Spans {
			sp := &b.tr.Spans[k]
			for key, v := range map[string]string{
				"service.version": "1.4.2", "k8s.pod.name": fmt.Sprintf("agent-7f9c-%d", i%4), "cloud.region": "eu-west-1",
				"deployment.environment": "production", "telemetry.sdk.language": "python",
				"input.value": strings.Repeat("context ", 40), "output.value": strings.Repeat("answer ", 30),
			} {
				SetAttr(sp, key, v)
			}
		}
		traces = append(traces, b.Done())
	}
	return traces
}
