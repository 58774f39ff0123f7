package jsonl

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// benchDir writes n generated traces, one OTLP request per line.
func benchDir(b *testing.B, n int) (dir string, size int64) {
	b.Helper()
	dir = b.TempDir()
	traces := make([]oncall.Trace, n)
	for i := range traces {
		traces[i] = genTrace(i, t0.Add(time.Duration(i)*time.Second), "svc", "agent", i%7 == 0)
	}
	path := filepath.Join(dir, "traces.jsonl")
	writeJSONL(b, path, traces)
	info, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return dir, info.Size()
}

// BenchmarkSearch measures end-to-end throughput (read, decode, group,
// filter) over a file of generated traces.
func BenchmarkSearch(b *testing.B) {
	dir, size := benchDir(b, 20000)
	src, err := New(Options{Path: dir})
	if err != nil {
		b.Fatal(err)
	}
	q := oncall.TraceQuery{Start: t0, End: t0.Add(24 * time.Hour), Limit: 100, Filters: map[string]string{"service.name": "svc"}}
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		res, err := src.Search(context.Background(), q)
		if err != nil || res.Matched != 20000 {
			b.Fatalf("matched %d, err %v", res.Matched, err)
		}
	}
}

// BenchmarkGet measures a lookup, which skips records that cannot mention
// the id without decoding them.
func BenchmarkGet(b *testing.B) {
	dir, size := benchDir(b, 20000)
	src, err := New(Options{Path: dir})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		if _, err := src.Get(context.Background(), id(12345)); err != nil {
			b.Fatal(err)
		}
	}
}
