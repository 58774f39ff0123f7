package triage

import (
	"context"
	"fmt"
	"maps"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/analysis"
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
func (s *Service) windowSearch(ctx context.Context, source TraceSource, wins []analysis.Window, filters map[string]string) func(i int) (oncall.TraceSearchResult, error) {
	query := func(w analysis.Window) oncall.TraceQuery {
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

// capNote says what a window's search left out or sampled, or "".
func (s *Service) capNote(window string, res oncall.TraceSearchResult) string {
	switch {
	case res.Sampling != "":
		return fmt.Sprintf("%s window: %s", window, res.Sampling)
	case res.Matched > len(res.Traces):
		return fmt.Sprintf("%s window: %d of %d matching traces left out by the cap of %d", window, res.Matched-len(res.Traces), res.Matched, s.opts.MaxTraces)
	}
	return ""
}

// addWeights merges a window's sampling weights into all.
func addWeights(all, w map[string]float64) map[string]float64 {
	if len(w) == 0 {
		return all
	}
	if all == nil {
		all = make(map[string]float64, len(w))
	}
	maps.Copy(all, w)
	return all
}
