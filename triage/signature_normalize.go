package triage

import (
	"strings"
	"unicode/utf8"
)

const (
	// maxNormalizeInput bounds the work spent on one message: anything past
	// it is a stack trace or a response body, not the error's shape.
	maxNormalizeInput = 4096
	// maxNormalized is the longest normalised text kept in a signature.
	maxNormalized = 200
	// maxQuoted is how far a quote may run before it is taken as a stray
	// apostrophe rather than a quoted value.
	maxQuoted = 512
)

// NormalizeError reduces an error message to its shape, so that the same
// failure in different runs reads the same. Numbers become <n>, hex ids and
// random tokens <id>, uuids <uuid>, dates and times <ts>, durations ("30s",
// "1500 ms") <dur>, quoted values <str>, file paths <path>, URLs <url>,
// e-mail addresses <email>, IP addresses <ip>, and the value after a
// bearer or a secret-looking key <secret>. HTTP status codes next to the
// words that announce them ("HTTP 503", "status=429", "Error code: 500")
// are kept: they tell failures apart. Quoted sentences are normalised in
// place and quoted snake_case or dotted codes kept, since they name the
// failure rather than the data. Whitespace is collapsed and the result cut
// to about 200 characters. It is pure and safe for concurrent use.
func NormalizeError(msg string) string {
	if len(msg) > maxNormalizeInput {
		msg = cutRunes(msg, maxNormalizeInput)
	}
	var n normalizer
	n.out.Grow(len(msg))
	n.text(msg)
	out := strings.TrimSpace(n.out.String())
	if utf8.RuneCountInString(out) > maxNormalized {
		out = cutRunes(out, maxNormalized)
		// End on a word when one ends near the cut.
		if sp := strings.LastIndexByte(out, ' '); sp > len(out)-30 {
			out = out[:sp]
		}
		// Do not leave half a placeholder behind.
		if lt, gt := strings.LastIndexByte(out, '<'), strings.LastIndexByte(out, '>'); lt > gt {
			out = out[:lt]
		}
		out = strings.TrimSpace(out)
	}
	return out
}

// cutRunes returns the longest prefix of s of at most max bytes that ends
// on a rune boundary.
func cutRunes(s string, max int) string {
	if len(s) <= max {
		return s
	}
	for max > 0 && !utf8.RuneStart(s[max]) {
		max--
	}
	return s[:max]
}

// normalizer writes the normalised form of a message. Words are fields
// between spaces, quotes and brackets; a field is classified whole (a URL,
// a path, a timestamp) or split at '=' and ':' and then at any punctuation
// into atoms that are classified on their own.
type normalizer struct {
	out        strings.Builder
	space      bool   // a space is owed before the next output
	lastHolder string // the placeholder last written, if nothing followed it
	prevWord   string // the last word atom written, lower-cased
	secretNext bool   // the next field is a credential
	fields     int    // fields written so far
	typeLead   bool   // the only field so far names an exception type ("ValueError:")
}

func (n *normalizer) text(s string) {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case isSpaceByte(c):
			n.space = true
			i++
		case isQuote(c) && n.quoteCanOpen():
			end := closingQuote(s, i)
			if end < 0 {
				n.raw(s[i : i+1])
				i++
				continue
			}
			key := end+1 < len(s) && s[end+1] == ':'
			n.quoted(s[i:i+1], s[i+1:end], key)
			i = end + 1
		case isQuote(c):
			// An apostrophe inside a word.
			n.raw(s[i : i+1])
			i++
		case isFieldBreak(c):
			n.raw(s[i : i+1])
			if c != '(' && c != '[' && c != '{' && c != '<' {
				n.prevWord = ""
			}
			i++
		default:
			j := i
			for j < len(s) && !isSpaceByte(s[j]) && !isQuote(s[j]) && !isFieldBreak(s[j]) {
				j++
			}
			i = n.field(s, i, j)
		}
	}
}

// field writes s[i:j] and returns where scanning continues: past j, or past
// a unit word that turned the field's number into a duration.
func (n *normalizer) field(s string, i, j int) int {
	f := s[i:j]
	core, tail := splitTrailingPunct(f)
	if core == "" {
		n.raw(tail)
		return j
	}
	lead := n.fields == 0 || (n.fields == 1 && n.typeLead)
	n.fields++
	n.typeLead = false
	if n.secretNext {
		n.secretNext = false
		n.holder("<secret>")
		n.raw(tail)
		return j
	}
	if isPlainNumber(core) && (tail == "" || tail == ":") {
		if k, ok := durationUnitAfter(s, j); ok && tail == "" {
			n.holder("<dur>")
			return k
		}
		// A status leading the message ("429 Too Many Requests",
		// "RateLimitError: 429 ...") is what the message is about.
		if len(core) == 3 && (core[0] == '4' || core[0] == '5') && (lead || statusPhraseAfter(s, j)) {
			n.word(core)
			n.raw(tail)
			return j
		}
	}
	if strings.HasPrefix(tail, ":") && n.fields == 1 {
		if short, ok := shortTypeName(core); ok {
			// A qualified exception type: its class names it.
			n.word(short)
			n.raw(tail)
			n.typeLead = true
			return j
		}
		n.typeLead = isIdentifier(core)
	}
	n.piece(core, 0, "")
	n.raw(tail)
	if strings.EqualFold(core, "bearer") {
		n.secretNext = true
	}
	return j
}

// shortTypeName returns the class of a qualified type name such as
// "requests.exceptions.HTTPError", "System.Net.Http.HttpRequestException"
// or "*json.SyntaxError".
func shortTypeName(f string) (string, bool) {
	f = strings.TrimPrefix(f, "*")
	k := strings.LastIndexByte(f, '.')
	if k <= 0 || k == len(f)-1 {
		return "", false
	}
	for _, part := range strings.Split(f, ".") {
		if !isIdentifier(part) {
			return "", false
		}
	}
	last := f[k+1:]
	if last[0] < 'A' || last[0] > 'Z' {
		return "", false
	}
	return last, true
}

func isIdentifier(s string) bool {
	if s == "" || isDigit(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isLetter(s[i]) && !isDigit(s[i]) && s[i] != '_' {
			return false
		}
	}
	return true
}

// piece writes p, split first at '=' (level 0), then ':' (level 1), then
// at any punctuation (level 2). key is the text before the '=' or ':' that
// introduced p.
func (n *normalizer) piece(p string, level int, key string) {
	if p == "" {
		return
	}
	if key != "" && isSecretKey(key) {
		n.holder("<secret>")
		return
	}
	if h, ok := classifyWhole(p); ok {
		if h == "<n>" && n.keepStatus(p, key) {
			n.word(p)
			return
		}
		n.holder(h)
		return
	}
	var sep byte
	switch level {
	case 0:
		sep = '='
	case 1:
		sep = ':'
	default:
		n.atoms(p)
		return
	}
	if strings.IndexByte(p, sep) < 0 {
		n.piece(p, level+1, key)
		return
	}
	prev := key
	for k, part := range strings.Split(p, string(sep)) {
		if k > 0 {
			n.raw(string(sep))
		}
		n.piece(part, level+1, prev)
		prev = part
	}
}

// atoms writes p split at every byte that is not a letter, a digit or part
// of a multi-byte rune, classifying each run on its own.
func (n *normalizer) atoms(p string) {
	for i := 0; i < len(p); {
		if !isAtomByte(p[i]) {
			n.raw(p[i : i+1])
			i++
			continue
		}
		j := i
		for j < len(p) && isAtomByte(p[j]) {
			j++
		}
		a := p[i:j]
		switch h, ok := classifyWhole(a); {
		case ok && h == "<n>" && n.keepStatus(a, ""):
			n.word(a)
		case ok:
			n.holder(h)
		default:
			n.atom(a)
		}
		i = j
	}
}

func (n *normalizer) atom(a string) {
	letters, digits := 0, 0
	for i := 0; i < len(a); i++ {
		switch c := a[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c < utf8.RuneSelf:
			letters++
		}
	}
	switch {
	case digits >= 3 && letters > 0 && lettersThenDigits(a):
		k := strings.IndexAny(a, "0123456789")
		n.word(a[:k])
		n.out.WriteString("<n>")
		n.lastHolder = ""
	case len(a) >= 8 && digits >= 3,
		len(a) >= 10 && shortWords(a) >= 3,
		len(a) >= 8 && digits >= 1 && shortWords(a) >= 2,
		len(a) >= 24 && isLowerASCII(a):
		n.holder("<id>")
	default:
		n.word(a)
	}
}

// keepStatus reports whether the number p is an HTTP status code in a
// context that announces one.
func (n *normalizer) keepStatus(p, key string) bool {
	if len(p) != 3 || p[0] < '1' || p[0] > '5' {
		return false
	}
	for _, w := range []string{strings.ToLower(key), n.prevWord} {
		switch w {
		case "http", "https", "status", "code", "status_code", "statuscode", "http_status", "http.status_code", "http.response.status_code":
			return true
		}
	}
	return false
}

// quoted writes a quoted value. key says a colon follows it, as after a
// key in a printed map.
func (n *normalizer) quoted(q, content string, key bool) {
	if h, ok := classifyWhole(content); ok && h != "<n>" {
		n.holder(h)
		return
	}
	switch {
	case strings.Count(strings.TrimSpace(content), " ") >= 2:
		// A quoted sentence is a nested message: keep its words.
		var inner normalizer
		inner.text(content)
		n.raw(q + strings.TrimSpace(inner.out.String()) + q)
	case isCodeLike(content) || (key && isKeyLike(content)) || isStatusLine(content):
		n.raw(q + content + q)
	default:
		n.holder("<str>")
	}
}

// word writes text that stays as it is.
func (n *normalizer) word(w string) {
	n.flushSpace()
	n.out.WriteString(w)
	n.lastHolder = ""
	n.prevWord = strings.ToLower(w)
}

// raw writes punctuation and other text that is not a word.
func (n *normalizer) raw(s string) {
	if s == "" {
		return
	}
	n.flushSpace()
	n.out.WriteString(s)
	n.lastHolder = ""
}

// holder writes a placeholder, folding a run of equal placeholders
// separated only by spaces into one.
func (n *normalizer) holder(h string) {
	if n.lastHolder == h {
		n.space = false
		return
	}
	n.flushSpace()
	n.out.WriteString(h)
	n.lastHolder = h
	n.prevWord = ""
}

func (n *normalizer) flushSpace() {
	if n.space && n.out.Len() > 0 {
		n.out.WriteByte(' ')
		n.lastHolder = ""
	}
	n.space = false
}

// quoteCanOpen reports whether a quote here starts a quoted value rather
// than being an apostrophe inside a word.
func (n *normalizer) quoteCanOpen() bool {
	if n.space || n.out.Len() == 0 {
		return true
	}
	s := n.out.String()
	c := s[len(s)-1]
	return !isAtomByte(c)
}

func closingQuote(s string, open int) int {
	q := s[open]
	limit := min(len(s), open+1+maxQuoted)
	for k := open + 1; k < limit; k++ {
		if s[k] != q {
			continue
		}
		if k+1 < len(s) && isAtomByte(s[k+1]) {
			continue // an apostrophe inside the quoted text
		}
		return k
	}
	return -1
}

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
// "qBxpXXRTKvthzlPfnW3blcUw" many.
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
