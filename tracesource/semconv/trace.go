package semconv

import oncall "github.com/oncall-copilot/oncall-copilot"

// KeyTraceName carries a trace name that differs from its root span's
// name (Langfuse names traces independently of their spans).
const KeyTraceName = "langfuse.trace.name"

// FinishTrace calls Trace.Finish and then fills what the spans say about
// the whole trace: its name from the root's KeyTraceName attribute, and its
// trace-level attributes (see IsTraceLevel) from the root span first and
// the other spans in start order after, never replacing an attribute the
// trace already has. The service falls back to the service.name attribute.
func FinishTrace(t *oncall.Trace) {
	t.Finish()
	root := t.Root()
	if root == nil {
		return
	}
	if n := root.Attributes[KeyTraceName]; n != "" {
		t.Name = n
	}
	add := func(attrs map[string]string) {
		for k, v := range attrs {
			if !IsTraceLevel(k) {
				continue
			}
			if t.Attributes == nil {
				t.Attributes = make(map[string]string)
			}
			if _, ok := t.Attributes[k]; !ok {
				t.Attributes[k] = v
			}
		}
	}
	add(root.Attributes)
	for i := range t.Spans {
		add(t.Spans[i].Attributes)
	}
	if t.Service == "" {
		t.Service = t.Attributes["service.name"]
	}
}
