package analysis

import (
	"sort"
	"strings"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// spanTree indexes one trace's spans by parent so that the analysis walks
// each trace in linear time. One spanTree is reused for every trace of an
// analysis; build resets it.
type spanTree struct {
	spans []oncall.Span
	index map[string]int32
	// parent is the index of a span's parent, -1 for a top span (no parent
	// in the trace). Spans caught in a parent cycle are not in order and
	// are never walked.
	parent []int32
	first  []int32 // first child, -1 for none
	next   []int32 // next sibling, -1 for none
	order  []int32 // preorder from the top spans: parents before children
	root   int32   // the trace's root: the earliest top span; -1 without spans

	// Filled by mark.
	failSemBelow        []bool      // a failing semantic span is below, its failure not handled on the way
	failMeaningfulBelow []bool      // the same for a failing chain or semantic span
	tokensBelow         []bool      // a span below carries token counts
	context             []int32     // nearest ancestor that is not plumbing (or a top span), -1 for tops
	carriedOn           []time.Time // latest start of a child that went well
	stack               []int32
}

func (t *spanTree) build(spans []oncall.Span) {
	n := len(spans)
	t.spans = spans
	if t.index == nil {
		t.index = make(map[string]int32, n)
	} else {
		clear(t.index)
	}
	t.parent = resize(t.parent, n)
	t.first = resize(t.first, n)
	t.next = resize(t.next, n)
	t.context = resize(t.context, n)
	t.order = t.order[:0]
	for i := range spans {
		id := spans[i].SpanID
		if _, dup := t.index[id]; !dup && id != "" {
			t.index[id] = int32(i)
		}
		t.first[i], t.next[i] = -1, -1
	}
	for i := range spans {
		p := int32(-1)
		if pid := spans[i].ParentID; pid != "" {
			if j, ok := t.index[pid]; ok && j != int32(i) {
				p = j
			}
		}
		t.parent[i] = p
	}
	// Children keep the spans' order: prepend while walking backwards.
	for i := n - 1; i >= 0; i-- {
		if p := t.parent[i]; p >= 0 {
			t.next[i] = t.first[p]
			t.first[p] = int32(i)
		}
	}
	t.root = -1
	for i := range spans {
		if t.parent[i] >= 0 {
			continue
		}
		if t.root < 0 || spans[i].Start.Before(spans[t.root].Start) {
			t.root = int32(i)
		}
		t.walk(int32(i))
	}
}

// walk appends the subtree under top to order, parents first.
func (t *spanTree) walk(top int32) {
	t.stack = append(t.stack[:0], top)
	for len(t.stack) > 0 {
		i := t.stack[len(t.stack)-1]
		t.stack = t.stack[:len(t.stack)-1]
		t.order = append(t.order, i)
		// Push children in reverse so they pop in span order.
		mark := len(t.stack)
		for c := t.first[i]; c >= 0; c = t.next[c] {
			t.stack = append(t.stack, c)
		}
		for a, b := mark, len(t.stack)-1; a < b; a, b = a+1, b-1 {
			t.stack[a], t.stack[b] = t.stack[b], t.stack[a]
		}
	}
}

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

func resizeClear[T any](s []T, n int) []T {
	s = resize(s, n)
	clear(s)
	return s
}

// mark computes, bottom-up, what fails below each span, and top-down each
// span's context (the nearest ancestor that is not plumbing). normalize
// is NormalizeError, possibly remembered.
func (t *spanTree) mark(normalize func(string) string) {
	n := len(t.spans)
	t.failSemBelow = resizeClear(t.failSemBelow, n)
	t.failMeaningfulBelow = resizeClear(t.failMeaningfulBelow, n)
	t.tokensBelow = resizeClear(t.tokensBelow, n)
	// A failure its parent went on from (a later sibling started after it
	// ended and went well, as after a retried call) was handled: it
	// explains nothing above it, unless the failure above repeats its
	// message (caught, cleaned up after, raised again).
	t.carriedOn = resize(t.carriedOn, n)
	clear(t.carriedOn)
	for _, i := range t.order {
		s := &t.spans[i]
		if p := t.parent[i]; p >= 0 && !s.Failed() && s.Kind != oncall.KindEvent && s.Start.After(t.carriedOn[p]) {
			t.carriedOn[p] = s.Start
		}
	}
	for k := len(t.order) - 1; k >= 0; k-- {
		i := t.order[k]
		p := t.parent[i]
		if p < 0 {
			continue
		}
		s := &t.spans[i]
		handled := s.Failed() && !s.End.IsZero() && !t.carriedOn[p].Before(s.End) && !t.reraised(i, normalize)
		if !handled && (t.failSemBelow[i] || (s.Failed() && IsSemantic(s.Kind))) {
			t.failSemBelow[p] = true
		}
		if !handled && (t.failMeaningfulBelow[i] || (s.Failed() && !isPlain(s.Kind))) {
			t.failMeaningfulBelow[p] = true
		}
		if t.tokensBelow[i] || spanTokens(s) > 0 || s.Cost > 0 {
			t.tokensBelow[p] = true
		}
	}
	for _, i := range t.order {
		p := t.parent[i]
		switch {
		case p < 0:
			t.context[i] = -1
		case t.parent[p] < 0 || !isPlain(t.spans[p].Kind):
			t.context[i] = p
		default:
			t.context[i] = t.context[p]
		}
	}
}

func (t *spanTree) top(i int32) bool { return t.parent[i] < 0 }

// minEchoLen is the shortest message read as repeating another: shorter
// ones ("error") are in everything.
const minEchoLen = 12

// reraised reports whether the nearest failing ancestor of the failing
// span i fails with i's own error.
func (t *spanTree) reraised(i int32, normalize func(string) string) bool {
	a := t.parent[i]
	for a >= 0 && !t.spans[a].Failed() {
		a = t.parent[a]
	}
	if a < 0 {
		return false
	}
	own, above := normalize(spanErrorText(&t.spans[i])), normalize(spanErrorText(&t.spans[a]))
	if len(own) < minEchoLen || len(above) < minEchoLen {
		return own != "" && own == above
	}
	return strings.Contains(own, above) || strings.Contains(above, own) || variantsOf(own, above)
}

// origin is a span where a failure started.
type origin struct {
	span int32
	// where is the meaningful span a plumbing origin belongs to (-1 when
	// the origin is itself meaningful).
	where int32
	// absorbed is the first failing plumbing span below the origin whose
	// failure is the origin's own (an HTTP call of a tool), -1 for none.
	absorbed int32
}

// origins finds where the trace's failures started. A failing span is an
// origin when no failing semantic span is below it (their failure would
// explain its own) and no failing chain is below it either (the deeper
// chain is more specific). A failing plumbing span under such a span is
// not an origin of its own: its status code and message enrich that span.
func (t *spanTree) origins(dst []origin) []origin {
	dst = dst[:0]
	for _, i := range t.order {
		s := &t.spans[i]
		if !s.Failed() || t.failSemBelow[i] || t.failMeaningfulBelow[i] {
			continue
		}
		if !isPlain(s.Kind) || t.top(i) {
			dst = append(dst, origin{span: i, where: -1, absorbed: -1})
			continue
		}
		c := t.context[i]
		if c >= 0 && t.spans[c].Failed() && !t.failSemBelow[c] && !t.failMeaningfulBelow[c] {
			// Absorbed: the context is an origin and this is its plumbing.
			for k := range dst {
				if dst[k].span == c && dst[k].absorbed < 0 {
					dst[k].absorbed = i
				}
			}
			continue
		}
		dst = append(dst, origin{span: i, where: c, absorbed: -1})
	}
	return dst
}

// selfTimes fills dst with each span's exclusive duration in seconds: its
// own duration minus the union of its children's.
func (t *spanTree) selfTimes(dst []float64, scratch []interval) ([]float64, []interval) {
	dst = resizeClear(dst, len(t.spans))
	for _, i := range t.order {
		s := &t.spans[i]
		d := s.Duration()
		if d <= 0 {
			continue
		}
		scratch = scratch[:0]
		for c := t.first[i]; c >= 0; c = t.next[c] {
			cs := &t.spans[c]
			lo, hi := cs.Start, cs.End
			if lo.Before(s.Start) {
				lo = s.Start
			}
			if hi.After(s.End) {
				hi = s.End
			}
			if hi.After(lo) {
				scratch = append(scratch, interval{lo.Sub(s.Start).Seconds(), hi.Sub(s.Start).Seconds()})
			}
		}
		dst[i] = d.Seconds() - unionLength(scratch)
		if dst[i] < 0 {
			dst[i] = 0
		}
	}
	return dst, scratch
}

type interval struct{ lo, hi float64 }

func unionLength(iv []interval) float64 {
	if len(iv) == 0 {
		return 0
	}
	if !sort.SliceIsSorted(iv, func(a, b int) bool { return iv[a].lo < iv[b].lo }) {
		sort.Slice(iv, func(a, b int) bool { return iv[a].lo < iv[b].lo })
	}
	total, cur := 0.0, iv[0]
	for _, x := range iv[1:] {
		if x.lo > cur.hi {
			total += cur.hi - cur.lo
			cur = x
			continue
		}
		if x.hi > cur.hi {
			cur.hi = x.hi
		}
	}
	return total + cur.hi - cur.lo
}

// spanTokens is the tokens a span reports, total or input plus output.
func spanTokens(s *oncall.Span) int64 {
	if s.TotalTokens > 0 {
		return s.TotalTokens
	}
	return s.InputTokens + s.OutputTokens
}
