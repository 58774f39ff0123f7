package bot

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oncall-copilot/oncall-copilot/bot/slacktest"
)

func TestVerifySignature(t *testing.T) {
	now := time.Unix(1700000000, 0)
	body := []byte(`token=x&team_id=T1&command=%2Foncall&text=status`)
	ts := strconv.FormatInt(now.Unix(), 10)
	header := func(ts, sig string) http.Header {
		h := http.Header{}
		if ts != "" {
			h.Set("X-Slack-Request-Timestamp", ts)
		}
		if sig != "" {
			h.Set("X-Slack-Signature", sig)
		}
		return h
	}
	old := strconv.FormatInt(now.Add(-6*time.Minute).Unix(), 10)
	ahead := strconv.FormatInt(now.Add(6*time.Minute).Unix(), 10)
	edge := strconv.FormatInt(now.Add(-4*time.Minute).Unix(), 10)
	tests := []struct {
		name   string
		secret string
		h      http.Header
		body   []byte
		want   error
	}{
		{"valid", signingSecret, header(ts, slacktest.Sign(signingSecret, ts, body)), body, nil},
		{"valid four minutes old", signingSecret, header(edge, slacktest.Sign(signingSecret, edge, body)), body, nil},
		{"wrong secret", signingSecret, header(ts, slacktest.Sign("another-secret", ts, body)), body, ErrBadSignature},
		{"body changed", signingSecret, header(ts, slacktest.Sign(signingSecret, ts, body)), append(bytes.Clone(body), '1'), ErrBadSignature},
		{"timestamp changed", signingSecret, header(edge, slacktest.Sign(signingSecret, ts, body)), body, ErrBadSignature},
		{"stale timestamp", signingSecret, header(old, slacktest.Sign(signingSecret, old, body)), body, ErrStaleRequest},
		{"timestamp from the future", signingSecret, header(ahead, slacktest.Sign(signingSecret, ahead, body)), body, ErrStaleRequest},
		{"no signature", signingSecret, header(ts, ""), body, ErrBadSignature},
		{"no timestamp", signingSecret, header("", slacktest.Sign(signingSecret, ts, body)), body, ErrBadSignature},
		{"timestamp not a number", signingSecret, header("yesterday", "v0=00"), body, ErrBadSignature},
		{"unknown version", signingSecret, header(ts, strings.Replace(slacktest.Sign(signingSecret, ts, body), "v0=", "v1=", 1)), body, ErrBadSignature},
		{"not hex", signingSecret, header(ts, "v0=zz"), body, ErrBadSignature},
		{"no secret configured", "", header(ts, slacktest.Sign("", ts, body)), body, ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifySignature(tt.secret, tt.h, tt.body, now)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestEndpointsRefuseBadRequests(t *testing.T) {
	h := newHarness(t, nil)
	inc := h.openIncident()
	qts := h.slack.AddReply(inc.Channel, inc.ThreadTS, engineer, "<@U0FAKEBOT> why?")
	event := messageEvent("Ev01", "app_mention", "", engineer, "", "<@U0FAKEBOT> why?", inc.Channel, qts, inc.ThreadTS)
	sign := func(secret string, at time.Time, body []byte) http.Header {
		ts := strconv.FormatInt(at.Unix(), 10)
		return http.Header{"X-Slack-Request-Timestamp": {ts}, "X-Slack-Signature": {slacktest.Sign(secret, ts, body)}}
	}
	tests := []struct {
		name   string
		path   string
		body   []byte
		header http.Header
		status int
	}{
		{"wrong secret", "/slack/events", event, sign("not-the-secret", h.clock.Now(), event), http.StatusUnauthorized},
		{"missing signature", "/slack/events", event, http.Header{"X-Slack-Signature": {""}}, http.StatusUnauthorized},
		{"stale timestamp", "/slack/events", event, sign(signingSecret, h.clock.Now().Add(-10*time.Minute), event), http.StatusUnauthorized},
		{"malformed event", "/slack/events", []byte(`{"type":"event_callback","event":`), nil, http.StatusBadRequest},
		{"event without id", "/slack/events", []byte(`{"type":"event_callback","event":{"type":"app_mention"}}`), nil, http.StatusBadRequest},
		{"interaction without payload", "/slack/interactions", []byte(`foo=bar`), nil, http.StatusBadRequest},
		{"interaction not json", "/slack/interactions", []byte(`payload=%7Bnot`), nil, http.StatusBadRequest},
		{"command without user", "/slack/commands", []byte(`command=%2Foncall&text=status&channel_id=C1`), nil, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := h.send(tt.path, "application/x-www-form-urlencoded", tt.body, tt.header)
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.status == http.StatusBadRequest && resp.Header.Get("X-Slack-No-Retry") != "1" {
				t.Error("a malformed payload does not tell Slack to stop retrying")
			}
			if n := h.queued(); n != 0 {
				t.Errorf("%d jobs queued, want none", n)
			}
		})
	}

	t.Run("replayed request", func(t *testing.T) {
		header := sign(signingSecret, h.clock.Now(), event)
		if resp := h.send("/slack/events", "application/json", event, header); resp.StatusCode != http.StatusOK {
			t.Fatalf("first delivery: status %d", resp.StatusCode)
		}
		if n := h.queued(); n != 1 {
			t.Fatalf("%d jobs queued after the first delivery, want 1", n)
		}
		h.clock.Advance(30 * time.Second)
		if resp := h.send("/slack/events", "application/json", event, header); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("replay: status %d, want 401", resp.StatusCode)
		}
		if n := h.queued(); n != 1 {
			t.Errorf("%d jobs queued after the replay, want still 1", n)
		}
	})
}

// TestReplayWithRewrittenSignature resends a captured request with its
// signature spelled differently (upper-case hex, padded): the same
// timestamp and body are the same request, on every endpoint.
func TestReplayWithRewrittenSignature(t *testing.T) {
	rewrites := map[string]func(string) string{
		"upper-case hex": func(sig string) string { return "v0=" + strings.ToUpper(strings.TrimPrefix(sig, "v0=")) },
		"mixed-case hex": func(sig string) string {
			b := []byte(sig)
			for i := 3; i < len(b); i += 2 {
				if b[i] >= 'a' && b[i] <= 'f' {
					b[i] -= 'a' - 'A'
				}
			}
			return string(b)
		},
		"surrounding spaces": func(sig string) string { return " " + sig + " " },
	}
	for rname, rewrite := range rewrites {
		t.Run(rname, func(t *testing.T) {
			h := newHarness(t, nil)
			inc := h.openIncident()
			qts := h.slack.AddReply(inc.Channel, inc.ThreadTS, engineer, "<@U0FAKEBOT> why?")
			// Interactions and commands carry no event id: only the
			// replay check stops a second delivery.
			payload := h.blockActions(engineer, inc.Channel, inc.ThreadTS, inc.ThreadTS, ActionAcknowledge, "oncall_actions", inc.Key, "", false)
			command := url.Values{
				"team_id": {"T0FAKETEAM"}, "channel_id": {"C0INCIDENTS"}, "user_id": {engineer},
				"command": {"/oncall"}, "text": {"status"}, "trigger_id": {"13345.7.abc"},
			}
			requests := []struct {
				path, contentType string
				body              []byte
			}{
				{"/slack/events", "application/json", messageEvent("EvReplay1", "app_mention", "", engineer, "", "<@U0FAKEBOT> why?", inc.Channel, qts, inc.ThreadTS)},
				{"/slack/interactions", "application/x-www-form-urlencoded", []byte(url.Values{"payload": {string(payload)}}.Encode())},
				{"/slack/commands", "application/x-www-form-urlencoded", []byte(command.Encode())},
			}
			for _, rq := range requests {
				ts := strconv.FormatInt(h.clock.Now().Unix(), 10)
				sig := slacktest.Sign(signingSecret, ts, rq.body)
				before := h.queued()
				first := http.Header{"X-Slack-Request-Timestamp": {ts}, "X-Slack-Signature": {sig}}
				if resp := h.send(rq.path, rq.contentType, rq.body, first); resp.StatusCode != http.StatusOK {
					t.Fatalf("%s: first delivery: status %d", rq.path, resp.StatusCode)
				}
				if n := h.queued(); n != before+1 {
					t.Fatalf("%s: %d jobs queued after the first delivery, want %d", rq.path, n, before+1)
				}
				replay := http.Header{"X-Slack-Request-Timestamp": {ts}, "X-Slack-Signature": {rewrite(sig)}}
				if resp := h.send(rq.path, rq.contentType, rq.body, replay); resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("%s: replay with %s signature: status %d, want 401", rq.path, rname, resp.StatusCode)
				}
				if n := h.queued(); n != before+1 {
					t.Errorf("%s: %d jobs queued after the replay, want still %d", rq.path, n, before+1)
				}
			}
		})
	}
}

func TestRegisterNeedsASigningSecret(t *testing.T) {
	h := newHarness(t, nil)
	in, err := NewIntake(IntakeOptions{Queue: h.queue, Once: h.store})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Register(http.NewServeMux()); err == nil || !strings.Contains(err.Error(), "signing secret") {
		t.Errorf("Register without a secret: %v, want a refusal naming the signing secret", err)
	}
	in, err = NewIntake(IntakeOptions{Queue: h.queue, Once: h.store, AllowUnsigned: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Register(http.NewServeMux()); err != nil {
		t.Errorf("Register with unsigned requests explicitly allowed: %v", err)
	}
}
