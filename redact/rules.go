package redact

import (
	"regexp"
	"sort"
	"strings"
)

// Category is the kind of value a placeholder stands for; it names the
// placeholder: [SECRET_1], [TOKEN_2], [EMAIL_1].
type Category string

// Categories of redacted values.
const (
	Secret Category = "SECRET" // API keys, passwords, private keys, credentials in URLs
	Token  Category = "TOKEN"  // bearer tokens, JWTs, Authorization header values
	Email  Category = "EMAIL"
	Phone  Category = "PHONE"
	Card   Category = "CARD" // payment card numbers (Luhn-checked)
	IBAN   Category = "IBAN" // bank account numbers (mod-97 checked)
	SSN    Category = "SSN"  // US social security numbers (area, group and serial checked)
)

// rule is one detector. groups are the submatches that may hold the value
// to hide, tried in order (0 is the whole match); patterns with several
// alternatives give each its own value group.
type rule struct {
	name     string
	category Category
	re       *regexp.Regexp
	groups   []int
	// starts, when set, lists the only positions where a match may begin,
	// and re is anchored with ^ and tried at each of them. Go's regexp
	// engine has no DFA: a pattern without a literal prefix costs an NFA
	// step per input byte, so rules whose start is easy to spot by hand
	// (a keyword, a number, a plus sign) are far cheaper this way.
	starts func(s, lower string) []int
	// find replaces re for detectors written by hand; it returns
	// [start, end] pairs.
	find func(string) [][]int
	// set replaces re for a whole rule set that checks its own findings
	// and names their categories (the gitleaks rules).
	set func(s, lower string) []span
	// wordStart says the match must not start inside a word. Patterns
	// check this in code rather than with a leading \b so that they keep
	// a literal prefix, which lets the engine skip to candidates.
	wordStart bool
	// hints are lowercase substrings one of which must occur in the
	// lowercased input for the rule to run at all; empty means always run.
	hints []string
	// valid, when set, checks the value (checksums, digit counts).
	valid func(string) bool
	// shrink says a value that fails valid may be cut back group by
	// group (at spaces, dots and dashes) and checked again: a greedy
	// pattern may have taken in a number that follows.
	shrink bool
}

// builtinRules returns the detectors in priority order: earlier rules win
// where matches overlap. The vendor formats the copilot's own ecosystem
// uses (model providers, Slack, GitHub, clouds) come first with their
// own patterns; every other vendor's format comes from the maintained
// rule set leaks, run after the key-value rules.
func builtinRules(leaks *leakSet) []rule {
	return []rule{
		{
			name: "private key block", category: Secret,
			re:    regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----(?s:.*?)(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\z)`),
			hints: []string{"private key"},
		},
		{
			name: "connection string credentials", category: Secret,
			re:     regexp.MustCompile(`://([^\s:/@"'<>]+:[^\s/@"'<>]+)@`),
			groups: []int{1},
		},
		{
			name: "anthropic key", category: Secret,
			re:        regexp.MustCompile(`sk-ant-[A-Za-z0-9_-]{16,}`),
			wordStart: true,
		},
		{
			name: "openai key", category: Secret,
			re:        regexp.MustCompile(`sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}`),
			wordStart: true,
		},
		{
			name: "stripe key", category: Secret,
			re:     regexp.MustCompile(`^[spr]k_(?:live|test)_[A-Za-z0-9]{16,}`),
			starts: wordsAt("sk_", "rk_", "pk_"),
		},
		{
			name: "aws access key id", category: Secret,
			re:        regexp.MustCompile(`A(?:KIA|SIA|GPA|IDA|ROA|NPA)[A-Z0-9]{16}\b`),
			wordStart: true,
		},
		{
			name: "github token", category: Secret,
			re:        regexp.MustCompile(`g(?:h[pousr]_[A-Za-z0-9]{30,}|ithub_pat_[A-Za-z0-9_]{30,})`),
			wordStart: true,
		},
		{
			name: "slack token", category: Secret,
			re:        regexp.MustCompile(`x(?:ox[abprse]|app)-[A-Za-z0-9-]{10,}`),
			wordStart: true,
		},
		{
			name: "google api key", category: Secret,
			re:        regexp.MustCompile(`AIza[0-9A-Za-z_-]{35}`),
			wordStart: true,
		},
		{
			// Other vendors' prefixed keys: Grafana service accounts and
			// cloud tokens, GitLab, npm, Hugging Face, PyPI, DigitalOcean,
			// Shopify, Groq, xAI.
			name: "prefixed api key", category: Secret,
			re:     regexp.MustCompile(`^(?:gl(?:sa|c)_|glpat-|npm_|hf_|pypi-|dop_v1_|shp(?:at|ss|ca)_|gsk_|xai-)[A-Za-z0-9_\-]{16,}`),
			starts: wordsAt("glsa_", "glc_", "glpat-", "npm_", "hf_", "pypi-", "dop_v1_", "shpat_", "shpss_", "shpca_", "gsk_", "xai-"),
		},
		{
			name: "jwt", category: Token,
			re:        regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.(?:eyJ[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*)?|[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+)`),
			wordStart: true,
		},
		{
			name: "authorization header", category: Token,
			re:     regexp.MustCompile(`^(?i)authorization\\?["']?\s*[:=]\s*\\?["']?(?:(?:bearer|basic|token|bot|digest|apikey)\s+)?([^\s"'\\,;]{6,})`),
			groups: []int{1},
			starts: wordsAt("authorization"),
			valid:  authValue,
		},
		{
			name: "bearer token", category: Token,
			re:     regexp.MustCompile(`^(?i)bearer\s+([A-Za-z0-9._~+/=-]{8,})`),
			groups: []int{1},
			starts: wordsAt("bearer"),
		},
		{
			name: "credential key-value", category: Secret,
			// Quoted values (JSON, YAML) may hold spaces; unquoted values
			// end at whitespace or a delimiter. Escaped quotes cover JSON
			// carried inside a JSON string. The key may end a longer name
			// (db_password, auth_token) but must be followed by the
			// separator, so max_tokens and password_reset are keys of
			// something else.
			re: regexp.MustCompile(`^(?i)(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?)(?:[_-](?:access[_-])?key)?` +
				`(?:\\?["'])?\s*[:=]\s*(?:"((?:[^"\\\n]|\\.)+)"|\\"((?:[^"\\\n]|\\[^"\n])+)\\"|'([^'\n]+)'|([^\s"'\\,;&<>{}\[\]()]+))`),
			groups: []int{1, 2, 3, 4},
			starts: substringsAt("pass", "pwd", "secret", "token", "api", "access", "private", "credential"),
			valid:  credentialValue,
		},
		{
			name: "vendor secret formats (gitleaks rules)", category: Secret,
			set: leaks.spans,
		},
		{
			name: "email", category: Email,
			find: findEmails,
		},
		{
			name: "iban", category: IBAN,
			re:     regexp.MustCompile(`^[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b`),
			starts: ibanStarts,
			valid:  validIBAN,
		},
		{
			name: "card number", category: Card,
			re:     regexp.MustCompile(`^[2-6](?:\d{12,18}|\d{3}(?:[ -]\d{3,6}){2,4})\b`),
			starts: numberStarts,
			valid:  validCard,
			shrink: true,
		},
		{
			// Dashed only: nine digits in a row are too often something
			// else (an order number, a timestamp part).
			name: "us social security number", category: SSN,
			re:     regexp.MustCompile(`^(\d{3}-\d{2}-\d{4})(?:$|[^\w-])`),
			groups: []int{1},
			starts: numberStarts,
			valid:  validSSN,
		},
		{
			name: "international phone", category: Phone,
			re:     regexp.MustCompile(`^\+[1-9]\d{0,2}(?:[ .-]?\(\d{1,4}\))?(?:[ .-]?\d{1,5}){1,5}\b`),
			starts: plusStarts,
			valid:  digitCount(8, 15),
			shrink: true,
		},
		{
			name: "north american phone", category: Phone,
			re:     regexp.MustCompile(`^(?:\(\d{3}\) ?|\d{3}[.-])\d{3}[.-]\d{4}\b`),
			starts: numberStarts,
		},
		{
			name: "national phone", category: Phone,
			// Trunk prefix 0 and at least two separated groups: 020 7946
			// 0958, 06 12 34 56 78, 030-1234-5678.
			re:     regexp.MustCompile(`^0[1-9]\d{0,3}(?:[ -]\d{2,4}){2,4}\b`),
			starts: numberStarts,
			valid:  digitCount(9, 12),
			shrink: true,
		},
		{
			// Last resort for keys of unknown vendors: a long run of
			// letters and digits that mixes cases and digits like a
			// random key does, and is not a hex id.
			name: "high-entropy token", category: Secret,
			find: findHighEntropy,
		},
	}
}

// wordsAt finds the lowercase words where they start a word.
func wordsAt(words ...string) func(s, lower string) []int {
	return func(s, lower string) []int {
		var out []int
		for _, p := range substringsAt(words...)(s, lower) {
			if p == 0 || !isWordByte(s[p-1]) {
				out = append(out, p)
			}
		}
		return out
	}
}

// substringsAt finds the lowercase substrings anywhere, sorted by position.
func substringsAt(subs ...string) func(s, lower string) []int {
	return func(_, lower string) []int {
		var out []int
		for _, sub := range subs {
			for off := 0; ; {
				i := strings.Index(lower[off:], sub)
				if i < 0 {
					break
				}
				out = append(out, off+i)
				off += i + len(sub)
			}
		}
		sort.Ints(out)
		return out
	}
}

// numberStarts finds digits that start a number, and opening parentheses
// right before one.
func numberStarts(s, _ string) []int {
	var out []int
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if i == 0 || !isWordByte(s[i-1]) && s[i-1] != '.' && s[i-1] != '-' {
				out = append(out, i)
			}
			for i+1 < len(s) && isWordByte(s[i+1]) {
				i++
			}
		case c == '(' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			out = append(out, i)
		}
	}
	return out
}

// plusStarts finds plus signs followed by a digit.
func plusStarts(s, _ string) []int {
	var out []int
	for off := 0; ; {
		i := strings.IndexByte(s[off:], '+')
		if i < 0 {
			return out
		}
		p := off + i
		if p+1 < len(s) && s[p+1] >= '1' && s[p+1] <= '9' && (p == 0 || !isWordByte(s[p-1])) {
			out = append(out, p)
		}
		off = p + 1
	}
}

// ibanStarts finds a country code and two check digits at a word start.
func ibanStarts(s, _ string) []int {
	var out []int
	for i := 0; i+4 <= len(s); i++ {
		if s[i] >= 'A' && s[i] <= 'Z' && s[i+1] >= 'A' && s[i+1] <= 'Z' &&
			s[i+2] >= '0' && s[i+2] <= '9' && s[i+3] >= '0' && s[i+3] <= '9' &&
			(i == 0 || !isWordByte(s[i-1])) {
			out = append(out, i)
		}
	}
	return out
}

// protectedPattern finds identifiers the model needs to cite and that
// must survive redaction of personal data: uuids and hex trace and span ids.
const protectedPattern = `(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b|\b[0-9a-f]{16}\b|\b[0-9a-f]{32}\b`

// credentialValue rejects values that are clearly not credentials: empty
// markers, booleans, placeholders and already-redacted text.
func credentialValue(v string) bool {
	t := strings.TrimSpace(v)
	if len(t) < 3 {
		return false
	}
	switch strings.ToLower(t) {
	case "null", "none", "nil", "true", "false", "undefined", "redacted", "<redacted>", "[redacted]", "<secret>", "******", "***", "xxx":
		return false
	}
	if strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") {
		return false
	}
	return true
}

// authValue rejects an Authorization value that is only the scheme word
// or an earlier placeholder.
func authValue(v string) bool {
	switch strings.ToLower(v) {
	case "bearer", "basic", "token", "bot", "digest", "apikey":
		return false
	}
	return !strings.HasPrefix(v, "[")
}

func digitCount(lo, hi int) func(string) bool {
	return func(s string) bool {
		n := 0
		for i := 0; i < len(s); i++ {
			if s[i] >= '0' && s[i] <= '9' {
				n++
			}
		}
		return n >= lo && n <= hi
	}
}
