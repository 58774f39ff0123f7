package redact

// Checks and hand-written finders behind the rules: checksums that
// confirm a candidate, and scanners for shapes a regexp finds slowly.

import (
	"math"
	"strings"
)

// validCard accepts 13 to 19 digits that pass the Luhn check, either in
// one run or in groups of 3 to 6 digits (4-4-4-4, 4-6-5) with one kind of
// separator.
func validCard(s string) bool {
	sep := byte(0)
	groups := []int{0}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' || c == '-' {
			if sep != 0 && sep != c {
				return false
			}
			sep = c
			groups = append(groups, 0)
			continue
		}
		groups[len(groups)-1]++
	}
	if len(groups) > 1 {
		if groups[0] != 4 {
			return false
		}
		for _, g := range groups {
			if g < 3 || g > 6 {
				return false
			}
		}
	}
	return luhn(s)
}

func luhn(s string) bool {
	sum, n := 0, 0
	double := false
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		if c < '0' || c > '9' {
			continue
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
		n++
	}
	return n >= 13 && n <= 19 && sum%10 == 0
}

// validSSN accepts the numbers the Social Security Administration
// issues: area 001 to 899 except 666, group 01 to 99, serial 0001 to
// 9999 (SSA, "Social Security Number Randomization").
func validSSN(s string) bool {
	if len(s) != 11 {
		return false
	}
	area, group, serial := s[0:3], s[4:6], s[7:11]
	return area != "000" && area != "666" && area[0] != '9' && group != "00" && serial != "0000"
}

// validIBAN checks the ISO 13616 mod-97 checksum.
func validIBAN(s string) bool {
	s = strings.ReplaceAll(s, " ", "")
	if len(s) < 15 || len(s) > 34 {
		return false
	}
	r := s[4:] + s[:4]
	mod := 0
	for i := 0; i < len(r); i++ {
		c := r[i]
		switch {
		case c >= '0' && c <= '9':
			mod = (mod*10 + int(c-'0')) % 97
		case c >= 'A' && c <= 'Z':
			mod = (mod*100 + int(c-'A'+10)) % 97
		default:
			return false
		}
	}
	return mod == 1
}

// findEmails finds addresses by expanding around each @: a dot-atom local
// part of at most 64 characters, a dotted domain ending in a letters-only
// top-level label. Scanning from the @ is much faster than a pattern with
// bounded repetitions that the engine must try at every position.
func findEmails(s string) [][]int {
	var out [][]int
	for off := 0; ; {
		i := strings.IndexByte(s[off:], '@')
		if i < 0 {
			return out
		}
		at := off + i
		off = at + 1
		start := at
		for start > 0 && at-start < 64 && isLocalChar(s[start-1]) {
			start--
		}
		if start == at || (start > 0 && isWordByte(s[start-1])) {
			continue
		}
		end, lastDot := at+1, -1
		for end < len(s) && end-at <= 253 && (isAlnum(s[end]) || s[end] == '-' || s[end] == '.') {
			if s[end] == '.' {
				lastDot = end
			}
			end++
		}
		// A trailing dot ends a sentence, not the domain.
		for end > at+1 && s[end-1] == '.' {
			end--
			lastDot = strings.LastIndexByte(s[at+1:end], '.')
			if lastDot >= 0 {
				lastDot += at + 1
			}
		}
		if lastDot <= at+1 || !tld(s[lastDot+1:end]) {
			continue
		}
		out = append(out, []int{start, end})
		off = end
	}
}

func tld(s string) bool {
	if len(s) < 2 || len(s) > 24 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !(s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z') {
			return false
		}
	}
	return true
}

func isLocalChar(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isWordByte(c byte) bool { return isAlnum(c) || c == '_' }

// findHighEntropy finds words that look like credentials of vendors no
// rule knows. Identifiers people need to read (alert names, span and
// tool names, error classes) are long mixed-case words too, so a word
// must also look random: split in camel-case parts (Checkout, API,
// Latency, P, 99, High), most of an identifier's characters sit in parts
// of three or more, where a random key is mostly parts of one or two
// (9, f, K, 2, m, Qx, 7, Lp). Right after a credential keyword (key,
// token, secret, password: "use key tok_…") the bar is lower: the
// context says what the value is.
func findHighEntropy(s string) [][]int {
	var out [][]int
	isKey := func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '+' || c == '/'
	}
	for i := 0; i < len(s); {
		if !isKey(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isKey(s[j]) {
			j++
		}
		w := s[i:j]
		if len(w) >= 16 && (len(w) >= 24 && looksRandom(w) || afterCredentialKeyword(s, i) && looksLikeKey(w)) {
			out = append(out, []int{i, j})
		}
		i = j
	}
	return out
}

// wordShape describes the characters of a word.
type wordShape struct {
	upper, lower, digit int
	// inWords counts the letters and digits that belong to camel-case
	// parts of three or more characters.
	inWords int
	entropy float64
	slashes int
}

// charClass is 1 for upper case, 2 for lower case, 3 for a digit, 0 for
// anything else.
func charClass(c byte) int {
	switch {
	case c >= 'A' && c <= 'Z':
		return 1
	case c >= 'a' && c <= 'z':
		return 2
	case c >= '0' && c <= '9':
		return 3
	}
	return 0
}

func shapeOf(w string) wordShape {
	var sh wordShape
	var counts [256]int
	// part is the length of the camel-case part being read: a run of
	// one class, where one upper-case letter followed by lower case
	// starts a word (APILatency is API and Latency).
	part, prev := 0, 0
	end := func() {
		if part >= 3 {
			sh.inWords += part
		}
		part = 0
	}
	for i := 0; i < len(w); i++ {
		c := w[i]
		counts[c]++
		class := charClass(c)
		switch class {
		case 1:
			sh.upper++
		case 2:
			sh.lower++
		case 3:
			sh.digit++
		default:
			if c == '/' {
				sh.slashes++
			}
		}
		switch {
		case class == 0:
			end()
		case class == prev:
			part++
		case prev == 1 && class == 2:
			// The last upper-case letter begins this word.
			part--
			end()
			part = 2
		default:
			end()
			part = 1
		}
		prev = class
	}
	end()
	n := float64(len(w))
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			sh.entropy -= p * math.Log2(p)
		}
	}
	return sh
}

// looksRandom is the bar for a word with no context: all three classes,
// high per-character entropy, and less than two thirds of its letters and
// digits in camel-case parts of three or more. Random base62 of 24 to 32
// characters clears it about 19 times in 20; names joined from words
// (HostDiskMayFillIn24Hours: five sixths) do not.
func looksRandom(w string) bool {
	sh := shapeOf(w)
	if sh.upper < 2 || sh.lower < 2 || sh.digit < 2 {
		return false
	}
	// Paths and dotted names have separators every few characters.
	if sh.slashes > len(w)/8 {
		return false
	}
	alnum := sh.upper + sh.lower + sh.digit
	return sh.entropy >= 4.0 && 3*sh.inWords < 2*alnum
}

// looksLikeKey is the bar for a word right after a credential keyword:
// digits and letters, the entropy of a random value, and not three
// quarters words ("auth: ServiceAccountTokenExpired2024" names an error).
func looksLikeKey(w string) bool {
	sh := shapeOf(w)
	if sh.digit < 2 || sh.upper+sh.lower < 2 || sh.slashes > len(w)/8 {
		return false
	}
	alnum := sh.upper + sh.lower + sh.digit
	return sh.entropy >= 3.5 && 4*sh.inWords < 3*alnum
}

// credentialKeywords are words that, right before a value, say it is a
// credential.
var credentialKeywords = []string{"key", "token", "secret", "password", "passwd", "pwd", "credential", "credentials", "apikey", "auth"}

// afterCredentialKeyword reports whether the word at s[i:] follows a
// credential keyword and a separator (spaces, quotes, "=", ":"), as in
// "key tok_…", "token: …", "secret='…'".
func afterCredentialKeyword(s string, i int) bool {
	j := i
	for j > 0 && i-j < 4 && strings.IndexByte(" \t=:'\"", s[j-1]) >= 0 {
		j--
	}
	if j == i {
		return false
	}
	for _, k := range credentialKeywords {
		if j >= len(k) && strings.EqualFold(s[j-len(k):j], k) && (j == len(k) || !isAlnum(s[j-len(k)-1])) {
			return true
		}
	}
	return false
}
