package otlp

import (
	"testing"
)

// FuzzDecode feeds arbitrary bytes to Decode: it may reject them but must
// never panic, and whatever it accepts must group and encode again.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"01","spanId":"02"}]}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		spans, err := Decode(data)
		if err != nil {
			return
		}
		for _, s := range spans {
			if s.TraceID == "" || s.SpanID == "" {
				t.Fatalf("accepted span without ids: %+v", s)
			}
			if s.Kind == "" {
				t.Fatalf("span %q has no kind", s.SpanID)
			}
		}
		traces := GroupTraces(spans)
		if _, err := Encode(traces); err != nil {
			t.Fatalf("Encode of decoded spans: %v", err)
		}
		var n int
		for _, tr := range traces {
			n += len(tr.Spans)
			_ = tr.Root()
		}
		if n != len(spans) {
			t.Fatalf("grouped %d spans, decoded %d", n, len(spans))
		}
	})
}
