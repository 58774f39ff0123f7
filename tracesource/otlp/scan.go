package otlp

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 1000

// scanner is a minimal pull parser over one JSON document. It reads only
// what the OTLP decoder asks for and skips the rest without building
// values, which is what makes decoding several times faster than
// encoding/json. After the first error every method is a no-op returning
// zero values, so callers check s.err once at the end.
type scanner struct {
	buf   []byte
	pos   int
	depth int
	err   error
	tmp   []byte // unescaped string scratch
}

func (s *scanner) reset(buf []byte) {
	s.buf, s.pos, s.depth, s.err = buf, 0, 0, nil
}

func (s *scanner) fail(format string, args ...any) {
	if s.err == nil {
		s.err = fmt.Errorf("offset %d: %s", s.pos, fmt.Sprintf(format, args...))
	}
	s.pos = len(s.buf)
}

func (s *scanner) ws() {
	for s.pos < len(s.buf) {
		switch s.buf[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end of input.
func (s *scanner) peek() byte {
	s.ws()
	if s.pos < len(s.buf) {
		return s.buf[s.pos]
	}
	return 0
}

func (s *scanner) expect(c byte) {
	if s.peek() == c {
		s.pos++
		return
	}
	if s.pos >= len(s.buf) {
		s.fail("unexpected end of input, want %q", c)
		return
	}
	s.fail("unexpected %q, want %q", s.buf[s.pos], c)
}

// null consumes a JSON null if it is next.
func (s *scanner) null() bool {
	if s.peek() == 'n' {
		s.literal("null")
		return true
	}
	return false
}

func (s *scanner) literal(lit string) {
	if bytes.HasPrefix(s.buf[s.pos:], []byte(lit)) {
		s.pos += len(lit)
		return
	}
	s.fail("invalid literal")
}

// beginObject consumes '{' and reports true, or consumes null and reports
// false. Anything else is an error.
func (s *scanner) beginObject() bool {
	if s.null() {
		return false
	}
	s.expect('{')
	if s.err != nil {
		return false
	}
	s.depth++
	if s.depth > maxDepth {
		s.fail("nesting deeper than %d", maxDepth)
		return false
	}
	return true
}

// key reads the next key of an object opened by beginObject, or reports
// false at its closing brace. first is whether no key was read yet. The
// returned bytes are valid until the next read.
func (s *scanner) key(first bool) ([]byte, bool) {
	if s.peek() == '}' {
		s.pos++
		s.depth--
		return nil, false
	}
	if !first {
		s.expect(',')
	}
	k := s.rawString()
	s.expect(':')
	if s.err != nil {
		return nil, false
	}
	return k, true
}

// beginArray is beginObject for arrays.
func (s *scanner) beginArray() bool {
	if s.null() {
		return false
	}
	s.expect('[')
	if s.err != nil {
		return false
	}
	s.depth++
	if s.depth > maxDepth {
		s.fail("nesting deeper than %d", maxDepth)
		return false
	}
	return true
}

// elem reports whether another element follows in an array opened by
// beginArray, consuming the separator or the closing bracket.
func (s *scanner) elem(first bool) bool {
	if s.peek() == ']' {
		s.pos++
		s.depth--
		return false
	}
	if !first {
		s.expect(',')
	}
	return s.err == nil
}

// rawString reads a JSON string and returns its unescaped bytes, which
// alias the input when the string has no escapes and the scratch buffer
// otherwise.
func (s *scanner) rawString() []byte {
	if s.peek() != '"' {
		s.fail("want a string")
		return nil
	}
	s.pos++
	start := s.pos
	for i := start; i < len(s.buf); i++ {
		switch c := s.buf[i]; {
		case c == '"':
			s.pos = i + 1
			return s.buf[start:i]
		case c == '\\':
			return s.escapedString(start, i)
		case c < 0x20:
			s.pos = i
			s.fail("control character in string")
			return nil
		}
	}
	s.fail("unterminated string")
	return nil
}

func (s *scanner) escapedString(start, i int) []byte {
	out := append(s.tmp[:0], s.buf[start:i]...)
	for i < len(s.buf) {
		c := s.buf[i]
		switch {
		case c == '"':
			s.pos = i + 1
			s.tmp = out
			return out
		case c < 0x20:
			s.pos = i
			s.fail("control character in string")
			return nil
		case c != '\\':
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(s.buf) {
			break
		}
		switch e := s.buf[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, n := s.unicodeEscape(i)
			if n == 0 {
				s.pos = i
				s.fail("invalid \\u escape")
				return nil
			}
			out = utf8.AppendRune(out, r)
			i += n
			continue
		default:
			s.pos = i
			s.fail("invalid escape")
			return nil
		}
		i += 2
	}
	s.fail("unterminated string")
	return nil
}

// unicodeEscape decodes \uXXXX at i, joining surrogate pairs; it returns
// the rune and the escape's length, or 0 when malformed.
func (s *scanner) unicodeEscape(i int) (rune, int) {
	r := hex4(s.buf, i+2)
	if r < 0 {
		return 0, 0
	}
	if utf16.IsSurrogate(rune(r)) {
		if i+12 <= len(s.buf) && s.buf[i+6] == '\\' && s.buf[i+7] == 'u' {
			if r2 := hex4(s.buf, i+8); r2 >= 0 {
				if dec := utf16.DecodeRune(rune(r), rune(r2)); dec != utf8.RuneError {
					return dec, 12
				}
			}
		}
		return utf8.RuneError, 6
	}
	return rune(r), 6
}

func hex4(b []byte, i int) int {
	if i+4 > len(b) {
		return -1
	}
	v := 0
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		v = v<<4 | int(c)
	}
	return v
}

// str reads a string (or null, as "").
func (s *scanner) str() string {
	if s.null() {
		return ""
	}
	return string(s.rawString())
}

// number reads a JSON number token.
func (s *scanner) number() []byte {
	s.ws()
	start, i := s.pos, s.pos
	if i < len(s.buf) && s.buf[i] == '-' {
		i++
	}
	digits := 0
	for i < len(s.buf) {
		c := s.buf[i]
		if '0' <= c && c <= '9' {
			digits++
		} else if c != '.' && c != 'e' && c != 'E' && c != '+' && c != '-' {
			break
		}
		i++
	}
	if digits == 0 {
		s.fail("want a number")
		return nil
	}
	s.pos = i
	return s.buf[start:i]
}

// scalarText reads a number, or a string holding one, as its text.
func (s *scanner) scalarText() []byte {
	switch s.peek() {
	case '"':
		return s.rawString()
	case 'n':
		s.literal("null")
		return nil
	}
	return s.number()
}

// skip skips one value of any type.
func (s *scanner) skip() {
	switch s.peek() {
	case '{':
		if !s.beginObject() {
			return
		}
		for first := true; ; first = false {
			if _, ok := s.key(first); !ok {
				return
			}
			s.skip()
		}
	case '[':
		if !s.beginArray() {
			return
		}
		for first := true; s.elem(first); first = false {
			s.skip()
		}
	case '"':
		s.skipString()
	case 't':
		s.literal("true")
	case 'f':
		s.literal("false")
	case 'n':
		s.literal("null")
	case 0:
		s.fail("unexpected end of input")
	default:
		s.number()
	}
}

// skipString skips a string without unescaping it.
func (s *scanner) skipString() {
	s.pos++
	for i := s.pos; i < len(s.buf); i++ {
		switch c := s.buf[i]; {
		case c == '"':
			s.pos = i + 1
			return
		case c == '\\':
			i++
		case c < 0x20:
			s.pos = i
			s.fail("control character in string")
			return
		}
	}
	s.fail("unterminated string")
}

// end checks that only white space follows the document.
func (s *scanner) end() {
	if s.err == nil && s.peek() != 0 {
		s.fail("data after the end of the document")
	}
}

var errEmpty = errors.New("empty input")

// parseUint parses decimal digits, or a float spelling of a whole number.
func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return parseUintSlow(b)
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return parseUintSlow(b)
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

func parseUintSlow(b []byte) (uint64, bool) {
	if n, err := strconv.ParseUint(string(b), 10, 64); err == nil {
		return n, true
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f < 0 || f >= 1<<64 || f != float64(uint64(f)) {
		return 0, false
	}
	return uint64(f), true
}
