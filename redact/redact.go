// Package redact hides credentials and personal data in text before it
// leaves the process: in prompts sent to a model, in logs and in chat.
//
// A Redactor holds the compiled detectors and is safe for concurrent use.
// A Session, taken from a Redactor for one unit of work (one triage),
// replaces each distinct value with a numbered placeholder ([SECRET_1],
// [EMAIL_2]) and gives the same value the same placeholder every time, so
// a reader (or a model) can still tell that two spans carried the same
// key without seeing it. Hex trace and span ids and uuids are never
// redacted: they are what a diagnosis cites.
//
// Vendors' secret formats come from gitleaks' maintained rule set
// (rules/, see leaks.go); personal data (emails, phones, payment cards
// with Luhn, IBANs with mod-97, US social security numbers) and the
// copilot's own ecosystem's keys have detectors here. A last detector
// hides random-looking values of unknown vendors, but not the long
// identifiers (alert, span and tool names) on-call must read.
package redact

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Options configures a Redactor.
type Options struct {
	// Extra are additional regular expressions (RE2 syntax) for
	// organisation-specific secrets. A match is hidden as a SECRET; when
	// the expression has a capture group, only the first group is hidden.
	Extra []string
}

// Redactor finds secrets and personal data in text. It is safe for
// concurrent use.
type Redactor struct {
	rules     []rule
	protected *regexp.Regexp
}

// New compiles the built-in detectors and opts.Extra. It returns an error
// naming every extra pattern that does not compile.
func New(opts Options) (*Redactor, error) {
	leaks, err := loadLeakSet()
	if err != nil {
		return nil, fmt.Errorf("load secret rule set: %w", err)
	}
	r := &Redactor{rules: builtinRules(leaks), protected: regexp.MustCompile(protectedPattern)}
	var errs []error
	for i, p := range opts.Extra {
		if strings.TrimSpace(p) == "" {
			errs = append(errs, fmt.Errorf("compile extra pattern %d: empty pattern", i))
			continue
		}
		re, err := regexp.Compile(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("compile extra pattern %d: %w", i, err))
			continue
		}
		if re.MatchString("") {
			errs = append(errs, fmt.Errorf("compile extra pattern %d: pattern matches the empty string", i))
			continue
		}
		g := 0
		if re.NumSubexp() > 0 {
			g = 1
		}
		// Extra patterns come first: whoever configured them knows their
		// data better than the generic rules do.
		r.rules = append([]rule{{name: "extra " + strconv.Itoa(i), category: Secret, re: re, groups: []int{g}}}, r.rules...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return r, nil
}

// String returns s with every finding replaced by its category in
// brackets ([SECRET], [EMAIL]). It keeps no state; use it for logs and
// error messages.
func (r *Redactor) String(s string) string {
	return r.replace(s, func(c Category, _ string) string { return "[" + string(c) + "]" })
}

// Session returns a fresh placeholder numbering for one unit of work.
func (r *Redactor) Session() *Session {
	return &Session{r: r, seen: make(map[[sha256.Size]byte]string), next: make(map[Category]int)}
}

// Session numbers placeholders consistently within one unit of work. It is
// safe for concurrent use. It remembers digests of the values it hid,
// never the values themselves.
type Session struct {
	r    *Redactor
	mu   sync.Mutex
	seen map[[sha256.Size]byte]string
	next map[Category]int
}

// String returns s with every finding replaced by a numbered placeholder;
// equal values get equal placeholders for the life of the session.
func (s *Session) String(text string) string {
	return s.r.replace(text, s.placeholder)
}

// Count returns how many distinct values of each category the session has
// hidden so far.
func (s *Session) Count() map[Category]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[Category]int, len(s.next))
	for c, n := range s.next {
		out[c] = n
	}
	return out
}

func (s *Session) placeholder(c Category, value string) string {
	key := sha256.Sum256([]byte(string(c) + "\x00" + value))
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.seen[key]; ok {
		return p
	}
	s.next[c]++
	p := "[" + string(c) + "_" + strconv.Itoa(s.next[c]) + "]"
	s.seen[key] = p
	return p
}

// span is a range of the input to hide.
type span struct {
	start, end int
	cat        Category
}

func (r *Redactor) replace(s string, name func(Category, string) string) string {
	found := r.find(s)
	if len(found) == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for _, f := range found {
		b.WriteString(s[last:f.start])
		b.WriteString(name(f.cat, s[f.start:f.end]))
		last = f.end
	}
	b.WriteString(s[last:])
	return b.String()
}

// find runs every rule and returns non-overlapping ranges sorted by start.
// Rules run in priority order. A credential overlapping an earlier finding
// is merged into it, so no part of either leaks; any other finding that
// overlaps is dropped, as is personal data overlapping a trace id or uuid.
func (r *Redactor) find(s string) []span {
	if s == "" {
		return nil
	}
	var (
		lower       = asciiLower(s)
		protected   [][]int
		protectedOK bool
		out         []span
	)
	for i := range r.rules {
		ru := &r.rules[i]
		if len(ru.hints) > 0 && !containsAny(lower, ru.hints) {
			continue
		}
		if ru.set != nil {
			for _, c := range ru.set(s, lower) {
				out = insert(out, c)
			}
			continue
		}
		for _, m := range ru.matches(s, lower) {
			if ru.wordStart && m[0] > 0 && isWordByte(s[m[0]-1]) {
				continue
			}
			start, end := -1, -1
			for _, g := range ru.groupsOrWhole() {
				if 2*g+1 < len(m) && m[2*g] >= 0 && m[2*g+1] > m[2*g] {
					start, end = m[2*g], m[2*g+1]
					break
				}
			}
			if start < 0 {
				continue
			}
			if ru.valid != nil {
				if end = ru.validEnd(s, start, end); end < 0 {
					continue
				}
			}
			c := span{start, end, ru.category}
			if c.cat.spareIDs() {
				if !protectedOK {
					protected, protectedOK = r.protectedIDs(s), true
				}
				if overlapsAny(protected, c) {
					continue
				}
			}
			out = insert(out, c)
		}
	}
	return out
}

// startWindow is how much input an anchored rule sees at first.
const startWindow = 256

// matches returns the rule's submatch indexes in s.
func (ru *rule) matches(s, lower string) [][]int {
	switch {
	case ru.find != nil:
		return ru.find(s)
	case ru.starts == nil:
		return ru.re.FindAllStringSubmatchIndex(s, -1)
	}
	var out [][]int
	for _, p := range ru.starts(s, lower) {
		// Try a short window first: the engine's cost grows with the
		// input it is handed, not with the match. A match that reaches
		// the window's end may continue, so it is retried on the rest.
		end := min(len(s), p+startWindow)
		m := ru.re.FindStringSubmatchIndex(s[p:end])
		if m != nil && m[1] == end-p && end < len(s) {
			m = ru.re.FindStringSubmatchIndex(s[p:])
		}
		if m == nil {
			continue
		}
		for k := range m {
			if m[k] >= 0 {
				m[k] += p
			}
		}
		out = append(out, m)
	}
	return out
}

// validEnd returns end if s[start:end] passes the rule's check, or the
// longest shorter end that does when the rule may shrink; -1 if none.
func (ru *rule) validEnd(s string, start, end int) int {
	for {
		if ru.valid(s[start:end]) {
			return end
		}
		k := strings.LastIndexAny(s[start:end], " .-")
		if !ru.shrink || k <= 0 {
			return -1
		}
		end = start + k
	}
}

func (ru *rule) groupsOrWhole() []int {
	if len(ru.groups) == 0 {
		return []int{0}
	}
	return ru.groups
}

// asciiLower lowercases ASCII letters only, so byte offsets in the result
// are offsets in s.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// protectedIDs returns the ranges of uuids and hex ids in s. A run of
// decimal digits only is not taken for a hex id: random 16-hex-digit ids
// almost always contain a letter, and card numbers never do.
func (r *Redactor) protectedIDs(s string) [][]int {
	all := r.protected.FindAllStringIndex(s, -1)
	out := all[:0]
	for _, m := range all {
		if strings.Trim(s[m[0]:m[1]], "0123456789") != "" {
			out = append(out, m)
		}
	}
	return out
}

// spareIDs reports whether findings of c must leave trace ids and uuids
// alone. Digit-pattern rules are loose enough to hit them by chance.
func (c Category) spareIDs() bool { return c == Phone || c == Card || c == IBAN || c == SSN }

// merges reports whether a finding of c that overlaps an earlier one is
// merged with it rather than dropped.
func (c Category) merges() bool { return c == Secret || c == Token }

// insert adds c to the sorted, non-overlapping list.
func insert(list []span, c span) []span {
	i := sort.Search(len(list), func(i int) bool { return list[i].end > c.start })
	j := i
	for j < len(list) && list[j].start < c.end {
		j++
	}
	if i == j {
		return append(list[:i], append([]span{c}, list[i:]...)...)
	}
	if !c.cat.merges() {
		return list
	}
	merged := list[i]
	merged.start = min(merged.start, c.start)
	merged.end = max(list[j-1].end, c.end)
	list[i] = merged
	return append(list[:i+1], list[j:]...)
}

func overlapsAny(ranges [][]int, c span) bool {
	i := sort.Search(len(ranges), func(i int) bool { return ranges[i][1] > c.start })
	return i < len(ranges) && ranges[i][0] < c.end
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
