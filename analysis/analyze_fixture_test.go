package analysis

import (
	"fmt"
	"net/url"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/analysis/analysistest"
)

// Synthetic agent runs for the analysis tests (analysistest builds them).

// incidentStart is where the incident window of every scenario begins.
var incidentStart = time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)

var (
	incidentWin = Window{Start: incidentStart, End: incidentStart.Add(30 * time.Minute)}
	baselineWin = Window{Start: incidentStart.Add(-60 * time.Minute), End: incidentStart}
	windows     = Options{Incident: incidentWin, Baseline: baselineWin}
)

// The builder and its span options live in analysistest, shared with
// triage's benchmarks.
type (
	traceBuilder = analysistest.Builder
	spanOpt      = analysistest.SpanOpt
)

var (
	newTrace = analysistest.NewTrace
	failed   = analysistest.Failed
	raised   = analysistest.Raised
	httpCode = analysistest.HTTPCode
	call     = analysistest.Call
	model    = analysistest.Model
	output   = analysistest.Output
	spanAttr = analysistest.SpanAttr
	setAttr  = analysistest.SetAttr
)

// supportRun describes one run of a customer-support agent: it plans with
// an LLM, looks up an order through a tool backed by an HTTP service,
// searches a knowledge base, and answers with an LLM.
type supportRun struct {
	id      string
	start   time.Time
	attrs   map[string]string
	model   string
	toolDur time.Duration // the order lookup, default 900ms

	ordersDown  bool // the order service times out: the new failure
	kbReset     bool // the knowledge base drops the connection: a steady failure
	rateLimited int  // planner calls rejected with 429 before one succeeds
	loopCalls   int  // identical policy lookups
	planTokens  int64
	answer      string // final output; "" means a normal answer
	noAnswer    bool   // the run ends well but says nothing
}

func (r supportRun) build() oncall.Trace {
	b := newTrace(r.id, r.start)
	for k, v := range r.attrs {
		b.Attr(k, v)
	}
	if r.model == "" {
		r.model = "gpt-4o-2024-08-06"
	}
	if r.toolDur == 0 {
		r.toolDur = 900 * time.Millisecond
	}
	if r.planTokens == 0 {
		r.planTokens = 1800
	}
	fails := r.ordersDown || r.kbReset
	rootOpts := []spanOpt{output("Your order shipped yesterday and arrives Friday.")}
	switch {
	case r.noAnswer:
		rootOpts = []spanOpt{output("")}
	case r.answer != "":
		rootOpts = []spanOpt{output(r.answer)}
	}
	const ordersErr = "orders service call failed for order %d after 30s"
	switch {
	case r.ordersDown:
		rootOpts = append(rootOpts, raised("ToolException", fmt.Sprintf(ordersErr, 4000+int(r.id[len(r.id)-1])*13)))
	case r.kbReset:
		rootOpts = append(rootOpts, raised("ConnectionResetError", "[Errno 104] Connection reset by peer"))
	}
	total := 6 * time.Second
	if r.ordersDown {
		total = 33 * time.Second
	}
	total += r.toolDur
	root := b.Span("", oncall.KindAgent, "support-agent", 0, total, rootOpts...)
	var chainOpts []spanOpt
	if fails {
		chainOpts = append(chainOpts, failed("chain run failed"))
	}
	chain := b.Span(root, oncall.KindChain, "AgentExecutor", 10*time.Millisecond, total-20*time.Millisecond, chainOpts...)

	at := 20 * time.Millisecond
	for k := 0; k < r.rateLimited; k++ {
		b.Span(chain, oncall.KindLLM, "ChatOpenAI", at, 150*time.Millisecond, model(r.model, "openai", 0, 0, 0),
			raised("RateLimitError", fmt.Sprintf("Error code: 429 - Rate limit reached for gpt-4o on tokens per min (TPM): Limit 30000, Used %d. Please try again in %dms.", 29000+k*37, 300+k*150)))
		at += 200 * time.Millisecond
	}
	planCost := float64(r.planTokens) * 2.5e-6
	b.Span(chain, oncall.KindLLM, "ChatOpenAI", at, 1200*time.Millisecond, model(r.model, "openai", r.planTokens-200, 200, planCost),
		spanAttr("llm.prompt_template.version", "v6"))
	at += 1300 * time.Millisecond

	args := `{"order_id": "` + r.id + `"}`
	if r.ordersDown {
		tool := b.Span(chain, oncall.KindTool, "search_orders", at, 30*time.Second+r.toolDur, call("search_orders", args),
			raised("ToolException", fmt.Sprintf(ordersErr, 4000+int(r.id[len(r.id)-1])*13)))
		b.Span(tool, oncall.KindHTTP, "GET", at+5*time.Millisecond, 30*time.Second, httpCode(504), failed("Gateway Timeout"))
		return b.Done()
	}
	tool := b.Span(chain, oncall.KindTool, "search_orders", at, r.toolDur, call("search_orders", args), output(`{"status": "shipped"}`))
	b.Span(tool, oncall.KindHTTP, "GET", at+5*time.Millisecond, r.toolDur-10*time.Millisecond, httpCode(200))
	at += r.toolDur + 10*time.Millisecond

	if r.kbReset {
		b.Span(chain, oncall.KindRetriever, "kb_search", at, 80*time.Millisecond, raised("ConnectionResetError", "[Errno 104] Connection reset by peer"))
		return b.Done()
	}
	b.Span(chain, oncall.KindRetriever, "kb_search", at, 300*time.Millisecond, output("3 documents"))
	at += 310 * time.Millisecond
	for k := 0; k < r.loopCalls; k++ {
		b.Span(chain, oncall.KindTool, "lookup_policy", at, 100*time.Millisecond, call("lookup_policy", `{"topic": "returns"}`), output("30 days"))
		at += 110 * time.Millisecond
	}
	b.Span(chain, oncall.KindLLM, "ChatOpenAI", at, 1500*time.Millisecond, model(r.model, "openai", 2400, 300, 0.009))
	return b.Done()
}

// errorScenario is an error-rate incident: at 12:00 release 2.4.0 went
// out, and the order service started timing out for a third of the runs.
// A knowledge-base connection reset fails 40% of the runs in both windows
// (more runs than the new failure, but no change), the planner is
// rate-limited more often, and a policy lookup loops in some runs.
func errorScenario() []oncall.Trace {
	var traces []oncall.Trace
	for i := range 60 {
		traces = append(traces, supportRun{
			id:          fmt.Sprintf("base-%03d", i),
			start:       baselineWin.Start.Add(time.Duration(i) * time.Minute),
			attrs:       map[string]string{"service.version": "2.3.1", "deployment.environment": "production", "user.id": fmt.Sprintf("u%d", 1000+i), "cloud.region": []string{"us-east-1", "eu-west-1"}[i%2]},
			kbReset:     i%5 == 1 || i%5 == 2,
			rateLimited: map[bool]int{true: 3}[i == 7],
		}.build())
	}
	for i := range 60 {
		traces = append(traces, supportRun{
			id:          fmt.Sprintf("inc-%03d", i),
			start:       incidentStart.Add(time.Duration(i) * 30 * time.Second),
			attrs:       map[string]string{"service.version": "2.4.0", "deployment.environment": "production", "user.id": fmt.Sprintf("u%d", 2000+i), "cloud.region": []string{"us-east-1", "eu-west-1"}[i%2]},
			ordersDown:  i%3 == 0,
			kbReset:     i%3 != 0 && i%5 >= 1 && i%5 <= 3,
			rateLimited: map[bool]int{true: 3}[i%6 == 1],
			loopCalls:   map[bool]int{true: 4}[i%10 == 5],
		}.build())
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
