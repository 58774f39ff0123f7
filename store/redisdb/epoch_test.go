package redisdb_test

import (
	"context"
	"errors"
	"github.com/oncall-copilot/oncall-copilot/internal/testenv"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/store/redisdb"
	"github.com/oncall-copilot/oncall-copilot/store/storetest"
)

// privateRedis starts a redis-server of the test's own with args, on a
// free port, and returns its URL. Configurations the shared test server
// cannot take (no persistence, CONFIG disabled as on managed Redis) are
// tested on such servers.
func privateRedis(t *testing.T, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		testenv.Missing(t, os.Getenv, "redis-server is not installed; ./scripts/test.sh installs it")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	cmd := exec.Command(bin, append([]string{"--port", port, "--bind", "127.0.0.1", "--dir", t.TempDir(), "--protected-mode", "no"}, args...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	url := "redis://127.0.0.1:" + port + "/0"
	opts, _ := redis.ParseURL(url)
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	for range 200 {
		if rdb.Ping(context.Background()).Err() == nil {
			return url
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("private redis-server on %s did not start", port)
	return ""
}

func TestPersistenceCheck(t *testing.T) {
	t.Parallel()
	noConfig := []string{"--rename-command", "CONFIG", ""}
	tests := []struct {
		name        string
		args        []string
		wantKnown   bool
		wantDurable bool
		wantRefused bool // Open with RequirePersistence fails
	}{
		{"append-only file", []string{"--appendonly", "yes", "--save", ""}, true, true, false},
		{"snapshots only", []string{"--appendonly", "no", "--save", "60 1"}, true, true, false},
		{"nothing", []string{"--appendonly", "no", "--save", ""}, true, false, true},
		{"CONFIG refused, AOF on", append([]string{"--appendonly", "yes", "--save", ""}, noConfig...), true, true, false},
		{"CONFIG refused, nothing to go by", append([]string{"--appendonly", "no", "--save", ""}, noConfig...), false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url := privateRedis(t, tt.args...)
			s := open(t, redisdb.Options{URL: url})
			p, err := s.CheckPersistence(t.Context())
			if err != nil {
				t.Fatalf("CheckPersistence: %v", err)
			}
			if p.Known != tt.wantKnown || p.Durable() != tt.wantDurable {
				t.Errorf("persistence = %+v (durable %v), want known %v durable %v", p, p.Durable(), tt.wantKnown, tt.wantDurable)
			}
			if !p.Known && !strings.Contains(p.Why, "CONFIG refused") {
				t.Errorf("unknown persistence says %q, want it to say CONFIG was refused", p.Why)
			}
			_, err = redisdb.Open(t.Context(), redisdb.Options{URL: url, RequirePersistence: true})
			if got := errors.Is(err, redisdb.ErrNotPersistent); got != tt.wantRefused {
				t.Errorf("Open requiring persistence = %v, want refused %v", err, tt.wantRefused)
			}
		})
	}
}

func TestEpochNoticesLostData(t *testing.T) {
	rdb := server(t)
	p := prefix(t, rdb)
	clock := storetest.NewClock()
	var (
		mu    sync.Mutex
		calls []time.Time
	)
	onLoss := func(at time.Time) { mu.Lock(); calls = append(calls, at); mu.Unlock() }
	a := open(t, redisdb.Options{Prefix: p, Now: clock.Now, OnDataLoss: onLoss})
	b := open(t, redisdb.Options{Prefix: p, Now: clock.Now})
	ctx := t.Context()
	for _, s := range []*redisdb.Store{a, b} {
		if lost, err := s.CheckEpoch(ctx); err != nil || lost {
			t.Fatalf("CheckEpoch on an intact server = %v, %v; want no loss", lost, err)
		}
	}

	// The server forgets everything, as after a restart without
	// persistence.
	if err := deleteKeys(ctx, rdb, p); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	for name, s := range map[string]*redisdb.Store{"a": a, "b": b} {
		lost, err := s.CheckEpoch(ctx)
		if err != nil || !lost {
			t.Fatalf("%s: CheckEpoch after the data went = %v, %v; want a loss", name, lost, err)
		}
		if !s.DataLostAt().Equal(clock.Now()) || s.DataLosses() != 1 {
			t.Errorf("%s: lost at %v (%d losses), want %v (1)", name, s.DataLostAt(), s.DataLosses(), clock.Now())
		}
		if lost, err := s.CheckEpoch(ctx); err != nil || lost {
			t.Errorf("%s: second CheckEpoch = %v, %v; want the loss reported once", name, lost, err)
		}
	}
	if len(calls) != 1 {
		t.Errorf("OnDataLoss called %d times, want once", len(calls))
	}
	// The queue works again.
	if err := a.Enqueue(ctx, oncall.Job{ID: "after", Kind: oncall.JobAlert}); err != nil {
		t.Fatalf("Enqueue after the loss: %v", err)
	}
	// A replica that starts afterwards learns of the loss from the record.
	c := open(t, redisdb.Options{Prefix: p, Now: clock.Now})
	if c.DataLostAt().IsZero() {
		t.Error("a store opened after the loss does not know of it")
	}
}
