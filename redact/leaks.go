package redact

import (
	"embed"
	"fmt"
	"math"
	"regexp"
	"regexp/syntax"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"
)

// The secret formats of vendors come from a maintained rule set rather
// than from hand-written patterns: gitleaks' default configuration
// (rules/gitleaks.toml, MIT, see rules/README.md), plus rules/oncall.toml
// for the few formats it lacks, in the same format. Both are compiled
// with Go's regexp and pre-filtered by each rule's keywords, as gitleaks
// does: a rule runs only on text that holds one of its keywords.
//
//go:embed rules/gitleaks.toml rules/oncall.toml
var ruleFiles embed.FS

// ruleSetFiles are loaded in this order.
var ruleSetFiles = []string{"rules/gitleaks.toml", "rules/oncall.toml"}

// tomlRules is the part of gitleaks' configuration format that applies
// to text without a file path or a commit.
type tomlRules struct {
	Allowlist  *tomlAllowlist  `toml:"allowlist"`
	Allowlists []tomlAllowlist `toml:"allowlists"`
	Rules      []struct {
		ID          string          `toml:"id"`
		Regex       string          `toml:"regex"`
		SecretGroup int             `toml:"secretGroup"`
		Entropy     float64         `toml:"entropy"`
		Keywords    []string        `toml:"keywords"`
		Path        string          `toml:"path"`
		Allowlist   *tomlAllowlist  `toml:"allowlist"`
		Allowlists  []tomlAllowlist `toml:"allowlists"`
	} `toml:"rules"`
}

type tomlAllowlist struct {
	Condition   string   `toml:"condition"`
	RegexTarget string   `toml:"regexTarget"`
	Regexes     []string `toml:"regexes"`
	StopWords   []string `toml:"stopwords"`
	Paths       []string `toml:"paths"`
	Commits     []string `toml:"commits"`
}

// leakRule is one compiled rule of the set.
type leakRule struct {
	id          string
	category    Category
	re          *regexp.Regexp
	secretGroup int
	entropy     float64
	allow       []allowlist
	// lead is the optional context a pattern starts with, taken out of
	// re (see splitLead); each match is extended back over it.
	lead leadContext
}

// leadContext is a leading lazy repetition of a character class, such
// as the `[\w.-]{0,50}?` that begins gitleaks' semi-generic rules.
type leadContext struct {
	max    int    // 0: none
	ranges []rune // the class, as syntax.Regexp.Rune pairs
}

// splitLead takes a leading `C{0,n}?` (C a character class) off pattern
// and returns the rest and the class. The lazy context only moves a
// match's start back over characters of C and holds no capture group,
// so matching the rest and then extending the start back over at most n
// characters of C finds the same match. It pays because Go's regexp
// tries a pattern that can start anywhere at every position, each time
// reading up to n characters ahead.
func splitLead(pattern string) (string, leadContext, bool) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil || re.Op != syntax.OpConcat || len(re.Sub) < 2 {
		return pattern, leadContext{}, false
	}
	first := re.Sub[0]
	if first.Op != syntax.OpRepeat || first.Min != 0 || first.Max <= 0 || first.Flags&syntax.NonGreedy == 0 ||
		len(first.Sub) != 1 || first.Sub[0].Op != syntax.OpCharClass {
		return pattern, leadContext{}, false
	}
	rest := &syntax.Regexp{Op: syntax.OpConcat, Flags: re.Flags, Sub: re.Sub[1:]}
	return rest.String(), leadContext{max: first.Max, ranges: first.Sub[0].Rune}, true
}

// extend returns how far before start the lead context reaches in s.
func (l leadContext) extend(s string, start, floor int) int {
	p := start
	for p > floor && start-p < l.max && l.has(rune(s[p-1])) && s[p-1] < 0x80 {
		p--
	}
	return p
}

func (l leadContext) has(r rune) bool {
	for i := 0; i+1 < len(l.ranges); i += 2 {
		if r >= l.ranges[i] && r <= l.ranges[i+1] {
			return true
		}
	}
	return false
}

// allowlist is a gitleaks allowlist: a finding it matches is not one.
type allowlist struct {
	and    bool
	target string // "secret" (default), "match" or "line"
	res    []*regexp.Regexp
	stop   []string
	// paths or commits are conditions text never meets: under AND the
	// allowlist never applies; under OR they are ignored.
	pathBound bool
}

// leakSet is the compiled rule set, read-only and safe for concurrent use.
type leakSet struct {
	rules    []leakRule
	global   []allowlist
	always   []int     // rules without keywords
	keywords []string  // lower case, by id
	kwRules  [][]int32 // keyword id to the rules that name it
	match    *keywordMatcher
	// skipped names rules that cannot apply to text (path rules) or do
	// not compile under RE2, with why.
	skipped []string
}

// loadLeakSet compiles the embedded rule files once per process: they
// are fixed at build time.
var loadLeakSet = sync.OnceValues(func() (*leakSet, error) {
	var files [][]byte
	for _, name := range ruleSetFiles {
		b, err := ruleFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		files = append(files, b)
	}
	return compileLeakSet(ruleSetFiles, files)
})

func compileLeakSet(names []string, files [][]byte) (*leakSet, error) {
	ls := &leakSet{}
	kwID := map[string]int32{}
	for fi, b := range files {
		var f tomlRules
		if _, err := toml.Decode(string(b), &f); err != nil {
			return nil, fmt.Errorf("parse %s: %w", names[fi], err)
		}
		if f.Allowlist != nil {
			f.Allowlists = append(f.Allowlists, *f.Allowlist)
		}
		for i, a := range f.Allowlists {
			al, err := compileAllowlist(a)
			if err != nil {
				return nil, fmt.Errorf("%s: global allowlist %d: %w", names[fi], i, err)
			}
			ls.global = append(ls.global, al)
		}
		for _, r := range f.Rules {
			if r.Path != "" {
				ls.skipped = append(ls.skipped, r.ID+": applies to file paths only")
				continue
			}
			if r.Regex == "" {
				ls.skipped = append(ls.skipped, r.ID+": no pattern")
				continue
			}
			whole, err := regexp.Compile(r.Regex)
			if err != nil {
				ls.skipped = append(ls.skipped, r.ID+": "+err.Error())
				continue
			}
			if r.SecretGroup > whole.NumSubexp() {
				return nil, fmt.Errorf("%s: rule %s: secretGroup %d, pattern has %d groups", names[fi], r.ID, r.SecretGroup, whole.NumSubexp())
			}
			lr := leakRule{id: r.ID, category: Secret, re: whole, secretGroup: r.SecretGroup, entropy: r.Entropy}
			if rest, lead, ok := splitLead(r.Regex); ok {
				if re, err := regexp.Compile(rest); err == nil && re.NumSubexp() == whole.NumSubexp() {
					lr.re, lr.lead = re, lead
				}
			}
			if strings.Contains(r.ID, "jwt") {
				lr.category = Token
			}
			if r.Allowlist != nil {
				r.Allowlists = append(r.Allowlists, *r.Allowlist)
			}
			for i, a := range r.Allowlists {
				al, err := compileAllowlist(a)
				if err != nil {
					return nil, fmt.Errorf("%s: rule %s: allowlist %d: %w", names[fi], r.ID, i, err)
				}
				lr.allow = append(lr.allow, al)
			}
			idx := int32(len(ls.rules))
			ls.rules = append(ls.rules, lr)
			if len(r.Keywords) == 0 {
				ls.always = append(ls.always, int(idx))
				continue
			}
			for _, k := range r.Keywords {
				k = strings.ToLower(k)
				id, ok := kwID[k]
				if !ok {
					id = int32(len(ls.keywords))
					kwID[k] = id
					ls.keywords = append(ls.keywords, k)
					ls.kwRules = append(ls.kwRules, nil)
				}
				ls.kwRules[id] = append(ls.kwRules[id], idx)
			}
		}
	}
	ls.match = newKeywordMatcher(ls.keywords)
	return ls, nil
}

func compileAllowlist(a tomlAllowlist) (allowlist, error) {
	al := allowlist{
		and:       strings.EqualFold(a.Condition, "AND"),
		target:    a.RegexTarget,
		pathBound: len(a.Paths) > 0 || len(a.Commits) > 0,
	}
	for _, p := range a.Regexes {
		re, err := regexp.Compile(p)
		if err != nil {
			return al, fmt.Errorf("compile %q: %w", p, err)
		}
		al.res = append(al.res, re)
	}
	for _, w := range a.StopWords {
		al.stop = append(al.stop, strings.ToLower(w))
	}
	return al, nil
}

// allows reports whether the allowlist clears a finding, as gitleaks'
// checkFindingAllowed does for text that has no path or commit.
func (a *allowlist) allows(secret, match, line string) bool {
	target := secret
	switch a.target {
	case "match":
		target = match
	case "line":
		target = line
	}
	regexOK := false
	for _, re := range a.res {
		if target != "" && re.MatchString(target) {
			regexOK = true
			break
		}
	}
	stopOK := false
	if len(a.stop) > 0 && secret != "" {
		lower := strings.ToLower(secret)
		for _, w := range a.stop {
			if strings.Contains(lower, w) {
				stopOK = true
				break
			}
		}
	}
	if !a.and {
		return regexOK || stopOK
	}
	if a.pathBound {
		return false
	}
	ok := len(a.res) > 0 || len(a.stop) > 0
	if len(a.res) > 0 {
		ok = ok && regexOK
	}
	if len(a.stop) > 0 {
		ok = ok && stopOK
	}
	return ok
}

// longText is the length above which a rule runs only on windows around
// its keywords rather than on the whole text: Go's regexp has no DFA, so
// its cost grows with the input it is handed, and a rule's keyword is
// part of what it matches (gitleaks' rule design: "part of the
// identifier or unique strings specific to the rule's regex").
const longText = 1 << 10

// keywordBefore and keywordAfter bound a window around a keyword.
// gitleaks' rules allow at most 50 characters of context before a
// keyword; a match that reaches past the window's end is tried again on
// the rest of the text, so long values (private key blocks) are whole.
const (
	keywordBefore = 64
	keywordAfter  = 256
)

// spans returns the rule set's findings in s.
func (ls *leakSet) spans(s, lower string) []span {
	long := len(s) > longText
	var (
		triggered []bool  // by rule; nil until a keyword is found
		hits      [][]int // by rule, keyword offsets (long texts only)
	)
	ls.match.scan(lower, func(id int32, end int) {
		if triggered == nil {
			triggered = make([]bool, len(ls.rules))
			if long {
				hits = make([][]int, len(ls.rules))
			}
		}
		for _, ri := range ls.kwRules[id] {
			triggered[ri] = true
			if long {
				hits[ri] = append(hits[ri], end-len(ls.keywords[id]))
			}
		}
	})
	if triggered == nil && len(ls.always) == 0 {
		return nil
	}
	var out []span
	for _, ri := range ls.always {
		out = ls.rules[ri].findIn(s, 0, len(s), out, ls.global)
	}
	for ri := range triggered {
		if !triggered[ri] {
			continue
		}
		r := &ls.rules[ri]
		if !long {
			out = r.findIn(s, 0, len(s), out, ls.global)
			continue
		}
		for _, w := range windows(s, hits[ri]) {
			out = r.findIn(s, w[0], w[1], out, ls.global)
		}
	}
	return out
}

// windows turns keyword offsets into merged ranges of s around them,
// widened to whitespace (within bounds) so that a window rarely starts or
// ends inside a word.
func windows(s string, at []int) [][2]int {
	var out [][2]int
	for _, p := range at {
		start := max(0, p-keywordBefore)
		for start > 0 && !isSpace(s[start-1]) && p-start < 2*keywordBefore {
			start--
		}
		end := min(len(s), p+keywordAfter)
		for end < len(s) && !isSpace(s[end]) && end-p < 2*keywordAfter {
			end++
		}
		if n := len(out); n > 0 && start <= out[n-1][1] {
			out[n-1][1] = max(out[n-1][1], end)
			continue
		}
		out = append(out, [2]int{start, end})
	}
	return out
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

// findIn appends the rule's findings in s[from:to] to out. A match that
// reaches to (and so may go on) is tried again on the rest of s.
func (r *leakRule) findIn(s string, from, to int, out []span, global []allowlist) []span {
	for _, m := range r.re.FindAllStringSubmatchIndex(s[from:to], -1) {
		if m[1] == to-from && to < len(s) {
			if mm := r.re.FindStringSubmatchIndex(s[from+m[0]:]); mm != nil {
				for k := range mm {
					if mm[k] >= 0 {
						mm[k] += m[0]
					}
				}
				m = mm
			}
		}
		for k := range m {
			if m[k] >= 0 {
				m[k] += from
			}
		}
		if r.lead.max > 0 {
			m[0] = r.lead.extend(s, m[0], 0)
		}
		if sp, ok := r.finding(s, m, global); ok {
			out = append(out, sp)
		}
	}
	return out
}

// finding checks one match as gitleaks does: the secret is the chosen
// group (or the first non-empty one, or the whole match), its entropy
// must exceed the rule's, and no allowlist may clear it.
func (r *leakRule) finding(s string, m []int, global []allowlist) (span, bool) {
	start, end := m[0], m[1]
	for start < end && s[start] == '\n' {
		start++
	}
	for end > start && s[end-1] == '\n' {
		end--
	}
	match := s[start:end]
	ss, se := start, end
	switch {
	case r.secretGroup > 0:
		ss, se = m[2*r.secretGroup], m[2*r.secretGroup+1]
	default:
		for g := 1; 2*g+1 < len(m); g++ {
			if m[2*g] >= 0 && m[2*g+1] > m[2*g] {
				ss, se = m[2*g], m[2*g+1]
				break
			}
		}
	}
	if ss < 0 || se <= ss {
		return span{}, false
	}
	secret := s[ss:se]
	if r.entropy != 0 && shannonEntropy(secret) <= r.entropy {
		return span{}, false
	}
	line := ""
	lineOf := func() string {
		if line == "" {
			ls := strings.LastIndexByte(s[:start], '\n') + 1
			le := strings.IndexByte(s[end:], '\n')
			if le < 0 {
				le = len(s)
			} else {
				le += end
			}
			line = s[ls:le]
		}
		return line
	}
	for _, lists := range [][]allowlist{global, r.allow} {
		for i := range lists {
			a := &lists[i]
			l := ""
			if a.target == "line" {
				l = lineOf()
			}
			if a.allows(secret, match, l) {
				return span{}, false
			}
		}
	}
	return span{ss, se, r.category}, true
}

// shannonEntropy is gitleaks' measure: bits per character of s.
func shannonEntropy(s string) float64 {
	if s == "" {
		return 0
	}
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	var h float64
	n := float64(len(s))
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}
