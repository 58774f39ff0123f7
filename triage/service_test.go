package triage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/redact"
	"github.com/oncall-copilot/oncall-copilot/tracesource/jsonl"
	"github.com/oncall-copilot/oncall-copilot/tracesource/otlp"
)

var svcT0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// fleetTrace is one run of an agent of a service, starting at start.
func fleetTrace(n int, agent, service string, start time.Time, fail bool) oncall.Trace {
	tid := fmt.Sprintf("%032x", n)
	root := oncall.Span{TraceID: tid, SpanID: fmt.Sprintf("%016x", n*10+1), Name: agent + " run", Kind: oncall.KindAgent,
		Service: service, Start: start, End: start.Add(2 * time.Second), Status: oncall.StatusOK,
		Attributes: map[string]string{"gen_ai.agent.name": agent, "service.name": service}}
	tool := oncall.Span{TraceID: tid, SpanID: fmt.Sprintf("%016x", n*10+2), ParentID: root.SpanID, Name: "fetch", Kind: oncall.KindTool,
		ToolName: "fetch", Service: service, Start: start.Add(time.Second), End: start.Add(1500 * time.Millisecond), Status: oncall.StatusOK}
	if fail {
		tool.Status, tool.StatusMessage = oncall.StatusError, "connection reset by peer"
		root.Status, root.StatusMessage = oncall.StatusError, "run failed"
	}
	return oncall.Trace{TraceID: tid, Spans: []oncall.Span{root, tool}}
}

func writeFleet(t *testing.T, traces []oncall.Trace) string {
	t.Helper()
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "fleet.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := otlp.WriteJSONL(f, traces); err != nil {
		t.Fatal(err)
	}
	return dir
}

// brokenSource is a trace store that is down.
type brokenSource struct{}

func (brokenSource) Search(context.Context, oncall.TraceQuery) (oncall.TraceSearchResult, error) {
	return oncall.TraceSearchResult{}, errors.New("tempo GET /api/search: HTTP 503")
}
func (brokenSource) Get(context.Context, string) (oncall.Trace, error) {
	return oncall.Trace{}, errors.New("tempo GET /api/v2/traces: HTTP 503")
}

func newTestService(t *testing.T, sources map[string]TraceSource) *Service {
	t.Helper()
	red, err := redact.New(redact.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := NewService(ServiceOptions{
		Sources: sources, DefaultSource: "jsonl", Redactor: red, MaxTraces: 500,
		Now:      func() time.Time { return svcT0 }, // the alert fired just now
		LabelMap: map[string]string{"agent": "gen_ai.agent.name", "service": "service.name"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func TestCorrelation(t *testing.T) {
	var traces []oncall.Trace
	n := 1
	for i := 0; i < 40; i++ {
		start := svcT0.Add(-85*time.Minute + time.Duration(i)*2*time.Minute)
		inIncident := !start.Before(svcT0.Add(-30 * time.Minute))
		traces = append(traces, fleetTrace(n, "orders", "orders-svc", start, inIncident && i%2 == 0))
		n++
		// Another agent of another service fails all the time: a filter
		// on the alert's labels must keep it out.
		traces = append(traces, fleetTrace(n, "billing", "billing-svc", start, true))
		n++
	}
	// An old trace, outside both windows, that the alert names.
	named := fleetTrace(n, "orders", "orders-svc", svcT0.Add(-6*time.Hour), true)
	traces = append(traces, named)
	src, err := jsonl.New(jsonl.Options{Path: writeFleet(t, traces)})
	if err != nil {
		t.Fatal(err)
	}
	svc := newTestService(t, map[string]TraceSource{"jsonl": src, "tempo": brokenSource{}})
	alert := oncall.Alert{Name: "OrdersErrors", StartsAt: svcT0, Labels: map[string]string{"agent": "orders", "severity": "critical"}, TraceIDs: []string{named.TraceID}}

	t.Run("labels filter by attribute", func(t *testing.T) {
		p, err := svc.Prepare(context.Background(), oncall.TriageRequest{Alert: alert})
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range p.Traces {
			if tr.Attributes["gen_ai.agent.name"] == "billing" || strings.HasPrefix(tr.Name, "billing") {
				t.Fatalf("a billing trace passed the agent filter: %s", tr.TraceID)
			}
		}
		if p.Report.TracesExamined != 12 || p.Report.BaselineTraces != 28 {
			t.Errorf("incident %d, baseline %d traces; want 12 and 28", p.Report.TracesExamined, p.Report.BaselineTraces)
		}
		if p.Traces[0].TraceID != named.TraceID {
			t.Errorf("the trace the alert names should be read, and it is the oldest: first is %s", p.Traces[0].TraceID)
		}
		if len(p.Report.Clusters) == 0 || p.Report.Clusters[0].ToolName != "fetch" {
			t.Errorf("top cluster = %+v", p.Report.Clusters)
		}
	})
	t.Run("route overrides the label map and windows", func(t *testing.T) {
		opts := oncall.TriageOptions{LabelMap: map[string]string{"agent": ""}, Window: 10 * time.Minute, Baseline: 20 * time.Minute}
		p, err := svc.Prepare(context.Background(), oncall.TriageRequest{Alert: alert, Options: opts})
		if err != nil {
			t.Fatal(err)
		}
		billing := 0
		for _, tr := range p.Traces {
			if tr.Attributes["gen_ai.agent.name"] == "billing" {
				billing++
			}
		}
		if billing == 0 {
			t.Error("removing the agent mapping should let every agent's traces in")
		}
		if got := p.Report.WindowEnd.Sub(p.Report.WindowStart); got != 10*time.Minute {
			t.Errorf("incident window %v", got)
		}
	})
	t.Run("a failing source is reported, not fatal", func(t *testing.T) {
		rep, err := svc.Triage(context.Background(), oncall.TriageRequest{Alert: alert, Options: oncall.TriageOptions{TraceSource: "tempo"}})
		if err != nil {
			t.Fatal(err)
		}
		missing := strings.Join(rep.Missing, "\n")
		if !strings.Contains(missing, "incident window traces from tempo") || !strings.Contains(missing, "named by the alert") {
			t.Errorf("missing = %q", missing)
		}
		if rep.Diagnosis == nil || rep.Diagnosis.Offline == "" {
			t.Errorf("want the offline diagnosis, got %+v", rep.Diagnosis)
		}
	})
	t.Run("an unknown source falls back to the default and says so", func(t *testing.T) {
		rep, err := svc.Triage(context.Background(), oncall.TriageRequest{Alert: alert, Options: oncall.TriageOptions{TraceSource: "nope"}})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.Join(rep.Missing, "\n"), `trace source "nope" is not configured`) || rep.TracesExamined == 0 {
			t.Errorf("missing = %v, examined %d", rep.Missing, rep.TracesExamined)
		}
	})
}

func TestReportIsRedacted(t *testing.T) {
	const key = "sk-proj-Zx8yQ2vN4mK7pL9rT1wS3uV5"
	tr := fleetTrace(1, "orders", "orders-svc", svcT0.Add(-10*time.Minute), true)
	tr.Spans[1].StatusMessage = "auth failed with key " + key
	src, err := jsonl.New(jsonl.Options{Path: writeFleet(t, []oncall.Trace{tr})})
	if err != nil {
		t.Fatal(err)
	}
	svc := newTestService(t, map[string]TraceSource{"jsonl": src})
	alert := oncall.Alert{Name: "X", StartsAt: svcT0, Summary: "leaked " + key, Labels: map[string]string{"agent": "orders"}}
	rep, err := svc.Triage(context.Background(), oncall.TriageRequest{Alert: alert})
	if err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprintf("%+v", rep); strings.Contains(s, key) {
		t.Fatalf("the report carries the key: %s", s)
	}
	if alert.Summary != "leaked "+key {
		t.Error("redaction must not modify the caller's alert")
	}
}
