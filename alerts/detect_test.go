package alerts

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDetectSource detects the source of every sample payload in
// testdata, each named after its source, and decodes it with that
// source's decoder.
func TestDetectSource(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no sample payloads: %v", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		want, _, _ := strings.Cut(name, "-")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if got := DetectSource(body); got != want {
				t.Errorf("DetectSource = %s, want %s", got, want)
			}
			if strings.Contains(name, "ping") || strings.Contains(name, "annotated") || strings.Contains(name, "custom") {
				return // PagerDuty events with nothing to triage; a custom generic shape needs its configured paths (TestDecodeSources)
			}
			if _, err := Decode(want, body, time.Now()); err != nil {
				t.Errorf("Decode(%s): %v", want, err)
			}
		})
	}
	if _, err := Decode("nagios", []byte(`{}`), time.Now()); err == nil {
		t.Error("Decode of an unknown source passed")
	}
}
