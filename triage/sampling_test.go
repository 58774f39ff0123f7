package triage

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/analysis"
	"github.com/oncall-copilot/oncall-copilot/redact"
)

// samplingSource is a trace store that holds a fleet in memory and, like
// the stores that can filter, keeps the failing and slow runs of a window
// besides its cap and samples the healthy ones (oncall.SampleRuns).
type samplingSource struct{ traces []oncall.Trace }

func (s samplingSource) Search(_ context.Context, q oncall.TraceQuery) (oncall.TraceSearchResult, error) {
	var in []oncall.Trace
	for _, t := range s.traces {
		if !t.Start.Before(q.Start) && t.Start.Before(q.End) {
			in = append(in, t)
		}
	}
	sample := oncall.SampleRuns(in, q.KeepLimit, q.Limit)
	return oncall.TraceSearchResult{Traces: sample.Traces, Matched: len(in), Weights: sample.Weights, Sampling: sample.Note()}, nil
}

func (s samplingSource) Get(context.Context, string) (oncall.Trace, error) {
	return oncall.Trace{}, oncall.ErrNotFound
}

// busyFleet is 2,000 runs in the incident window (one in ten failing on a
// connection reset) and 2,000 in the baseline (one in a hundred), with run
// times spread so that some are slow.
func busyFleet() []oncall.Trace {
	var out []oncall.Trace
	for i := range 4000 {
		incident := i < 2000
		start := svcT0.Add(-30*time.Minute + time.Duration(i)*900*time.Millisecond)
		fail := i%10 == 3
		if !incident {
			start = svcT0.Add(-90*time.Minute + time.Duration(i-2000)*1800*time.Millisecond)
			fail = i%100 == 7
		}
		t := fleetTrace(i+1, "support-agent", "support", start, fail)
		// Durations from 1.0 to 3.0 s, so the window has a tail.
		d := time.Second + time.Duration(i%200)*10*time.Millisecond
		t.Spans[0].End = start.Add(d)
		t.Start, t.End = start, start.Add(d)
		out = append(out, t)
	}
	return out
}

func TestSamplingKeepsTheRanking(t *testing.T) {
	fleet := busyFleet()
	red, err := redact.New(redact.Options{})
	if err != nil {
		t.Fatal(err)
	}
	prepare := func(maxTraces int) *Prepared {
		svc, err := NewService(ServiceOptions{Sources: map[string]TraceSource{"mem": samplingSource{fleet}}, Redactor: red, MaxTraces: maxTraces, Now: func() time.Time { return svcT0 }})
		if err != nil {
			t.Fatal(err)
		}
		p, err := svc.Prepare(context.Background(), oncall.TriageRequest{Alert: oncall.Alert{Name: "support errors", StartsAt: svcT0}})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	full, capped := prepare(100_000), prepare(200)
	if len(capped.Traces) >= 1000 {
		t.Fatalf("capped triage read %d traces, want the sample", len(capped.Traces))
	}
	if len(full.Report.Clusters) == 0 || len(capped.Report.Clusters) == 0 {
		t.Fatal("no clusters")
	}
	want, got := full.Report.Clusters[0], capped.Report.Clusters[0]
	if got.Signature != want.Signature {
		t.Fatalf("top cluster with a cap of 200 = %q, want %q as uncapped", got.Signature, want.Signature)
	}
	if math.Abs(got.Rate-want.Rate) > 0.1*want.Rate || math.Abs(got.BaselineRate-want.BaselineRate) > 0.1*want.BaselineRate {
		t.Errorf("rate %.4f (baseline %.4f) with a cap of 200, want within 10%% of %.4f (baseline %.4f)", got.Rate, got.BaselineRate, want.Rate, want.BaselineRate)
	}
	var notes []string
	for _, m := range capped.Report.Missing {
		if strings.Contains(m, "chosen uniformly") {
			notes = append(notes, m)
		}
	}
	if len(notes) != 2 {
		t.Errorf("report says %q, want how each window was sampled", capped.Report.Missing)
	}
	t.Logf("uncapped %.4f vs %.4f, capped %.4f vs %.4f over %d traces; %s", want.Rate, want.BaselineRate, got.Rate, got.BaselineRate, len(capped.Traces), strings.Join(notes, " | "))
}

// Without weights the same sample would report the failing share of the
// sample, not of the window.
func TestUnweightedSampleWouldMislead(t *testing.T) {
	fleet := busyFleet()
	var inc []oncall.Trace
	for _, tr := range fleet[:2000] {
		inc = append(inc, tr)
	}
	s := oncall.SampleRuns(inc, 200, 200)
	win := analysis.Window{Start: svcT0.Add(-30 * time.Minute), End: svcT0}
	weighted := analysis.Analyze(oncall.Alert{}, s.Traces, analysis.Options{Incident: win, Baseline: analysis.Window{Start: win.Start.Add(-time.Hour), End: win.Start}, Weights: s.Weights})
	plain := analysis.Analyze(oncall.Alert{}, s.Traces, analysis.Options{Incident: win, Baseline: analysis.Window{Start: win.Start.Add(-time.Hour), End: win.Start}})
	if r := weighted.Clusters[0].Rate; math.Abs(r-0.1) > 0.01 {
		t.Errorf("weighted rate %.4f, want 0.1", r)
	}
	if r := plain.Clusters[0].Rate; r < 0.3 {
		t.Errorf("unweighted rate %.4f; the test no longer shows what weights fix", r)
	}
}

// A window sampled much harder than the other must not look faster or
// cheaper per run: latency and cost means count runs with their weights.
func TestSamplingMovesNoLatencyOrCost(t *testing.T) {
	fleet := busyFleet()
	base := oncall.SampleRuns(fleet[2000:], 200, 50) // healthy runs weigh about 36
	traces := append(slices.Clone(fleet[:2000]), base.Traces...)
	win := analysis.Window{Start: svcT0.Add(-30 * time.Minute), End: svcT0}
	rep := analysis.Analyze(oncall.Alert{}, traces, analysis.Options{Incident: win, Baseline: analysis.Window{Start: win.Start.Add(-time.Hour), End: win.Start}, Weights: base.Weights})
	for _, c := range rep.Clusters {
		if c.Kind == "latency" || c.Kind == "cost" {
			t.Errorf("%s cluster %q (%s) from sampling alone", c.Kind, c.Signature, c.Detail)
		}
	}
	if len(rep.Clusters) == 0 || rep.Clusters[0].Kind != "error" {
		t.Errorf("clusters %+v, want the connection resets first", rep.Clusters)
	}
}
