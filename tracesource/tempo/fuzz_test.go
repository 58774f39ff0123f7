package tempo

import (
	"testing"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// FuzzDecode feeds arbitrary bytes to the search, v2 and v1 trace
// decoders: they may reject them but must never panic, and what they
// accept must carry ids.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"traces":[{"traceID":"2f3e0cee77ae5dc9","startTimeUnixNano":"1","durationMs":3}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if hits, err := decodeSearch(data); err == nil {
			for _, h := range hits {
				if h.id == "" || h.end.Before(h.start) {
					t.Fatalf("accepted hit %+v", h)
				}
			}
		}
		for _, decode := range []func([]byte) ([]oncall.Trace, error){decodeTraceV2, decodeTraceV1} {
			traces, err := decode(data)
			if err != nil {
				continue
			}
			for _, tr := range traces {
				if tr.TraceID == "" {
					t.Fatal("accepted a trace without id")
				}
				for _, s := range tr.Spans {
					if s.TraceID != tr.TraceID || s.SpanID == "" {
						t.Fatalf("span %q/%q in trace %q", s.TraceID, s.SpanID, tr.TraceID)
					}
				}
			}
		}
	})
}
