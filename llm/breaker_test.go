package llm

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/llm/llmtest"
)

// breakerClock is a clock moved by hand.
type breakerClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *breakerClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *breakerClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var hello = oncall.ChatRequest{Messages: []oncall.ChatMessage{{Role: oncall.RoleUser, Content: "hello"}}}

func TestBreakerOpensAfterConsecutiveFailures(t *testing.T) {
	tests := []struct {
		name     string
		failure  llmtest.Reply
		counts   bool // whether the failure opens the circuit
		attempts int  // requests one failed call makes
	}{
		{"rate limited", llmtest.Status(http.StatusTooManyRequests, "", "slow down"), true, 3},
		{"server error", llmtest.Status(http.StatusInternalServerError, "", "boom"), true, 3},
		{"unavailable", llmtest.Status(http.StatusServiceUnavailable, "", "overloaded"), true, 3},
		{"credentials rejected", llmtest.Status(http.StatusUnauthorized, "", "bad key"), true, 1},
		{"request refused on its merits", llmtest.Status(http.StatusBadRequest, "", "context too long"), false, 1},
		{"unknown model", llmtest.Status(http.StatusNotFound, "", "no such model"), false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := llmtest.NewServer(t)
			clock := &breakerClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
			c, _ := newClient(t, srv.URL, Options{Breaker: Breaker{Failures: 2, Cooldown: time.Minute, Now: clock.Now}})
			srv.Handle(func(llmtest.Request) llmtest.Reply { return tt.failure })

			for i := range 2 {
				if _, err := c.Chat(context.Background(), hello); err == nil || errors.Is(err, ErrCircuitOpen) {
					t.Fatalf("call %d: want the server's failure, got %v", i+1, err)
				}
			}
			if got := len(srv.Requests()); got != 2*tt.attempts {
				t.Fatalf("two failed calls made %d requests, want %d", got, 2*tt.attempts)
			}
			_, err := c.Chat(context.Background(), hello)
			if got := errors.Is(err, ErrCircuitOpen); got != tt.counts {
				t.Fatalf("third call: circuit open = %v, want %v (err %v)", got, tt.counts, err)
			}
			if tt.counts {
				if len(srv.Requests()) != 2*tt.attempts {
					t.Errorf("an open circuit still sent a request")
				}
				if strings.Contains(err.Error(), testKey) {
					t.Errorf("the error carries the API key: %v", err)
				}
			}
		})
	}
}

func TestBreakerProbesAfterCooldown(t *testing.T) {
	srv := llmtest.NewServer(t)
	clock := &breakerClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	c, _ := newClient(t, srv.URL, Options{Breaker: Breaker{Failures: 1, Cooldown: time.Minute, Now: clock.Now}})
	fail := llmtest.Status(http.StatusInternalServerError, "", "boom")

	srv.Enqueue(fail, fail, fail) // one call, three attempts
	if _, err := c.Chat(context.Background(), hello); err == nil {
		t.Fatal("want a failure")
	}
	clock.Advance(59 * time.Second)
	if _, err := c.Chat(context.Background(), hello); !errors.Is(err, ErrCircuitOpen) {
		t.Fatalf("before the cool-down: want ErrCircuitOpen, got %v", err)
	}

	// The probe fails: open for another cool-down, probed with one try
	// of the retry budget's worth.
	clock.Advance(time.Second)
	srv.Enqueue(fail, fail, fail)
	if _, err := c.Chat(context.Background(), hello); err == nil || errors.Is(err, ErrCircuitOpen) {
		t.Fatalf("probe: want the server's failure, got %v", err)
	}
	if _, err := c.Chat(context.Background(), hello); !errors.Is(err, ErrCircuitOpen) {
		t.Fatalf("after a failed probe: want ErrCircuitOpen, got %v", err)
	}

	// The next probe succeeds: closed again.
	clock.Advance(time.Minute)
	srv.Enqueue(llmtest.Text("ok"), llmtest.Text("again"))
	for i, want := range []string{"ok", "again"} {
		resp, err := c.Chat(context.Background(), hello)
		if err != nil || resp.Content != want {
			t.Fatalf("call %d after recovery: %q, %v", i+1, resp.Content, err)
		}
	}
	if got := len(srv.Requests()); got != 8 {
		t.Errorf("requests = %d, want 8 (3 + 3 probe attempts + 2)", got)
	}
}

func TestBreakerLetsOneProbeThrough(t *testing.T) {
	clock := &breakerClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	c := newCircuit(Breaker{Failures: 1, Cooldown: time.Minute, Now: clock.Now})
	adm, err := c.admit()
	if err != nil {
		t.Fatal(err)
	}
	adm.done(context.Background(), errors.New("connection refused"))
	clock.Advance(time.Minute)
	probe, err := c.admit()
	if err != nil || !probe.probe {
		t.Fatalf("after the cool-down: want a probe, got %+v, %v", probe, err)
	}
	if _, err := c.admit(); !errors.Is(err, ErrCircuitOpen) {
		t.Fatalf("while the probe runs: want ErrCircuitOpen, got %v", err)
	}
	// A probe its caller cancelled says nothing: the next call probes.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	probe.done(ctx, context.Canceled)
	if next, err := c.admit(); err != nil || !next.probe {
		t.Fatalf("after a cancelled probe: want another probe, got %+v, %v", next, err)
	}
}

func TestBreakerStopsRetriesOnceOpen(t *testing.T) {
	srv := llmtest.NewServer(t)
	fail := llmtest.Status(http.StatusBadGateway, "", "bad gateway")
	srv.Enqueue(fail, fail, fail)
	clock := &breakerClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	c, _ := newClient(t, srv.URL, Options{Breaker: Breaker{Failures: 3, Cooldown: time.Minute, Now: clock.Now}})
	// Other calls open the circuit while this one waits to try again.
	c.retry.Sleep = func(context.Context, time.Duration) error {
		c.circuit.mu.Lock()
		c.circuit.openUntil = clock.Now().Add(time.Minute)
		c.circuit.mu.Unlock()
		return nil
	}
	_, err := c.Chat(context.Background(), hello)
	if !errors.Is(err, ErrCircuitOpen) {
		t.Fatalf("want ErrCircuitOpen, got %v", err)
	}
	if got := len(srv.Requests()); got != 1 {
		t.Errorf("requests = %d, want 1: the retries should have stopped", got)
	}
}

func TestBreakerOff(t *testing.T) {
	srv := llmtest.NewServer(t)
	srv.Handle(func(llmtest.Request) llmtest.Reply { return llmtest.Status(http.StatusInternalServerError, "", "boom") })
	c, _ := newClient(t, srv.URL, Options{Breaker: Breaker{Failures: -1}})
	for i := range 8 {
		if _, err := c.Chat(context.Background(), hello); errors.Is(err, ErrCircuitOpen) {
			t.Fatalf("call %d: the breaker is off but opened", i+1)
		}
	}
	if _, err := New(Options{Model: "m", Breaker: Breaker{Cooldown: -time.Second}}); err == nil {
		t.Error("a negative cool-down was accepted")
	}
}
