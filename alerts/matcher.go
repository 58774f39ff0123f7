package alerts

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// MatchType is a label matcher's operator.
type MatchType string

// Matcher operators, as in Alertmanager.
const (
	MatchEqual     MatchType = "="
	MatchNotEqual  MatchType = "!="
	MatchRegexp    MatchType = "=~"
	MatchNotRegexp MatchType = "!~"
)

// Matcher tests one label of an alert. As in Alertmanager, a missing label
// has the empty value, and regular expressions are anchored at both ends:
// severity=~"crit" does not match "critical". A Matcher is immutable and
// safe for concurrent use.
type Matcher struct {
	Name  string
	Type  MatchType
	Value string
	re    *regexp.Regexp
}

// NewMatcher returns a matcher, compiling Value when the operator is a
// regular expression one.
func NewMatcher(t MatchType, name, value string) (*Matcher, error) {
	if name == "" {
		return nil, errors.New("label name is empty")
	}
	m := &Matcher{Name: name, Type: t, Value: value}
	switch t {
	case MatchEqual, MatchNotEqual:
	case MatchRegexp, MatchNotRegexp:
		re, err := regexp.Compile("^(?:" + value + ")$")
		if err != nil {
			return nil, fmt.Errorf("label %s: bad regular expression %q: %w", name, value, err)
		}
		m.re = re
	default:
		return nil, fmt.Errorf("label %s: unknown operator %q (want =, !=, =~ or !~)", name, t)
	}
	return m, nil
}

// Matches reports whether a label value satisfies the matcher.
func (m *Matcher) Matches(v string) bool {
	switch m.Type {
	case MatchEqual:
		return v == m.Value
	case MatchNotEqual:
		return v != m.Value
	case MatchRegexp:
		return m.re.MatchString(v)
	case MatchNotRegexp:
		return !m.re.MatchString(v)
	}
	return false
}

// String renders the matcher in the syntax ParseMatchers reads.
func (m *Matcher) String() string {
	name := m.Name
	if !isPlainName(name) {
		name = strconv.Quote(name)
	}
	return name + string(m.Type) + strconv.Quote(m.Value)
}

// ParseMatcher parses exactly one matcher, such as severity=~"critical|warning".
func ParseMatcher(s string) (*Matcher, error) {
	ms, err := ParseMatchers(s)
	if err != nil {
		return nil, err
	}
	if len(ms) != 1 {
		return nil, fmt.Errorf("%q: want one matcher, got %d", s, len(ms))
	}
	return ms[0], nil
}

// ParseMatchers parses matchers in Alertmanager's syntax: a comma
// separated list, optionally in braces, of name, operator and value, such
// as `{severity=~"critical|warning", team="agents"}`. Values are double
// quoted with Go escapes, or bare up to the next comma. Label names with
// unusual characters may be double quoted too.
func ParseMatchers(s string) ([]*Matcher, error) {
	in := strings.TrimSpace(s)
	if strings.HasPrefix(in, "{") {
		if !strings.HasSuffix(in, "}") {
			return nil, fmt.Errorf("%q: missing closing }", s)
		}
		in = in[1 : len(in)-1]
	}
	p := matcherScanner{s: in}
	var out []*Matcher
	for {
		p.skipSpace()
		if p.done() {
			break
		}
		m, err := p.matcher()
		if err != nil {
			return nil, fmt.Errorf("%q: %w", s, err)
		}
		out = append(out, m)
		p.skipSpace()
		if p.done() {
			break
		}
		if p.s[p.i] != ',' {
			return nil, fmt.Errorf("%q: want , between matchers at offset %d", s, p.i)
		}
		p.i++
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%q: no matcher", s)
	}
	return out, nil
}

type matcherScanner struct {
	s string
	i int
}

func (p *matcherScanner) done() bool { return p.i >= len(p.s) }

func (p *matcherScanner) skipSpace() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

func (p *matcherScanner) matcher() (*Matcher, error) {
	var name string
	if p.s[p.i] == '"' {
		q, err := p.quoted()
		if err != nil {
			return nil, err
		}
		name = q
	} else {
		start := p.i
		for p.i < len(p.s) && !strings.ContainsRune(" \t\r\n=!~{},\"", rune(p.s[p.i])) {
			p.i++
		}
		name = p.s[start:p.i]
	}
	if name == "" {
		return nil, fmt.Errorf("want a label name at offset %d", p.i)
	}
	p.skipSpace()
	var op MatchType
	for _, o := range []MatchType{MatchRegexp, MatchNotRegexp, MatchNotEqual, MatchEqual} {
		if strings.HasPrefix(p.s[p.i:], string(o)) {
			op = o
			break
		}
	}
	if op == "" {
		return nil, fmt.Errorf("want =, !=, =~ or !~ after %s at offset %d", name, p.i)
	}
	p.i += len(op)
	p.skipSpace()
	var value string
	if p.i < len(p.s) && p.s[p.i] == '"' {
		q, err := p.quoted()
		if err != nil {
			return nil, err
		}
		value = q
	} else {
		start := p.i
		for p.i < len(p.s) && p.s[p.i] != ',' {
			if p.s[p.i] == '"' {
				return nil, fmt.Errorf("stray quote in the value of %s at offset %d", name, p.i)
			}
			p.i++
		}
		value = strings.TrimSpace(p.s[start:p.i])
	}
	return NewMatcher(op, name, value)
}

// quoted reads a double-quoted string with Go escapes at the cursor.
func (p *matcherScanner) quoted() (string, error) {
	start := p.i
	p.i++
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case '\\':
			p.i += 2
			continue
		case '"':
			p.i++
			v, err := strconv.Unquote(p.s[start:p.i])
			if err != nil {
				return "", fmt.Errorf("bad quoted string %s: %w", p.s[start:p.i], err)
			}
			return v, nil
		}
		p.i++
	}
	return "", fmt.Errorf("unterminated quoted string at offset %d", start)
}

func isPlainName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if strings.ContainsRune(" \t\r\n=!~{},\"", r) {
			return false
		}
	}
	return true
}
