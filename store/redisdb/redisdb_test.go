package redisdb_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/internal/testenv"
	"github.com/oncall-copilot/oncall-copilot/store/redisdb"
	"github.com/oncall-copilot/oncall-copilot/store/storetest"
	"github.com/redis/go-redis/v9"
)

// testReclaimIdle is short so reclaim tests, which wait on the server's
// idle clock, finish in about a second; long enough that a busy machine
// does not reclaim a delivery its consumer is about to ack.
const testReclaimIdle = time.Second

func redisURL() string {
	if u := os.Getenv("REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/15"
}

// server returns a client for the test Redis. Without a server the test
// fails under CI and is skipped elsewhere.
func server(tb testing.TB) *redis.Client {
	tb.Helper()
	opts, err := redis.ParseURL(redisURL())
	if err != nil {
		tb.Fatalf("REDIS_URL: %v", err)
	}
	rdb := redis.NewClient(opts)
	tb.Cleanup(func() { rdb.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		testenv.Missing(tb, os.Getenv, "redis at %s unreachable: %v", opts.Addr, err)
	}
	return rdb
}

// prefix returns a key prefix of the test's own and deletes its keys at
// cleanup.
func prefix(tb testing.TB, rdb *redis.Client) string {
	tb.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	p := "oncall-test:" + hex.EncodeToString(b) + ":"
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := deleteKeys(ctx, rdb, p); err != nil {
			tb.Errorf("delete test keys %s*: %v", p, err)
		}
	})
	return p
}

func keysUnder(ctx context.Context, rdb *redis.Client, p string) ([]string, error) {
	var out []string
	iter := rdb.Scan(ctx, 0, p+"*", 500).Iterator()
	for iter.Next(ctx) {
		out = append(out, iter.Val())
	}
	return out, iter.Err()
}

func deleteKeys(ctx context.Context, rdb *redis.Client, p string) error {
	keys, err := keysUnder(ctx, rdb, p)
	if err != nil || len(keys) == 0 {
		return err
	}
	return rdb.Del(ctx, keys...).Err()
}

func open(tb testing.TB, opts redisdb.Options) *redisdb.Store {
	tb.Helper()
	if opts.URL == "" {
		opts.URL = redisURL()
	}
	s, err := redisdb.Open(tb.Context(), opts)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestContract(t *testing.T) {
	rdb := server(t)
	storetest.Run(t, func(t *testing.T) storetest.Store {
		clock := storetest.NewClock()
		s := open(t, redisdb.Options{Prefix: prefix(t, rdb), Now: clock.Now, ReclaimIdle: testReclaimIdle})
		return storetest.WithClock(s, clock)
	})
}

func TestOpenValidates(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts redisdb.Options
		want string
	}{
		{"no url", redisdb.Options{}, "url is required"},
		{"wrong scheme", redisdb.Options{URL: "http://127.0.0.1:6379"}, "invalid URL scheme"},
		{"negative reclaim idle", redisdb.Options{URL: "redis://127.0.0.1", ReclaimIdle: -time.Second}, "reclaim idle -1s is negative"},
		{"sub-millisecond reclaim idle", redisdb.Options{URL: "redis://127.0.0.1", ReclaimIdle: time.Microsecond}, "millisecond"},
		{"every problem at once", redisdb.Options{ReclaimIdle: -1, PollInterval: -1}, "url is required\nreclaim idle -1ns is negative\npoll interval -1ns is negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := redisdb.Open(t.Context(), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestOpenErrorsHideCredentials(t *testing.T) {
	for _, tc := range []struct {
		name string
		url  string
	}{
		{"unreachable", "redis://admin:hunter2@127.0.0.1:1/0"},
		{"malformed port", "redis://admin:hunter2@127.0.0.1:port/0"},
		{"bad database", "redis://admin:hunter2@127.0.0.1:6379/db"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			_, err := redisdb.Open(ctx, redisdb.Options{URL: tc.url})
			if err == nil {
				t.Fatal("Open succeeded, want an error")
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error %q shows the password", err)
			}
		})
	}
}

// TestReplicasShareState opens a second store on the same prefix, as a
// second replica would, and checks it sees and takes over the first one's
// state.
func TestReplicasShareState(t *testing.T) {
	rdb := server(t)
	ctx := t.Context()
	clock := storetest.NewClock()
	opts := redisdb.Options{Prefix: prefix(t, rdb), Now: clock.Now, ReclaimIdle: testReclaimIdle}
	a, b := open(t, opts), open(t, opts)

	if err := a.Enqueue(ctx, oncall.Job{ID: "j1", Kind: oncall.JobAlert}); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	inc := oncall.Incident{Key: "inc", Channel: "C1", ThreadTS: "1.2", Fires: 1}
	if _, _, err := a.CreateIncident(ctx, inc); err != nil {
		t.Fatalf("CreateIncident: %v", err)
	}
	if _, err := a.Once(ctx, "event", time.Hour); err != nil {
		t.Fatalf("Once: %v", err)
	}

	d, err := b.Dequeue(ctx, "replica-b", time.Second)
	if err != nil || d == nil || d.Job.ID != "j1" {
		t.Fatalf("replica b Dequeue = %+v, %v; want j1", d, err)
	}
	if err := a.Ack(ctx, *d); err != nil {
		t.Fatalf("replica a Ack of b's delivery: %v", err)
	}
	if st, err := b.QueueStats(ctx); err != nil || st != (oncall.QueueStats{}) {
		t.Errorf("QueueStats after ack = %+v, %v; want empty", st, err)
	}
	if _, created, err := b.CreateIncident(ctx, inc); err != nil || created {
		t.Errorf("replica b CreateIncident = created %v, %v; want the existing incident", created, err)
	}
	if got, err := b.IncidentByThread(ctx, "C1", "1.2"); err != nil || got.Key != "inc" {
		t.Errorf("replica b IncidentByThread = %+v, %v", got, err)
	}
	if first, err := b.Once(ctx, "event", time.Hour); err != nil || first {
		t.Errorf("replica b Once = %v, %v; want false", first, err)
	}
}

// TestKeysStayUnderPrefix checks that nothing lands outside the prefix, so
// deployments sharing a server stay apart.
func TestKeysStayUnderPrefix(t *testing.T) {
	rdb := server(t)
	ctx := t.Context()
	p := prefix(t, rdb)
	s := open(t, redisdb.Options{Prefix: p})
	for _, id := range []string{"a", "b", "c"} {
		if err := s.Enqueue(ctx, oncall.Job{ID: id, Kind: oncall.JobAlert}); err != nil {
			t.Fatalf("Enqueue: %v", err)
		}
	}
	a, _ := s.Dequeue(ctx, "w", time.Second)
	b, _ := s.Dequeue(ctx, "w", time.Second)
	if a == nil || b == nil {
		t.Fatal("Dequeue returned nothing")
	}
	if err := s.Retry(ctx, *a, time.Hour, "x"); err != nil {
		t.Fatalf("Retry: %v", err)
	}
	if err := s.DeadLetter(ctx, *b, "x"); err != nil {
		t.Fatalf("DeadLetter: %v", err)
	}
	if _, _, err := s.CreateIncident(ctx, oncall.Incident{Key: "k", Channel: "C", ThreadTS: "1"}); err != nil {
		t.Fatalf("CreateIncident: %v", err)
	}
	if _, err := s.Once(ctx, "o", time.Hour); err != nil {
		t.Fatalf("Once: %v", err)
	}
	if _, err := s.JoinBurst(ctx, "b", "m", time.Now(), time.Hour, 0); err != nil {
		t.Fatalf("JoinBurst: %v", err)
	}

	want := map[string]bool{
		p + "jobs": true, p + "jobs:delayed": true, p + "jobs:dead": true, p + "incident:k": true,
		p + "incidents:updated": true, p + "incidents:threads": true, p + "once:o": true,
		p + "epoch": true, p + "burst:b": true, p + "burst:b:current": true,
	}
	got, err := keysUnder(ctx, rdb, p)
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	for _, k := range got {
		if !want[k] {
			t.Errorf("unexpected key %s", k)
		}
		delete(want, k)
	}
	for k := range want {
		t.Errorf("missing key %s", k)
	}
}

// TestLostStreamRecovers deletes the jobs stream under a running store, as
// an operator's FLUSH or DEL might, and checks the queue works again.
func TestLostStreamRecovers(t *testing.T) {
	rdb := server(t)
	ctx := t.Context()
	p := prefix(t, rdb)
	s := open(t, redisdb.Options{Prefix: p})
	if err := rdb.Del(ctx, p+"jobs").Err(); err != nil {
		t.Fatalf("del: %v", err)
	}
	if st, err := s.QueueStats(ctx); err != nil || st != (oncall.QueueStats{}) {
		t.Fatalf("QueueStats = %+v, %v; want empty", st, err)
	}
	if err := s.Enqueue(ctx, oncall.Job{ID: "after", Kind: oncall.JobAlert}); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	if err := rdb.XGroupDestroy(ctx, p+"jobs", "workers").Err(); err != nil {
		t.Fatalf("destroy group: %v", err)
	}
	var got *oncall.Delivery
	for range 3 {
		d, err := s.Dequeue(ctx, "w", 100*time.Millisecond)
		if err != nil {
			t.Fatalf("Dequeue: %v", err)
		}
		if d != nil {
			got = d
			break
		}
	}
	if got == nil || got.Job.ID != "after" {
		t.Fatalf("Dequeue after the group was lost = %+v, want the job enqueued before", got)
	}
}

func BenchmarkEnqueue(b *testing.B) {
	rdb := server(b)
	s := open(b, redisdb.Options{Prefix: prefix(b, rdb)})
	alerts := []oncall.Alert{{Source: "alertmanager", Name: "AgentErrorRate", GroupKey: "g", Status: oncall.AlertFiring,
		Labels: map[string]string{"service": "support-agent", "severity": "page"}}}
	ctx := b.Context()
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if err := s.Enqueue(ctx, oncall.Job{Kind: oncall.JobAlert, Alerts: alerts, GroupKey: "g"}); err != nil {
				b.Fatalf("Enqueue: %v", err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := s.Enqueue(ctx, oncall.Job{Kind: oncall.JobAlert, Alerts: alerts, GroupKey: "g"}); err != nil {
					b.Errorf("Enqueue: %v", err)
					return
				}
			}
		})
	})
}

// Jobs queued by an earlier version, which wrote each entry with
// encoding/json (sorted label keys, HTML escapes), are delivered after an
// upgrade as they were queued; and what this version writes reads back
// with encoding/json, as an earlier consumer still running during a
// rolling upgrade reads it.
func TestJobsQueuedBeforeAnUpgradeAreDelivered(t *testing.T) {
	rdb := server(t)
	p := prefix(t, rdb)
	s := open(t, redisdb.Options{Prefix: p})
	ctx := t.Context()
	at := time.Date(2026, 12, 8, 3, 0, 0, 5, time.UTC)
	queued := oncall.Job{ID: "earlier-version", Kind: oncall.JobAlert, GroupKey: "g<1>", Route: "default", Channel: "C0BENCH",
		EnqueuedAt: at, Alerts: []oncall.Alert{{Source: "alertmanager", Fingerprint: "f", GroupKey: "g<1>", Status: oncall.AlertFiring,
			Name: "AgentErrorRate", Labels: map[string]string{"b": "2", "a": "1 & <2>"}, StartsAt: at, ReceivedAt: at}}}
	old, err := json.Marshal(queued)
	if err != nil {
		t.Fatal(err)
	}
	if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: p + "jobs", Values: []any{"job", old}}).Err(); err != nil {
		t.Fatal(err)
	}
	d, err := s.Dequeue(ctx, "c1", time.Second)
	if err != nil || d == nil {
		t.Fatalf("Dequeue of a job an earlier version queued = %v, %v", d, err)
	}
	if !reflect.DeepEqual(d.Job, queued) {
		t.Errorf("delivered %+v, queued %+v", d.Job, queued)
	}

	next := queued
	next.ID = "this-version"
	if err := s.Enqueue(ctx, next); err != nil {
		t.Fatal(err)
	}
	entries, err := rdb.XRange(ctx, p+"jobs", "-", "+").Result()
	if err != nil || len(entries) != 2 {
		t.Fatalf("stream entries %v, %v", entries, err)
	}
	var read oncall.Job
	if err := json.Unmarshal([]byte(entries[1].Values["job"].(string)), &read); err != nil {
		t.Fatalf("encoding/json cannot read what Enqueue wrote: %v", err)
	}
	if !reflect.DeepEqual(read, next) {
		t.Errorf("encoding/json read %+v, enqueued %+v", read, next)
	}
}
