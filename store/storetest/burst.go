package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func joinBurst(t *testing.T, s Store, scope, member string, at time.Time) time.Time {
	t.Helper()
	start, err := s.JoinBurst(ctxFor(t), scope, member, at, 5*time.Minute, 2)
	if err != nil {
		t.Fatalf("JoinBurst(%s, %s): %v", scope, member, err)
	}
	return start
}

func testBurstSlides(t *testing.T, s Store, c *Clock) {
	// 09:33 to 09:37 straddles the fixed 5-minute boundary at 09:35.
	base := time.Date(2026, 3, 2, 9, 33, 0, 0, time.UTC)
	steps := []struct {
		member string
		at     time.Duration
		want   time.Duration // burst start after base; -1 for none
	}{
		{"a", 0, -1},
		{"b", time.Minute, -1},
		{"c", 2 * time.Minute, 2 * time.Minute}, // the third within 5m starts a burst
		{"d", 3 * time.Minute, 2 * time.Minute},
		{"c", 3 * time.Minute, 2 * time.Minute}, // again: not counted twice
		{"e", 4 * time.Minute, 2 * time.Minute}, // past 09:35: the same burst
		{"f", 20 * time.Minute, -1},             // a quiet window later: below the limit
		{"g", 21 * time.Minute, -1},
		{"h", 22 * time.Minute, 22 * time.Minute}, // a new burst
	}
	for _, st := range steps {
		got := joinBurst(t, s, "storm:C1", st.member, base.Add(st.at))
		want := time.Time{}
		if st.want >= 0 {
			want = base.Add(st.want)
		}
		if !got.Equal(want) {
			t.Errorf("%s at +%v: burst %v, want %v", st.member, st.at, got, want)
		}
	}
	if got := joinBurst(t, s, "storm:C2", "a", base.Add(22*time.Minute)); !got.IsZero() {
		t.Errorf("another scope shares the burst: %v", got)
	}
}

func testBurstRace(t *testing.T, s Store, c *Clock) {
	at := time.Date(2026, 3, 2, 9, 34, 0, 0, time.UTC)
	const n = 20
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		starts = map[time.Time]int{}
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start, err := s.JoinBurst(ctxFor(t), "storm:race", fmt.Sprintf("m%02d", i), at.Add(time.Duration(i)*time.Millisecond), time.Minute, 5)
			if err != nil {
				t.Errorf("JoinBurst: %v", err)
				return
			}
			mu.Lock()
			starts[start]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if starts[time.Time{}] != 5 || len(starts) != 2 {
		t.Fatalf("racing members got bursts %v, want 5 outside and 15 in one burst", starts)
	}
}

func testBurstInput(t *testing.T, s Store, c *Clock) {
	if _, err := s.JoinBurst(ctxFor(t), "", "m", c.Now(), time.Minute, 1); err == nil {
		t.Error("JoinBurst without a scope succeeded")
	}
	if _, err := s.JoinBurst(ctxFor(t), "s", "m", c.Now(), 0, 1); err == nil {
		t.Error("JoinBurst with a zero window succeeded")
	}
}
