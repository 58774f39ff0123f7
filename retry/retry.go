// Package retry is the one place where outbound calls (model, trace store,
// Slack) are retried: exponential backoff with jitter, Retry-After hints,
// and errors that say not to try again.
package retry

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// Policy says how often and how patiently to retry.
type Policy struct {
	Attempts int           // total tries, including the first; at least 1
	Initial  time.Duration // delay after the first failure
	Max      time.Duration // cap on one delay
	// Sleep waits for d or until ctx is done; tests inject an instant one.
	Sleep func(ctx context.Context, d time.Duration) error
}

// DefaultPolicy is the policy for interactive outbound calls. Each call
// returns a fresh value: a caller that adjusts it changes no one else's.
func DefaultPolicy() Policy {
	return Policy{Attempts: 4, Initial: 500 * time.Millisecond, Max: 20 * time.Second}
}

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err was marked Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// AfterError asks for the next try no earlier than After (an HTTP
// Retry-After, say).
type AfterError struct {
	After time.Duration
	Err   error
}

func (e *AfterError) Error() string { return e.Err.Error() }
func (e *AfterError) Unwrap() error { return e.Err }

// After wraps err with a minimum delay before the next try.
func After(d time.Duration, err error) error { return &AfterError{After: d, Err: err} }

// Do calls fn until it succeeds, returns a permanent error, ctx ends or
// the attempts run out. It returns fn's last error; one marked Permanent
// stays marked, so the caller's caller (a worker deciding whether to try
// the job again) sees it too.
func Do(ctx context.Context, p Policy, fn func(ctx context.Context) error) error {
	if p.Attempts < 1 {
		p.Attempts = 1
	}
	sleep := p.Sleep
	if sleep == nil {
		sleep = Sleep
	}
	var err error
	for attempt := 0; attempt < p.Attempts; attempt++ {
		if err = fn(ctx); err == nil {
			return nil
		}
		if IsPermanent(err) {
			return err
		}
		if attempt == p.Attempts-1 || ctx.Err() != nil {
			break
		}
		d := Backoff(p, attempt)
		var after *AfterError
		if errors.As(err, &after) && after.After > d {
			d = after.After
		}
		if serr := sleep(ctx, d); serr != nil {
			return errors.Join(err, serr)
		}
	}
	return err
}

// Backoff is the delay after failed attempt n (0-based): exponential from
// p.Initial, capped at p.Max, with full jitter over its upper half.
func Backoff(p Policy, n int) time.Duration {
	d := p.Initial
	if d <= 0 {
		d = 100 * time.Millisecond
	}
	for i := 0; i < n; i++ {
		d *= 2
		if p.Max > 0 && d >= p.Max {
			d = p.Max
			break
		}
	}
	if p.Max > 0 && d > p.Max {
		d = p.Max
	}
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(half)+1))
}

// Sleep waits for d or until ctx is done.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// HTTPError is an unsuccessful HTTP response, classified for retrying.
type HTTPError struct {
	Service    string // "slack", "langfuse", ...
	Endpoint   string // method and path, never a URL with credentials
	StatusCode int
	Body       string // a short excerpt, for the log
}

func (e *HTTPError) Error() string {
	msg := e.Service + " " + e.Endpoint + ": HTTP " + strconv.Itoa(e.StatusCode)
	switch e.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		msg += " (credentials rejected)"
	case http.StatusTooManyRequests:
		msg += " (rate limited)"
	}
	return msg
}

// CheckResponse turns a non-2xx response into an error that Do treats
// right: 429 and 5xx are retried (honouring Retry-After), other 4xx are
// permanent. The caller still closes resp.Body.
func CheckResponse(service, endpoint string, resp *http.Response, body []byte) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	excerpt := string(body)
	if len(excerpt) > 200 {
		excerpt = excerpt[:200]
	}
	err := &HTTPError{Service: service, Endpoint: endpoint, StatusCode: resp.StatusCode, Body: excerpt}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		if d := RetryAfter(resp.Header.Get("Retry-After")); d > 0 {
			return After(d, err)
		}
		return err
	case resp.StatusCode == http.StatusRequestTimeout:
		return err
	default:
		return Permanent(err)
	}
}

// RetryAfter parses a Retry-After header (seconds or an HTTP date); zero
// when absent or unparseable.
func RetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}
