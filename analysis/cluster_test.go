package analysis

import (
	"slices"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// findingsOf runs the per-trace part of the analysis on one trace.
func findingsOf(t *testing.T, tr oncall.Trace) []finding {
	t.Helper()
	a := &analyzer{norm: map[string]string{}, calls: map[callKey]*callCount{}}
	a.lat.init()
	a.cost.init()
	a.facts = []traceFacts{{t: &tr, incident: true, start: tr.Start}}
	a.examine(&a.facts[0])
	return a.facts[0].findings
}

func TestOrigins(t *testing.T) {
	const sec = time.Second
	tests := []struct {
		name  string
		build func(b *traceBuilder)
		want  []string // signatures
		spans []string // origin span ids, same order
	}{
		{
			name: "a tool error blames the tool, enriched by its HTTP call",
			build: func(b *traceBuilder) {
				root := b.Span("", oncall.KindAgent, "agent", 0, 9*sec, failed("ToolException: lookup failed"))
				chain := b.Span(root, oncall.KindChain, "executor", 0, 9*sec, failed("ToolException: lookup failed"))
				tool := b.Span(chain, oncall.KindTool, "execute_tool lookup", sec, 5*sec, call("lookup", "{}"), raised("ToolException", "lookup failed"))
				b.Span(tool, oncall.KindHTTP, "GET", sec, 4*sec, httpCode(503), failed("Service Unavailable"))
			},
			want:  []string{"tool lookup: ToolException: lookup failed (HTTP 503)"},
			spans: []string{"t.03"},
		},
		{
			name: "a tool without a message takes its HTTP call's",
			build: func(b *traceBuilder) {
				root := b.Span("", oncall.KindAgent, "agent", 0, 9*sec, failed(""))
				tool := b.Span(root, oncall.KindTool, "lookup", sec, 5*sec, call("lookup", "{}"), failed(""))
				b.Span(tool, oncall.KindHTTP, "GET", sec, 4*sec, httpCode(502), failed("Bad Gateway"))
			},
			want: []string{"tool lookup: Bad Gateway (HTTP 502)"},
		},
		{
			name: "only the root failed",
			build: func(b *traceBuilder) {
				root := b.Span("", oncall.KindAgent, "agent", 0, 9*sec, raised("ValueError", "no plan"))
				b.Span(root, oncall.KindLLM, "chat", 0, sec)
			},
			want:  []string{"agent agent: ValueError: no plan"},
			spans: []string{"t.01"},
		},
		{
			name: "the deepest chain, not the chains around it",
			build: func(b *traceBuilder) {
				root := b.Span("", oncall.KindAgent, "agent", 0, 9*sec, failed("OutputParserException: invalid json"))
				outer := b.Span(root, oncall.KindChain, "RunnableSequence", 0, 9*sec, failed("OutputParserException: invalid json"))
				inner := b.Span(outer, oncall.KindChain, "JsonOutputParser", 8*sec, sec, raised("OutputParserException", "invalid json"))
				b.Span(inner, oncall.KindSpan, "decode", 8*sec, sec/2, failed("unexpected token"))
			},
			want:  []string{"chain JsonOutputParser: OutputParserException: invalid json"},
			spans: []string{"t.03"},
		},
		{
			name: "a failed handoff blames the sub-agent's failing tool",
			build: func(b *traceBuilder) {
				root := b.Span("", oncall.KindAgent, "triage-agent", 0, 9*sec, failed("KeyError: 'invoice_id'"))
				handoff := b.Span(root, oncall.KindTool, "transfer_to_billing", sec, 7*sec, call("transfer_to_billing", "{}"), failed("KeyError: 'invoice_id'"))
				sub := b.Span(handoff, oncall.KindAgent, "billing-agent", sec, 6*sec, failed("KeyError: 'invoice_id'"))
				b.Span(sub, oncall.KindLLM, "chat", sec, sec)
				b.Span(sub, oncall.KindTool, "lookup_invoice", 3*sec, sec, call("lookup_invoice", `{"customer": 7}`), raised("KeyError", "'invoice_id'"))
			},
			want:  []string{"tool lookup_invoice: KeyError: 'invoice_id'"},
			spans: []string{"t.05"},
		},
		{
			name: "a sub-agent that fails on its own",
			build: func(b *traceBuilder) {
				root := b.Span("", oncall.KindAgent, "triage-agent", 0, 9*sec, failed("sub-agent failed"))
				sub := b.Span(root, oncall.KindAgent, "billing-agent", sec, 6*sec, raised("MaxTurnsExceeded", "Max turns (10) exceeded"))
				b.Span(sub, oncall.KindLLM, "chat", sec, sec)
			},
			want: []string{"max_iterations agent billing-agent: MaxTurnsExceeded: Max turns (<n>) exceeded"},
		},
		{
			name: "retries count once, with their attempts",
			build: func(b *traceBuilder) {
				root := b.Span("", oncall.KindAgent, "agent", 0, 9*sec, output("done"))
				for k := range 3 {
					b.Span(root, oncall.KindLLM, "chat", time.Duration(k)*sec, sec/2, raised("RateLimitError", "Error code: 429 - retry in 1s"))
				}
				b.Span(root, oncall.KindLLM, "chat", 4*sec, sec)
			},
			want: []string{"llm chat: RateLimitError: Error code: 429 - retry in <dur>"},
		},
		{
			name: "a retried call the run went on from does not explain the run's own failure",
			build: func(b *traceBuilder) {
				root := b.Span("", oncall.KindAgent, "agent", 0, 9*sec, raised("UsageLimitExceeded", "The next request would exceed the request_limit of 6"))
				b.Span(root, oncall.KindLLM, "chat", 0, sec, raised("RateLimitError", "Error code: 429"))
				b.Span(root, oncall.KindLLM, "chat", 2*sec, sec)
				b.Span(root, oncall.KindTool, "search", 4*sec, sec, call("search", `{"q": 1}`))
			},
			want: []string{"max_iterations agent agent: UsageLimitExceeded: The next request would exceed the request_limit of <n>", "llm chat: RateLimitError: Error code: 429"},
		},
		{
			name: "a failure raised again after cleaning up still explains the run's",
			build: func(b *traceBuilder) {
				root := b.Span("", oncall.KindAgent, "agent", 0, 9*sec, raised("OutputParserException", "Invalid json output"))
				b.Span(root, oncall.KindChain, "parser", 0, sec, raised("OutputParserException", "Invalid json output: Sure! Here it is"))
				b.Span(root, oncall.KindTool, "cleanup", 2*sec, sec, call("cleanup", "{}"))
			},
			want: []string{"chain parser: OutputParserException: Invalid json output: Sure! Here it is"},
		},
		{
			name: "a failing call under a tool that coped is blamed on the call, in the tool",
			build: func(b *traceBuilder) {
				root := b.Span("", oncall.KindAgent, "agent", 0, 9*sec, output("done"))
				tool := b.Span(root, oncall.KindTool, "search", sec, 3*sec, call("search", "{}"))
				b.Span(tool, oncall.KindHTTP, "POST", sec, sec, httpCode(503), failed(""))
			},
			want: []string{"http POST (in tool search): HTTP 503"},
		},
		{
			name: "a failing call directly under a failed root belongs to the root",
			build: func(b *traceBuilder) {
				root := b.Span("", oncall.KindAgent, "agent", 0, 9*sec, failed(""))
				b.Span(root, oncall.KindHTTP, "POST", sec, sec, httpCode(500), failed(""))
			},
			want: []string{"agent agent: HTTP 500"},
		},
		{
			name: "two independent failures in one run",
			build: func(b *traceBuilder) {
				root := b.Span("", oncall.KindAgent, "agent", 0, 9*sec, failed("x"))
				b.Span(root, oncall.KindRetriever, "kb", sec, sec, raised("ConnectionError", "reset"))
				b.Span(root, oncall.KindTool, "search", 3*sec, sec, call("search", "{}"), raised("ValueError", "bad query"))
			},
			want: []string{"retriever kb: ConnectionError: reset", "tool search: ValueError: bad query"},
		},
		{
			name: "a failing guardrail",
			build: func(b *traceBuilder) {
				root := b.Span("", oncall.KindAgent, "agent", 0, 9*sec, failed("blocked"))
				b.Span(root, oncall.KindGuardrail, "input_policy", 0, sec, raised("InputGuardrailTripwireTriggered", "Guardrail input_policy triggered tripwire"))
			},
			want: []string{"guardrail guardrail input_policy: InputGuardrailTripwireTriggered: Guardrail input_policy triggered tripwire"},
		},
		{
			name: "a root that hit its recursion limit",
			build: func(b *traceBuilder) {
				root := b.Span("", oncall.KindChain, "LangGraph", 0, 9*sec, raised("GraphRecursionError", "Recursion limit of 25 reached without hitting a stop condition."))
				b.Span(root, oncall.KindLLM, "chat", 0, sec)
			},
			want: []string{"max_iterations chain LangGraph: GraphRecursionError: Recursion limit of <n> reached without hitting a stop condition."},
		},
		{
			name: "a tool's own recursion error is an error, not a step limit",
			build: func(b *traceBuilder) {
				root := b.Span("", oncall.KindAgent, "agent", 0, 9*sec, failed("x"))
				b.Span(root, oncall.KindTool, "parse", 0, sec, call("parse", "{}"), raised("RecursionError", "maximum recursion depth exceeded"))
			},
			want: []string{"tool parse: RecursionError: maximum recursion depth exceeded"},
		},
		{
			name: "a parent cycle does not hang the walk",
			build: func(b *traceBuilder) {
				root := b.Span("", oncall.KindAgent, "agent", 0, 9*sec, failed("x"))
				b.Span(root, oncall.KindTool, "search", 0, sec, call("search", "{}"), failed("bad"))
				b.Append(
					oncall.Span{SpanID: "c1", ParentID: "c2", Name: "a", Kind: oncall.KindTool, Status: oncall.StatusError, Start: b.Start()},
					oncall.Span{SpanID: "c2", ParentID: "c1", Name: "b", Kind: oncall.KindTool, Status: oncall.StatusError, Start: b.Start()},
					oncall.Span{SpanID: "self", ParentID: "self", Name: "c", Kind: oncall.KindTool, Status: oncall.StatusError, Start: b.Start().Add(sec)},
				)
			},
			want: []string{"tool search: bad", "tool c: " + noMessage},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newTrace("t", incidentStart)
			tt.build(b)
			var got, spans []string
			for _, f := range findingsOf(t, b.Done()) {
				got = append(got, f.sig)
				spans = append(spans, f.spanID)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("signatures\n got %q\nwant %q", got, tt.want)
			}
			if tt.spans != nil && !slices.Equal(spans, tt.spans) {
				t.Errorf("origin spans %q, want %q", spans, tt.spans)
			}
		})
	}
}

func TestRetriesRepeat(t *testing.T) {
	b := newTrace("t", incidentStart)
	root := b.Span("", oncall.KindAgent, "agent", 0, 9*time.Second, output("done"))
	for k := range 4 {
		b.Span(root, oncall.KindLLM, "chat", time.Duration(k)*time.Second, time.Second/2, raised("RateLimitError", "slow down"))
	}
	fs := findingsOf(t, b.Done())
	if len(fs) != 1 || fs[0].repeats != 4 || fs[0].spanID != "t.02" {
		t.Errorf("findings %+v, want one with 4 attempts blamed on the first", fs)
	}
}

func TestChangeScore(t *testing.T) {
	type counts struct{ ci, ni, cb, nb int }
	score := func(c counts) float64 { return changeScore(c.ci, c.ni, c.cb, c.nb) }
	tests := []struct {
		name          string
		higher, lower counts
	}{
		{"new beats steady but more frequent", counts{20, 60, 0, 60}, counts{24, 60, 24, 60}},
		{"twenty new beat one new", counts{20, 60, 0, 60}, counts{1, 60, 0, 60}},
		{"a jump beats a steady rate", counts{12, 60, 1, 60}, counts{30, 60, 30, 60}},
		{"more traces, more confidence", counts{30, 100, 0, 100}, counts{3, 10, 0, 10}},
		{"without a baseline, by count", counts{8, 60, 0, 0}, counts{3, 60, 0, 0}},
		{"rising beats falling", counts{10, 60, 5, 60}, counts{10, 60, 20, 60}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if h, l := score(tt.higher), score(tt.lower); h <= l {
				t.Errorf("score%v = %v, not above score%v = %v", tt.higher, h, tt.lower, l)
			}
		})
	}
	signs := []struct {
		name     string
		c        counts
		positive bool
	}{
		{"new in a third of runs", counts{20, 60, 0, 60}, true},
		{"steady", counts{24, 60, 24, 60}, false},
		{"a single new occurrence", counts{1, 60, 0, 60}, false},
		{"no baseline", counts{2, 3, 0, 0}, true},
		{"absent", counts{0, 60, 5, 60}, false},
	}
	for _, tt := range signs {
		t.Run(tt.name, func(t *testing.T) {
			if s := score(tt.c); (s > 0) != tt.positive {
				t.Errorf("score%v = %v, want positive %v", tt.c, s, tt.positive)
			}
		})
	}
}

// A fleet mixing OpenInference and GenAI tool spans names one tool two
// ways; its failures form one cluster under the tool's name.
func TestMixedConventionsShareACluster(t *testing.T) {
	var traces []oncall.Trace
	for i := range 20 {
		b := newTrace(string(rune('a'+i)), incidentStart.Add(time.Duration(i)*time.Minute))
		root := b.Span("", oncall.KindAgent, "weather-agent", 0, 3*time.Second, failed("tool failed"))
		name := "get_weather" // OpenInference: the span is named after the tool
		if i%2 == 1 {
			name = "execute_tool get_weather" // GenAI: gen_ai.tool.name carries it
		}
		b.Span(root, oncall.KindTool, name, time.Second, time.Second, call("get_weather", `{"city": "Oslo"}`),
			raised("WeatherAPIError", "quota exceeded for key "+strings.Repeat("x", i%3)+"7f3a9c21"))
		traces = append(traces, b.Done())
	}
	rep := Analyze(errorAlert(), traces, windows)
	if len(rep.Clusters) != 1 || rep.Clusters[0].Count != 20 || rep.Clusters[0].ToolName != "get_weather" {
		t.Fatalf("clusters %+v, want one get_weather cluster of 20 traces", rep.Clusters)
	}
}

func TestVariantsOf(t *testing.T) {
	tests := []struct {
		x, y string
		want bool
	}{
		{"ReadTimeout: The read operation timed out", "ReadTimeout: HTTPSConnectionPool(host=<str>): Read timed out.", true},
		{"HTTPError: 404 Client Error: Not Found", "HTTPError: 500 Server Error", false},
		{"HTTPStatusError: Client error '401 Unauthorized' for url <url>", "HTTPError: 401 Client Error: Unauthorized for url: <url>", true},
		{"OutputParserException: Invalid json output: Sure! Here is the answer: **Summary:** Done.", "OutputParserException: Invalid json output: Sure! Here is the answer: **Summary:** Thanks", true},
		{"Error: connection reset", "Error: invalid input", false},
		{"ValueError: bad input", "KeyError: 'id'", false},
	}
	for _, tt := range tests {
		t.Run(tt.x, func(t *testing.T) {
			if got := variantsOf(tt.x, tt.y); got != tt.want {
				t.Errorf("variantsOf(%q, %q) = %v, want %v", tt.x, tt.y, got, tt.want)
			}
		})
	}
}
