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

// findHighEntropy finds words of 24 or more key characters that mix upper
// case, lower case and digits with high per-character entropy. Hex ids
// and uuids (one case only) and ordinary identifiers (low entropy or no
// digits) do not qualify.
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
		if j-i >= 24 && looksRandom(s[i:j]) {
			out = append(out, []int{i, j})
		}
		i = j
	}
	return out
}

func looksRandom(w string) bool {
	var upper, lower, digit int
	var counts [256]int
	for i := 0; i < len(w); i++ {
		c := w[i]
		counts[c]++
		switch {
		case c >= 'A' && c <= 'Z':
			upper++
		case c >= 'a' && c <= 'z':
			lower++
		case c >= '0' && c <= '9':
			digit++
		}
	}
	if upper < 2 || lower < 2 || digit < 2 {
		return false
	}
	// Paths and dotted names have separators every few characters.
	if strings.Count(w, "/") > len(w)/8 {
		return false
	}
	var h float64
	n := float64(len(w))
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h >= 4.0
}
