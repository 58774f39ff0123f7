package phoenix

import "testing"

// FuzzDecodePage feeds arbitrary bytes to the spans page decoder: it may
// reject them but must never panic, and every span it accepts has ids and
// a kind.
func FuzzDecodePage(f *testing.F) {
	f.Add([]byte(`{"data":[{"context":{"trace_id":"01","span_id":"02"},"start_time":"2026-03-01T10:00:00Z","attributes":{"a":{"b":[{"c":1}]}}}],"next_cursor":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		spans, _, err := decodePage(data)
		if err != nil {
			return
		}
		for _, s := range spans {
			if s.TraceID == "" || s.SpanID == "" || s.Kind == "" {
				t.Fatalf("accepted span %+v", s)
			}
		}
	})
}
