package triage

import (
	"slices"
	"strings"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/analysis"
)

// evidenceTree is a trace's span tree by index, for choosing and printing
// a condensed view. It tolerates what real traces contain: missing
// parents (the span becomes a root), duplicate ids (the first wins) and
// parent cycles (broken where found).
type evidenceTree struct {
	t        *oncall.Trace
	parent   []int
	children [][]int
	roots    []int
	byStart  []int // every span, by start time
}

func newEvidenceTree(t *oncall.Trace) *evidenceTree {
	n := len(t.Spans)
	tr := &evidenceTree{t: t, parent: make([]int, n), children: make([][]int, n)}
	idx := make(map[string]int, n)
	for i := range t.Spans {
		if _, dup := idx[t.Spans[i].SpanID]; !dup {
			idx[t.Spans[i].SpanID] = i
		}
	}
	for i := range t.Spans {
		tr.parent[i] = -1
		if p, ok := idx[t.Spans[i].ParentID]; ok && t.Spans[i].ParentID != "" && p != i {
			tr.parent[i] = p
		}
	}
	tr.breakCycles()
	before := func(a, b int) int {
		sa, sb := &t.Spans[a], &t.Spans[b]
		if c := sa.Start.Compare(sb.Start); c != 0 {
			return c
		}
		if c := strings.Compare(sa.SpanID, sb.SpanID); c != 0 {
			return c
		}
		return a - b
	}
	tr.byStart = make([]int, n)
	for i := range tr.byStart {
		tr.byStart[i] = i
	}
	slices.SortFunc(tr.byStart, before)
	for _, i := range tr.byStart {
		if p := tr.parent[i]; p >= 0 {
			tr.children[p] = append(tr.children[p], i)
		} else {
			tr.roots = append(tr.roots, i)
		}
	}
	return tr
}

// breakCycles makes a root of any span whose ancestors lead back to it.
func (tr *evidenceTree) breakCycles() {
	const (
		unseen = iota
		onPath
		done
	)
	state := make([]uint8, len(tr.parent))
	var path []int
	for i := range tr.parent {
		path = path[:0]
		j := i
		for j >= 0 && state[j] == unseen {
			state[j] = onPath
			path = append(path, j)
			j = tr.parent[j]
		}
		if j >= 0 && state[j] == onPath {
			tr.parent[j] = -1
		}
		for _, k := range path {
			state[k] = done
		}
	}
}

// choose picks about limit spans to show: the roots, the spans the
// clusters point at and the failing spans (each with its ancestors, so the
// tree stays connected, a few past the limit if need be), the siblings
// that ran just before them, then warnings, then agent work (model, tool,
// retrieval... calls), then the rest, each in start order.
func (tr *evidenceTree) choose(focus map[string]bool, limit int) []int {
	const slack = 10 // how far failure paths may run past the limit
	sel := make([]bool, len(tr.parent))
	var out []int
	var chain []int
	add := func(i int, force bool) bool {
		chain = chain[:0]
		for j := i; j >= 0 && !sel[j]; j = tr.parent[j] {
			chain = append(chain, j)
		}
		if len(chain) == 0 {
			return true
		}
		room := limit
		if force {
			room += slack
		}
		if len(out)+len(chain) > room {
			return false
		}
		for k := len(chain) - 1; k >= 0; k-- {
			sel[chain[k]] = true
			out = append(out, chain[k])
		}
		return true
	}
	for _, i := range tr.roots {
		if len(out) >= limit {
			break
		}
		add(i, true)
	}
	spans := tr.t.Spans
	passes := []struct {
		force bool
		want  func(*oncall.Span) bool
	}{
		{true, func(s *oncall.Span) bool { return focus[s.SpanID] }},
		{true, func(s *oncall.Span) bool { return s.Failed() }},
		{false, func(s *oncall.Span) bool { return s.Status == oncall.StatusWarning }},
		{false, func(s *oncall.Span) bool { return analysis.IsSemantic(s.Kind) }},
		{false, func(*oncall.Span) bool { return true }},
	}
	for k, pass := range passes {
		for _, i := range tr.byStart {
			if len(out) >= limit+slack || (!pass.force && len(out) >= limit) {
				return out
			}
			if !sel[i] && pass.want(&spans[i]) {
				add(i, pass.force)
			}
		}
		if k == 1 {
			// After the failures, what led up to them: the siblings
			// just before each span shown so far.
			for _, i := range slices.Clone(out) {
				for _, j := range tr.before(i, leadUp) {
					if len(out) >= limit {
						return out
					}
					add(j, false)
				}
			}
		}
	}
	return out
}

// leadUp is how many earlier siblings of a failing span are shown.
const leadUp = 2

// before returns up to n siblings that started just before span i,
// nearest first.
func (tr *evidenceTree) before(i, n int) []int {
	sibs := tr.roots
	if p := tr.parent[i]; p >= 0 {
		sibs = tr.children[p]
	}
	k := slices.Index(sibs, i)
	var out []int
	for j := k - 1; j >= 0 && len(out) < n; j-- {
		out = append(out, sibs[j])
	}
	return out
}

// walk visits the shown spans depth first, children in start order.
func (tr *evidenceTree) walk(shown []int, visit func(i, depth int)) {
	in := make([]bool, len(tr.parent))
	for _, i := range shown {
		in[i] = true
	}
	type frame struct{ i, depth int }
	var stack []frame
	for k := len(tr.roots) - 1; k >= 0; k-- {
		if in[tr.roots[k]] {
			stack = append(stack, frame{tr.roots[k], 0})
		}
	}
	for len(stack) > 0 {
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		visit(f.i, f.depth)
		kids := tr.children[f.i]
		for k := len(kids) - 1; k >= 0; k-- {
			if in[kids[k]] {
				stack = append(stack, frame{kids[k], f.depth + 1})
			}
		}
	}
}
