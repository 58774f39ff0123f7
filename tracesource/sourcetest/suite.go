package sourcetest

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/oncall-copilot/oncall-copilot/retry"
)

// Suite checks how a source copes with a backend that rate-limits, fails,
// rejects credentials, hangs or answers garbage on one endpoint while the
// rest of the fake backend (Happy) answers normally.
type Suite struct {
	// Backend is how the source names itself in errors ("jaeger").
	Backend string
	// Endpoint is how errors name the faulty endpoint ("GET /api/search").
	Endpoint string
	// Match selects the requests that receive the faults.
	Match func(*http.Request) bool
	// Happy is the fake backend answering everything else.
	Happy http.Handler
	// New builds the source under test against baseURL.
	New func(t *testing.T, baseURL string, p retry.Policy, timeout time.Duration) Source
	// Call exercises the source so that it reaches Endpoint.
	Call func(ctx context.Context, s Source) error
	// Secrets must never appear in an error.
	Secrets []string
}

// Run runs the failure cases as subtests.
func (s Suite) Run(t *testing.T) {
	t.Helper()
	rejected := `{"message":"Invalid credentials. Confirm that you've configured the correct host."}`
	cases := []struct {
		name     string
		faults   []Fault
		attempts int
		timeout  time.Duration
		wantErr  bool
		wantHits int
		check    func(t *testing.T, err error, sleeps []time.Duration)
	}{
		{
			name:     "rate limited then served after Retry-After",
			faults:   []Fault{{Status: http.StatusTooManyRequests, Header: map[string]string{"Retry-After": "7"}, Body: `{"message":"rate limit exceeded"}`}},
			attempts: 3, wantHits: 2,
			check: func(t *testing.T, _ error, sleeps []time.Duration) {
				if len(sleeps) == 0 || sleeps[0] < 7*time.Second {
					t.Errorf("slept %v before retrying, want at least the 7s Retry-After", sleeps)
				}
			},
		},
		{
			name:     "server errors then served",
			faults:   []Fault{{Status: http.StatusServiceUnavailable}, {Status: http.StatusBadGateway, Body: "<html>bad gateway</html>"}},
			attempts: 4, wantHits: 3,
		},
		{
			name:     "unauthorized is not retried",
			faults:   []Fault{{Status: http.StatusUnauthorized, Body: rejected}, {Status: http.StatusUnauthorized}},
			attempts: 4, wantErr: true, wantHits: 1,
			check: credentialsRejected(http.StatusUnauthorized),
		},
		{
			name:     "forbidden is not retried",
			faults:   []Fault{{Status: http.StatusForbidden, Body: rejected}, {Status: http.StatusForbidden}},
			attempts: 4, wantErr: true, wantHits: 1,
			check: credentialsRejected(http.StatusForbidden),
		},
		{
			name:     "timeouts are retried then reported",
			faults:   []Fault{{Hang: true}, {Hang: true}, {Hang: true}},
			attempts: 3, timeout: 150 * time.Millisecond, wantErr: true, wantHits: 3,
			check: func(t *testing.T, err error, _ []time.Duration) {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("err = %v, want a deadline exceeded", err)
				}
			},
		},
		{
			name:     "malformed body is reported",
			faults:   []Fault{{Body: "<html><body>Sign in</body></html>"}},
			attempts: 3, wantErr: true, wantHits: 1,
			check: mentions("decode"),
		},
		{
			name:     "truncated JSON is reported",
			faults:   []Fault{{Body: `{"data":[{"traces":[{"resourceSpans":[{"id":"0af7651916cd43dd8448eb211c80319c","na`}},
			attempts: 3, wantErr: true, wantHits: 1,
			check: mentions("decode"),
		},
		{
			name:     "dropped connection is retried",
			faults:   []Fault{{Cut: true, Body: `{"data":[`}},
			attempts: 3, wantHits: 2,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			faults := &Faults{Next: s.Happy, Match: s.Match}
			faults.Plan(tc.faults...)
			srv := httptest.NewServer(faults)
			defer srv.Close()
			p, sleeps := Policy(tc.attempts)
			timeout := tc.timeout
			if timeout == 0 {
				timeout = 10 * time.Second
			}
			src := s.New(t, srv.URL, p, timeout)
			err := s.Call(context.Background(), src)
			switch {
			case tc.wantErr && err == nil:
				t.Fatalf("no error, want one")
			case !tc.wantErr && err != nil:
				t.Fatalf("err = %v, want success", err)
			}
			if got := faults.Hits(); got != tc.wantHits {
				t.Errorf("%s received %d requests, want %d", s.Endpoint, got, tc.wantHits)
			}
			if err != nil {
				msg := err.Error()
				for _, want := range []string{s.Backend, s.Endpoint} {
					if !strings.Contains(msg, want) {
						t.Errorf("err = %q, want it to name %q", msg, want)
					}
				}
				for _, secret := range s.Secrets {
					if secret != "" && strings.Contains(msg, secret) {
						t.Errorf("err = %q reveals a secret", msg)
					}
				}
				if strings.Contains(msg, srv.URL) {
					t.Errorf("err = %q contains the full URL, want the endpoint only", msg)
				}
			}
			if tc.check != nil {
				tc.check(t, err, sleeps.All())
			}
		})
	}
}

func credentialsRejected(status int) func(t *testing.T, err error, _ []time.Duration) {
	return func(t *testing.T, err error, _ []time.Duration) {
		t.Helper()
		var he *retry.HTTPError
		if !errors.As(err, &he) || he.StatusCode != status {
			t.Errorf("err = %v, want a *retry.HTTPError with status %d", err, status)
		}
		if !strings.Contains(err.Error(), "credentials rejected") {
			t.Errorf("err = %q, want it to say the credentials were rejected", err)
		}
	}
}

func mentions(word string) func(t *testing.T, err error, _ []time.Duration) {
	return func(t *testing.T, err error, _ []time.Duration) {
		t.Helper()
		if !strings.Contains(err.Error(), word) {
			t.Errorf("err = %q, want it to mention %q", err, word)
		}
	}
}
