package triage

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/redact"
	"github.com/oncall-copilot/oncall-copilot/tracesource/jsonl"
)

func TestWindowsFollowTheIncident(t *testing.T) {
	fired := svcT0
	tests := []struct {
		name       string
		now        time.Time
		alert      oncall.Alert
		start, end time.Time
	}{
		{"live alert runs until now", fired.Add(7 * time.Minute), oncall.Alert{Status: oncall.AlertFiring, StartsAt: fired},
			fired.Add(-30 * time.Minute), fired.Add(7 * time.Minute)},
		{"old alert still firing: its start plus the window", fired.Add(5 * time.Hour), oncall.Alert{Status: oncall.AlertFiring, StartsAt: fired, EndsAt: fired.Add(5*time.Hour + 4*time.Minute)},
			fired.Add(-30 * time.Minute), fired.Add(30 * time.Minute)},
		{"old resolved alert: until its end", fired.Add(5 * time.Hour), oncall.Alert{Status: oncall.AlertResolved, StartsAt: fired, EndsAt: fired.Add(12 * time.Minute)},
			fired.Add(-30 * time.Minute), fired.Add(12 * time.Minute)},
		{"alert without a start", fired, oncall.Alert{Status: oncall.AlertFiring},
			fired.Add(-30 * time.Minute), fired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := &Service{opts: ServiceOptions{Window: 30 * time.Minute, Baseline: time.Hour, Now: func() time.Time { return tt.now }}}
			inc, base := svc.Windows(tt.alert, oncall.TriageOptions{})
			if !inc.Start.Equal(tt.start) || !inc.End.Equal(tt.end) {
				t.Errorf("incident %v – %v, want %v – %v", inc.Start, inc.End, tt.start, tt.end)
			}
			if !base.End.Equal(inc.Start) || base.End.Sub(base.Start) != time.Hour {
				t.Errorf("baseline %v – %v", base.Start, base.End)
			}
		})
	}
}

// A short incident: every run of the store falls within 20 minutes, the
// tool starts failing 12 minutes in, and the alert fires 3 minutes after
// that. The configured baseline holds nothing; the runs before the onset
// are the baseline.
func TestOnsetAndShortIncidentBaseline(t *testing.T) {
	fired := svcT0
	onset := fired.Add(-3 * time.Minute)
	var traces []oncall.Trace
	for i := range 40 {
		start := fired.Add(-15*time.Minute + time.Duration(i)*30*time.Second)
		traces = append(traces, fleetTrace(i+1, "orders", "orders-svc", start, !start.Before(onset) && i%4 != 3))
	}
	src, err := jsonl.New(jsonl.Options{Path: writeFleet(t, traces)})
	if err != nil {
		t.Fatal(err)
	}
	red, err := redact.New(redact.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := NewService(ServiceOptions{Sources: map[string]TraceSource{"jsonl": src}, Redactor: red, Window: 10 * time.Minute,
		Now: func() time.Time { return fired.Add(5 * time.Minute) }})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := svc.Triage(context.Background(), oncall.TriageRequest{Alert: oncall.Alert{Name: "OrdersFailing", Status: oncall.AlertFiring, StartsAt: fired, Labels: map[string]string{"service": "orders-svc"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Onset.Equal(onset) {
		t.Errorf("onset %v, want %v", rep.Onset, onset)
	}
	if want := fmt.Sprintf("started %s UTC, 3 min before the alert fired", onset.Format("15:04")); rep.OnsetText() != want {
		t.Errorf("onset text %q, want %q", rep.OnsetText(), want)
	}
	if rep.BaselineTraces == 0 || strings.Contains(strings.Join(rep.Missing, "\n"), "no traces in the baseline") {
		t.Errorf("baseline %d traces, missing %q: the runs before the onset should be the baseline", rep.BaselineTraces, rep.Missing)
	}
	// The incident runs past the alert's start: the runs after it count.
	if rep.TracesExamined != 16 {
		t.Errorf("%d incident traces, want the 16 from the onset until now", rep.TracesExamined)
	}
	if len(rep.Clusters) == 0 || rep.Clusters[0].ToolName != "fetch" || !rep.Clusters[0].New {
		t.Errorf("top cluster %+v", rep.Clusters)
	}
}

// A steady failure that bunched up in the half hour before the alert
// must not outrank a failure that started minutes before it fired. The
// lookup tool fails now and then all along (twice in the hour of
// the baseline, five times in the twenty minutes before the new failure),
// and fetch fails in the three runs since four minutes before the alert.
func TestOnsetOfANewFailureBeatsABunchedSteadyOne(t *testing.T) {
	fired := svcT0
	started := fired.Add(-4 * time.Minute)
	lookupFails := map[int]bool{-84: true, -62: true, -28: true, -24: true, -20: true, -16: true, -12: true}
	var traces []oncall.Trace
	for m := -90; m <= 1; m += 2 {
		start := fired.Add(time.Duration(m) * time.Minute)
		fetchFails := !start.Before(started)
		traces = append(traces, twoToolRun(m+100, start, lookupFails[m], fetchFails))
	}
	src, err := jsonl.New(jsonl.Options{Path: writeFleet(t, traces)})
	if err != nil {
		t.Fatal(err)
	}
	red, err := redact.New(redact.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := NewService(ServiceOptions{Sources: map[string]TraceSource{"jsonl": src}, Redactor: red,
		Now: func() time.Time { return fired.Add(90 * time.Second) }})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := svc.Triage(context.Background(), oncall.TriageRequest{Alert: oncall.Alert{Name: "OrdersFailing", Status: oncall.AlertFiring, StartsAt: fired, Labels: map[string]string{"service": "orders-svc"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Clusters) == 0 || rep.Clusters[0].ToolName != "fetch" {
		var got []string
		for _, c := range rep.Clusters {
			got = append(got, fmt.Sprintf("%s (%d, baseline %d)", c.ToolName, c.Count, c.BaselineCount))
		}
		t.Fatalf("ranked %v, want fetch first", got)
	}
	if rep.Onset.Before(fired.Add(-5*time.Minute)) || rep.Onset.After(fired) {
		t.Errorf("onset %v, want about %v", rep.Onset, started)
	}
}

// twoToolRun is one run of the orders agent calling lookup, then fetch.
func twoToolRun(n int, start time.Time, lookupFails, fetchFails bool) oncall.Trace {
	tr := fleetTrace(n, "orders", "orders-svc", start, fetchFails)
	if fetchFails {
		tr.Spans[1].StatusMessage = "fetch: upstream answered 503"
	}
	lookup := oncall.Span{TraceID: tr.TraceID, SpanID: fmt.Sprintf("%016x", n*10+3), ParentID: tr.Spans[0].SpanID, Name: "lookup", Kind: oncall.KindTool,
		ToolName: "lookup", Service: "orders-svc", Start: start.Add(200 * time.Millisecond), End: start.Add(800 * time.Millisecond), Status: oncall.StatusOK}
	if lookupFails {
		lookup.Status, lookup.StatusMessage = oncall.StatusError, "order not found"
		tr.Spans[0].Status, tr.Spans[0].StatusMessage = oncall.StatusError, "run failed"
	}
	tr.Spans = append(tr.Spans, lookup)
	return tr
}
