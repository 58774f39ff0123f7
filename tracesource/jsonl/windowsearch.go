package jsonl

import (
	"context"
	"fmt"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// SearchWindows answers several queries (a triage's incident and baseline
// windows) as Search would answer each, but in one pass over the files,
// plus one more for the traces whose spans had to be dropped to bound
// memory, instead of a pass or two per query. What could not be read is
// said in every answer's Unreadable, as Search says it. Over large files that is
// most of a triage's time.
func (s *Source) SearchWindows(ctx context.Context, qs []oncall.TraceQuery) ([]oncall.TraceSearchResult, error) {
	cs := make([]*collector, len(qs))
	for i, q := range qs {
		qq, err := newQuery(q)
		if err != nil {
			return nil, fmt.Errorf("jsonl: search: %w", err)
		}
		cs[i] = newCollector(qq)
	}
	inv, err := s.scan(ctx, nil, func(spans []oncall.Span) {
		for _, c := range cs {
			c.add(spans)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("jsonl: search %s: %w", s.path, err)
	}
	chosen := make([][]*candidate, len(cs))
	matched := make([]int, len(cs))
	samples := make([]oncall.Sample, len(cs))
	refetch := map[string][]*candidate{}
	for i, c := range cs {
		var r map[string]*candidate
		chosen[i], matched[i], r, samples[i] = c.result()
		for id, cand := range r {
			refetch[id] = append(refetch[id], cand)
		}
	}
	if len(refetch) > 0 {
		_, err := s.scan(ctx, nil, func(spans []oncall.Span) {
			for _, sp := range spans {
				for _, cand := range refetch[sp.TraceID] {
					cand.spans = append(cand.spans, sp)
				}
			}
		})
		if err != nil {
			return nil, fmt.Errorf("jsonl: search %s: %w", s.path, err)
		}
	}
	out := make([]oncall.TraceSearchResult, len(cs))
	for i := range cs {
		out[i] = oncall.TraceSearchResult{Matched: matched[i], Traces: make([]oncall.Trace, 0, len(chosen[i])), Weights: samples[i].Weights, Sampling: samples[i].Note(), Unreadable: inv.unreadable()}
		for _, cand := range chosen[i] {
			out[i].Traces = append(out[i].Traces, buildTrace(cand.id, cand.spans))
		}
	}
	return out, nil
}
