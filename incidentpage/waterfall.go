package incidentpage

import (
	"cmp"
	"fmt"
	"html/template"
	"slices"
	"strings"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// traces renders the investigation's traces as waterfalls, and the top
// cluster's first failing run beside the healthy run of the same agent.
func traces(rep *oncall.Report, inv *oncall.Investigation, t func(string) string) ([]traceView, *compareView) {
	roles := map[string]string{}
	for i, c := range rep.Clusters {
		for _, id := range c.TraceIDs {
			if roles[id] == "" {
				roles[id] = fmt.Sprintf("example of cluster %d: %s", i+1, clip(t(c.Error), 80))
			}
		}
	}
	if inv.Healthy != "" {
		roles[inv.Healthy] = "healthy run of the same agent, for contrast"
	}
	var out []traceView
	ordered := map[string][]*oncall.Span{}
	budget := excerptBudget
	for i := range inv.Traces {
		tr := &inv.Traces[i]
		spans := treeOrder(tr.Spans)
		ordered[tr.TraceID] = spans
		out = append(out, waterfall(tr, spans, cmp.Or(roles[tr.TraceID], "cited by the diagnosis"), t, &budget))
	}
	var failing string
	for _, c := range rep.Clusters {
		if len(c.TraceIDs) > 0 && ordered[c.TraceIDs[0]] != nil {
			failing = c.TraceIDs[0]
			break
		}
	}
	if failing == "" || inv.Healthy == "" || ordered[inv.Healthy] == nil || failing == inv.Healthy {
		return out, nil
	}
	var ft, ht *oncall.Trace
	for i := range inv.Traces {
		switch inv.Traces[i].TraceID {
		case failing:
			ft = &inv.Traces[i]
		case inv.Healthy:
			ht = &inv.Traces[i]
		}
	}
	return out, compare(ft, ordered[failing], ht, ordered[inv.Healthy], t)
}

// node is a span with its depth in the tree.
type node struct {
	s     *oncall.Span
	depth int
}

// treeOrder returns the spans depth first, children by start time; spans
// whose parent is missing are roots.
func treeOrder(spans []oncall.Span) []*oncall.Span {
	nodes := treeNodes(spans)
	out := make([]*oncall.Span, len(nodes))
	for i, n := range nodes {
		out[i] = n.s
	}
	return out
}

func treeNodes(spans []oncall.Span) []node {
	ids := make(map[string]bool, len(spans))
	for i := range spans {
		ids[spans[i].SpanID] = true
	}
	kids := map[string][]*oncall.Span{}
	var roots []*oncall.Span
	for i := range spans {
		s := &spans[i]
		if s.ParentID == "" || !ids[s.ParentID] || s.ParentID == s.SpanID {
			roots = append(roots, s)
		} else {
			kids[s.ParentID] = append(kids[s.ParentID], s)
		}
	}
	byStart := func(x, y *oncall.Span) int {
		return cmp.Or(x.Start.Compare(y.Start), strings.Compare(x.SpanID, y.SpanID))
	}
	slices.SortStableFunc(roots, byStart)
	for _, k := range kids {
		slices.SortStableFunc(k, byStart)
	}
	out := make([]node, 0, len(spans))
	seen := make(map[*oncall.Span]bool, len(spans))
	var walk func(s *oncall.Span, d int)
	walk = func(s *oncall.Span, d int) {
		if seen[s] {
			return
		}
		seen[s] = true
		out = append(out, node{s, d})
		for _, k := range kids[s.SpanID] {
			walk(k, d+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
	return out
}

func depths(spans []oncall.Span) map[*oncall.Span]int {
	m := make(map[*oncall.Span]int, len(spans))
	for _, n := range treeNodes(spans) {
		m[n.s] = n.depth
	}
	return m
}

func waterfall(tr *oncall.Trace, spans []*oncall.Span, role string, t func(string) string, budget *int) traceView {
	start, end := tr.Start, tr.End
	for _, s := range spans {
		if start.IsZero() || s.Start.Before(start) {
			start = s.Start
		}
		if s.End.After(end) {
			end = s.End
		}
	}
	total := end.Sub(start)
	tv := traceView{
		ID: t(tr.TraceID), Anchor: traceAnchor(tr.TraceID), Name: t(cmp.Or(tr.Name, rootName(spans))), Role: role,
		Duration: dur(total), Failed: tr.Failed(), Start: start.UTC().Format("2006-01-02 15:04:05 UTC"),
	}
	depth := depths(tr.Spans)
	for i, s := range spans {
		if i == maxRows {
			tv.More = len(spans) - maxRows
			break
		}
		left, width := 0.0, 100.0
		if total > 0 {
			left = 100 * float64(s.Start.Sub(start)) / float64(total)
			width = 100 * float64(s.Duration()) / float64(total)
		}
		left = min(max(left, 0), 99.5)
		width = min(max(width, 0.4), 100-left)
		r := rowView{
			Anchor: spanAnchor(tr.TraceID, s.SpanID), Depth: depth[s], Indent: min(depth[s], 12) * 12,
			Kind: t(string(s.Kind)), Name: t(spanName(s)), Duration: dur(s.Duration()), Status: t(string(s.Status)),
			Left: fmt.Sprintf("%.2f", left), Width: fmt.Sprintf("%.2f", width), Model: t(s.Model), Failed: s.Failed(),
		}
		if *budget > 0 {
			r.Error = clipped(t, spanError(s), maxRowError)
			r.Input, r.Output, r.Args = clipped(t, s.Input, maxExcerpt), clipped(t, s.Output, maxExcerpt), clipped(t, s.ToolArgs, maxExcerpt)
			*budget -= escapedLen(r.Error) + escapedLen(r.Input) + escapedLen(r.Output) + escapedLen(r.Args)
		} else {
			tv.Cut = true
		}
		if s.TotalTokens > 0 || s.InputTokens > 0 {
			r.Tokens = fmt.Sprintf("%d in, %d out", s.InputTokens, s.OutputTokens)
		}
		r.HasMore = r.Input != "" || r.Output != "" || r.Args != "" || r.Model != "" || r.Tokens != ""
		tv.Rows = append(tv.Rows, r)
	}
	return tv
}

// clipped redacts s and clips it to n runes. It redacts only what is
// shown and a margin past it, so a long text costs no more than a short
// one; the stored investigation was redacted whole at triage time.
func clipped(t func(string) string, s string, n int) string {
	return clip(t(clip(s, n+160)), n)
}

// escapedLen is the length of s once html/template has escaped it.
func escapedLen(s string) int { return len(template.HTMLEscapeString(s)) }

func rootName(spans []*oncall.Span) string {
	if len(spans) == 0 {
		return ""
	}
	return spans[0].Name
}

func spanName(s *oncall.Span) string {
	if s.Kind == oncall.KindTool && s.ToolName != "" && s.ToolName != s.Name {
		return s.Name + " (" + s.ToolName + ")"
	}
	return s.Name
}

// spanError is the error a span shows: its status message, else its
// first exception's message.
func spanError(s *oncall.Span) string {
	if s.StatusMessage != "" {
		return s.StatusMessage
	}
	for _, e := range s.Exceptions() {
		if m := cmp.Or(e.Attributes["exception.message"], e.Attributes["exception.type"]); m != "" {
			return m
		}
	}
	return ""
}

// compare aligns the steps of a failing and a healthy run of one agent:
// the spans below the root in tree order, step n beside step n. The first
// step whose kind or name differs, or that fails on one side only, is the
// first divergence.
func compare(ft *oncall.Trace, fs []*oncall.Span, ht *oncall.Trace, hs []*oncall.Span, t func(string) string) *compareView {
	steps := func(spans []*oncall.Span) []*oncall.Span {
		if len(spans) > 0 {
			return spans[1:]
		}
		return nil
	}
	left, right := steps(fs), steps(hs)
	cv := &compareView{
		Agent:   t(cmp.Or(ft.Name, rootName(fs))),
		Failing: traceRef{ID: t(ft.TraceID), Anchor: traceAnchor(ft.TraceID), Duration: dur(ft.Duration())},
		Healthy: traceRef{ID: t(ht.TraceID), Anchor: traceAnchor(ht.TraceID), Duration: dur(ht.Duration())},
		Diverge: -1,
	}
	n := max(len(left), len(right))
	for i := 0; i < n; i++ {
		if i == maxCompareRows {
			cv.More = n - maxCompareRows
			break
		}
		p := stepPair{N: i + 1}
		if i < len(left) {
			p.Left = step(ft.TraceID, left[i], t)
		}
		if i < len(right) {
			p.Right = step(ht.TraceID, right[i], t)
		}
		p.Diverged = p.Left == nil || p.Right == nil || p.Left.Kind != p.Right.Kind || p.Left.Name != p.Right.Name || p.Left.Failed != p.Right.Failed
		if p.Diverged && cv.Diverge < 0 {
			cv.Diverge, p.FirstBreak = i, true
			cv.DivergeAt = fmt.Sprintf("step %d", i+1)
		}
		cv.Steps = append(cv.Steps, p)
	}
	return cv
}

func step(traceID string, s *oncall.Span, t func(string) string) *stepView {
	return &stepView{
		Anchor: spanAnchor(traceID, s.SpanID), Kind: t(string(s.Kind)), Name: t(spanName(s)),
		Duration: dur(s.Duration()), Status: t(string(s.Status)), Error: clip(t(spanError(s)), 200), Failed: s.Failed(),
	}
}

func dur(d time.Duration) string {
	switch {
	case d <= 0:
		return "–"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}
