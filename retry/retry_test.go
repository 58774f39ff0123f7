package retry

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

func instant(slept *[]time.Duration) func(context.Context, time.Duration) error {
	return func(_ context.Context, d time.Duration) error { *slept = append(*slept, d); return nil }
}

func TestDo(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name      string
		errs      []error
		wantCalls int
		wantErr   error
		minSleep  time.Duration
	}{
		{"succeeds first", []error{nil}, 1, nil, 0},
		{"retries then succeeds", []error{boom, boom, nil}, 3, nil, 0},
		{"gives up after attempts", []error{boom, boom, boom, boom, boom}, 4, boom, 0},
		{"permanent stops at once", []error{Permanent(boom)}, 1, boom, 0},
		{"retry-after is honoured", []error{After(30*time.Second, boom), nil}, 2, nil, 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var slept []time.Duration
			calls := 0
			p := Policy{Attempts: 4, Initial: time.Millisecond, Max: time.Second, Sleep: instant(&slept)}
			err := Do(context.Background(), p, func(context.Context) error {
				e := tt.errs[calls]
				calls++
				return e
			})
			if calls != tt.wantCalls {
				t.Errorf("calls = %d, want %d", calls, tt.wantCalls)
			}
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			// A permanent error stays marked, so that whoever runs the
			// caller (a worker) does not try again either.
			if wantPerm := tt.name == "permanent stops at once"; IsPermanent(err) != wantPerm {
				t.Errorf("IsPermanent(%v) = %v, want %v", err, IsPermanent(err), wantPerm)
			}
			if tt.minSleep > 0 && (len(slept) == 0 || slept[0] < tt.minSleep) {
				t.Errorf("slept %v, want at least %v", slept, tt.minSleep)
			}
		})
	}
}

func TestDoStopsOnContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := Do(ctx, Policy{Attempts: 10, Initial: time.Hour}, func(context.Context) error {
		calls++
		cancel()
		return errors.New("boom")
	})
	if calls != 1 || err == nil {
		t.Fatalf("calls = %d, err = %v; want one call and an error", calls, err)
	}
}

func TestBackoffIsCappedAndGrows(t *testing.T) {
	p := Policy{Initial: 100 * time.Millisecond, Max: time.Second}
	for n := 0; n < 20; n++ {
		d := Backoff(p, n)
		if d > time.Second || d <= 0 {
			t.Fatalf("Backoff(%d) = %v, want in (0, 1s]", n, d)
		}
	}
	if Backoff(p, 0) > 100*time.Millisecond {
		t.Errorf("first backoff above Initial")
	}
	if Backoff(p, 5) < 500*time.Millisecond {
		t.Errorf("sixth backoff should reach the cap's upper half")
	}
}

func TestCheckResponse(t *testing.T) {
	tests := []struct {
		code      int
		header    string
		wantNil   bool
		permanent bool
		after     time.Duration
	}{
		{200, "", true, false, 0},
		{429, "7", false, false, 7 * time.Second},
		{503, "", false, false, 0},
		{401, "", false, true, 0},
		{400, "", false, true, 0},
	}
	for _, tt := range tests {
		resp := &http.Response{StatusCode: tt.code, Header: http.Header{}}
		if tt.header != "" {
			resp.Header.Set("Retry-After", tt.header)
		}
		err := CheckResponse("svc", "GET /x", resp, []byte("body"))
		if (err == nil) != tt.wantNil {
			t.Fatalf("%d: err = %v", tt.code, err)
		}
		if err == nil {
			continue
		}
		if IsPermanent(err) != tt.permanent {
			t.Errorf("%d: permanent = %v, want %v", tt.code, IsPermanent(err), tt.permanent)
		}
		var a *AfterError
		if got := errors.As(err, &a); got != (tt.after > 0) || (got && a.After != tt.after) {
			t.Errorf("%d: after = %v", tt.code, a)
		}
		var h *HTTPError
		if !errors.As(err, &h) || h.StatusCode != tt.code {
			t.Errorf("%d: not an HTTPError: %v", tt.code, err)
		}
	}
}
