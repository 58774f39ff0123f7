package alerts

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// Decoding the Alertmanager payload is most of the intake's own work per
// webhook. scanAMPayload reads a well-formed payload in one pass without
// reflection; anything it is not sure of (a syntax error, a value of an
// unexpected type, a key spelled in another case, a key given twice, an
// escaped or invalid string it cannot take as is) makes it give up, and
// encoding/json decodes the payload instead, with its exact semantics and
// error messages. It therefore decodes exactly what json.Unmarshal would
// (checked by FuzzScanAMPayload).

// scanAMPayload fills p from body and reports whether it could.
func scanAMPayload(body []byte, p *amPayload) bool {
	s := amScanner{b: body, text: string(body)}
	ok := s.object(func(key string) bool {
		switch key {
		case "version":
			return s.str(&p.Version)
		case "groupKey":
			return s.str(&p.GroupKey)
		case "status":
			return s.str(&p.Status)
		case "receiver":
			return s.str(&p.Receiver)
		case "externalURL":
			return s.str(&p.ExternalURL)
		case "truncatedAlerts":
			return s.integer(&p.TruncatedAlerts)
		case "groupLabels":
			return s.strMap(&p.GroupLabels)
		case "commonLabels":
			return s.strMap(&p.CommonLabels)
		case "commonAnnotations":
			return s.strMap(&p.CommonAnnotations)
		case "alerts":
			return s.alerts(&p.Alerts)
		}
		return s.unknown(key, amPayloadKeys)
	})
	s.ws()
	return ok && s.i == len(s.b)
}

var (
	amPayloadKeys = []string{"version", "groupKey", "status", "receiver", "externalURL", "truncatedAlerts",
		"groupLabels", "commonLabels", "commonAnnotations", "alerts"}
	amAlertKeys = []string{"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"}
)

func (s *amScanner) alerts(out *[]amAlert) bool {
	if s.null() {
		*out = nil
		return true
	}
	if !s.eat('[') {
		return false
	}
	list := make([]amAlert, 0, 1)
	s.ws()
	if s.eat(']') {
		*out = list
		return true
	}
	for {
		var a amAlert
		ok := s.object(func(key string) bool {
			switch key {
			case "status":
				return s.str(&a.Status)
			case "labels":
				return s.strMap(&a.Labels)
			case "annotations":
				return s.strMap(&a.Annotations)
			case "startsAt":
				return s.time(&a.StartsAt)
			case "endsAt":
				return s.time(&a.EndsAt)
			case "generatorURL":
				return s.str(&a.GeneratorURL)
			case "fingerprint":
				return s.str(&a.Fingerprint)
			}
			return s.unknown(key, amAlertKeys)
		})
		if !ok {
			return false
		}
		list = append(list, a)
		s.ws()
		if s.eat(']') {
			*out = list
			return true
		}
		if !s.eat(',') {
			return false
		}
	}
}

// amScanner reads JSON from b at i.
type amScanner struct {
	b []byte
	// text is b as a string, made once: the plain strings of the payload
	// (nearly all of them) are slices of it rather than an allocation
	// each. They keep the whole body alive while any of them lives,
	// which for a job's alerts is until the job is queued.
	text string
	i    int
}

func (s *amScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// eat skips space and then c, reporting whether c was there.
func (s *amScanner) eat(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

var nullLiteral = []byte("null")

// null consumes a null literal if one comes next.
func (s *amScanner) null() bool {
	s.ws()
	if bytes.HasPrefix(s.b[s.i:], nullLiteral) {
		s.i += 4
		return true
	}
	return false
}

// object reads an object, calling member for each key with the scanner
// at its value; a key seen twice gives up.
func (s *amScanner) object(member func(key string) bool) bool {
	if !s.eat('{') {
		return false
	}
	var buf [16]string
	seen := buf[:0]
	s.ws()
	if s.eat('}') {
		return true
	}
	for {
		s.ws()
		var key string
		if s.i >= len(s.b) || s.b[s.i] != '"' || !s.str(&key) || !s.eat(':') {
			return false
		}
		for _, k := range seen {
			if k == key {
				return false
			}
		}
		seen = append(seen, key)
		if !member(key) {
			return false
		}
		if s.eat('}') {
			return true
		}
		if !s.eat(',') {
			return false
		}
	}
}

// unknown skips the value of a key the payload does not use; a key that
// encoding/json would match to a known one (it ignores case) gives up.
func (s *amScanner) unknown(key string, known []string) bool {
	for _, k := range known {
		if strings.EqualFold(k, key) {
			return false
		}
	}
	start := s.i
	if !s.skip() {
		return false
	}
	return json.Valid(s.b[start:s.i])
}

// skip passes over one value of any type; the caller checks it.
func (s *amScanner) skip() bool {
	s.ws()
	start, depth := s.i, 0
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch c {
		case '"':
			if _, ok := s.stringEnd(); !ok {
				return false
			}
			if depth == 0 {
				return true
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return s.i > start // the end of the enclosing value
			}
			depth--
			if depth == 0 {
				s.i++
				return true
			}
		case ',', ':', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return s.i > start
			}
		}
		s.i++
	}
	return depth == 0 && s.i > start
}

// stringEnd moves past the string at i and reports whether it holds an
// escape or a byte outside ASCII.
func (s *amScanner) stringEnd() (plain, ok bool) {
	plain = true
	for j := s.i + 1; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			s.i = j + 1
			return plain, true
		case c == '\\':
			plain = false
			j++
		case c < 0x20:
			return false, false
		case c >= utf8.RuneSelf:
			plain = false
		}
	}
	return false, false
}

// str reads a string (null leaves *out as it is, as encoding/json does).
func (s *amScanner) str(out *string) bool {
	s.ws()
	if s.null() {
		return true
	}
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return false
	}
	start := s.i
	plain, ok := s.stringEnd()
	if !ok {
		return false
	}
	tok := s.b[start:s.i]
	if plain {
		*out = s.text[start+1 : s.i-1]
		return true
	}
	if v, ok := unescape(tok[1 : len(tok)-1]); ok {
		*out = v
		return true
	}
	// A variable of its own, so that handing it to encoding/json does
	// not move every caller's string to the heap.
	var v string
	if json.Unmarshal(tok, &v) != nil {
		return false
	}
	*out = v
	return true
}

// unescape decodes the inside of a JSON string holding escapes or bytes
// outside ASCII; it gives up (false) on what encoding/json would repair
// (invalid UTF-8, a lone surrogate).
func unescape(in []byte) (string, bool) {
	out := make([]byte, 0, len(in))
	for i := 0; i < len(in); i++ {
		c := in[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(in) {
			return "", false
		}
		switch in[i] {
		case '"', '\\', '/':
			out = append(out, in[i])
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
			r, ok := hex4(in[i+1:])
			if !ok {
				return "", false
			}
			i += 4
			if utf16.IsSurrogate(r) {
				if i+6 >= len(in) || in[i+1] != '\\' || in[i+2] != 'u' {
					return "", false
				}
				r2, ok := hex4(in[i+3:])
				if !ok {
					return "", false
				}
				if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
					return "", false
				}
				i += 6
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", false
		}
	}
	if !utf8.Valid(out) {
		return "", false
	}
	return string(out), true
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

func (s *amScanner) strMap(out *map[string]string) bool {
	if s.null() {
		*out = nil
		return true
	}
	m := *out
	if m == nil {
		m = make(map[string]string, 8)
	}
	ok := s.object(func(key string) bool {
		var v string
		if s.null() {
			m[key] = ""
			return true
		}
		if !s.str(&v) {
			return false
		}
		m[key] = v
		return true
	})
	*out = m
	return ok
}

func (s *amScanner) integer(out *int) bool {
	if s.null() {
		return true
	}
	s.ws()
	start := s.i
	for s.i < len(s.b) && (s.b[s.i] == '-' || s.b[s.i] >= '0' && s.b[s.i] <= '9') {
		s.i++
	}
	n, err := strconv.Atoi(s.text[start:s.i])
	if err != nil || (s.i-start > 1 && (s.b[start] == '0' || s.b[start] == '-' && s.b[start+1] == '0')) {
		return false
	}
	if s.i < len(s.b) && (s.b[s.i] == '.' || s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		return false
	}
	*out = n
	return true
}

// time reads a time as wireTime does: a plain string directly, anything
// else handed to wireTime as encoding/json would.
func (s *amScanner) time(out *wireTime) bool {
	s.ws()
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '"' {
		if plain, ok := s.stringEnd(); ok && plain {
			*out = wireTime{}
			if v := s.b[start+1 : s.i-1]; len(v) > 0 {
				t, err := time.Parse(time.RFC3339Nano, s.text[start+1:s.i-1])
				out.t, out.bad = t, err != nil
			}
			return true
		}
		s.i = start
	}
	if !s.skip() {
		return false
	}
	raw := s.b[start:s.i]
	if !json.Valid(raw) {
		return false
	}
	return out.UnmarshalJSON(raw) == nil
}
