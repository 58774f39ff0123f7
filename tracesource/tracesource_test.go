package tracesource

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
)

func TestFetchAll(t *testing.T) {
	t.Run("bounded", func(t *testing.T) {
		var running, most atomic.Int32
		seen := make([]bool, 20)
		err := FetchAll(t.Context(), len(seen), 3, func(ctx context.Context, i int) error {
			n := running.Add(1)
			defer running.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			seen[i] = true
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if most.Load() > 3 {
			t.Errorf("%d fetches at once, want at most 3", most.Load())
		}
		for i, ok := range seen {
			if !ok {
				t.Errorf("item %d not fetched", i)
			}
		}
	})
	t.Run("first error cancels the rest", func(t *testing.T) {
		boom := errors.New("boom")
		err := FetchAll(t.Context(), 50, 2, func(ctx context.Context, i int) error {
			if i == 0 {
				return boom
			}
			<-ctx.Done()
			return ctx.Err()
		})
		if !errors.Is(err, boom) {
			t.Errorf("err = %v, want boom", err)
		}
	})
}
