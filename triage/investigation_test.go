package triage

import (
	"context"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/tracesource/jsonl"
)

func TestTriageKeepsAnInvestigation(t *testing.T) {
	const secret = "sk-live-51HxSECRETsecretSECRET0123456789"
	var traces []oncall.Trace
	failing := 0
	for i := range 45 {
		start := svcT0.Add(-90*time.Minute + time.Duration(i)*2*time.Minute)
		fail := !start.Before(svcT0.Add(-20*time.Minute)) && i%2 == 0
		if fail {
			failing++
		}
		tr := fleetTrace(i+1, "orders", "orders-svc", start, fail)
		tr.Spans[1].Input = "call with api_key=" + secret
		traces = append(traces, tr)
	}
	src, err := jsonl.New(jsonl.Options{Path: writeFleet(t, traces)})
	if err != nil {
		t.Fatal(err)
	}
	svc := newTestService(t, map[string]TraceSource{"jsonl": src})
	alert := oncall.Alert{Name: "OrdersErrors", StartsAt: svcT0, Labels: map[string]string{"agent": "orders", "severity": "critical"}}
	rep, err := svc.Triage(context.Background(), oncall.TriageRequest{Alert: alert})
	if err != nil {
		t.Fatal(err)
	}
	inv := rep.Investigation
	if inv == nil {
		t.Fatal("no investigation")
	}
	sel := inv.Search
	incWin, baseWin := svc.Windows(alert, oncall.TriageOptions{})
	if sel.Source != "jsonl" || sel.Read != 45 || sel.MaxTraces != 500 ||
		!sel.WindowEnd.Equal(incWin.End) || !sel.WindowStart.Equal(incWin.Start) || !sel.BaselineStart.Equal(baseWin.Start) {
		t.Errorf("search %+v, want the windows %v and %v", sel, incWin, baseWin)
	}
	if rep.Selection == nil || len(rep.Selection.Filters) != 1 || rep.Selection.Filters[0].Label != "agent" {
		t.Errorf("report selection %+v, want the agent label", rep.Selection)
	}

	o := inv.Onset
	if o.Step != time.Minute || len(o.Runs) != 90 || !o.Start.Equal(svcT0.Add(-90*time.Minute)) || !o.FiringAt.Equal(svcT0) {
		t.Fatalf("onset: step %s, %d steps from %s", o.Step, len(o.Runs), o.Start)
	}
	sum := func(xs []int) (n int) {
		for _, x := range xs {
			n += x
		}
		return n
	}
	if sum(o.Runs) != 45 || sum(o.Failing) != failing {
		t.Errorf("onset counts %d runs and %d failing, want 45 and %d", sum(o.Runs), sum(o.Failing), failing)
	}
	if len(o.Clusters) == 0 || o.Clusters[0].Signature != rep.Clusters[0].Signature || sum(o.Clusters[0].Counts) != rep.Clusters[0].Count {
		t.Errorf("top cluster's series %+v; want %d runs of %s", o.Clusters, rep.Clusters[0].Count, rep.Clusters[0].Signature)
	}
	if first := svcT0.Add(-18 * time.Minute); o.At.Before(first) || o.At.After(first.Add(time.Minute)) { // run 36, the first failing one
		t.Errorf("onset at %s, want the first failing run near %s", o.At, first)
	}

	if len(inv.Traces) == 0 || inv.Traces[0].TraceID != rep.Clusters[0].TraceIDs[0] {
		t.Fatalf("the first kept trace is not the top cluster's first example")
	}
	if inv.Healthy == "" || inv.Healthy != rep.HealthyExample {
		t.Errorf("healthy %q, want the report's %q", inv.Healthy, rep.HealthyExample)
	}
	for _, tr := range inv.Traces {
		for _, s := range tr.Spans {
			if strings.Contains(s.Input, secret) {
				t.Fatalf("a kept span's input holds the secret: %q", s.Input)
			}
		}
	}
}
