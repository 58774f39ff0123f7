package analysis

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/tracesource/langfuse"
)

// fleetT0 is when the alerts of the correlation tests fire.
var fleetT0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

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

func TestCorrelateKeepsSelectiveLabels(t *testing.T) {
	a := withAttrs(fleetTrace(1, "orders", "orders-svc", fleetT0, true), "deployment.environment", "prod")
	b := withAttrs(fleetTrace(2, "billing", "billing-svc", fleetT0, true), "deployment.environment", "staging")
	tag := fleetTrace(3, "orders", "orders-svc", fleetT0, false)
	tag.Attributes = map[string]string{"langfuse.trace.tags": `["checkout","prod"]`}
	tests := []struct {
		name   string
		labels map[string]string
		want   []string // trace ids kept
	}{
		{"service and environment", map[string]string{"service": "orders-svc", "env": "prod"}, []string{a.TraceID, tag.TraceID}},
		{"conflicting labels keep the first that selects", map[string]string{"service": "billing-svc", "env": "prod"}, []string{b.TraceID}},
		{"values compare without case", map[string]string{"agent": "ORDERS"}, []string{a.TraceID, tag.TraceID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Correlate(oncall.Alert{Labels: tt.labels}, map[string]string{"service": "service.name"}, []oncall.Trace{a, b, tag})
			var got []string
			for _, tr := range c.Traces {
				got = append(got, tr.TraceID)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("kept %v, want %v (filters %+v, missing %v)", got, tt.want, c.Filters, c.Missing)
			}
		})
	}
}

func TestNarrowingFilters(t *testing.T) {
	got := NarrowingFilters([]oncall.LabelMatch{
		{Label: "environment", Value: "prod", Mapped: "deployment.environment", Attributes: []string{"deployment.environment.name"}},
		{Label: "app", Value: "orders", Attributes: []string{"gen_ai.agent.name", "root span name", "service.name"}},
		{Label: "agent", Value: "orders", Attributes: []string{"agent span name"}},
	})
	// The spelling the traces carry, not the label map's.
	want := map[string]string{"deployment.environment.name": "prod", "service.name": "orders"}
	if len(got) != len(want) || got["deployment.environment.name"] != "prod" || got["service.name"] != "orders" {
		t.Errorf("filters %v, want %v", got, want)
	}
}

// Langfuse keeps what identifies a trace in its own fields (name,
// environment, release, tags) and, for OTel-ingested traces, the resource
// in metadata.resourceAttributes: alert labels match any of them.
func TestCorrelateLangfuseTraces(t *testing.T) {
	lf := func(id, name, env, release string, tags []string, service string) oncall.Trace {
		md, _ := json.Marshal(map[string]any{"resourceAttributes": map[string]string{"service.name": service, "k8s.namespace.name": "agents"}})
		return langfuse.TraceFromAPI(langfuse.TraceObject{ID: id, Name: name, Timestamp: fleetT0, Environment: env, Release: release, Tags: tags, Metadata: md, Latency: 2},
			[]langfuse.Observation{{ID: id + "-g", TraceID: id, Type: "GENERATION", Name: "chat", StartTime: fleetT0, EndTime: fleetT0.Add(time.Second)}})
	}
	traces := []oncall.Trace{
		lf("t1", "support-agent", "production", "v1.4.2", []string{"checkout", "tier-1"}, "support-svc"),
		lf("t2", "billing-agent", "production", "v2.0.0", []string{"billing"}, "billing-svc"),
		lf("t3", "support-agent", "staging", "v1.5.0-rc1", []string{"checkout"}, "support-svc"),
	}
	tests := []struct {
		name   string
		labels map[string]string
		want   string
	}{
		{"trace name and environment", map[string]string{"app": "support-agent", "environment": "production"}, "t1"},
		{"release", map[string]string{"version": "v2.0.0"}, "t2"},
		{"tags", map[string]string{"feature": "checkout", "env": "staging"}, "t3"},
		{"resource attributes kept in metadata", map[string]string{"service_name": "billing-svc"}, "t2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Correlate(oncall.Alert{Labels: tt.labels}, map[string]string{"environment": "deployment.environment"}, traces)
			var got []string
			for _, tr := range c.Traces {
				got = append(got, tr.TraceID)
			}
			if strings.Join(got, ",") != tt.want {
				t.Errorf("kept %v, want %s (filters %+v, missing %v)", got, tt.want, c.Filters, c.Missing)
			}
		})
	}
}
