package langfuse

import "testing"

// FuzzDecodeTraceList feeds arbitrary bytes to the trace list decoder: it
// may reject them but must never panic, and every trace it accepts has an
// id and maps onto a trace.
func FuzzDecodeTraceList(f *testing.F) {
	f.Add([]byte(`{"data":[{"id":"t1","timestamp":"2026-03-01T10:00:00Z","observations":["o1"],"errorCount":1}],"meta":{"page":1,"limit":50,"totalItems":1,"totalPages":1}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		items, _, err := decodeTraceList(data)
		if err != nil {
			return
		}
		for _, s := range items {
			if s.trace.ID == "" {
				t.Fatal("accepted a trace without id")
			}
			if tr := TraceFromAPI(s.trace, nil); tr.TraceID != s.trace.ID || tr.Root() == nil {
				t.Fatalf("trace %q mapped to %q without a root", s.trace.ID, tr.TraceID)
			}
		}
	})
}

// FuzzDecodeObservations feeds arbitrary bytes to the v2 observations
// decoder: it may reject them but must never panic, and what it accepts
// must map onto a well-formed span tree.
func FuzzDecodeObservations(f *testing.F) {
	f.Add([]byte(`{"data":[{"id":"o1","traceId":"t1","type":"GENERATION","startTime":"2026-03-01T10:00:00Z","usageDetails":{"input":3}}],"meta":{"cursor":"b2Zmc2V0OjE="}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		obs, _, err := decodeObservationsV2(data)
		if err != nil {
			return
		}
		tr := TraceFromAPI(TraceObject{ID: "t1"}, obs)
		ids := map[string]bool{}
		for _, s := range tr.Spans {
			ids[s.SpanID] = true
		}
		roots := 0
		for _, s := range tr.Spans {
			if s.ParentID == "" {
				roots++
			} else if !ids[s.ParentID] {
				t.Fatalf("span %q has parent %q outside the trace", s.SpanID, s.ParentID)
			}
			if s.Kind == "" {
				t.Fatalf("span %q has no kind", s.SpanID)
			}
		}
		if roots != 1 {
			t.Fatalf("%d roots", roots)
		}
	})
}
