package analysis

import (
	"fmt"
	"slices"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

func TestLoops(t *testing.T) {
	const sec = time.Second
	tests := []struct {
		name string
		// calls are the tool calls in order: name and arguments.
		calls    [][2]string
		rootFail string
		want     []string
		repeats  int
	}{
		{
			name:  "three identical calls are a loop",
			calls: [][2]string{{"search", `{"q": "a"}`}, {"search", `{"q": "a"}`}, {"search", `{"q": "a"}`}},
			want:  []string{"loop tool search: called again with identical arguments"}, repeats: 3,
		},
		{
			name:  "different arguments are progress",
			calls: [][2]string{{"search", `{"q": "a"}`}, {"search", `{"q": "b"}`}, {"search", `{"q": "c"}`}},
		},
		{
			name:  "two calls are a retry, not a loop",
			calls: [][2]string{{"search", `{"q": "a"}`}, {"search", `{"q": "a"}`}},
		},
		{
			name:     "a loop that ends a failed run is its step limit, and explains the root's failure",
			calls:    [][2]string{{"fetch", "{}"}, {"search", `{"q": "a"}`}, {"search", `{"q": "a"}`}, {"search", `{"q": "a"}`}, {"search", `{"q": "a"}`}},
			rootFail: "run failed",
			want:     []string{"max_iterations tool search: run ended repeating the same call"}, repeats: 4,
		},
		{
			name:     "a loop the run got past is a loop even when the run failed later",
			calls:    [][2]string{{"search", `{"q": "a"}`}, {"search", `{"q": "a"}`}, {"search", `{"q": "a"}`}, {"fetch", "{}"}},
			rootFail: "run failed",
			want:     []string{"agent agent: run failed", "loop tool search: called again with identical arguments"}, repeats: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newTrace("t", incidentStart)
			var opts []spanOpt
			if tt.rootFail != "" {
				opts = append(opts, failed(tt.rootFail))
			}
			root := b.Span("", oncall.KindAgent, "agent", 0, 20*sec, opts...)
			for k, c := range tt.calls {
				b.Span(root, oncall.KindTool, c[0], time.Duration(k)*sec, sec/2, call(c[0], c[1]))
			}
			var got []string
			repeats := 0
			for _, f := range findingsOf(t, b.Done()) {
				got = append(got, f.sig)
				if f.kind != ClusterError {
					repeats = f.repeats
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("findings %q, want %q", got, tt.want)
			}
			if repeats != tt.repeats {
				t.Errorf("repeats %d, want %d", repeats, tt.repeats)
			}
		})
	}
}

func TestLoopReadsInputWithoutArguments(t *testing.T) {
	b := newTrace("t", incidentStart)
	root := b.Span("", oncall.KindAgent, "agent", 0, 5*time.Second, output("ok"))
	for k := range 3 {
		b.Span(root, oncall.KindTool, "lookup", time.Duration(k)*time.Second, time.Second/2, func(s *oncall.Span) { s.Input = "order 7" })
	}
	if fs := findingsOf(t, b.Done()); len(fs) != 1 || fs[0].kind != ClusterLoop {
		t.Errorf("findings %+v, want a loop read from the tool input", fs)
	}
}

func TestGuardrailVerdict(t *testing.T) {
	tests := []struct {
		name    string
		span    oncall.Span
		blocked bool
		why     string
	}{
		{"tripwire", oncall.Span{Attributes: map[string]string{"guardrail.tripwire_triggered": "true"}}, true, "blocked: guardrail.tripwire_triggered=true"},
		{"action", oncall.Span{Attributes: map[string]string{"guardrail.action": "BLOCKED", "guardrail.name": "pii"}}, true, "blocked: guardrail.action=BLOCKED"},
		{"not passed", oncall.Span{Attributes: map[string]string{"validation.passed": "false"}}, true, "blocked: validation.passed=false"},
		{"output verdict", oncall.Span{Output: "Flagged"}, true, "blocked: flagged"},
		{"warning", oncall.Span{Status: oncall.StatusWarning, StatusMessage: "toxicity 0.93"}, true, "flagged: toxicity 0.93"},
		{"passed", oncall.Span{Attributes: map[string]string{"guardrail.tripwire_triggered": "false", "validation.passed": "true"}, Output: "ok"}, false, ""},
		{"long content is not a verdict", oncall.Span{Output: "The answer was blocked by nobody and passed every check we have in place today."}, false, ""},
		{"unrelated attribute", oncall.Span{Attributes: map[string]string{"model.flagship": "true"}}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			why, blocked := guardrailVerdict(&tt.span)
			if blocked != tt.blocked || why != tt.why {
				t.Errorf("guardrailVerdict = %q, %v; want %q, %v", why, blocked, tt.why, tt.blocked)
			}
		})
	}
}

// runs builds baseline and incident runs of one agent with per-run
// options.
func runs(n int, opts func(incident bool, i int, b *traceBuilder, root string)) []oncall.Trace {
	var traces []oncall.Trace
	for _, incident := range []bool{false, true} {
		for i := range n {
			start, id := baselineWin.Start.Add(time.Duration(i)*time.Minute), fmt.Sprintf("b%02d", i)
			if incident {
				start, id = incidentStart.Add(time.Duration(i)*30*time.Second), fmt.Sprintf("i%02d", i)
			}
			b := newTrace(id, start)
			root := b.Span("", oncall.KindAgent, "helper", 0, 3*time.Second)
			b.Span(root, oncall.KindLLM, "chat", 10*time.Millisecond, 2*time.Second, model("m", "p", 100, 10, 0))
			opts(incident, i, b, root)
			traces = append(traces, b.Done())
		}
	}
	return traces
}

func TestEmptyOutput(t *testing.T) {
	traces := runs(20, func(incident bool, i int, b *traceBuilder, root string) {
		out := "Here is your answer."
		if incident && i%2 == 0 {
			out = "  "
		}
		b.Spans()[0].Output = out
	})
	rep := Analyze(errorAlert(), traces, windows)
	if len(rep.Clusters) != 1 {
		t.Fatalf("clusters %+v, want one", rep.Clusters)
	}
	c := rep.Clusters[0]
	if c.Kind != "empty_output" || c.Count != 10 || !c.New || c.SpanName != "helper" || c.SpanIDs[0] != "i00.01" {
		t.Errorf("cluster %+v, want the 10 empty answers of helper, blamed on the root", c)
	}
	if rep.FailingTraces != 10 {
		t.Errorf("FailingTraces = %d, want 10", rep.FailingTraces)
	}
}

func TestEmptyOutputNeedsAnAgentThatAnswers(t *testing.T) {
	// Runs that never record an output are not empty answers.
	traces := runs(20, func(bool, int, *traceBuilder, string) {})
	if rep := Analyze(errorAlert(), traces, windows); len(rep.Clusters) != 0 {
		t.Errorf("clusters %+v for an agent that records no output", rep.Clusters)
	}
}

func TestGuardrailBlocksAndStepLimitOutputs(t *testing.T) {
	traces := runs(20, func(incident bool, i int, b *traceBuilder, root string) {
		b.Spans()[0].Output = "Here is your answer."
		verdict := "pass"
		if incident && i%2 == 0 {
			verdict = "block"
		}
		b.Span(root, oncall.KindGuardrail, "output_policy", 2100*time.Millisecond, 100*time.Millisecond, spanAttr("guardrail.decision", verdict))
		if incident && i%4 == 1 {
			b.Spans()[0].Output = "Agent stopped due to iteration limit or time limit."
		}
	})
	rep := Analyze(errorAlert(), traces, windows)
	var kinds []string
	for _, c := range rep.Clusters {
		kinds = append(kinds, fmt.Sprintf("%s %s %d", c.Kind, c.SpanName, c.Count))
	}
	want := []string{"guardrail output_policy 10", "max_iterations helper 5"}
	if !slices.Equal(kinds, want) {
		t.Errorf("clusters %q, want %q", kinds, want)
	}
}
