package jaeger

import "testing"

// FuzzDecodeTraces feeds arbitrary bytes to the v3 response decoder: it may
// reject them but must never panic, and what it accepts must be grouped by
// trace id.
func FuzzDecodeTraces(f *testing.F) {
	f.Add([]byte(`{"result":{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"01","spanId":"02"}]}]}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		traces, err := decodeTraces(data)
		if err != nil {
			return
		}
		for _, tr := range traces {
			if tr.TraceID == "" {
				t.Fatalf("accepted a trace without id")
			}
			for _, s := range tr.Spans {
				if s.TraceID != tr.TraceID || s.SpanID == "" {
					t.Fatalf("span %q/%q grouped under trace %q", s.TraceID, s.SpanID, tr.TraceID)
				}
			}
			_ = tr.Root()
		}
	})
}
