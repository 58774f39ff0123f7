package redact

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Printable returns s with every character that can hide, reorder or
// overwrite text shown as its code point in brackets ("[U+202E]"):
// control characters (NUL, escape sequences a terminal would obey,
// carriage returns that rewind a line) and format characters (bidi
// overrides and isolates, zero-width spaces and joiners, invisible Unicode
// tags), so "Pay\u202eecivreS\u202c down" reads as
// "Pay[U+202E]ecivreS[U+202C] down" and not as "Pay Service down".
// Line and paragraph separators become line breaks; line breaks and tabs
// are kept, and a carriage return before a line break is dropped. Invalid
// UTF-8 becomes U+FFFD. Everything shown to a person or a model from an
// alert, a trace or a model's answer goes through it: Slack messages, the
// CLI's reports, prompts and log lines.
func Printable(s string) string {
	i := 0
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\n' && c != '\t' || c == 0x7f {
				break
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || hides(r) {
			break
		}
		i += size
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteRune(utf8.RuneError)
		case r == '\r' && i+1 < len(s) && s[i+1] == '\n':
			// A Windows line end: the break that follows is kept.
		case r == '\u2028' || r == '\u2029':
			b.WriteByte('\n')
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case hides(r):
			b.WriteString("[U+")
			h := strings.ToUpper(strconv.FormatInt(int64(r), 16))
			for k := len(h); k < 4; k++ {
				b.WriteByte('0')
			}
			b.WriteString(h)
			b.WriteByte(']')
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}

// hides reports whether r is a control or format character, or a line or
// paragraph separator.
func hides(r rune) bool {
	return unicode.IsControl(r) && r != '\n' && r != '\t' || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029'
}
