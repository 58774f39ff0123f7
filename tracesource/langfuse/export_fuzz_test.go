package langfuse

import "testing"

// FuzzDecodeExport feeds arbitrary bytes to the export decoder (the
// shape Langfuse's UI and SDK exports have, and the JSONL source reads):
// it may reject them but never panics, and what it accepts is a trace
// with that id whose spans all belong to it and hang from one root.
func FuzzDecodeExport(f *testing.F) {
	f.Add([]byte(`{"trace":{"id":"t1","name":"support-agent","timestamp":"2026-02-03T10:00:00Z","input":{"question":"refund?"},"output":"done","tags":["prod"],"metadata":{"tenant":"acme"}},"observations":[{"id":"o1","type":"GENERATION","name":"chat","startTime":"2026-02-03T10:00:01Z","endTime":"2026-02-03T10:00:02Z","model":"gpt-4o-mini","usageDetails":{"input":44,"output":180},"costDetails":{"total":0.000371}},{"id":"o2","parentObservationId":"o1","type":"TOOL","name":"lookup_order","input":{"order":42},"level":"ERROR","statusMessage":"timeout"}]}`))
	f.Add([]byte(`{"id":"t","name":"n","timestamp":"2026-01-01T00:00:00Z","observations":[{"id":"a","type":"SPAN","startTime":"2026-01-01T00:00:01Z"}]}`))
	f.Add([]byte(`{"trace":{"id":"t"},"observations":[{"id":"t","type":"SPAN"},{"id":"c","parentObservationId":"t","type":"TOOL"}]}`))
	f.Add([]byte(`{"trace":{"id":"t"},"observations":[{"id":"a","parentObservationId":"b"},{"id":"b","parentObservationId":"a"}]}`))
	f.Add([]byte(`{"trace":{"id":"t"},"observations":{"data":[{"id":"a","usage":{"input":"7","output":null}}]}}`))
	f.Add([]byte(`{"trace":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := DecodeExport(data)
		if err != nil {
			return
		}
		if tr.TraceID == "" {
			t.Fatal("accepted a trace without id")
		}
		if len(tr.Spans) > 0 && tr.Root() == nil {
			t.Fatal("spans without a root")
		}
		ids := map[string]bool{}
		for _, s := range tr.Spans {
			if s.TraceID != tr.TraceID {
				t.Fatalf("span %q of trace %q", s.SpanID, s.TraceID)
			}
			if ids[s.SpanID] {
				t.Fatalf("span id %q twice", s.SpanID)
			}
			ids[s.SpanID] = true
		}
	})
}
