package main

import (
	"strings"
	"testing"
	"time"
)

func TestLogDurationsAsText(t *testing.T) {
	var b strings.Builder
	log := newLogger("info", &b)
	log.Info("job done", "took", 2007*time.Millisecond)
	log.With("component", "x").WithGroup("slack").Info("call", "latency", 1500*time.Microsecond)
	for _, want := range []string{`"took":"2.007s"`, `"latency":"1.5ms"`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, b.String())
		}
	}
}
