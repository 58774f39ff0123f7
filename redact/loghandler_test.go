package redact

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestLogHandler(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(LogHandler(slog.NewTextHandler(&buf, nil), newRedactor(t))).With("incident", "generic:Pay\u202eecivreS\u202c")
	log.Warn("trace search failed", "err", errors.New("upstream said: bad key "+githubPAT+"\x1b[2J"),
		slog.Group("span", "name", "tool\u200bcall"), "count", 3)
	got := buf.String()
	for _, bad := range []string{"\u202e", "\u200b", "\x1b", githubPAT} {
		if strings.Contains(got, bad) {
			t.Errorf("log line carries %q: %s", bad, got)
		}
	}
	for _, want := range []string{"Pay[U+202E]ecivreS[U+202C]", "[SECRET]", "[U+001B][2J", "span.name=tool[U+200B]call", "count=3"} {
		if !strings.Contains(got, want) {
			t.Errorf("log line lacks %q: %s", want, got)
		}
	}
}
