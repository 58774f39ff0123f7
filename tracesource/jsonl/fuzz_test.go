package jsonl

import (
	"strings"
	"testing"
)

// FuzzDecodeRecord feeds arbitrary records to the shape detection and the
// three decoders: they may reject a record but must never panic.
func FuzzDecodeRecord(f *testing.F) {
	for _, s := range strings.Split(phoenixLines, "\n") {
		f.Add(s)
	}
	f.Add(langfuseLine)
	f.Add(`[{"trace":{"id":"x"}},{"context":{"trace_id":"1","span_id":"2"},"start_time":1714824000123}]`)
	f.Add(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"01","spanId":"02"}]}]}]}`)
	f.Fuzz(func(t *testing.T, rec string) {
		var d lineDecoder
		spans, err := d.decode([]byte(rec))
		if err != nil {
			return
		}
		for _, s := range spans {
			if s.TraceID == "" || s.SpanID == "" {
				t.Fatalf("accepted a span without ids from %q", rec)
			}
		}
		buildTrace("x", spans)
	})
}
