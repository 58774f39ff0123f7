package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

func newIncident(c *Clock, key string) oncall.Incident {
	return oncall.Incident{
		Key:    key,
		Status: oncall.IncidentOpen,
		Alert: oncall.Alert{
			Source: "alertmanager", Fingerprint: "fp-" + key, GroupKey: "group-" + key,
			Status: oncall.AlertFiring, Name: "AgentErrorRate",
			Labels:   map[string]string{"service": "support-agent"},
			StartsAt: c.Now().Add(-5 * time.Minute), ReceivedAt: c.Now(),
		},
		Route:   "agents",
		Channel: "C1",
		Fires:   1,
	}
}

func create(t *testing.T, s Store, inc oncall.Incident) oncall.Incident {
	t.Helper()
	got, created, err := s.CreateIncident(ctxFor(t), inc)
	if err != nil {
		t.Fatalf("CreateIncident(%s): %v", inc.Key, err)
	}
	if !created {
		t.Fatalf("CreateIncident(%s) found an existing incident, want it created", inc.Key)
	}
	return got
}

func update(t *testing.T, s Store, key string, fn func(*oncall.Incident)) oncall.Incident {
	t.Helper()
	got, err := s.UpdateIncident(ctxFor(t), key, func(inc *oncall.Incident) error { fn(inc); return nil })
	if err != nil {
		t.Fatalf("UpdateIncident(%s): %v", key, err)
	}
	return got
}

func keys(incs []oncall.Incident) []string {
	out := []string{}
	for _, inc := range incs {
		out = append(out, inc.Key)
	}
	return out
}

func testMissingIncident(t *testing.T, s Store, c *Clock) {
	if _, err := s.GetIncident(ctxFor(t), "nope"); !errors.Is(err, oncall.ErrNotFound) {
		t.Errorf("GetIncident(missing) = %v, want ErrNotFound", err)
	}
	called := false
	_, err := s.UpdateIncident(ctxFor(t), "nope", func(*oncall.Incident) error { called = true; return nil })
	if !errors.Is(err, oncall.ErrNotFound) || called {
		t.Errorf("UpdateIncident(missing) = %v (fn called %v), want ErrNotFound without calling fn", err, called)
	}
	if _, err := s.IncidentByThread(ctxFor(t), "C1", "1.1"); !errors.Is(err, oncall.ErrNotFound) {
		t.Errorf("IncidentByThread(missing) = %v, want ErrNotFound", err)
	}
	if _, _, err := s.CreateIncident(ctxFor(t), oncall.Incident{}); err == nil {
		t.Error("CreateIncident without a key succeeded, want an error")
	}
}

func testCreateIncident(t *testing.T, s Store, c *Clock) {
	inc := newIncident(c, "k1")
	inc.Headline = "first"
	got := create(t, s, inc)

	want := inc
	want.OpenedAt, want.UpdatedAt = c.Now(), c.Now()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("created = %+v\nwant %+v", got, want)
	}
	stored, err := s.GetIncident(ctxFor(t), "k1")
	if err != nil {
		t.Fatalf("GetIncident: %v", err)
	}
	if !reflect.DeepEqual(stored, want) {
		t.Errorf("stored = %+v\nwant %+v", stored, want)
	}

	c.Advance(time.Minute)
	again := newIncident(c, "k1")
	again.Headline = "second"
	existing, created, err := s.CreateIncident(ctxFor(t), again)
	if err != nil {
		t.Fatalf("CreateIncident(existing): %v", err)
	}
	if created || !reflect.DeepEqual(existing, want) {
		t.Errorf("CreateIncident(existing) = %+v, %v; want the first incident and false", existing, created)
	}

	// Explicit times are kept.
	at := c.Now().Add(-time.Hour)
	other := newIncident(c, "k2")
	other.OpenedAt, other.UpdatedAt = at, at
	if got := create(t, s, other); !got.OpenedAt.Equal(at) || !got.UpdatedAt.Equal(at) {
		t.Errorf("explicit times became %v / %v, want %v", got.OpenedAt, got.UpdatedAt, at)
	}
}

func testCreateRace(t *testing.T, s Store, c *Clock) {
	const racers = 20
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created int
		heads   = map[string]bool{}
	)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inc := newIncident(c, "race")
			inc.Headline = fmt.Sprintf("racer %d", i)
			got, ok, err := s.CreateIncident(ctxFor(t), inc)
			if err != nil {
				t.Errorf("CreateIncident: %v", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if ok {
				created++
			}
			heads[got.Headline] = true
		}()
	}
	wg.Wait()
	if created != 1 {
		t.Errorf("%d racers created the incident, want exactly 1", created)
	}
	if len(heads) != 1 {
		t.Errorf("racers saw %d different incidents %v, want all to see the winner's", len(heads), heads)
	}
}

func testUpdateRace(t *testing.T, s Store, c *Clock) {
	create(t, s, newIncident(c, "busy"))
	const writers = 20
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.UpdateIncident(ctxFor(t), "busy", func(inc *oncall.Incident) error {
				inc.Fires++
				inc.Feedback = append(inc.Feedback, oncall.Feedback{User: fmt.Sprintf("U%d", i), Helpful: true, At: c.Now()})
				return nil
			})
			if err != nil {
				t.Errorf("UpdateIncident: %v", err)
			}
		}()
	}
	wg.Wait()
	got, err := s.GetIncident(ctxFor(t), "busy")
	if err != nil {
		t.Fatalf("GetIncident: %v", err)
	}
	if got.Fires != 1+writers || len(got.Feedback) != writers {
		t.Errorf("after %d concurrent updates Fires = %d and %d feedbacks, want %d and %d",
			writers, got.Fires, len(got.Feedback), 1+writers, writers)
	}
}

func testUpdateAborts(t *testing.T, s Store, c *Clock) {
	before := create(t, s, newIncident(c, "k"))
	c.Advance(time.Minute)
	boom := errors.New("boom")
	_, err := s.UpdateIncident(ctxFor(t), "k", func(inc *oncall.Incident) error {
		inc.Status = oncall.IncidentResolved
		inc.ThreadTS = "9.9"
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("UpdateIncident = %v, want fn's error", err)
	}
	_, err = s.UpdateIncident(ctxFor(t), "k", func(inc *oncall.Incident) error {
		inc.Key = "other"
		return nil
	})
	if err == nil {
		t.Fatal("UpdateIncident changing the key succeeded, want an error")
	}
	got, err := s.GetIncident(ctxFor(t), "k")
	if err != nil {
		t.Fatalf("GetIncident: %v", err)
	}
	if !reflect.DeepEqual(got, before) {
		t.Errorf("after aborted updates = %+v\nwant unchanged %+v", got, before)
	}
	if _, err := s.IncidentByThread(ctxFor(t), "C1", "9.9"); !errors.Is(err, oncall.ErrNotFound) {
		t.Errorf("IncidentByThread after aborted update = %v, want ErrNotFound", err)
	}
	if _, err := s.GetIncident(ctxFor(t), "other"); !errors.Is(err, oncall.ErrNotFound) {
		t.Errorf("GetIncident(other) = %v, want ErrNotFound", err)
	}
}

func testUpdateStamps(t *testing.T, s Store, c *Clock) {
	created := create(t, s, newIncident(c, "k"))
	c.Advance(5 * time.Minute)
	got := update(t, s, "k", func(inc *oncall.Incident) {
		inc.Status = oncall.IncidentAcknowledged
		inc.AckedBy = "U1"
		inc.AckedAt = c.Now()
	})
	if !got.UpdatedAt.Equal(c.Now()) || !got.OpenedAt.Equal(created.OpenedAt) {
		t.Errorf("UpdatedAt %v OpenedAt %v, want %v and unchanged %v", got.UpdatedAt, got.OpenedAt, c.Now(), created.OpenedAt)
	}
	if got.Status != oncall.IncidentAcknowledged || got.AckedBy != "U1" {
		t.Errorf("update not applied: %+v", got)
	}

	explicit := c.Now().Add(-time.Minute)
	got = update(t, s, "k", func(inc *oncall.Incident) { inc.UpdatedAt = explicit })
	if !got.UpdatedAt.Equal(explicit) {
		t.Errorf("UpdatedAt = %v, want the value fn set %v", got.UpdatedAt, explicit)
	}
	stored, err := s.GetIncident(ctxFor(t), "k")
	if err != nil {
		t.Fatalf("GetIncident: %v", err)
	}
	if !reflect.DeepEqual(stored, got) {
		t.Errorf("stored = %+v\nwant what UpdateIncident returned %+v", stored, got)
	}
}

func testThreadIndex(t *testing.T, s Store, c *Clock) {
	byThread := func(channel, ts string) (string, error) {
		t.Helper()
		inc, err := s.IncidentByThread(ctxFor(t), channel, ts)
		return inc.Key, err
	}
	wantThread := func(channel, ts, key string) {
		t.Helper()
		got, err := byThread(channel, ts)
		if err != nil || got != key {
			t.Errorf("IncidentByThread(%s, %s) = %q, %v; want %q", channel, ts, got, err, key)
		}
	}
	wantNoThread := func(channel, ts string) {
		t.Helper()
		if got, err := byThread(channel, ts); !errors.Is(err, oncall.ErrNotFound) {
			t.Errorf("IncidentByThread(%s, %s) = %q, %v; want ErrNotFound", channel, ts, got, err)
		}
	}

	create(t, s, newIncident(c, "a"))
	wantNoThread("C1", "")
	update(t, s, "a", func(inc *oncall.Incident) { inc.ThreadTS = "100.1" })
	wantThread("C1", "100.1", "a")
	wantNoThread("C2", "100.1")

	update(t, s, "a", func(inc *oncall.Incident) { inc.ThreadTS = "200.2" })
	wantNoThread("C1", "100.1")
	wantThread("C1", "200.2", "a")

	update(t, s, "a", func(inc *oncall.Incident) { inc.Channel = "C9" })
	wantNoThread("C1", "200.2")
	wantThread("C9", "200.2", "a")

	b := newIncident(c, "b")
	b.Channel, b.ThreadTS = "C1", "300.3"
	create(t, s, b)
	wantThread("C1", "300.3", "b")
	wantThread("C9", "200.2", "a")
}

func testListIncidents(t *testing.T, s Store, c *Clock) {
	list := func(since time.Time) []string {
		t.Helper()
		incs, err := s.ListIncidents(ctxFor(t), since)
		if err != nil {
			t.Fatalf("ListIncidents: %v", err)
		}
		return keys(incs)
	}
	t0 := c.Now()
	create(t, s, newIncident(c, "a"))
	c.Advance(time.Minute)
	create(t, s, newIncident(c, "b"))
	c.Advance(time.Minute)
	create(t, s, newIncident(c, "c"))
	c.Advance(time.Minute)
	update(t, s, "a", func(inc *oncall.Incident) { inc.Fires++ })

	for _, tc := range []struct {
		name  string
		since time.Time
		want  []string
	}{
		{"everything", time.Time{}, []string{"a", "c", "b"}},
		{"since the start", t0, []string{"a", "c", "b"}},
		{"since exactly b", t0.Add(time.Minute), []string{"a", "c", "b"}},
		{"just after b", t0.Add(time.Minute + time.Nanosecond), []string{"a", "c"}},
		{"since the update", t0.Add(3 * time.Minute), []string{"a"}},
		{"future", t0.Add(time.Hour), []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := list(tc.since); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ListIncidents(%v) = %v, want %v", tc.since, got, tc.want)
			}
		})
	}
}
