package analysis

import (
	"strings"
	"unicode/utf8"
)

// The shapes of values NormalizeError recognises in messages.

// classifyWhole recognises values that are replaced as a whole.
func classifyWhole(p string) (string, bool) {
	switch {
	case strings.Contains(p, "://") || strings.HasPrefix(strings.ToLower(p), "www."):
		return "<url>", true
	case isEmail(p):
		return "<email>", true
	case isDate(p) || isClock(p):
		return "<ts>", true
	case isPath(p):
		return "<path>", true
	case isUUID(p):
		return "<uuid>", true
	case isIPv4(p) || isIPv6(p):
		return "<ip>", true
	case isDuration(p):
		return "<dur>", true
	case isPlainNumber(p):
		return "<n>", true
	case isHexID(p):
		return "<id>", true
	}
	return "", false
}

func isSpaceByte(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}
func isQuote(c byte) bool { return c == '"' || c == '\'' || c == '`' }
func isFieldBreak(c byte) bool {
	switch c {
	case '(', ')', '[', ']', '{', '}', '<', '>', ',', ';', '|':
		return true
	}
	return false
}
func isDigit(c byte) bool    { return c >= '0' && c <= '9' }
func isHexByte(c byte) bool  { return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f') }
func isLetter(c byte) bool   { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isAtomByte(c byte) bool { return isDigit(c) || isLetter(c) || c >= utf8.RuneSelf }

func splitTrailingPunct(f string) (core, tail string) {
	end := len(f)
	for end > 0 && strings.IndexByte(".:!?%", f[end-1]) >= 0 {
		end--
	}
	return f[:end], f[end:]
}

func isPlainNumber(p string) bool {
	i := 0
	if i < len(p) && (p[i] == '-' || p[i] == '+') {
		i++
	}
	digits := 0
	for ; i < len(p); i++ {
		c := p[i]
		switch {
		case isDigit(c):
			digits++
		case (c == '.' || c == ',') && i > 0 && i+1 < len(p) && isDigit(p[i-1]) && isDigit(p[i+1]):
		case (c == 'e' || c == 'E') && digits > 0 && i+1 < len(p):
			if p[i+1] == '-' || p[i+1] == '+' {
				i++
			}
		default:
			return false
		}
	}
	return digits > 0
}

func isDuration(p string) bool {
	i, parts := 0, 0
	for i < len(p) {
		start := i
		for i < len(p) && (isDigit(p[i]) || (p[i] == '.' && i > start)) {
			i++
		}
		if i == start {
			return false
		}
		u := i
		for i < len(p) && !isDigit(p[i]) {
			i++
		}
		switch p[u:i] {
		case "ns", "us", "µs", "ms", "s", "m", "h", "d", "sec", "secs", "min", "mins", "hr", "hrs":
		default:
			return false
		}
		parts++
	}
	return parts > 0
}

// durationUnitAfter reports whether the word after position j in s is a
// time unit, and where that word ends.
func durationUnitAfter(s string, j int) (int, bool) {
	k := j
	for k < len(s) && (s[k] == ' ' || s[k] == '\t') {
		k++
	}
	if k == j {
		return 0, false
	}
	e := k
	for e < len(s) && isLetter(s[e]) {
		e++
	}
	switch strings.ToLower(s[k:e]) {
	case "ns", "us", "ms", "s", "sec", "secs", "second", "seconds", "millisecond", "milliseconds",
		"microseconds", "nanoseconds", "min", "mins", "minute", "minutes", "h", "hour", "hours", "day", "days":
		if e < len(s) && isAtomByte(s[e]) {
			return 0, false
		}
		return e, true
	}
	return 0, false
}

// statusPhraseAfter reports whether the word after position j starts an
// HTTP reason phrase ("503 Service Unavailable", "429 Too Many Requests").
func statusPhraseAfter(s string, j int) bool {
	k := j
	for k < len(s) && s[k] == ' ' {
		k++
	}
	if k < len(s) && s[k] == '(' {
		k++ // "503 (Service Unavailable)"
	}
	e := k
	for e < len(s) && isLetter(s[e]) {
		e++
	}
	switch strings.ToLower(s[k:e]) {
	case "bad", "unauthorized", "payment", "forbidden", "not", "method", "request", "conflict", "gone",
		"too", "unprocessable", "internal", "service", "gateway", "server", "client", "upstream":
		return k > j
	}
	return false
}

func isHexID(p string) bool {
	q := p
	if len(q) > 2 && q[0] == '0' && (q[1] == 'x' || q[1] == 'X') {
		q = q[2:]
		for i := 0; i < len(q); i++ {
			if !isHexByte(q[i]) {
				return false
			}
		}
		return true
	}
	if len(q) < 8 {
		return false
	}
	digit := false
	for i := 0; i < len(q); i++ {
		if !isHexByte(q[i]) {
			return false
		}
		digit = digit || isDigit(q[i])
	}
	return digit
}

func isUUID(p string) bool {
	if len(p) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		switch i {
		case 8, 13, 18, 23:
			if p[i] != '-' {
				return false
			}
		default:
			if !isHexByte(p[i]) {
				return false
			}
		}
	}
	return true
}

// isDate matches 2024-01-31 and anything that starts with it (ISO 8601).
func isDate(p string) bool {
	if len(p) < 10 {
		return false
	}
	for i := 0; i < 10; i++ {
		if i == 4 || i == 7 {
			if p[i] != '-' && p[i] != '/' {
				return false
			}
		} else if !isDigit(p[i]) {
			return false
		}
	}
	return len(p) == 10 || p[10] == 'T' || p[10] == ' ' || p[10] == '_'
}

// isClock matches 12:34, 12:34:56, 12:34:56.789Z and offsets.
func isClock(p string) bool {
	if len(p) < 5 {
		return false
	}
	i := 0
	for i < len(p) && i < 2 && isDigit(p[i]) {
		i++
	}
	if i == 0 || i >= len(p) || p[i] != ':' || i+3 > len(p) || !isDigit(p[i+1]) || !isDigit(p[i+2]) {
		return false
	}
	for _, c := range []byte(p[i+3:]) {
		if !isDigit(c) && strings.IndexByte(":.,+-Z", c) < 0 {
			return false
		}
	}
	return true
}

func isIPv4(p string) bool {
	host := p
	if k := strings.IndexByte(p, ':'); k >= 0 {
		host = p[:k]
		for _, c := range []byte(p[k+1:]) {
			if !isDigit(c) {
				return false
			}
		}
	}
	parts := strings.Split(host, ".")
	if len(parts) != 4 {
		return false
	}
	for _, part := range parts {
		if len(part) == 0 || len(part) > 3 {
			return false
		}
		for _, c := range []byte(part) {
			if !isDigit(c) {
				return false
			}
		}
	}
	return true
}

func isIPv6(p string) bool {
	if !strings.Contains(p, "::") && strings.Count(p, ":") < 5 {
		return false
	}
	hex := false
	for _, c := range []byte(p) {
		switch {
		case isHexByte(c):
			hex = true
		case c == ':' || c == '.' || c == '%':
		default:
			return false
		}
	}
	return hex
}

func isEmail(p string) bool {
	at := strings.IndexByte(p, '@')
	if at <= 0 || at == len(p)-1 {
		return false
	}
	dot := strings.LastIndexByte(p[at+1:], '.')
	return dot > 0 && dot < len(p[at+1:])-1
}

func isPath(p string) bool {
	switch {
	case len(p) > 1 && p[0] == '/' && p[1] != '/':
		return true
	case strings.HasPrefix(p, "./"), strings.HasPrefix(p, "../"), strings.HasPrefix(p, "~/"):
		return true
	case len(p) > 3 && isLetter(p[0]) && p[1] == ':' && (p[2] == '\\' || p[2] == '/'):
		return true
	case strings.Count(p, "/") >= 2, strings.Count(p, `\`) >= 2:
		return true
	}
	return false
}

// isCodeLike reports whether a quoted value is a code such as
// "rate_limit_exceeded" or "invoice.id": lower-case words joined by
// underscores or dots, no digits.
func isCodeLike(s string) bool {
	if len(s) < 3 || len(s) > 48 {
		return false
	}
	joined := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z':
		case c == '_' || c == '.':
			if i == 0 || i == len(s)-1 {
				return false
			}
			joined = true
		default:
			return false
		}
	}
	return joined
}

// isStatusLine reports whether a quoted value is an HTTP status line such
// as "401 Unauthorized".
func isStatusLine(s string) bool {
	return len(s) >= 5 && len(s) <= 48 && s[0] >= '1' && s[0] <= '5' && isDigit(s[1]) && isDigit(s[2]) && s[3] == ' ' && isLetter(s[4])
}

// isKeyLike reports whether a quoted value followed by a colon is a map
// key: a short word of letters and underscores.
func isKeyLike(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isLetter(s[i]) && s[i] != '_' {
			return false
		}
	}
	return true
}

// isSecretKey reports whether a key=value key names a credential.
func isSecretKey(key string) bool {
	k := strings.ToLower(key)
	if strings.HasSuffix(k, "token") {
		return true
	}
	for _, w := range []string{"password", "passwd", "secret", "api_key", "apikey", "api-key", "authorization", "credential", "signature", "access_key", "private_key"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

func lettersThenDigits(a string) bool {
	k := 0
	for k < len(a) && isLetter(a[k]) {
		k++
	}
	if k == 0 || k == len(a) {
		return false
	}
	for ; k < len(a); k++ {
		if !isDigit(a[k]) {
			return false
		}
	}
	return true
}

// shortWords counts the words of at most two characters in a, read as
// CamelCase: "ContextLengthExceeded" has none, a random token such as
// "xK9qTz2LmPw7RvB4" many.
func shortWords(a string) int {
	short := 0
	for i := 0; i < len(a); {
		j := i + 1
		switch c := a[i]; {
		case isDigit(c):
			for j < len(a) && isDigit(a[j]) {
				j++
			}
		case c >= 'A' && c <= 'Z':
			for j < len(a) && a[j] >= 'A' && a[j] <= 'Z' {
				j++
			}
			if j < len(a) && a[j] >= 'a' && a[j] <= 'z' {
				if j-i > 1 {
					j-- // the last capital starts the next word: "HTTPError"
				}
				for j < len(a) && a[j] >= 'a' && a[j] <= 'z' {
					j++
				}
			}
		default:
			for j < len(a) && !isDigit(a[j]) && (a[j] < 'A' || a[j] > 'Z') {
				j++
			}
		}
		if j-i <= 2 {
			short++
		}
		i = j
	}
	return short
}

func isLowerASCII(a string) bool {
	for i := 0; i < len(a); i++ {
		if a[i] < 'a' || a[i] > 'z' {
			return false
		}
	}
	return true
}
