package tracesource

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

func TestSelect(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	mk := func(id, agent string, min int) oncall.Trace {
		return oncall.Trace{TraceID: id, Start: t0.Add(time.Duration(min) * time.Minute), Attributes: map[string]string{"gen_ai.agent.name": agent}}
	}
	traces := []oncall.Trace{mk("a", "support", 1), mk("b", "billing", 2), mk("c", "support", 3), mk("d", "support", 0)}
	res := Select(traces, map[string]string{"gen_ai.agent.name": "support"}, 2)
	var ids []string
	for _, tr := range res.Traces {
		ids = append(ids, tr.TraceID)
	}
	if res.Matched != 3 || len(ids) != 2 || ids[0] != "c" || ids[1] != "a" {
		t.Errorf("matched %d, kept %v; want 3 matched and the newest two, c then a", res.Matched, ids)
	}
}

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
