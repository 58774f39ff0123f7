package triage

import (
	"context"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/analysis"
	"github.com/oncall-copilot/oncall-copilot/redact"
	"github.com/oncall-copilot/oncall-copilot/tracesource/jsonl"
)

// How a triage picks the alert's traces from a shared store: the
// correlation itself is analysis.Correlate's, tested in analysis.

// withAttrs sets resource attributes on every span of a trace, as an
// OTLP exporter copies its resource onto each span.
func withAttrs(t oncall.Trace, kv ...string) oncall.Trace {
	for i := range t.Spans {
		if t.Spans[i].Attributes == nil {
			t.Spans[i].Attributes = map[string]string{}
		}
		for j := 0; j+1 < len(kv); j += 2 {
			t.Spans[i].Attributes[kv[j]] = kv[j+1]
		}
	}
	return t
}

// fleetStore is a store shared by two services: orders, whose fetch tool
// starts failing in the incident window, and billing, which fails louder
// the whole time. Both write only the newer environment key.
func fleetStore(t *testing.T) string {
	t.Helper()
	var traces []oncall.Trace
	n := 1
	for i := range 45 {
		start := svcT0.Add(-85*time.Minute + time.Duration(i)*2*time.Minute)
		inIncident := !start.Before(svcT0.Add(-30 * time.Minute))
		traces = append(traces, withAttrs(fleetTrace(n, "orders", "orders-svc", start, inIncident && i%2 == 0), "deployment.environment.name", "production", "k8s.namespace.name", "shop"))
		n++
		for range 2 {
			traces = append(traces, withAttrs(fleetTrace(n, "billing", "billing-svc", start.Add(time.Second), inIncident || i%3 == 0), "deployment.environment.name", "production", "k8s.namespace.name", "shop"))
			n++
		}
	}
	return writeFleet(t, traces)
}

func TestCorrelationByWhatTracesCarry(t *testing.T) {
	src, err := jsonl.New(jsonl.Options{Path: fleetStore(t)})
	if err != nil {
		t.Fatal(err)
	}
	red, err := redact.New(redact.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := NewService(ServiceOptions{
		Sources: map[string]TraceSource{"jsonl": src}, Redactor: red,
		// The default configuration's map: environment goes to the older
		// key, which these traces do not write.
		LabelMap: map[string]string{"service": "service.name", "agent": "gen_ai.agent.name", "environment": "deployment.environment"},
		Now:      func() time.Time { return svcT0 },
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		labels      map[string]string
		wantFilters []string // label=value of the filters used
		wantOnly    string   // every selected trace's service; "" for any
		wantMissing string
	}{
		{
			name:        "label names differ from attribute names",
			labels:      map[string]string{"alertname": "OrdersErrors", "service_name": "orders-svc", "environment": "production"},
			wantFilters: []string{"environment=production", "service_name=orders-svc"},
			wantOnly:    "orders-svc",
		},
		{
			name:        "a label no trace carries is dropped, the others kept",
			labels:      map[string]string{"app": "orders", "agent": "orders-v2", "namespace": "shop"},
			wantFilters: []string{"app=orders", "namespace=shop"},
			wantOnly:    "orders-svc",
			wantMissing: "no trace in the window carries agent=orders-v2; that label was not used",
		},
		{
			name:        "labels that select nothing read every trace and say so",
			labels:      map[string]string{"team": "payments"},
			wantMissing: "no alert label matched any trace attribute",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			alert := oncall.Alert{Name: "X", Status: oncall.AlertFiring, StartsAt: svcT0, Labels: tt.labels}
			rep, err := svc.Triage(context.Background(), oncall.TriageRequest{Alert: alert})
			if err != nil {
				t.Fatal(err)
			}
			sel := rep.Selection
			if sel == nil {
				t.Fatal("no selection in the report")
			}
			var got []string
			for _, f := range sel.Filters {
				got = append(got, f.Label+"="+f.Value)
			}
			if strings.Join(got, ",") != strings.Join(tt.wantFilters, ",") {
				t.Errorf("filters %v, want %v", got, tt.wantFilters)
			}
			missing := strings.Join(rep.Missing, "\n")
			if tt.wantMissing != "" && !strings.Contains(missing, tt.wantMissing) {
				t.Errorf("missing %q, want %q", missing, tt.wantMissing)
			}
			if strings.Contains(missing, analysis.NoIncidentTraces) || rep.TracesExamined == 0 {
				t.Fatalf("the store had traces in the window, the report says none: %q", missing)
			}
			if tt.wantOnly == "" {
				if sel.Incident+sel.Baseline != sel.Store {
					t.Errorf("selected %d+%d of %d, want all", sel.Incident, sel.Baseline, sel.Store)
				}
				return
			}
			if sel.Incident+sel.Baseline >= sel.Store {
				t.Errorf("selected %d+%d of %d, want only %s's", sel.Incident, sel.Baseline, sel.Store, tt.wantOnly)
			}
			// billing fails louder in the same window; it must not be
			// blamed for orders' alert.
			if len(rep.Clusters) == 0 || rep.Clusters[0].ToolName != "fetch" || !strings.Contains(rep.Clusters[0].Error, "connection reset") {
				t.Fatalf("top cluster %+v", rep.Clusters)
			}
			if got := rep.Selection.Describe(); !strings.Contains(got, "Traces selected by") {
				t.Errorf("describe = %q", got)
			}
		})
	}
}

// A store holding more traces than one answer carries is asked again for
// the alert's own: the cap does not cut the alerted service out.
func TestCorrelationPastTheCap(t *testing.T) {
	src, err := jsonl.New(jsonl.Options{Path: fleetStore(t)})
	if err != nil {
		t.Fatal(err)
	}
	red, err := redact.New(redact.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := NewService(ServiceOptions{Sources: map[string]TraceSource{"jsonl": src}, Redactor: red, MaxTraces: 30,
		Now: func() time.Time { return svcT0 }})
	if err != nil {
		t.Fatal(err)
	}
	alert := oncall.Alert{Name: "X", Status: oncall.AlertFiring, StartsAt: svcT0, Labels: map[string]string{"service_name": "orders-svc"}}
	rep, err := svc.Triage(context.Background(), oncall.TriageRequest{Alert: alert})
	if err != nil {
		t.Fatal(err)
	}
	sel := rep.Selection
	// orders runs every 2 minutes: 15 in the incident window, 28 in the
	// baseline; the store holds three times as many.
	if sel.Incident != 15 || sel.Baseline != 28 || sel.Store != 129 {
		t.Errorf("selected %d incident and %d baseline of the store's %d; want 15 and 28 of 129", sel.Incident, sel.Baseline, sel.Store)
	}
	if len(rep.Clusters) == 0 || rep.Clusters[0].ToolName != "fetch" {
		t.Errorf("top cluster %+v", rep.Clusters)
	}
}
