package triage

import (
	"context"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// WindowSearcher is a trace source that answers several windows in one
// read of its store (the JSONL files, say, streamed once instead of once a
// window). Triage uses it when a source offers it.
type WindowSearcher interface {
	SearchWindows(ctx context.Context, qs []oncall.TraceQuery) ([]oncall.TraceSearchResult, error)
}

// windowSearch returns the search of window i of wins: one Search a
// window, or, from a WindowSearcher, the windows with something in them
// read together on the first call.
func (s *Service) windowSearch(ctx context.Context, source TraceSource, wins []Window, filters map[string]string) func(i int) (oncall.TraceSearchResult, error) {
	query := func(w Window) oncall.TraceQuery {
		return oncall.TraceQuery{Start: w.Start, End: w.End, Filters: filters, Limit: s.opts.MaxTraces, KeepLimit: s.opts.MaxKeptTraces}
	}
	ws, ok := source.(WindowSearcher)
	if !ok {
		return func(i int) (oncall.TraceSearchResult, error) { return source.Search(ctx, query(wins[i])) }
	}
	var (
		done    bool
		results map[int]oncall.TraceSearchResult
		err     error
	)
	return func(i int) (oncall.TraceSearchResult, error) {
		if !done {
			done = true
			var qs []oncall.TraceQuery
			var idx []int
			for j, w := range wins {
				if w.End.Sub(w.Start) > 0 {
					qs = append(qs, query(w))
					idx = append(idx, j)
				}
			}
			var res []oncall.TraceSearchResult
			res, err = ws.SearchWindows(ctx, qs)
			results = make(map[int]oncall.TraceSearchResult, len(res))
			for k, r := range res {
				results[idx[k]] = r
			}
		}
		return results[i], err
	}
}
