package slacktest

import (
	"net/http"
	"net/http/httptest"
	"time"
)

// Pacing makes the server refuse messages to one channel that come
// faster than Slack takes them. Slack's rate-limit documentation
// (api.slack.com/apis/rate-limits, "Posting messages"): "chat.postMessage
// has special rate limiting conditions... it will generally allow an app
// to post 1 message per second to a specific channel, with short bursts
// of more than 1 allowed"; over the limit it answers "a HTTP 429 Too Many
// Requests error, and a Retry-After HTTP header containing the number of
// seconds until you can retry". chat.update is paced the same way here,
// which is stricter than its Tier 3 method limit and keeps the copilot
// honest about edits in a busy channel.
type Pacing struct {
	// Interval is the time one message "costs" in a channel: 1s as
	// Slack documents. Zero turns pacing off.
	Interval time.Duration
	// Burst is how many messages a quiet channel takes at once before
	// the interval applies; at least 1.
	Burst int
	// Now is the pacing clock; time.Now when nil.
	Now func() time.Time
}

// pacedMethods are the methods Pacing applies to.
var pacedMethods = map[string]bool{"chat.postMessage": true, "chat.update": true}

// SetPacing paces chat.postMessage and chat.update per channel as p
// says, from now on. A test that does not call it is not paced, so
// tests that post many messages quickly stay fast.
func (s *Server) SetPacing(p Pacing) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.Burst < 1 {
		p.Burst = 1
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	s.pacing = p
	s.paced = map[string]time.Time{}
}

// RateLimitedCount returns how many calls were refused with HTTP 429.
func (s *Server) RateLimitedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if c.Status == http.StatusTooManyRequests {
			n++
		}
	}
	return n
}

// paceFault returns the 429 for a call over channel's rate, or false
// when the call may go ahead (and is counted). It is a token bucket: a
// channel holds up to Burst messages' worth of credit, refilled at one
// message per Interval. The caller holds s.mu.
func (s *Server) paceFault(method, channel string) (Fault, bool) {
	if s.pacing.Interval <= 0 || !pacedMethods[method] || channel == "" {
		return Fault{}, false
	}
	now := s.pacing.Now()
	// paced[channel] is the time at which the channel's bucket is full
	// again; each message pushes it one Interval later.
	full := s.paced[channel]
	if full.Before(now) {
		full = now
	}
	span := time.Duration(s.pacing.Burst) * s.pacing.Interval
	if next := full.Add(s.pacing.Interval); next.Sub(now) > span {
		wait := next.Sub(now) - span
		// Retry-After is in whole seconds, at least one.
		return RateLimited(max(wait, time.Second)), true
	}
	s.paced[channel] = full.Add(s.pacing.Interval)
	return Fault{}, false
}

// Client returns an HTTP client that hands each request straight to the
// server's handler in the calling goroutine, without a socket: for tests
// under testing/synctest, whose clock stands still while a goroutine
// waits on the network. The wire format is the same as over HTTP.
func (s *Server) Client() *http.Client {
	return &http.Client{Transport: handlerTransport{s.srv.Config.Handler}}
}

type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	res := rec.Result()
	res.Request = r
	return res, nil
}

// callTime is the time a call is recorded at. The caller holds s.mu.
func (s *Server) callTime() time.Time {
	if s.pacing.Now != nil {
		return s.pacing.Now()
	}
	return time.Now()
}
