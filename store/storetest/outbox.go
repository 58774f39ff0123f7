package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

func putOutbox(t *testing.T, s Store, it oncall.OutboxItem) oncall.OutboxItem {
	t.Helper()
	got, err := s.PutOutbox(ctxFor(t), it)
	if err != nil {
		t.Fatalf("PutOutbox(%s): %v", it.Key, err)
	}
	return got
}

func pending(t *testing.T, s Store, channel string) []oncall.OutboxItem {
	t.Helper()
	items, err := s.PendingOutbox(ctxFor(t), channel)
	if err != nil {
		t.Fatalf("PendingOutbox(%s): %v", channel, err)
	}
	return items
}

func keysOf(items []oncall.OutboxItem) []string {
	var keys []string
	for _, it := range items {
		keys = append(keys, it.Key)
	}
	return keys
}

func testOutboxOrder(t *testing.T, s Store, c *Clock) {
	now := c.Now()
	putOutbox(t, s, oncall.OutboxItem{Channel: "C1", Key: "storm:s", Priority: 30, Due: now})
	putOutbox(t, s, oncall.OutboxItem{Channel: "C1", Key: "parent:b", Priority: 10, Due: now.Add(time.Second)})
	putOutbox(t, s, oncall.OutboxItem{Channel: "C1", Key: "parent:a", Priority: 10, Due: now})
	putOutbox(t, s, oncall.OutboxItem{Channel: "C2", Key: "parent:c", Priority: 0, Due: now})
	got := keysOf(pending(t, s, "C1"))
	if want := []string{"parent:a", "parent:b", "storm:s"}; !slices.Equal(got, want) {
		t.Errorf("C1 pending %v, want %v", got, want)
	}
	if got := keysOf(pending(t, s, "C2")); !slices.Equal(got, []string{"parent:c"}) {
		t.Errorf("C2 pending %v, want [parent:c]", got)
	}
	chans, err := s.OutboxChannels(ctxFor(t))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(chans)
	if !slices.Equal(chans, []string{"C1", "C2"}) {
		t.Errorf("channels %v, want [C1 C2]", chans)
	}
	if _, err := s.PutOutbox(ctxFor(t), oncall.OutboxItem{Key: "x"}); err == nil {
		t.Error("PutOutbox without a channel succeeded")
	}
}

func testOutboxMerge(t *testing.T, s Store, c *Clock) {
	now := c.Now().Truncate(time.Millisecond)
	first := putOutbox(t, s, oncall.OutboxItem{Channel: "C1", Key: "storm:s", Priority: 30, Due: now.Add(5 * time.Second)})
	second := putOutbox(t, s, oncall.OutboxItem{Channel: "C1", Key: "storm:s", Priority: 20, Due: now.Add(9 * time.Second)})
	third := putOutbox(t, s, oncall.OutboxItem{Channel: "C1", Key: "storm:s", Priority: 40, Due: now.Add(time.Second)})
	if first.Version == second.Version || second.Version == third.Version {
		t.Errorf("versions %d %d %d, want a new one per put", first.Version, second.Version, third.Version)
	}
	items := pending(t, s, "C1")
	if len(items) != 1 {
		t.Fatalf("pending %v, want one merged item", items)
	}
	got := items[0]
	if got.Priority != 20 || !got.Due.Equal(now.Add(time.Second)) || got.Version != third.Version {
		t.Errorf("merged item %+v, want priority 20, due +1s, version %d", got, third.Version)
	}
	// A sender that sent the first version must not remove the newer one.
	if removed, err := s.DoneOutbox(ctxFor(t), first); err != nil || removed {
		t.Errorf("DoneOutbox(stale version) = %v, %v; want kept", removed, err)
	}
	if len(pending(t, s, "C1")) != 1 {
		t.Fatal("a stale DoneOutbox removed the item")
	}
	if removed, err := s.DoneOutbox(ctxFor(t), got); err != nil || !removed {
		t.Errorf("DoneOutbox(current) = %v, %v; want removed", removed, err)
	}
	if n := len(pending(t, s, "C1")); n != 0 {
		t.Errorf("%d items left after done", n)
	}
	chans, err := s.OutboxChannels(ctxFor(t))
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(chans, "C1") {
		t.Errorf("channels %v still list an empty outbox", chans)
	}
	if removed, err := s.DoneOutbox(ctxFor(t), got); err != nil || removed {
		t.Errorf("DoneOutbox twice = %v, %v; want nothing", removed, err)
	}
}

func testOutboxRace(t *testing.T, s Store, c *Clock) {
	// Racing puts of one key leave one item with the last version.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var max int64
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			it, err := s.PutOutbox(ctxFor(t), oncall.OutboxItem{Channel: "C1", Key: fmt.Sprintf("k%d", i%3), Priority: i, Due: c.Now()})
			if err != nil {
				t.Errorf("PutOutbox: %v", err)
				return
			}
			mu.Lock()
			if it.Version > max {
				max = it.Version
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	items := pending(t, s, "C1")
	if got := keysOf(items); !slices.Equal(got, []string{"k0", "k1", "k2"}) {
		t.Errorf("pending %v, want [k0 k1 k2]", got)
	}
	var found bool
	for _, it := range items {
		found = found || it.Version == max
	}
	if !found {
		t.Errorf("no pending item has the last version %d: %+v", max, items)
	}
}

func testOutboxLease(t *testing.T, s Store, c *Clock) {
	lease := func(channel, owner string, ttl time.Duration) bool {
		t.Helper()
		held, err := s.LeaseOutbox(ctxFor(t), channel, owner, ttl)
		if err != nil {
			t.Fatalf("LeaseOutbox(%s, %s): %v", channel, owner, err)
		}
		return held
	}
	if !lease("C1", "a", time.Second) {
		t.Fatal("a free lease was refused")
	}
	if lease("C1", "b", time.Second) {
		t.Error("b took a's live lease")
	}
	if !lease("C2", "b", time.Second) {
		t.Error("a lease of C1 blocked C2")
	}
	if !lease("C1", "a", time.Second) {
		t.Error("a could not renew its lease")
	}
	if err := s.ReleaseOutbox(ctxFor(t), "C1", "b"); err != nil {
		t.Fatal(err)
	}
	if lease("C1", "b", time.Second) {
		t.Error("b released a's lease")
	}
	if err := s.ReleaseOutbox(ctxFor(t), "C1", "a"); err != nil {
		t.Fatal(err)
	}
	if !lease("C1", "b", time.Second) {
		t.Error("a released lease was refused")
	}
	// b dies: its lease lapses.
	c.Advance(2 * time.Second)
	if !eventually(t, realLimit, func() bool { return lease("C1", "a", time.Second) }) {
		t.Error("a lapsed lease was never free")
	}
	if _, err := s.LeaseOutbox(ctxFor(t), "C1", "", time.Second); err == nil {
		t.Error("LeaseOutbox without an owner succeeded")
	}
}
