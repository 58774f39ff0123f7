package redact

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// traceStrings returns every string value of the example scenarios'
// traces (span names, attribute values, event messages, tool inputs and
// outputs), up to about limit bytes: the text the triage redacts, one
// field at a time, as it does.
func traceStrings(tb testing.TB, limit int) ([]string, int) {
	tb.Helper()
	files, err := filepath.Glob("../examples/scenarios/*/traces/*.jsonl*")
	if err != nil || len(files) == 0 {
		tb.Fatalf("no example traces: %v", err)
	}
	var out []string
	total := 0
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			if total < limit {
				out = append(out, x)
				total += len(x)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			tb.Fatal(err)
		}
		var r io.Reader = fh
		if strings.HasSuffix(f, ".gz") {
			if r, err = gzip.NewReader(fh); err != nil {
				tb.Fatal(err)
			}
		}
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() && total < limit {
			var v any
			if json.Unmarshal(sc.Bytes(), &v) == nil {
				walk(v)
			}
		}
		fh.Close()
		if total >= limit {
			break
		}
	}
	return out, total
}

// BenchmarkRedactTraceText redacts 1 MB of real trace text field by
// field; its MB/s is the redactor's cost per MB (BENCHMARKS.md).
func BenchmarkRedactTraceText(b *testing.B) {
	r, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	fields, total := traceStrings(b, 1<<20)
	b.SetBytes(int64(total))
	b.ResetTimer()
	for b.Loop() {
		s := r.Session()
		for _, f := range fields {
			s.String(f)
		}
	}
}

// BenchmarkRuleSetTraceText is the gitleaks rule set's share of
// BenchmarkRedactTraceText: its keyword scan and the rules it runs.
func BenchmarkRuleSetTraceText(b *testing.B) {
	ls, err := loadLeakSet()
	if err != nil {
		b.Fatal(err)
	}
	fields, total := traceStrings(b, 1<<20)
	lower := make([]string, len(fields))
	for i, f := range fields {
		lower[i] = asciiLower(f)
	}
	b.SetBytes(int64(total))
	b.ResetTimer()
	for b.Loop() {
		for i, f := range fields {
			ls.spans(f, lower[i])
		}
	}
}
