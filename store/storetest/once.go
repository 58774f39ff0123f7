package storetest

import (
	"testing"
	"time"
)

func once(t *testing.T, s Store, key string, ttl time.Duration) bool {
	t.Helper()
	first, err := s.Once(ctxFor(t), key, ttl)
	if err != nil {
		t.Fatalf("Once(%s): %v", key, err)
	}
	return first
}

func testOnce(t *testing.T, s Store, c *Clock) {
	steps := []struct {
		name string
		do   func() bool
		want bool
	}{
		{"first sighting", func() bool { return once(t, s, "event-1", time.Hour) }, true},
		{"repeat", func() bool { return once(t, s, "event-1", time.Hour) }, false},
		{"other key", func() bool { return once(t, s, "event-2", time.Hour) }, true},
		{"repeat within ttl", func() bool { c.Advance(30 * time.Minute); return once(t, s, "event-1", time.Hour) }, false},
		{"after forget", func() bool {
			if err := s.Forget(ctxFor(t), "event-1"); err != nil {
				t.Fatalf("Forget: %v", err)
			}
			return once(t, s, "event-1", time.Hour)
		}, true},
		{"repeat after forget", func() bool { return once(t, s, "event-1", time.Hour) }, false},
		{"other key untouched by forget", func() bool { return once(t, s, "event-2", time.Hour) }, false},
	}
	for _, st := range steps {
		if got := st.do(); got != st.want {
			t.Fatalf("%s: Once = %v, want %v", st.name, got, st.want)
		}
	}
	if err := s.Forget(ctxFor(t), "never-seen"); err != nil {
		t.Errorf("Forget(missing) = %v, want nil", err)
	}
}

func testOnceExpiry(t *testing.T, s Store, c *Clock) {
	if !once(t, s, "short", time.Second) {
		t.Fatal("first Once = false, want true")
	}
	if once(t, s, "short", time.Second) {
		t.Fatal("repeat Once within ttl = true, want false")
	}
	c.Advance(time.Hour)
	if !eventually(t, realLimit, func() bool { return once(t, s, "short", time.Hour) }) {
		t.Fatalf("Once after the ttl passed still false after %v", realLimit)
	}
	if once(t, s, "short", time.Hour) {
		t.Fatal("Once right after re-recording = true, want false")
	}
}

func testOnceInput(t *testing.T, s Store, c *Clock) {
	for _, tc := range []struct {
		name string
		key  string
		ttl  time.Duration
	}{
		{"empty key", "", time.Hour},
		{"zero ttl", "k", 0},
		{"negative ttl", "k", -time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.Once(ctxFor(t), tc.key, tc.ttl); err == nil {
				t.Errorf("Once(%q, %v) succeeded, want an error", tc.key, tc.ttl)
			}
		})
	}
}

func testPing(t *testing.T, s Store, c *Clock) {
	if err := s.Ping(ctxFor(t)); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}
