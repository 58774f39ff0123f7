package triage

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/oncall-copilot/oncall-copilot/redact"
)

// redactWindow is how far past a cut the redactor reads, so that a secret
// straddling the cut is still recognised whole.
const redactWindow = 512

// clean makes untrusted text safe to show: it reads at most what it needs
// of a long text, redacts it, drops control and formatting characters,
// collapses whitespace, defuses the data delimiters and caps the length.
func (b *evidenceBuilder) clean(s string, max int) string {
	if s == "" {
		return ""
	}
	if len(s) > 4*max+redactWindow {
		s = s[:runeStart(s, 4*max+redactWindow)]
	}
	return capRunes(flattenUntrusted(b.red.String(s)), max)
}

// excerpt shows the start and the end of a payload, n runes each, and how
// much was skipped between them. Each end is redacted with some context
// before it is cut, so whole payloads are never read.
func (b *evidenceBuilder) excerpt(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if short := 2*n + 40; len(s) <= short || (len(s) <= 4*short && utf8.RuneCountInString(s) <= short) {
		return b.clean(s, short)
	}
	headEnd := runeStart(s, min(len(s), 4*n+redactWindow))
	tailStart := runeStart(s, max(0, len(s)-4*n-redactWindow))
	head := capRunes(flattenUntrusted(b.red.String(s[:headEnd])), n)
	tail := lastRunes(flattenUntrusted(b.red.String(s[tailStart:])), n)
	return fmt.Sprintf("%s … [%d chars skipped] … %s", strings.TrimSuffix(head, "…"), utf8.RuneCountInString(s)-2*n, tail)
}

// flatten shows control and invisible formatting characters as code
// points (redact.Printable, as everywhere text is shown), turns
// whitespace runs into one space and defuses delimiter look-alikes.
func flattenUntrusted(s string) string {
	var sb strings.Builder
	sb.Grow(len(s))
	space := false
	for _, r := range redact.Printable(s) {
		switch {
		case unicode.IsSpace(r):
			space = true
			continue
		case r == utf8.RuneError:
			continue
		}
		if space && sb.Len() > 0 {
			sb.WriteByte(' ')
		}
		space = false
		sb.WriteRune(r)
	}
	return defuseDelimiters(sb.String())
}

// defuseDelimiters replaces the "<" of anything that reads as a
// trace_data tag, so content cannot end its data block and speak as the
// report.
func defuseDelimiters(s string) string {
	lower := strings.ToLower(s)
	if !strings.Contains(lower, "trace_data") {
		return s
	}
	b := []byte(s)
	for off := 0; ; {
		i := strings.Index(lower[off:], "trace_data")
		if i < 0 {
			break
		}
		at := off + i
		j := at - 1
		for j >= 0 && (b[j] == ' ' || b[j] == '/') {
			j--
		}
		if j >= 0 && b[j] == '<' {
			b[j] = '('
		}
		off = at + len("trace_data")
	}
	return string(b)
}

// capRunes cuts s to n runes, marking the cut.
func capRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for k := 0; k < n; k++ {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return strings.TrimSpace(s[:i]) + "…"
}

// lastRunes keeps the last n runes of s.
func lastRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := len(s)
	for k := 0; k < n; k++ {
		_, size := utf8.DecodeLastRuneInString(s[:i])
		i -= size
	}
	return strings.TrimSpace(s[i:])
}

// duration prints a duration compactly: 850ms, 1.25s, 3m20s.
func shortDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0ms"
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}

func isoStamp(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format(time.RFC3339)
}

func percentText(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) }
