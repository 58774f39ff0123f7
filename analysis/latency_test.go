package analysis

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

func latencyAlert() oncall.Alert {
	return oncall.Alert{
		Source: "alertmanager", Fingerprint: "d4e5f6", GroupKey: "travel-agent", Status: oncall.AlertFiring,
		Name: "AgentP95LatencyHigh", Summary: "travel-agent p95 above 5s",
		GeneratorURL: "http://prometheus:9090/graph?g0.expr=" + url.QueryEscape(`histogram_quantile(0.95, sum by (le) (rate(agent_run_duration_seconds_bucket{agent="travel-agent"}[10m]))) > 5`) + "&g0.tab=1",
		StartsAt:     incidentWin.End, ReceivedAt: incidentWin.End,
	}
}

// travelRun is one run of a travel agent written with GenAI conventions:
// a planning call, a flight search tool with its HTTP call, a small
// formatting step and an answer.
type travelRun struct {
	id        string
	start     time.Time
	region    string
	search    time.Duration // the flight search tool
	format    time.Duration // the formatting step
	plan      time.Duration // the planning call, default 1.2s
	searchErr bool
}

func (r travelRun) build() oncall.Trace {
	if r.plan == 0 {
		r.plan = 1200 * time.Millisecond
	}
	b := newTrace(r.id, r.start).Attr("cloud.region", r.region).Attr("session.id", "sess-"+r.id)
	total := r.plan + r.search + r.format + time.Second + 40*time.Millisecond
	root := b.Span("", oncall.KindAgent, "invoke_agent travel-agent", 0, total, output("Flight LH400 at 10:05 fits."))
	step := b.Span(root, oncall.KindChain, "graph", 5*time.Millisecond, total-10*time.Millisecond)
	at := 10 * time.Millisecond
	b.Span(step, oncall.KindLLM, "chat gpt-4o", at, r.plan, model("gpt-4o-2024-08-06", "openai", 900, 80, 0.003))
	at += r.plan + 5*time.Millisecond
	var opts []spanOpt
	if r.searchErr {
		opts = append(opts, raised("TimeoutError", "search timed out"))
	}
	tool := b.Span(step, oncall.KindTool, "execute_tool search_flights", at, r.search, append(opts, call("search_flights", `{"from": "FRA", "to": "JFK"}`))...)
	b.Span(tool, oncall.KindHTTP, "POST", at+2*time.Millisecond, r.search-4*time.Millisecond, httpCode(200))
	at += r.search + 5*time.Millisecond
	b.Span(step, oncall.KindChain, "format_answer", at, r.format)
	at += r.format + 5*time.Millisecond
	b.Span(step, oncall.KindLLM, "chat gpt-4o", at, time.Second, model("gpt-4o-2024-08-06", "openai", 1200, 150, 0.0045))
	return b.Done()
}

// latencyScenario: from 12:00 the flight search in eu-west-1 takes 8s
// instead of about 1s; a formatting step also got three times slower, but
// it takes milliseconds. Nothing fails.
func latencyScenario() []oncall.Trace {
	var traces []oncall.Trace
	regions := []string{"eu-west-1", "us-east-1"}
	for i := range 40 {
		traces = append(traces, travelRun{
			id: fmt.Sprintf("base-%03d", i), start: baselineWin.Start.Add(time.Duration(i) * 90 * time.Second), region: regions[i%2],
			search: 900*time.Millisecond + time.Duration(i%5)*40*time.Millisecond, format: 5 * time.Millisecond,
		}.build())
	}
	for i := range 40 {
		search := 950 * time.Millisecond
		if i%2 == 0 {
			search = 8*time.Second + time.Duration(i%4)*100*time.Millisecond
		}
		traces = append(traces, travelRun{
			id: fmt.Sprintf("inc-%03d", i), start: incidentStart.Add(time.Duration(i) * 45 * time.Second), region: regions[i%2],
			search: search, format: 15 * time.Millisecond,
		}.build())
	}
	return traces
}

func TestAnalyzeLatencyIncident(t *testing.T) {
	traces := latencyScenario()
	rep := Analyze(latencyAlert(), traces, windows)
	if rep.AlertKind != oncall.AlertKindLatency {
		t.Fatalf("alert kind %s, want latency", rep.AlertKind)
	}
	if rep.FailingTraces != 0 {
		t.Errorf("FailingTraces = %d, want 0: nothing failed", rep.FailingTraces)
	}
	if len(rep.Clusters) == 0 {
		t.Fatal("no clusters for a latency spike without errors")
	}
	top := rep.Clusters[0]
	if top.Kind != "latency" || top.SpanKind != oncall.KindTool || top.SpanName != "search_flights" || top.ToolName != "search_flights" {
		t.Fatalf("top cluster %q, want the search_flights tool's latency", top.Signature)
	}
	if top.Count != 20 || top.BaselineCount > 2 || top.Score <= 0 {
		t.Errorf("count %d baseline %d score %v, want the 20 slow eu-west-1 runs, few in the baseline, score above zero", top.Count, top.BaselineCount, top.Score)
	}
	if !strings.HasPrefix(top.Detail, "p95 8.2s vs 1.1s baseline (×7.7), p50 950ms vs 980ms; adds 3.5s per run") {
		t.Errorf("detail %q, want the p95 against the baseline's", top.Detail)
	}
	for i, id := range top.TraceIDs {
		if s := spanOf(traces, id, top.SpanIDs[i]); s == nil || s.ToolName != "search_flights" {
			t.Errorf("example %s/%s is not the slow tool span", id, top.SpanIDs[i])
		}
	}
	for _, c := range rep.Clusters[1:] {
		if c.Kind == "latency" && (c.SpanKind == oncall.KindAgent || c.SpanName == "graph" || c.SpanKind == oncall.KindHTTP) {
			t.Errorf("cluster %q blames a span that only waited for the tool", c.Signature)
		}
		if c.SpanName == "format_answer" && c.Score >= top.Score {
			t.Errorf("the millisecond formatting step ranks with the tool: %q", c.Signature)
		}
	}
	if len(rep.Suspects) == 0 || rep.Suspects[0].Attribute != "cloud.region" || rep.Suspects[0].Value != "eu-west-1" {
		t.Errorf("suspects %+v, want cloud.region eu-west-1 first", rep.Suspects)
	}
	h := rep.HealthyExample
	for i := range traces {
		if traces[i].TraceID == h && traces[i].Duration() > 5*time.Second {
			t.Errorf("healthy example %s took %v", h, traces[i].Duration())
		}
	}
	if h == "" {
		t.Error("no healthy example")
	}
}

// A span three times slower that takes milliseconds must not outrank one
// that adds seconds, and a span twice as slow adding two seconds outranks
// one nine times as slow adding less than one.
func TestLatencyRanksByContribution(t *testing.T) {
	var traces []oncall.Trace
	for i := range 30 {
		traces = append(traces, travelRun{id: fmt.Sprintf("b%02d", i), start: baselineWin.Start.Add(time.Duration(i) * time.Minute),
			search: time.Second, format: 100 * time.Millisecond, plan: time.Second}.build())
		traces = append(traces, travelRun{id: fmt.Sprintf("i%02d", i), start: incidentStart.Add(time.Duration(i) * time.Minute),
			search: 3 * time.Second, format: 900 * time.Millisecond, plan: time.Second}.build())
	}
	rep := Analyze(latencyAlert(), traces, windows)
	var names []string
	for _, c := range rep.Clusters {
		names = append(names, c.SpanName)
	}
	if len(names) < 2 || names[0] != "search_flights" || names[1] != "format_answer" {
		t.Errorf("latency clusters %v, want search_flights (+2s) before format_answer (×9, +0.8s)", names)
	}
}

func TestLatencyWithoutBaseline(t *testing.T) {
	var traces []oncall.Trace
	for i := range 10 {
		traces = append(traces, travelRun{id: fmt.Sprintf("i%02d", i), start: incidentStart.Add(time.Duration(i) * time.Minute),
			search: 6 * time.Second, format: 5 * time.Millisecond}.build())
	}
	rep := Analyze(latencyAlert(), traces, windows)
	if len(rep.Clusters) == 0 || rep.Clusters[0].SpanName != "search_flights" || !strings.Contains(rep.Clusters[0].Detail, "no baseline") {
		t.Fatalf("clusters %+v, want the span taking most of the time, said to have no baseline", rep.Clusters)
	}
	if len(rep.Clusters) > maxUnbaselined {
		t.Errorf("%d clusters, want at most %d without a baseline", len(rep.Clusters), maxUnbaselined)
	}
}

func TestSeconds(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0.0049, "5ms"},
		{0.85, "850ms"},
		{4.234, "4.2s"},
		{75.4, "1m15s"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := seconds(tt.in); got != tt.want {
				t.Errorf("seconds(%v) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}
	tests := []struct {
		p    float64
		want float64
	}{{0.5, 5}, {0.95, 10}, {0.9, 9}, {0, 1}}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.p), func(t *testing.T) {
			if got := percentile(xs, tt.p); got != tt.want {
				t.Errorf("percentile(%v) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
	if xs[0] != 5 {
		t.Error("percentile sorted its input")
	}
	if percentile(nil, 0.5) != 0 {
		t.Error("percentile of nothing is not 0")
	}
}

// An alert that does not say what it measures (a generic webhook named
// "Travel agent degraded") is read from what changed: here runs got
// slower and none failed more.
func TestAlertKindFromWhatChanged(t *testing.T) {
	alert := oncall.Alert{Name: "Travel agent degraded", Summary: "error budget burning", Status: oncall.AlertFiring, StartsAt: incidentWin.End}
	rep := Analyze(alert, latencyScenario(), windows)
	if rep.AlertKind != oncall.AlertKindLatency || rep.AlertKindFrom != "what changed in the traces" {
		t.Fatalf("alert kind %s from %q, want latency from what changed in the traces", rep.AlertKind, rep.AlertKindFrom)
	}
	if len(rep.Clusters) == 0 || rep.Clusters[0].Kind != "latency" || rep.Clusters[0].ToolName != "search_flights" {
		t.Errorf("top cluster %+v, want search_flights' latency", rep.Clusters)
	}
}
