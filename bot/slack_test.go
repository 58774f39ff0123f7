package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/bot/slacktest"
	"github.com/oncall-copilot/oncall-copilot/retry"
)

// fakeClock is a clock that only moves when something sleeps on it.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slept = append(c.slept, d)
	c.now = c.now.Add(d)
	return nil
}

func (c *fakeClock) Slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}

type fixture struct {
	srv   *slacktest.Server
	bot   *Slack
	clock *fakeClock
	logs  *bytes.Buffer
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	srv := slacktest.NewServer(t)
	clock := &fakeClock{now: t0}
	logs := &bytes.Buffer{}
	b, err := New(Options{
		Token:    slacktest.Token,
		APIURL:   srv.URL,
		Retry:    retry.Policy{Attempts: 4, Initial: time.Second, Max: 10 * time.Second, Sleep: clock.Sleep},
		Now:      clock.Now,
		Sleep:    clock.Sleep,
		Logger:   slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		TraceURL: testTraceURL,
		Redact:   testRedact,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return fixture{srv: srv, bot: b, clock: clock, logs: logs}
}

func blocksJSON(t *testing.T, blocks []slack.Block) string {
	t.Helper()
	b, err := json.Marshal(blocks)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParentThenReportInThread(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	inc := testIncident()
	_, ts, err := f.bot.PostParent(ctx, inc)
	if err != nil {
		t.Fatalf("PostParent: %v", err)
	}
	inc.ThreadTS = ts
	rep := testReport()
	if err := f.bot.PostReport(ctx, inc, rep); err != nil {
		t.Fatalf("PostReport: %v", err)
	}
	if err := f.bot.PostNote(ctx, inc, ":white_check_mark: Resolved after 42m."); err != nil {
		t.Fatalf("PostNote: %v", err)
	}

	msgs := f.srv.Messages()
	if len(msgs) != 3 {
		t.Fatalf("posted %d messages, want parent, report, note", len(msgs))
	}
	parent, report, note := msgs[0], msgs[1], msgs[2]
	if parent.Channel != "C0INCIDENTS" || parent.TS != ts || parent.ThreadTS != "" {
		t.Errorf("parent = %+v, want top-level in C0INCIDENTS with ts %s", parent, ts)
	}
	if string(parent.Blocks) != blocksJSON(t, RenderParent(inc, f.bot.render)) {
		t.Errorf("parent blocks differ from RenderParent:\n%s", parent.Blocks)
	}
	if parent.Text != ParentFallback(inc, f.bot.render) {
		t.Errorf("parent text = %q", parent.Text)
	}
	if report.ThreadTS != ts || note.ThreadTS != ts {
		t.Errorf("replies in threads %q and %q, want %q", report.ThreadTS, note.ThreadTS, ts)
	}
	if string(report.Blocks) != blocksJSON(t, RenderReport(inc, rep, f.bot.render)[0]) {
		t.Errorf("report blocks differ from RenderReport:\n%s", report.Blocks)
	}
	if !strings.Contains(string(note.Blocks), ":white_check_mark: Resolved after 42m.") || note.Text != ":white_check_mark: Resolved after 42m." {
		t.Errorf("note = %q %s", note.Text, note.Blocks)
	}
	for _, m := range msgs {
		for k, want := range map[string]string{"parse": "none", "link_names": "false", "unfurl_links": "false", "unfurl_media": "false"} {
			if got := m.Params.Get(k); got != want {
				t.Errorf("message %s sent %s=%q, want %q", m.TS, k, got, want)
			}
		}
	}
	if strings.Contains(f.logs.String(), slacktest.Token) {
		t.Errorf("the token was logged")
	}
}

func TestUpdateParent(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	inc := testIncident()
	_, ts, err := f.bot.PostParent(ctx, inc)
	if err != nil {
		t.Fatal(err)
	}
	inc.ThreadTS = ts
	inc.TriagedAt = t0.Add(3 * time.Minute)
	inc.Headline = "Search tool timeouts since 09:12."
	if err := f.bot.UpdateParent(ctx, inc); err != nil {
		t.Fatalf("UpdateParent: %v", err)
	}
	inc.Status, inc.ResolvedAt = oncall.IncidentResolved, t0.Add(42*time.Minute)
	if err := f.bot.UpdateParent(ctx, inc); err != nil {
		t.Fatalf("UpdateParent: %v", err)
	}
	ups := f.srv.Updates()
	if len(ups) != 2 {
		t.Fatalf("updates = %d, want 2", len(ups))
	}
	if ups[0].TS != ts || !strings.Contains(ups[0].Text, "triaged") || !strings.Contains(string(ups[0].Blocks), "Search tool timeouts since 09:12.") {
		t.Errorf("first update = %+v", ups[0])
	}
	if !strings.Contains(ups[1].Text, "resolved after 42m") || !strings.HasPrefix(ups[1].Text, "✅") {
		t.Errorf("second update text = %q", ups[1].Text)
	}
	if got := f.srv.Messages(); len(got) != 1 || got[0].Text != ups[1].Text {
		t.Errorf("messages after updates = %+v, want the one parent, updated", got)
	}
	if ups[1].Params.Get("parse") != "none" {
		t.Errorf("update sent parse=%q", ups[1].Params.Get("parse"))
	}
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name       string
		fault      slacktest.Fault
		n          int
		wantErr    bool
		wantCalls  int
		permanent  bool
		wantSleepy time.Duration // a sleep at least this long happened
	}{
		{"429 with retry-after then success", slacktest.RateLimited(7 * time.Second), 1, false, 2, false, 7 * time.Second},
		{"500 burst then success", slacktest.HTTPStatus(http.StatusInternalServerError), 3, false, 4, false, 0},
		{"503 outlasting the attempts", slacktest.HTTPStatus(http.StatusServiceUnavailable), 10, true, 4, false, 0},
		{"transient api error retried", slacktest.APIError("internal_error"), 1, false, 2, false, 0},
		{"channel_not_found not retried", slacktest.APIError("channel_not_found"), 1, true, 1, true, 0},
		{"not_in_channel not retried", slacktest.APIError("not_in_channel"), 1, true, 1, true, 0},
		{"invalid_auth not retried", slacktest.APIError("invalid_auth"), 1, true, 1, true, 0},
		{"404 not retried", slacktest.HTTPStatus(http.StatusNotFound), 1, true, 1, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.srv.Fail("chat.postMessage", tt.n, tt.fault)
			_, ts, err := f.bot.PostParent(context.Background(), testIncident())
			if got := f.srv.CallCount("chat.postMessage"); got != tt.wantCalls {
				t.Errorf("calls = %d, want %d", got, tt.wantCalls)
			}
			msgs := f.srv.Messages()
			if tt.wantErr {
				if err == nil {
					t.Fatalf("PostParent succeeded, want an error")
				}
				if len(msgs) != 0 {
					t.Errorf("messages = %d after a failure", len(msgs))
				}
				if errors.Is(err, ErrPermanent) != tt.permanent {
					t.Errorf("errors.Is(err, ErrPermanent) = %v, want %v (err: %v)", !tt.permanent, tt.permanent, err)
				}
				if strings.Contains(err.Error(), slacktest.Token) {
					t.Errorf("error carries the token: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("PostParent: %v", err)
			}
			if len(msgs) != 1 || msgs[0].TS != ts {
				t.Errorf("messages = %+v, want exactly the one parent with ts %s", msgs, ts)
			}
			if tt.wantSleepy > 0 {
				ok := false
				for _, d := range f.clock.Slept() {
					ok = ok || d >= tt.wantSleepy
				}
				if !ok {
					t.Errorf("slept %v, want a wait of at least %v", f.clock.Slept(), tt.wantSleepy)
				}
			}
		})
	}
}

func TestLongReportPostsRepliesInOrder(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	inc := testIncident()
	_, ts, err := f.bot.PostParent(ctx, inc)
	if err != nil {
		t.Fatal(err)
	}
	inc.ThreadTS = ts
	rep := testReport()
	for i := range 80 {
		rep.Diagnosis.Causes = append(rep.Diagnosis.Causes, oncall.Cause{
			Title: fmt.Sprintf("cause-%02d", i), Confidence: oncall.ConfidenceLow, Detail: strings.Repeat("long detail ", 100),
		})
	}
	// One reply meets a rate limit on the way; nothing may be lost or doubled.
	f.srv.Fail("chat.postMessage", 1, slacktest.RateLimited(2*time.Second))
	if err := f.bot.PostReport(ctx, inc, rep); err != nil {
		t.Fatalf("PostReport: %v", err)
	}
	want := RenderReport(inc, rep, f.bot.render)
	if len(want) < 3 {
		t.Fatalf("test report renders as %d messages, want a long one", len(want))
	}
	replies := f.srv.Replies(inc.Channel, ts)
	if len(replies) != len(want) {
		t.Fatalf("posted %d replies, want %d", len(replies), len(want))
	}
	for i, r := range replies {
		if string(r.Blocks) != blocksJSON(t, want[i]) {
			t.Errorf("reply %d is not part %d of the report", i, i+1)
		}
		if !strings.Contains(string(r.Blocks), fmt.Sprintf("Part %d of %d", i+1, len(want))) {
			t.Errorf("reply %d lacks its part marker", i)
		}
	}
}

func TestPacingPerChannel(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	inc := testIncident()
	other := testIncident()
	other.Channel = "C0OTHER"
	for _, i := range []oncall.Incident{inc, inc, other, inc} {
		if _, _, err := f.bot.PostParent(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	// Three messages to one channel at a standing clock: the second waits
	// 1s, the third 1s more; the other channel does not wait.
	got := f.clock.Slept()
	if len(got) != 2 || got[0] != time.Second || got[1] != time.Second {
		t.Errorf("slept %v, want [1s 1s]", got)
	}
	if n := len(f.srv.Messages()); n != 4 {
		t.Errorf("messages = %d, want 4", n)
	}
}

func TestPostNeedsThread(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	inc := testIncident() // no ThreadTS yet
	tests := []struct {
		name string
		call func() error
	}{
		{"report", func() error { return f.bot.PostReport(ctx, inc, testReport()) }},
		{"note", func() error { return f.bot.PostNote(ctx, inc, "hello") }},
		{"update", func() error { return f.bot.UpdateParent(ctx, inc) }},
		{"parent without channel", func() error {
			i := inc
			i.Channel = ""
			_, _, err := f.bot.PostParent(ctx, i)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, ErrPermanent) {
				t.Errorf("err = %v, want ErrPermanent", err)
			}
		})
	}
	if n := len(f.srv.Calls()); n != 0 {
		t.Errorf("made %d calls to Slack", n)
	}
}

func TestWrongTokenIsPermanentAndNotShown(t *testing.T) {
	srv := slacktest.NewServer(t)
	logs := &bytes.Buffer{}
	const token = "xoxb-1234-wrong-token-value"
	b, err := New(Options{Token: token, APIURL: srv.URL + "/", Logger: slog.New(slog.NewTextHandler(logs, nil)),
		Retry: retry.Policy{Attempts: 3, Sleep: func(context.Context, time.Duration) error { return nil }}})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = b.PostParent(context.Background(), testIncident())
	if !errors.Is(err, ErrPermanent) || !strings.Contains(err.Error(), "invalid_auth") {
		t.Fatalf("err = %v, want permanent invalid_auth", err)
	}
	if strings.Contains(err.Error(), token) || strings.Contains(logs.String(), token) {
		t.Errorf("token shown in the error or the log")
	}
	if !strings.Contains(logs.String(), "invalid_auth") {
		t.Errorf("the failure was not logged:\n%s", logs)
	}
}

func TestNewChecksOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no token", Options{}, "token is required"},
		{"bad url", Options{Token: "x", APIURL: "slack.com/api"}, "api url"},
		{"negative interval", Options{Token: "x", MinInterval: -time.Second}, "min interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one about %q", err, tt.want)
			}
		})
	}
	if _, err := New(Options{Token: "xoxb-ok"}); err != nil {
		t.Errorf("defaults rejected: %v", err)
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassify(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		permanent bool
		after     time.Duration
	}{
		{"rate limited", &slack.RateLimitedError{RetryAfter: 30 * time.Second}, false, 30 * time.Second},
		{"502", slack.StatusCodeError{Code: 502, Status: "502 Bad Gateway"}, false, 0},
		{"403", slack.StatusCodeError{Code: 403, Status: "403 Forbidden"}, true, 0},
		{"timeout", timeoutErr{}, false, 0},
		{"is_archived", slack.SlackErrorResponse{Err: "is_archived"}, true, 0},
		{"unknown api error", slack.SlackErrorResponse{Err: "some_new_error"}, true, 0},
		{"fatal_error", slack.SlackErrorResponse{Err: "fatal_error"}, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := classify("chat.postMessage", tt.err)
			if retry.IsPermanent(err) != tt.permanent {
				t.Errorf("permanent = %v, want %v", !tt.permanent, tt.permanent)
			}
			if errors.Is(err, ErrPermanent) != tt.permanent {
				t.Errorf("errors.Is(ErrPermanent) = %v, want %v", !tt.permanent, tt.permanent)
			}
			var after *retry.AfterError
			if got := errors.As(err, &after); got != (tt.after > 0) || (got && after.After != tt.after) {
				t.Errorf("retry after = %v, want %v", after, tt.after)
			}
			if !wraps(err, tt.err) {
				t.Errorf("classified error %v does not wrap the cause", err)
			}
		})
	}
}

// wraps reports whether target is in err's chain, comparing by value
// representation so uncomparable error types work too.
func wraps(err, target error) bool {
	for err != nil {
		if fmt.Sprintf("%#v", err) == fmt.Sprintf("%#v", target) {
			return true
		}
		err = errors.Unwrap(err)
	}
	return false
}
