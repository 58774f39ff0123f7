package analysis

import (
	"reflect"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// AnalyzeAtOnset moves the split between baseline and incident to where
// the failures began, so the runs before it are the baseline; with no
// onset inside the incident window it is Analyze.
func TestAnalyzeAtOnset(t *testing.T) {
	fired := fleetT0
	onset := fired.Add(-3 * time.Minute)
	// 40 runs every 30s from 15 minutes before the alert fired; the fetch
	// tool fails in three of four runs from the onset on.
	runs := func(fails func(start time.Time, i int) bool) []oncall.Trace {
		var traces []oncall.Trace
		for i := range 40 {
			start := fired.Add(-15*time.Minute + time.Duration(i)*30*time.Second)
			traces = append(traces, fleetTrace(i+1, "orders", "orders-svc", start, fails(start, i)))
		}
		return traces
	}
	// The windows a triage 5 minutes after the alert uses with a 10 minute
	// window: the configured baseline holds only the first 10 runs.
	opts := Options{
		Incident: Window{Start: fired.Add(-10 * time.Minute), End: fired.Add(5 * time.Minute)},
		Baseline: Window{Start: fired.Add(-70 * time.Minute), End: fired.Add(-10 * time.Minute)},
	}
	alert := oncall.Alert{Name: "OrdersFailing", Status: oncall.AlertFiring, StartsAt: fired, Labels: map[string]string{"service": "orders-svc"}}

	t.Run("split at the onset", func(t *testing.T) {
		traces := runs(func(start time.Time, i int) bool { return !start.Before(onset) && i%4 != 3 })
		if plain := Analyze(alert, traces, opts); plain.BaselineTraces != 10 {
			t.Fatalf("Analyze: %d baseline runs, want 10", plain.BaselineTraces)
		}
		rep := AnalyzeAtOnset(alert, traces, opts)
		if !rep.Onset.Equal(onset) {
			t.Errorf("onset %v, want %v", rep.Onset, onset)
		}
		if rep.BaselineTraces != 24 || rep.TracesExamined != 16 {
			t.Errorf("%d baseline and %d incident runs, want the 24 before the onset and the 16 from it", rep.BaselineTraces, rep.TracesExamined)
		}
		if len(rep.Clusters) == 0 || rep.Clusters[0].ToolName != "fetch" || !rep.Clusters[0].New {
			t.Errorf("top cluster %+v, want fetch, new since the onset", rep.Clusters)
		}
	})
	t.Run("failing since before the incident window", func(t *testing.T) {
		traces := runs(func(_ time.Time, i int) bool { return i%2 == 0 })
		want := Analyze(alert, traces, opts)
		if len(want.Clusters) == 0 || !want.Onset.Before(opts.Incident.Start) {
			t.Fatalf("Analyze: clusters %+v, onset %v; want the fetch failures, from before the incident window", want.Clusters, want.Onset)
		}
		if got := AnalyzeAtOnset(alert, traces, opts); !reflect.DeepEqual(got, want) {
			t.Errorf("with no onset inside the incident window the report differs from Analyze's:\n got %+v\nwant %+v", got, want)
		}
	})
}
