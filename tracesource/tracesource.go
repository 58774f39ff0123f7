// Package tracesource holds what the trace-store clients share: the
// filter, sort and limit of a search's traces, and a bounded concurrent
// fetch of traces by id. Each backend is a subpackage (jsonl, langfuse,
// phoenix, jaeger, tempo) that converts its store's wire format to
// oncall.Trace at its edge.
package tracesource

import (
	"context"
	"sort"
	"sync"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// Select keeps the traces that match filters (oncall.Trace.MatchesFilters),
// newest first, at most limit of them. Matched counts every trace that
// matched, kept or not.
func Select(traces []oncall.Trace, filters map[string]string, limit int) oncall.TraceSearchResult {
	var out []oncall.Trace
	for _, t := range traces {
		if t.MatchesFilters(filters) {
			out = append(out, t)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.After(out[j].Start) })
	res := oncall.TraceSearchResult{Matched: len(out)}
	if len(out) > limit {
		out = out[:limit]
	}
	res.Traces = out
	return res
}

// FetchAll calls fetch for items 0 to n-1, at most concurrency at a time.
// The first error (or ctx ending while an item waits for its turn)
// cancels the fetches still running and is returned once all have
// stopped.
func FetchAll(ctx context.Context, n, concurrency int, fetch func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr == nil {
			firstErr = err
			cancel()
		}
	}
	sem := make(chan struct{}, max(concurrency, 1))
loop:
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			fail(ctx.Err())
			break loop
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fetch(ctx, i); err != nil {
				fail(err)
			}
		}()
	}
	wg.Wait()
	return firstErr
}
