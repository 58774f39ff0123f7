package otlp

import (
	"encoding/json"
	"testing"
)

func benchInput(b *testing.B) []byte {
	b.Helper()
	data, err := Encode(sampleTraces(200))
	if err != nil {
		b.Fatal(err)
	}
	return data
}

func BenchmarkDecode(b *testing.B) {
	data := benchInput(b)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeMapBaseline decodes the same bytes into map[string]any, the
// yardstick BenchmarkDecode is compared against.
func BenchmarkDecodeMapBaseline(b *testing.B) {
	data := benchInput(b)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	traces := sampleTraces(200)
	data, _ := Encode(traces)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := Encode(traces); err != nil {
			b.Fatal(err)
		}
	}
}
