package llm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/oncall-copilot/oncall-copilot/retry"
)

// ErrCircuitOpen is returned, wrapped, by Chat while the client's circuit
// breaker is open: the model failed too many calls in a row, and calls
// fail at once until the cool-down has passed. Check with errors.Is.
var ErrCircuitOpen = errors.New("circuit open")

// Breaker configures the circuit breaker of a Client. After Failures
// consecutive failed calls (each after its retries) the circuit opens:
// calls fail fast with ErrCircuitOpen for Cooldown. Then one call is let
// through as a probe; its success closes the circuit, its failure opens it
// for another Cooldown.
//
// Only failures that say the model is unavailable count: rate limits,
// server errors, timeouts, transport failures and rejected credentials.
// A request the server refuses on its merits (400, 404, 422) and a call
// its caller cancelled do not.
type Breaker struct {
	// Failures is how many consecutive failed calls open the circuit;
	// default 5. A negative value turns the breaker off.
	Failures int
	// Cooldown is how long the circuit stays open; default 30s.
	Cooldown time.Duration
	// Now is the breaker's clock; default time.Now.
	Now func() time.Time
}

func (b Breaker) validate() error {
	if b.Cooldown < 0 {
		return errors.New("breaker cool-down must not be negative")
	}
	return nil
}

// circuit is the state of a breaker. It is safe for concurrent use.
type circuit struct {
	threshold int // 0: off
	cooldown  time.Duration
	now       func() time.Time

	mu        sync.Mutex
	failures  int       // consecutive failed calls
	openUntil time.Time // zero while closed
	probing   bool      // a probe call is in flight
}

func newCircuit(b Breaker) *circuit {
	c := &circuit{threshold: b.Failures, cooldown: b.Cooldown, now: b.Now}
	if c.threshold == 0 {
		c.threshold = 5
	}
	if c.threshold < 0 {
		c.threshold = 0
	}
	if c.cooldown == 0 {
		c.cooldown = 30 * time.Second
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c
}

// admission is one call let through the circuit; done records how it
// ended.
type admission struct {
	c     *circuit
	probe bool
}

// admit lets a call through, or returns an error wrapping ErrCircuitOpen.
func (c *circuit) admit() (admission, error) {
	if c.threshold == 0 {
		return admission{}, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.openUntil.IsZero() {
		return admission{c: c}, nil
	}
	if now := c.now(); now.Before(c.openUntil) || c.probing {
		return admission{}, fmt.Errorf("%w after %d consecutive failures; next try after %s",
			ErrCircuitOpen, c.failures, c.openUntil.UTC().Format(time.RFC3339))
	}
	c.probing = true
	return admission{c: c, probe: true}, nil
}

// open reports whether the circuit is open now, for calls already under
// way that are about to try again.
func (c *circuit) open() bool {
	if c.threshold == 0 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.openUntil.IsZero() && c.now().Before(c.openUntil)
}

// done records the outcome of an admitted call.
func (a admission) done(ctx context.Context, err error) {
	c := a.c
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if a.probe {
		c.probing = false
	}
	switch {
	case err == nil:
		c.failures, c.openUntil = 0, time.Time{}
	case ctx.Err() != nil || !unavailable(err):
		// Says nothing about the model's health.
	default:
		c.failures++
		if a.probe || c.failures >= c.threshold {
			c.openUntil = c.now().Add(c.cooldown)
		}
	}
}

// unavailable reports whether a failed call says the model cannot be
// used right now, rather than that this request was wrong.
func unavailable(err error) bool {
	if errors.Is(err, ErrCircuitOpen) {
		return false
	}
	var herr *retry.HTTPError
	if errors.As(err, &herr) {
		switch code := herr.StatusCode; {
		case code == http.StatusTooManyRequests, code == http.StatusRequestTimeout, code >= 500,
			code == http.StatusUnauthorized, code == http.StatusForbidden:
			return true
		default:
			return false
		}
	}
	return true // timeouts, refused connections, unreadable answers
}
