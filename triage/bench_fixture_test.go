package triage

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/analysis"
)

// The synthetic agent runs the triage benchmarks read: the same runs as
// analysis's BenchmarkAnalyze (analysis/analyze_fixture_test.go builds
// them for its tests), so the figures of the two packages compare.

// incidentStart is where the incident window of every scenario begins.
var incidentStart = time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)

var (
	incidentWin = analysis.Window{Start: incidentStart, End: incidentStart.Add(30 * time.Minute)}
	baselineWin = analysis.Window{Start: incidentStart.Add(-60 * time.Minute), End: incidentStart}
	windows     = analysis.Options{Incident: incidentWin, Baseline: baselineWin}
)

type traceBuilder struct {
	tr oncall.Trace
	n  int
}

func newTrace(id string, start time.Time) *traceBuilder {
	return &traceBuilder{tr: oncall.Trace{TraceID: id, Start: start, Source: "test", Attributes: map[string]string{}}}
}

func (b *traceBuilder) attr(k, v string) *traceBuilder {
	b.tr.Attributes[k] = v
	return b
}

// span adds a span starting at offset from the trace start and returns its
// id.
func (b *traceBuilder) span(parent string, kind oncall.SpanKind, name string, offset, dur time.Duration, opts ...spanOpt) string {
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

func (b *traceBuilder) done() oncall.Trace {
	t := b.tr
	t.Start = time.Time{}
	t.Finish()
	return t
}

type spanOpt func(*oncall.Span)

// failed sets an error status with a message.
func failed(msg string) spanOpt {
	return func(s *oncall.Span) { s.Status, s.StatusMessage = oncall.StatusError, msg }
}

// raised records an exception event and an error status, the way OTel
// instrumentations do.
func raised(typ, msg string) spanOpt {
	return func(s *oncall.Span) {
		s.Status = oncall.StatusError
		s.Events = append(s.Events, oncall.SpanEvent{Name: "exception", Time: s.End, Attributes: map[string]string{
			"exception.type": typ, "exception.message": msg, "exception.stacktrace": "Traceback (most recent call last):\n  ...",
		}})
	}
}

func httpCode(code int) spanOpt {
	return func(s *oncall.Span) { setAttr(s, "http.response.status_code", strconv.Itoa(code)) }
}

func call(tool, args string) spanOpt {
	return func(s *oncall.Span) { s.ToolName, s.ToolArgs = tool, args }
}

func model(name, provider string, in, out int64, cost float64) spanOpt {
	return func(s *oncall.Span) {
		s.Model, s.Provider = name, provider
		s.InputTokens, s.OutputTokens, s.TotalTokens, s.Cost = in, out, in+out, cost
	}
}

func output(text string) spanOpt { return func(s *oncall.Span) { s.Output = text } }

func spanAttr(k, v string) spanOpt { return func(s *oncall.Span) { setAttr(s, k, v) } }

func setAttr(s *oncall.Span, k, v string) {
	if s.Attributes == nil {
		s.Attributes = map[string]string{}
	}
	s.Attributes[k] = v
}

// benchTraces builds n runs of about spans spans each, a fifth of them
// failing, half in each window.
func benchTraces(n, spans int) []oncall.Trace {
	traces := make([]oncall.Trace, 0, n)
	for i := range n {
		start := incidentStart.Add(time.Duration(i) * 5 * time.Second)
		if i%2 == 1 {
			start = baselineWin.Start.Add(time.Duration(i) * 10 * time.Second)
		}
		b := newTrace(fmt.Sprintf("%032x", i), start)
		b.attr("service.version", fmt.Sprintf("1.%d", i%3)).attr("session.id", fmt.Sprintf("s%d", i))
		fail := i%5 == 0
		var rootOpts []spanOpt
		if fail {
			rootOpts = append(rootOpts, failed("run failed"))
		}
		root := b.span("", oncall.KindAgent, "agent", 0, time.Duration(spans)*100*time.Millisecond, append(rootOpts, output("ok"))...)
		chain := b.span(root, oncall.KindChain, "loop", time.Millisecond, time.Duration(spans)*100*time.Millisecond-2*time.Millisecond)
		for k := 0; b.n < spans; k++ {
			at := time.Duration(k) * 300 * time.Millisecond
			b.span(chain, oncall.KindLLM, "chat", at, 100*time.Millisecond, model("m1", "p", 900, 100, 0.001), spanAttr("llm.prompt_template.version", "v1"))
			var opts []spanOpt
			if fail && k == 3 {
				opts = append(opts, raised("TimeoutError", fmt.Sprintf("timed out after %dms calling %s", 3000+k, "10.0.0.7:8080")))
			}
			tool := b.span(chain, oncall.KindTool, fmt.Sprintf("tool%d", k%7), at+100*time.Millisecond, 150*time.Millisecond, append(opts, call(fmt.Sprintf("tool%d", k%7), fmt.Sprintf(`{"q": %d}`, k)))...)
			b.span(tool, oncall.KindHTTP, "POST", at+110*time.Millisecond, 100*time.Millisecond, httpCode(200))
		}
		// Resource and content attributes, as decoded spans carry them.
		for k := range b.tr.Spans {
			sp := &b.tr.Spans[k]
			for key, v := range map[string]string{
				"service.version": "1.4.2", "k8s.pod.name": fmt.Sprintf("agent-7f9c-%d", i%4), "cloud.region": "eu-west-1",
				"deployment.environment": "production", "telemetry.sdk.language": "python",
				"input.value": strings.Repeat("context ", 40), "output.value": strings.Repeat("answer ", 30),
			} {
				setAttr(sp, key, v)
			}
		}
		traces = append(traces, b.done())
	}
	return traces
}

func errorAlert() oncall.Alert {
	return oncall.Alert{
		Source: "alertmanager", Fingerprint: "a1b2c3", GroupKey: "support-agent", Status: oncall.AlertFiring,
		Name: "AgentErrorRateHigh", Severity: "critical", Summary: "support-agent error rate above 20%",
		Labels: map[string]string{"service": "support-agent"}, StartsAt: incidentWin.End, ReceivedAt: incidentWin.End,
		GeneratorURL: "http://prometheus:9090/graph?g0.expr=" + url.QueryEscape(`sum(rate(agent_runs_total{service="support-agent",status="error"}[5m])) / sum(rate(agent_runs_total{service="support-agent"}[5m])) > 0.2`),
	}
}
