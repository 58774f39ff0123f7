// Package tracesource holds what the trace-store clients share: a
// bounded concurrent fetch of traces by id (the sampling of a window is
// oncall.SampleRuns). Each backend is a subpackage (jsonl, langfuse,
// phoenix, jaeger, tempo) that converts its store's wire format to
// oncall.Trace at its edge.
package tracesource

import (
	"context"
	"sync"
)

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
