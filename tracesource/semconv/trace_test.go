package semconv

import (
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

func TestFinishTrace(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tr := oncall.Trace{
		TraceID:    "t",
		Attributes: map[string]string{"session.id": "kept"},
		Spans: []oncall.Span{
			{SpanID: "child", ParentID: "root", Name: "tool", Start: t0.Add(time.Second), End: t0.Add(5 * time.Second),
				Attributes: map[string]string{"gen_ai.agent.name": "from-child", "user.id": "u1", "input.value": "x", "service.name": "other"}},
			{SpanID: "root", Name: "span name", Start: t0, End: t0.Add(2 * time.Second),
				Attributes: map[string]string{"langfuse.trace.name": "trace name", "service.name": "svc", "session.id": "from-root"}},
		},
	}
	FinishTrace(&tr)
	if tr.Name != "trace name" || tr.Service != "svc" || !tr.Start.Equal(t0) || !tr.End.Equal(t0.Add(5*time.Second)) {
		t.Errorf("name %q service %q start %v end %v", tr.Name, tr.Service, tr.Start, tr.End)
	}
	want := map[string]string{"session.id": "kept", "service.name": "svc", "gen_ai.agent.name": "from-child", "user.id": "u1", "langfuse.trace.name": "trace name"}
	for k, v := range want {
		if tr.Attributes[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, tr.Attributes[k], v)
		}
	}
	if len(tr.Attributes) != len(want) {
		t.Errorf("attributes %v, want only trace-level ones %v", tr.Attributes, want)
	}
	if tr.Spans[0].SpanID != "root" {
		t.Error("spans not sorted by start")
	}

	var empty oncall.Trace
	FinishTrace(&empty) // no spans: nothing to do, no panic
	if empty.Attributes != nil {
		t.Errorf("empty trace got attributes %v", empty.Attributes)
	}
}
