package redact

import (
	"io"
	"log/slog"
	"testing"
)

// BenchmarkLogLine is the cost of one typical log line (the intake's
// "alert accepted") through LogHandler, against the JSON handler alone.
func BenchmarkLogLine(b *testing.B) {
	r := newRedactor(b)
	for name, h := range map[string]slog.Handler{
		"json":      slog.NewJSONHandler(io.Discard, nil),
		"redacting": LogHandler(slog.NewJSONHandler(io.Discard, nil), r),
	} {
		b.Run(name, func(b *testing.B) {
			log := slog.New(h).With("component", "webhooks", "source", "alertmanager")
			for b.Loop() {
				log.Info("alert accepted", "job", "1733616000000-0", "route", "default", "alerts", 3, "status", "firing")
			}
		})
	}
	// The line as the intake logs it: every value the product's own.
	b.Run("redacting-generated", func(b *testing.B) {
		log := slog.New(LogHandler(slog.NewJSONHandler(io.Discard, nil), r)).With("component", "webhooks", "source", "alertmanager")
		for b.Loop() {
			log.Info("alert accepted", "job", Generated("1733616000000-0"), "route", Generated("default"), "alerts", 3, "status", Generated("firing"))
		}
	})
}
