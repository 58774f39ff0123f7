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

// A Generated value skips the redactor (a value it would redact shows
// that) but not the character check; a plain string beside it is still
// redacted, and other handlers log a Generated value as its string.
func TestLogHandlerGeneratedValues(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(LogHandler(slog.NewTextHandler(&buf, nil), newRedactor(t)))
	log.Info("alert accepted", "job", Generated("id-"+githubPAT), "route", Generated("pay\u202ements"), "group", githubPAT)
	got := buf.String()
	for _, want := range []string{"job=id-" + githubPAT, "route=pay[U+202E]ments", "group=[SECRET]"} {
		if !strings.Contains(got, want) {
			t.Errorf("log line lacks %q: %s", want, got)
		}
	}
	buf.Reset()
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("alert accepted", "job", Generated("0123abcd"))
	if !strings.Contains(buf.String(), `"job":"0123abcd"`) {
		t.Errorf("JSON handler logged %s", buf.String())
	}
}
