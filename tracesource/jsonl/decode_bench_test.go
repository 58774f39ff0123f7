package jsonl

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// scenarioLines returns every line of the example scenarios' trace files:
// OTLP/JSON export requests as agent frameworks write them.
func scenarioLines(b *testing.B) ([][]byte, int64) {
	b.Helper()
	paths, err := filepath.Glob("../../examples/scenarios/*/traces/*.jsonl")
	if err != nil || len(paths) == 0 {
		b.Fatalf("no example trace files: %v", err)
	}
	var lines [][]byte
	var size int64
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		for _, l := range bytes.Split(data, []byte("\n")) {
			if len(bytes.TrimSpace(l)) > 0 {
				lines = append(lines, l)
				size += int64(len(l)) + 1
			}
		}
	}
	return lines, size
}

// BenchmarkDecodeLines decodes JSONL trace lines into spans the way a
// search does, attribute conventions applied.
func BenchmarkDecodeLines(b *testing.B) {
	lines, size := scenarioLines(b)
	var d lineDecoder
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		n := 0
		for _, l := range lines {
			spans, err := d.decode(l)
			if err != nil {
				b.Fatal(err)
			}
			n += len(spans)
		}
		if n == 0 {
			b.Fatal("no spans decoded")
		}
	}
}

// BenchmarkDecodeLinesMapBaseline decodes the same lines with
// encoding/json into map[string]any, the yardstick of BenchmarkDecodeLines.
func BenchmarkDecodeLinesMapBaseline(b *testing.B) {
	lines, size := scenarioLines(b)
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		for _, l := range lines {
			var m map[string]any
			if err := json.Unmarshal(l, &m); err != nil {
				b.Fatal(err)
			}
		}
	}
}
