package langfuse

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/oncall-copilot/oncall-copilot/retry"
)

// rateGate holds every request of a client back once Langfuse answered
// one with 429 and a Retry-After: the requests in flight beside it would
// meet the same limit, and retrying each on its own only spends the next
// minute's allowance sooner. The request that got the 429 is retried by
// retry.Do after the same delay.
type rateGate struct {
	next  http.RoundTripper
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error

	mu    sync.Mutex
	until time.Time
}

func (g *rateGate) RoundTrip(req *http.Request) (*http.Response, error) {
	g.mu.Lock()
	wait := g.until.Sub(g.now())
	g.mu.Unlock()
	if wait > 0 {
		if err := g.sleep(req.Context(), wait); err != nil {
			return nil, err
		}
	}
	resp, err := g.next.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusTooManyRequests {
		if d := retry.RetryAfter(resp.Header.Get("Retry-After")); d > 0 {
			g.mu.Lock()
			if t := g.now().Add(d); t.After(g.until) {
				g.until = t
			}
			g.mu.Unlock()
		}
	}
	return resp, err
}

// gatedClient returns hc (or a new client) with its transport behind a
// rateGate.
func gatedClient(hc *http.Client, now func() time.Time, sleep func(context.Context, time.Duration) error) *http.Client {
	var c http.Client
	if hc != nil {
		c = *hc
	}
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	if sleep == nil {
		sleep = retry.Sleep
	}
	c.Transport = &rateGate{next: next, now: now, sleep: sleep}
	return &c
}
