package scenario

import (
	"strings"
	"testing"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

func TestCauseOnlyInIncidentWindow(t *testing.T) {
	for _, g := range all(t) {
		t.Run(g.Spec.Name, func(t *testing.T) {
			e := g.Expected
			var got Counts
			for _, ms := range marksOf(g, "cause") {
				at := ms[0].Start
				switch {
				case e.IncidentWindow.Contains(at):
					got.Incident++
				case e.BaselineWindow.Contains(at):
					got.Baseline++
				}
				if at.Before(e.Onset) {
					t.Errorf("cause in trace %s at %v, before the onset %v", ms[0].TraceID, at, e.Onset)
				}
			}
			if got != e.CauseTraces {
				t.Errorf("cause traces %+v, expected.json says %+v", got, e.CauseTraces)
			}
			if got.Baseline != 0 || got.Incident < 5 {
				t.Errorf("cause in %d baseline and %d incident traces; want none and at least 5", got.Baseline, got.Incident)
			}
			causes := marksOf(g, "cause")
			for _, id := range e.ExampleTraces {
				if causes[id] == nil {
					t.Errorf("example trace %s shows no cause", id)
				}
			}
			if !e.IncidentWindow.End.Equal(e.BaselineWindow.End.Add(2*IncidentWindow)) || e.IncidentWindow.Start != e.BaselineWindow.End ||
				e.BaselineWindow.End.Sub(e.BaselineWindow.Start) != BaselineWindow {
				t.Errorf("windows %+v and %+v are not [T-90m, T-30m) and [T-30m, T+30m)", e.BaselineWindow, e.IncidentWindow)
			}
		})
	}
}

func TestExpectedCauseNamesTheOriginSpan(t *testing.T) {
	for _, g := range all(t) {
		t.Run(g.Spec.Name, func(t *testing.T) {
			c := g.Expected.Cause
			traces := traceByID(g)
			matching := 0
			for id, ms := range marksOf(g, "cause") {
				tr := traces[id]
				for _, m := range ms {
					s := tr.Span(m.SpanID)
					if s.Kind == c.SpanKind && s.Name == c.SpanName && (s.ToolName == c.ToolName || g.Spec.Category == MaxIterations) {
						matching++
					}
					if c.ErrorContains != "" && !strings.Contains(s.StatusMessage, c.ErrorContains) {
						t.Errorf("cause span %q of trace %s: status %q lacks %q", s.Name, id, s.StatusMessage, c.ErrorContains)
					}
				}
			}
			if matching == 0 {
				t.Errorf("no cause span is a %s span %q with tool %q", c.SpanKind, c.SpanName, c.ToolName)
			}
			errorAlert := g.Expected.AlertKind == oncall.AlertKindErrors
			if errorAlert != (c.ErrorContains != "") {
				t.Errorf("alert kind %s with error_contains %q", g.Expected.AlertKind, c.ErrorContains)
			}
		})
	}
}

// TestErrorsPropagate checks that a run the cause made fail fails all the
// way up: from the span where the error started to the agent span, each
// with an exception event, and that failing tool spans have a failing
// client child.
func TestErrorsPropagate(t *testing.T) {
	for _, g := range all(t) {
		if g.Expected.AlertKind != oncall.AlertKindErrors {
			continue
		}
		t.Run(g.Spec.Name, func(t *testing.T) {
			traces := traceByID(g)
			failedRuns := 0
			for id, ms := range marksOf(g, "cause") {
				tr := traces[id]
				if !tr.Root().Failed() || !strings.Contains(tr.Root().StatusMessage, g.Expected.Cause.ErrorContains) {
					continue // retried successfully, or failed for another reason
				}
				failedRuns++
				last := tr.Span(ms[len(ms)-1].SpanID)
				for s := last; s != nil; s = tr.Span(s.ParentID) {
					if !s.Failed() {
						t.Fatalf("trace %s: %q under the failing %q did not fail", id, s.Name, last.Name)
					}
					if s.Kind != oncall.KindHTTP && len(s.Exceptions()) == 0 {
						t.Errorf("trace %s: failing %q has no exception event", id, s.Name)
					}
					if s.ParentID == "" {
						break
					}
				}
				if last.Kind == oncall.KindTool {
					child := false
					for _, s := range tr.Spans {
						if s.ParentID == last.SpanID && s.Failed() {
							child = true
						}
					}
					if !child && g.Spec.Category != InvalidToolArgs {
						t.Errorf("trace %s: failing tool %q has no failing client span", id, last.Name)
					}
				}
			}
			if failedRuns < 3 {
				t.Errorf("only %d runs failed because of the cause", failedRuns)
			}
		})
	}
}

func TestBackgroundFailuresInBothWindows(t *testing.T) {
	for _, g := range all(t) {
		t.Run(g.Spec.Name, func(t *testing.T) {
			steady := 0
			for _, b := range g.Expected.Background {
				var got Counts
				for _, ms := range marksOf(g, b.Label) {
					switch {
					case g.Expected.IncidentWindow.Contains(ms[0].Start):
						got.Incident++
					case g.Expected.BaselineWindow.Contains(ms[0].Start):
						got.Baseline++
					}
				}
				if got != b.Traces {
					t.Errorf("background %s: counted %+v, expected.json says %+v", b.Label, got, b.Traces)
				}
				if b.ErrorContains != "" && got.Incident > 0 && got.Baseline > 0 {
					steady++
				}
			}
			if steady < 2 {
				t.Errorf("%d background failures show in both windows, want at least 2", steady)
			}
		})
	}
}

func TestNoisyBackgroundOutnumbersTheCause(t *testing.T) {
	_, cat := generated(t)
	n := 0
	for _, g := range cat {
		if !g.Spec.Noisy {
			continue
		}
		n++
		t.Run(g.Spec.Name, func(t *testing.T) {
			for _, b := range g.Expected.Background {
				if b.ErrorContains != "" && b.Traces.Incident > g.Expected.CauseTraces.Incident && b.Traces.Baseline > 0 {
					return
				}
			}
			t.Errorf("no steady background failure is more frequent than the cause (%d traces) in the incident window", g.Expected.CauseTraces.Incident)
		})
	}
	if n == 0 {
		t.Error("the catalog has no noisy scenario")
	}
}

// attrValues returns the values a trace has for an attribute, reading
// the model from the canonical field too.
func attrValues(tr *oncall.Trace, key string) map[string]bool {
	out := map[string]bool{}
	for _, s := range tr.Spans {
		if v := s.Attributes[key]; v != "" {
			out[v] = true
		}
		if key == "gen_ai.request.model" && s.Model != "" {
			out[s.Model] = true
		}
	}
	return out
}

func TestSuspectChangesWithTheCause(t *testing.T) {
	for _, g := range all(t) {
		sus := g.Expected.Suspect
		if sus == nil {
			continue
		}
		t.Run(g.Spec.Name, func(t *testing.T) {
			inCause, baselineSeen := false, sus.Baseline == ""
			causes := marksOf(g, "cause")
			for i := range g.Traces {
				tr := &g.Traces[i]
				if tr.Attributes["gen_ai.agent.name"] != g.Expected.Agent {
					continue
				}
				has := attrValues(tr, sus.Attribute)[sus.Value]
				if has && g.Expected.BaselineWindow.Contains(tr.Start) {
					t.Fatalf("baseline trace %s has %s=%s", tr.TraceID, sus.Attribute, sus.Value)
				}
				if has && causes[tr.TraceID] != nil {
					inCause = true
				}
				if has && g.Spec.Category == ModelRegression && !tr.Failed() {
					t.Errorf("trace %s uses the new model %s and did not fail", tr.TraceID, sus.Value)
				}
				if sus.Baseline != "" && g.Expected.BaselineWindow.Contains(tr.Start) && attrValues(tr, sus.Attribute)[sus.Baseline] {
					baselineSeen = true
				}
			}
			if !inCause {
				t.Errorf("no cause trace has %s=%s", sus.Attribute, sus.Value)
			}
			if !baselineSeen {
				t.Errorf("no baseline trace has %s=%s", sus.Attribute, sus.Baseline)
			}
		})
	}
}
