package bot

import (
	"bytes"
	"errors"
	"net/http"
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
