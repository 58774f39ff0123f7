package analysis

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
		case c == '<' && markupTag(s[i:]) > 0:
			// Markup of an HTML error page says nothing.
			i += markupTag(s[i:])
			n.space = true
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

// markupTag returns the length of the HTML tag s starts with ("<h1>",
// "</body>", "<a href=...>"), or 0.
func markupTag(s string) int {
	i := 1
	if i < len(s) && s[i] == '/' {
		i++
	}
	if i >= len(s) || !isLetter(s[i]) {
		return 0
	}
	for i < len(s) && (isLetter(s[i]) || isDigit(s[i])) {
		i++
	}
	switch s[:i] {
	case "<n", "<id", "<uuid", "<ts", "<dur", "<str", "<path", "<url", "<email", "<ip", "<secret":
		return 0 // a placeholder of NormalizeError's own
	}
	end := strings.IndexByte(s[i:min(len(s), i+200)], '>')
	if end < 0 || (end > 0 && s[i] != ' ') {
		return 0
	}
	return i + end + 1
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
// or "*url.Error".
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
	case isCodeLike(content) || (key && isKeyLike(content)) || isStatusLine(content) || (namesSchema(n.prevWord) && isKeyLike(content)):
		n.raw(q + content + q)
	default:
		n.holder("<str>")
	}
}

// namesSchema reports whether a word announces the name of a field, an
// argument or a key, whose quoted name says what failed ("missing
// required field 'locale'"), unlike a quoted value.
func namesSchema(word string) bool {
	switch strings.TrimSuffix(word, "s") {
	case "field", "argument", "arg", "parameter", "param", "key", "attribute", "property", "column", "header", "option", "variable", "tool", "function", "method":
		return true
	}
	return false
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
