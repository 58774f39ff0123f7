package analysis

import (
	"fmt"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

func costAlert() oncall.Alert {
	return oncall.Alert{
		Source: "grafana", Fingerprint: "f0f0f0", GroupKey: "research-agent", Status: oncall.AlertFiring,
		Name: "LLMTokenSpendHigh", Summary: "research-agent token spend doubled",
		Labels:   map[string]string{"alert_kind": "cost"},
		StartsAt: incidentWin.End, ReceivedAt: incidentWin.End,
	}
}

// researchRun is one run of a research agent: a planner call and a writer
// call. Its root span carries the usage rolled up from the calls, as some
// SDKs record it.
type researchRun struct {
	id            string
	start         time.Time
	promptVersion string
	planIn        int64
	planModel     string
}

func (r researchRun) build() oncall.Trace {
	if r.planModel == "" {
		r.planModel = "gpt-4o-2024-08-06"
	}
	b := newTrace(r.id, r.start).Attr("service.version", "3.2.0")
	planCost := float64(r.planIn)*2.5e-6 + 300*1e-5
	writeCost := 3000*2.5e-6 + 500*1e-5
	total := r.planIn + 300 + 3500
	root := b.Span("", oncall.KindAgent, "research-agent", 0, 5*time.Second,
		model("", "", r.planIn+3000, 800, planCost+writeCost), output("A summary of the findings."))
	b.Spans()[len(b.Spans())-1].TotalTokens = total
	b.Span(root, oncall.KindLLM, "planner", 10*time.Millisecond, 2*time.Second,
		model(r.planModel, "openai", r.planIn, 300, planCost), spanAttr("llm.prompt_template.version", r.promptVersion))
	b.Span(root, oncall.KindLLM, "writer", 2100*time.Millisecond, 2500*time.Millisecond,
		model("gpt-4o-2024-08-06", "openai", 3000, 500, writeCost), spanAttr("llm.prompt_template.version", "w3"))
	return b.Done()
}

// costScenario: prompt v7 of the planner, rolled out to half the runs at
// 12:00, sends 24k tokens instead of 2k.
func costScenario() []oncall.Trace {
	var traces []oncall.Trace
	for i := range 40 {
		traces = append(traces, researchRun{id: fmt.Sprintf("base-%03d", i), start: baselineWin.Start.Add(time.Duration(i) * 90 * time.Second),
			promptVersion: "v6", planIn: 2000 + int64(i%4)*50}.build())
	}
	for i := range 40 {
		r := researchRun{id: fmt.Sprintf("inc-%03d", i), start: incidentStart.Add(time.Duration(i) * 45 * time.Second), promptVersion: "v6", planIn: 2000 + int64(i%4)*50}
		if i%2 == 0 {
			r.promptVersion, r.planIn = "v7", 24000+int64(i%4)*100
		}
		traces = append(traces, r.build())
	}
	return traces
}

func TestAnalyzeCostIncident(t *testing.T) {
	traces := costScenario()
	rep := Analyze(costAlert(), traces, windows)
	if rep.AlertKind != oncall.AlertKindCost {
		t.Fatalf("alert kind %s, want cost", rep.AlertKind)
	}
	if len(rep.Clusters) == 0 {
		t.Fatal("no clusters")
	}
	top := rep.Clusters[0]
	if top.Kind != "cost" || top.SpanKind != oncall.KindLLM || top.SpanName != "planner" {
		t.Fatalf("top cluster %q, want the planner's cost", top.Signature)
	}
	if top.Count != 20 || top.BaselineCount > 2 || top.Score <= 0 || top.New {
		t.Errorf("count %d baseline %d score %v new %v, want the 20 v7 runs", top.Count, top.BaselineCount, top.Score, top.New)
	}
	if !strings.HasPrefix(top.Detail, "cost per run") || !strings.Contains(top.Detail, "tokens 13.4k vs 2.4k") {
		t.Errorf("detail %q, want cost and tokens per run against the baseline", top.Detail)
	}
	for _, c := range rep.Clusters {
		if c.SpanKind == oncall.KindAgent || c.SpanName == "writer" {
			t.Errorf("cluster %q: rolled-up usage or a steady call reported as a cost change", c.Signature)
		}
	}
	if len(rep.Suspects) == 0 || rep.Suspects[0].Attribute != "llm.prompt_template.version" || rep.Suspects[0].Value != "v7" || rep.Suspects[0].BaselineValue != "v6" {
		t.Errorf("suspects %+v, want the planner's prompt v7 instead of v6", rep.Suspects)
	}
}

// A switch to a pricier model with the same tokens is a cost change: the
// planner's span is compared in dollars when both windows report costs.
func TestCostComparesDollarsWhenKnown(t *testing.T) {
	var traces []oncall.Trace
	for i := range 20 {
		traces = append(traces, researchRun{id: fmt.Sprintf("b%02d", i), start: baselineWin.Start.Add(time.Duration(i) * time.Minute), promptVersion: "v6", planIn: 2000}.build())
		r := researchRun{id: fmt.Sprintf("i%02d", i), start: incidentStart.Add(time.Duration(i) * time.Minute), promptVersion: "v6", planIn: 2000, planModel: "o1-2024-12-17"}.build()
		for k := range r.Spans {
			if r.Spans[k].Name == "planner" {
				r.Spans[k].Cost *= 12
			}
		}
		traces = append(traces, r)
	}
	rep := Analyze(costAlert(), traces, windows)
	if len(rep.Clusters) == 0 || rep.Clusters[0].SpanName != "planner" || !strings.Contains(rep.Clusters[0].Detail, "model o1-2024-12-17 (baseline gpt-4o-2024-08-06)") {
		t.Fatalf("clusters %+v, want the planner's cost with the model change", rep.Clusters)
	}
	found := false
	for _, s := range rep.Suspects {
		found = found || (s.Attribute == "gen_ai.request.model" && s.Value == "o1-2024-12-17")
	}
	if !found {
		t.Errorf("suspects %+v, want the new model", rep.Suspects)
	}
}

func TestCostUnchangedReportsNothing(t *testing.T) {
	var traces []oncall.Trace
	for i := range 20 {
		traces = append(traces, researchRun{id: fmt.Sprintf("b%02d", i), start: baselineWin.Start.Add(time.Duration(i) * time.Minute), promptVersion: "v6", planIn: 2000}.build())
		traces = append(traces, researchRun{id: fmt.Sprintf("i%02d", i), start: incidentStart.Add(time.Duration(i) * time.Minute), promptVersion: "v6", planIn: 2100}.build())
	}
	rep := Analyze(costAlert(), traces, windows)
	for _, c := range rep.Clusters {
		if c.Kind == "cost" {
			t.Errorf("cost cluster %q for a 5%% change", c.Signature)
		}
	}
}

func TestTokensAndDollars(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{tokens(850), "850"},
		{tokens(6140), "6.1k"},
		{tokens(1_250_000), "1.2M"},
		{dollars(0.41234), "$0.412"},
		{dollars(0.000412), "$0.00041"},
		{dollars(12.5), "$12.50"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}
