package phoenix

import (
	"context"
	"sort"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// sample keeps the window's failing and slow traces and a uniform sample
// of the healthy ones (oncall.SampleRuns), then completes only the kept
// traces whose root started before the window. A trace missing its root
// may match the filters once completed, so it is sampled with the rest
// and checked after.
func (c *Client) sample(ctx context.Context, traces []oncall.Trace, q oncall.TraceQuery, limit int) (oncall.TraceSearchResult, error) {
	var candidates []oncall.Trace
	for _, t := range traces {
		if t.MatchesFilters(q.Filters) || !wellRooted(&t) {
			candidates = append(candidates, t)
		}
	}
	keep := q.KeepLimit
	if keep <= 0 {
		keep = limit
	}
	s := oncall.SampleRuns(candidates, keep, limit)
	kept := s.Traces
	if err := c.complete(ctx, kept); err != nil {
		return oncall.TraceSearchResult{}, err
	}
	matched := len(candidates)
	out := kept[:0]
	for _, t := range kept {
		if t.MatchesFilters(q.Filters) {
			out = append(out, t)
		} else {
			matched--
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.After(out[j].Start) })
	return oncall.TraceSearchResult{Traces: out, Matched: matched, Weights: s.Weights, Sampling: s.Note()}, nil
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
