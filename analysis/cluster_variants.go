package analysis

import (
	"cmp"
	"slices"
	"strings"
)

const (
	// minSharedPrefix is the shortest common start, in bytes, that makes
	// two messages of one span variants of each other...
	minSharedPrefix = 32
	// minSharedShare ...when it also covers this share of the shorter one.
	minSharedShare = 0.6
)

// variant is one distinct failure signature across all traces.
type variant struct {
	f        finding // the first occurrence, as a template
	identity string  // what the failure is blamed on: kind, span, context
	incident int     // traces with it, incident window
	total    int     // traces with it, both windows
	parent   int     // union-find
}

// mergeVariants decides which failure signatures are one failure: those
// blamed on the same span whose messages are variants of one another, as
// when a message ends in data (a model's unparsable answer) or two client
// libraries word the same HTTP status differently. It returns, for every
// signature, the finding of the variant that names the merged cluster
// (the most frequent one in the incident window) and how many signatures
// it stands for.
func (a *analyzer) mergeVariants() (canon map[string]*variant, variants map[string]int) {
	index := make(map[string]int)
	var vs []variant
	for i := range a.facts {
		f := &a.facts[i]
		for k := range f.findings {
			x := &f.findings[k]
			j, ok := index[x.sig]
			if !ok {
				j = len(vs)
				index[x.sig] = j
				vs = append(vs, variant{f: *x, parent: j, identity: x.kind + "\x00" + string(x.spanKind) + "\x00" + x.spanName + "\x00" + x.where})
			}
			vs[j].total++
			if f.incident {
				vs[j].incident++
			}
		}
	}
	find := func(i int) int {
		for vs[i].parent != i {
			vs[i].parent = vs[vs[i].parent].parent
			i = vs[i].parent
		}
		return i
	}
	groups := make(map[string][]int)
	for i := range vs {
		if vs[i].f.kind == ClusterError || vs[i].f.kind == ClusterMaxIterations || vs[i].f.kind == ClusterGuardrail {
			groups[vs[i].identity] = append(groups[vs[i].identity], i)
		}
	}
	for _, g := range groups {
		for x := 0; x < len(g); x++ {
			for y := x + 1; y < len(g); y++ {
				if variantsOf(vs[g[x]].f.what, vs[g[y]].f.what) {
					rx, ry := find(g[x]), find(g[y])
					if rx != ry {
						vs[max(rx, ry)].parent = min(rx, ry)
					}
				}
			}
		}
	}
	// The representative of a merged group is its most frequent member in
	// the incident window, then overall, then the first signature.
	best := make(map[int]int)
	members := make(map[int]int)
	for i := range vs {
		r := find(i)
		members[r]++
		b, ok := best[r]
		if !ok || cmp.Or(cmp.Compare(vs[i].incident, vs[b].incident), cmp.Compare(vs[i].total, vs[b].total), strings.Compare(vs[b].f.sig, vs[i].f.sig)) > 0 {
			best[r] = i
		}
	}
	canon = make(map[string]*variant, len(vs))
	variants = make(map[string]int)
	for i := range vs {
		r := find(i)
		rep := &vs[best[r]]
		canon[vs[i].f.sig] = rep
		variants[rep.f.sig] = members[r]
	}
	return canon, variants
}

// variantsOf reports whether two normalised messages of one span are one
// failure: they name the same HTTP error statuses, or start with the same
// exception class (and name no different statuses), or share a long
// start.
func variantsOf(x, y string) bool {
	if x == y {
		return true
	}
	cx, cy := httpCodes(x), httpCodes(y)
	if len(cx) > 0 && slices.Equal(cx, cy) {
		return true
	}
	if lx := typeLead(x); lx != "" && lx == typeLead(y) && slices.Equal(cx, cy) {
		return true
	}
	n := 0
	for n < len(x) && n < len(y) && x[n] == y[n] {
		n++
	}
	if n < len(x) && n < len(y) {
		// Count only whole words of the shared start.
		n = strings.LastIndexByte(x[:n], ' ')
	}
	return n >= minSharedPrefix && float64(n) >= minSharedShare*float64(min(len(x), len(y)))
}

// httpCodes returns the HTTP error statuses a normalised message still
// names: NormalizeError keeps three-digit numbers only where they are
// statuses.
func httpCodes(s string) []string {
	var out []string
	for i := 0; i+3 <= len(s); i++ {
		if (s[i] != '4' && s[i] != '5') || !isDigit(s[i+1]) || !isDigit(s[i+2]) {
			continue
		}
		if (i > 0 && isAtomByte(s[i-1])) || (i+3 < len(s) && isAtomByte(s[i+3])) {
			continue
		}
		if c := s[i : i+3]; !slices.Contains(out, c) {
			out = append(out, c)
		}
		i += 2
	}
	slices.Sort(out)
	return out
}

// typeLead returns the exception class a message starts with
// ("TimeoutError: ..."), or "" when it starts otherwise or with a word too
// generic to tell failures apart ("Error: ...").
func typeLead(s string) string {
	k := strings.Index(s, ": ")
	if k < 6 {
		return ""
	}
	lead := s[:k]
	if !isIdentifier(lead) || lead == "Exception" {
		return ""
	}
	upper := 0
	for i := 0; i < len(lead); i++ {
		if lead[i] >= 'A' && lead[i] <= 'Z' {
			upper++
		}
	}
	if upper == 0 {
		return ""
	}
	return lead
}
