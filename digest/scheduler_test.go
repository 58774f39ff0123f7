package digest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oncall-copilot/oncall-copilot/internal/testenv"
	"github.com/oncall-copilot/oncall-copilot/store/boltdb"
	"github.com/oncall-copilot/oncall-copilot/store/redisdb"
)

// clock is a clock tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// builds records the requests of a build function and answers with a
// small digest of the window, quiet when quiet is set.
type builds struct {
	mu    sync.Mutex
	reqs  []Request
	quiet bool
	fail  func(n int) error // called with the build's number, from 1
	panic bool
}

func (b *builds) Build(ctx context.Context, req Request) (Digest, error) {
	b.mu.Lock()
	b.reqs = append(b.reqs, req)
	n := len(b.reqs)
	b.mu.Unlock()
	if b.panic {
		panic("build exploded")
	}
	if b.fail != nil {
		if err := b.fail(n); err != nil {
			return Digest{}, err
		}
	}
	d := Digest{Name: req.Name, Start: req.Start, End: req.End, Zone: req.Location.String(), Quiet: b.quiet, Buckets: buckets(req.Start, req.End)}
	if !b.quiet {
		d.Incidents.Opened = 1
		d.Buckets[0].Opened = 1
	}
	return d, nil
}

func (b *builds) requests() []Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Request(nil), b.reqs...)
}

// replica is one scheduler with its own poster and build counter.
type replica struct {
	s      *Scheduler
	poster *recordingPoster
	builds *builds
}

func newReplica(t testing.TB, store OnceStore, schedules []Schedule, b *builds) replica {
	t.Helper()
	if b == nil {
		b = &builds{}
	}
	p := &recordingPoster{}
	s, err := NewScheduler(SchedulerOptions{Schedules: schedules, Store: store, Build: b.Build, Poster: p})
	if err != nil {
		t.Fatal(err)
	}
	return replica{s: s, poster: p, builds: b}
}

func dailyParis(t testing.TB, name string) Schedule {
	s := mustSchedule(t, "0 9 * * *", "Europe/Paris")
	s.Name, s.Channel = name, "C0DIGEST"
	return s
}

// backend opens two handles on one store, as two replicas would hold.
type backend struct {
	name string
	open func(t *testing.T, now func() time.Time) (OnceStore, OnceStore)
}

func backends() []backend {
	return []backend{
		{"memory", func(t *testing.T, now func() time.Time) (OnceStore, OnceStore) {
			s := newMemOnce(now)
			return s, s
		}},
		// bbolt locks its file to one process: replicas of the embedded
		// store are schedulers sharing one *boltdb.Store.
		{"embedded", func(t *testing.T, now func() time.Time) (OnceStore, OnceStore) {
			s, err := boltdb.Open(boltdb.Options{Path: filepath.Join(t.TempDir(), "oncall.db"), Now: now})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s, s
		}},
		// Two Redis clients on one key prefix, as two processes would be.
		{"redis", func(t *testing.T, now func() time.Time) (OnceStore, OnceStore) {
			url, prefix := redisFor(t)
			open := func() OnceStore {
				s, err := redisdb.Open(t.Context(), redisdb.Options{URL: url, Prefix: prefix, Now: now})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			}
			return open(), open()
		}},
	}
}

// redisFor returns the test Redis and a key prefix of the test's own,
// deleted at cleanup. Without a server the test fails under CI and is
// skipped elsewhere.
func redisFor(t *testing.T) (string, string) {
	t.Helper()
	url := os.Getenv("REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/15"
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("REDIS_URL: %v", err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		testenv.Missing(t, os.Getenv, "redis at %s unreachable: %v", opts.Addr, err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	prefix := "oncall-test:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := rdb.Scan(ctx, 0, prefix+"*", 500).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
	})
	return url, prefix
}

// Two replicas tick at the same instants on every backend: each fire is
// posted exactly once.
func TestReplicasRaceExactlyOnce(t *testing.T) {
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			clk := &clock{now: fixtureFire}
			s1, s2 := be.open(t, clk.Now)
			sched := []Schedule{dailyParis(t, "race")}
			a, b := newReplica(t, s1, sched, nil), newReplica(t, s2, sched, nil)
			const days = 15
			for day := range days {
				now := fixtureFire.AddDate(0, 0, day).Add(time.Duration(day) * time.Second)
				clk.Set(now)
				var ra, rb []Result
				var wg sync.WaitGroup
				start := make(chan struct{})
				wg.Go(func() { <-start; ra = a.s.Tick(t.Context(), now) })
				wg.Go(func() { <-start; rb = b.s.Tick(t.Context(), now) })
				close(start)
				wg.Wait()
				got := outcomes(ra) + "+" + outcomes(rb)
				if got != "posted+already_posted" && got != "already_posted+posted" {
					t.Fatalf("day %d: outcomes %s, want one posted and one already posted", day, got)
				}
			}
			if n := len(a.poster.all()) + len(b.poster.all()); n != days {
				t.Errorf("%d posts over %d days, want %d", n, days, days)
			}
		})
	}
}

func outcomes(rs []Result) string {
	var s []string
	for _, r := range rs {
		s = append(s, string(r.Outcome))
		if r.Err != nil {
			s = append(s, r.Err.Error())
		}
	}
	return strings.Join(s, ",")
}

func TestCatchUp(t *testing.T) {
	cases := []struct {
		name      string
		aAt       time.Duration // when replica A ticks after the fire; negative: A is down
		bAt       time.Duration // when replica B comes up and ticks
		wantA     string
		wantB     string
		wantPosts int
	}{
		{name: "replica down at fire time catches up within grace", aAt: -1, bAt: 40 * time.Minute, wantB: "posted", wantPosts: 1},
		{name: "replica up late finds the fire posted", aAt: 0, bAt: 10 * time.Minute, wantA: "posted", wantB: "already_posted", wantPosts: 1},
		{name: "fire older than grace is not posted", aAt: -1, bAt: 61 * time.Minute, wantB: "", wantPosts: 0},
	}
	for _, be := range backends() {
		for _, tc := range cases {
			t.Run(be.name+"/"+tc.name, func(t *testing.T) {
				clk := &clock{now: fixtureFire}
				s1, s2 := be.open(t, clk.Now)
				sched := []Schedule{dailyParis(t, "catch-up")}
				a, b := newReplica(t, s1, sched, nil), newReplica(t, s2, sched, nil)
				if tc.aAt >= 0 {
					clk.Set(fixtureFire.Add(tc.aAt))
					if got := outcomes(a.s.Tick(t.Context(), clk.Now())); got != tc.wantA {
						t.Errorf("replica A: %q, want %q", got, tc.wantA)
					}
				}
				clk.Set(fixtureFire.Add(tc.bAt))
				if got := outcomes(b.s.Tick(t.Context(), clk.Now())); got != tc.wantB {
					t.Errorf("replica B: %q, want %q", got, tc.wantB)
				}
				if n := len(a.poster.all()) + len(b.poster.all()); n != tc.wantPosts {
					t.Errorf("%d posts, want %d", n, tc.wantPosts)
				}
				// A late digest covers the day that ended at the fire, not now.
				for _, req := range b.builds.requests() {
					if !req.End.Equal(fixtureFire) || !req.Start.Equal(fixtureFrom) {
						t.Errorf("late digest covers %v – %v, want %v – %v", req.Start, req.End, fixtureFrom, fixtureFire)
					}
				}
			})
		}
	}
}

func TestTickOncePerFire(t *testing.T) {
	store := newMemOnce(func() time.Time { return fixtureFire })
	r := newReplica(t, store, []Schedule{dailyParis(t, "once")}, nil)
	for _, d := range []time.Duration{0, time.Minute, 30 * time.Minute} {
		r.s.Tick(t.Context(), fixtureFire.Add(d))
	}
	if n := len(r.poster.all()); n != 1 {
		t.Errorf("%d posts from three ticks on one fire, want 1", n)
	}
	if n := len(r.builds.requests()); n != 1 {
		t.Errorf("%d builds, want 1: a handled fire is not claimed again", n)
	}
	if got := outcomes(r.s.Tick(t.Context(), fixtureFire.AddDate(0, 0, 1))); got != "posted" {
		t.Errorf("next day: %q, want posted", got)
	}
}

// The repeated 02:30 of the night clocks go back posts once.
func TestFallBackPostsOnce(t *testing.T) {
	s := mustSchedule(t, "30 2 * * *", "Europe/Paris")
	s.Name, s.Channel = "night", "C1"
	first := time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC)
	second := first.Add(time.Hour)
	store := newMemOnce(func() time.Time { return second })
	a := newReplica(t, store, []Schedule{s}, nil)
	b := newReplica(t, store, []Schedule{s}, nil)
	got := outcomes(a.s.Tick(t.Context(), first)) + " / " + outcomes(b.s.Tick(t.Context(), second)) + " / " + outcomes(a.s.Tick(t.Context(), second))
	if got != "posted / already_posted / already_posted" {
		t.Errorf("outcomes %q, want one post", got)
	}
}

func TestQuietDay(t *testing.T) {
	cases := []struct {
		name      string
		skipQuiet bool
		want      string
		wantPosts int
	}{
		{"posts a short all-quiet digest", false, "posted", 1},
		{"or nothing when configured so", true, "skipped_quiet", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			store := newMemOnce(func() time.Time { return fixtureFire })
			s := dailyParis(t, "quiet")
			s.SkipQuiet = tc.skipQuiet
			a := newReplica(t, store, []Schedule{s}, &builds{quiet: true})
			b := newReplica(t, store, []Schedule{s}, &builds{quiet: true})
			if got := outcomes(a.s.Tick(t.Context(), fixtureFire)); got != tc.want {
				t.Fatalf("outcome %q, want %q", got, tc.want)
			}
			if got := outcomes(b.s.Tick(t.Context(), fixtureFire.Add(time.Minute))); got != "already_posted" {
				t.Errorf("other replica: %q, want already_posted", got)
			}
			posts := a.poster.all()
			if len(posts) != tc.wantPosts {
				t.Fatalf("%d posts, want %d", len(posts), tc.wantPosts)
			}
			if tc.wantPosts > 0 {
				if !strings.Contains(posts[0].Text, "all quiet") || posts[0].Chart != nil || posts[0].Channel != "C0DIGEST" {
					t.Errorf("quiet post = %+v, want an all-quiet text to C0DIGEST without a chart", posts[0])
				}
			}
		})
	}
}

func TestFailures(t *testing.T) {
	t.Run("a build failure releases the fire for a retry", func(t *testing.T) {
		store := newMemOnce(func() time.Time { return fixtureFire })
		r := newReplica(t, store, []Schedule{dailyParis(t, "f")}, &builds{fail: func(n int) error {
			if n == 1 {
				return errBoom
			}
			return nil
		}})
		res := r.s.Tick(t.Context(), fixtureFire)
		if len(res) != 1 || res[0].Outcome != Failed || !strings.Contains(res[0].Err.Error(), "boom") {
			t.Fatalf("first tick: %+v, want a failed build", res)
		}
		if len(store.forgot) != 1 {
			t.Errorf("claim not released: forgot %q", store.forgot)
		}
		if got := outcomes(r.s.Tick(t.Context(), fixtureFire.Add(time.Minute))); got != "" {
			t.Errorf("tick before the retry delay: %q, want nothing", got)
		}
		if got := outcomes(r.s.Tick(t.Context(), fixtureFire.Add(5*time.Minute))); got != "posted" {
			t.Errorf("tick after the retry delay: %q, want posted", got)
		}
	})
	t.Run("a panic is a failure, not a crash", func(t *testing.T) {
		store := newMemOnce(func() time.Time { return fixtureFire })
		r := newReplica(t, store, []Schedule{dailyParis(t, "p")}, &builds{panic: true})
		res := r.s.Tick(t.Context(), fixtureFire)
		if len(res) != 1 || res[0].Outcome != Failed || !strings.Contains(res[0].Err.Error(), "panic: build exploded") {
			t.Fatalf("tick: %+v, want a failure naming the panic", res)
		}
		if len(store.forgot) != 1 {
			t.Errorf("claim not released after a panic: forgot %q", store.forgot)
		}
	})
	t.Run("a post failure is not retried", func(t *testing.T) {
		store := newMemOnce(func() time.Time { return fixtureFire })
		sched := []Schedule{dailyParis(t, "q")}
		r := newReplica(t, store, sched, nil)
		r.poster.err = errBoom
		if got := outcomes(r.s.Tick(t.Context(), fixtureFire)); !strings.HasPrefix(got, "failed,post digest q to C0DIGEST: boom") {
			t.Fatalf("tick: %q, want a failed post", got)
		}
		r.poster.err = nil
		other := newReplica(t, store, sched, nil)
		got := outcomes(r.s.Tick(t.Context(), fixtureFire.Add(10*time.Minute))) + "/" + outcomes(other.s.Tick(t.Context(), fixtureFire.Add(10*time.Minute)))
		if got != "/already_posted" || len(store.forgot) != 0 {
			t.Errorf("after a failed post: %q, forgot %q; want no second attempt anywhere", got, store.forgot)
		}
	})
	t.Run("a store failure is retried while the grace lasts", func(t *testing.T) {
		store := newMemOnce(func() time.Time { return fixtureFire })
		store.err = errBoom
		r := newReplica(t, store, []Schedule{dailyParis(t, "s")}, nil)
		if got := outcomes(r.s.Tick(t.Context(), fixtureFire)); !strings.HasPrefix(got, "failed,claim digest s") {
			t.Fatalf("tick: %q, want a failed claim", got)
		}
		store.mu.Lock()
		store.err = nil
		store.mu.Unlock()
		if got := outcomes(r.s.Tick(t.Context(), fixtureFire.Add(6*time.Minute))); got != "posted" {
			t.Errorf("tick with the store back: %q, want posted", got)
		}
	})
}

func TestNewSchedulerChecksOptions(t *testing.T) {
	good := dailyParis(t, "a")
	unparsed := Schedule{Name: "raw", Channel: "C", Spec: "0 9 * * *"}
	_, err := NewScheduler(SchedulerOptions{Schedules: []Schedule{good, good, unparsed, {Spec: "x"}}})
	if err == nil {
		t.Fatal("NewScheduler accepted bad options")
	}
	for _, want := range []string{`"a": the name is used twice`, `"raw": not built by ParseSchedule`, "schedule 3: a name is required", "a store is required", "a build function is required", "a poster is required"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func ExampleParseSchedule() {
	s, err := ParseSchedule("0 9 * * MON-FRI", "Europe/Paris")
	if err != nil {
		panic(err)
	}
	s.Name, s.Channel = "weekday-digest", "C0123"
	fmt.Println(s.Next(time.Date(2026, 3, 6, 12, 0, 0, 0, time.UTC)).In(s.Location()).Format(time.RFC1123))
	// Output: Mon, 09 Mar 2026 09:00:00 CET
}
