// Package sourcetest holds what the tests of the HTTP trace sources share:
// an instant retry policy that records the delays it was asked for, a
// handler that injects faults in front of a fake backend, and Suite, which
// checks how a source behaves when its backend rate-limits, fails, rejects
// credentials, hangs or answers garbage.
//
// It is imported by tests only.
package sourcetest

import (
	"context"
	"errors"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/retry"
)

// Source is what every trace source offers.
type Source interface {
	Search(ctx context.Context, q oncall.TraceQuery) (oncall.TraceSearchResult, error)
	Get(ctx context.Context, traceID string) (oncall.Trace, error)
}

// Build returns the source newSource makes from opts and stops the test
// if newSource rejects them.
func Build[O, C any](t *testing.T, newSource func(O) (C, error), opts O) C {
	t.Helper()
	c, err := newSource(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Quick returns p, or Policy(2) when p is zero: tests retry once without
// waiting unless they say otherwise.
func Quick(p retry.Policy) retry.Policy {
	if p.Attempts == 0 {
		p, _ = Policy(2)
	}
	return p
}

// TraceIDs lists the ids of ts in order.
func TraceIDs(ts []oncall.Trace) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.TraceID)
	}
	return out
}

// ServeFile answers with the JSON fixture at path and reports whether it
// exists; when it does not, nothing is written. Other read errors fail the
// test.
func ServeFile(t *testing.T, w http.ResponseWriter, path string) bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false
	}
	if err != nil {
		t.Errorf("read fixture: %v", err)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
	return true
}

// Sleeps records the delays a retry policy was asked to wait. It is safe
// for concurrent use.
type Sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

// All returns the recorded delays in order.
func (s *Sleeps) All() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// Policy returns a retry policy with the given attempts whose sleeps return
// at once, and the record of what it was asked to wait.
func Policy(attempts int) (retry.Policy, *Sleeps) {
	s := &Sleeps{}
	p := retry.Policy{
		Attempts: attempts,
		Initial:  time.Millisecond,
		Max:      10 * time.Millisecond,
		Sleep: func(ctx context.Context, d time.Duration) error {
			s.mu.Lock()
			s.d = append(s.d, d)
			s.mu.Unlock()
			return ctx.Err()
		},
	}
	return p, s
}

// Fault is one injected answer.
type Fault struct {
	Status int
	Header map[string]string
	Body   string
	// Hang blocks until the client gives up on the request.
	Hang bool
	// Cut announces a longer body than it sends, then drops the connection.
	Cut bool
}

// Faults serves the planned faults to the first requests that Match
// accepts, one fault per request, and passes everything else to Next. It
// counts the requests Match accepted. It is safe for concurrent use.
type Faults struct {
	Next  http.Handler
	Match func(*http.Request) bool

	mu   sync.Mutex
	plan []Fault
	hits int
}

// Plan replaces the planned faults.
func (f *Faults) Plan(faults ...Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.plan = faults
	f.hits = 0
}

// Hits counts the matching requests served so far, faulty or not.
func (f *Faults) Hits() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits
}

func (f *Faults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.Match != nil && !f.Match(r) {
		f.Next.ServeHTTP(w, r)
		return
	}
	f.mu.Lock()
	f.hits++
	var fault *Fault
	if len(f.plan) > 0 {
		fault = &f.plan[0]
		f.plan = f.plan[1:]
	}
	f.mu.Unlock()
	if fault == nil {
		f.Next.ServeHTTP(w, r)
		return
	}
	serveFault(w, r, *fault)
}

func serveFault(w http.ResponseWriter, r *http.Request, f Fault) {
	if f.Hang {
		<-r.Context().Done()
		return
	}
	for k, v := range f.Header {
		w.Header().Set(k, v)
	}
	if f.Cut {
		w.Header().Set("Content-Length", "100000")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(f.Body))
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		// The server drops the connection without logging.
		panic(http.ErrAbortHandler)
	}
	status := f.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(f.Body))
}
