package bot

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/oncall-copilot/oncall-copilot/bot/slacktest"
)

// runSocket connects a Socket to the harness' fake Slack and a fake
// Socket Mode endpoint, until the test ends.
func runSocket(t *testing.T, h *harness, token string) (*slacktest.SocketServer, <-chan error) {
	t.Helper()
	sock := slacktest.NewSocketServer(t)
	h.slack.SetSocketURL(sock.URL)
	s, err := NewSocket(SocketOptions{AppToken: token, APIURL: h.slack.URL, Intake: h.intake})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run after cancel: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return sock, done
}

func TestSocketModeMentionIsAnsweredInItsThread(t *testing.T) {
	h := newHarness(t, nil)
	inc := h.openIncident()
	sock, _ := runSocket(t, h, slacktest.AppToken)
	qts := h.slack.AddReply(inc.Channel, inc.ThreadTS, engineer, "<@U0FAKEBOT> which release started this?")
	event := json.RawMessage(messageEvent("Ev0SOCKET", "app_mention", "", engineer, "", "<@U0FAKEBOT> which release started this?", inc.Channel, qts, inc.ThreadTS))

	sock.Send(t, slacktest.Envelope{EnvelopeID: "env-1", Type: "events_api", Payload: event}, 5*time.Second)
	ack := sock.WaitAck(t, "env-1", 5*time.Second)
	if len(ack.Payload) != 0 && string(ack.Payload) != "null" {
		t.Errorf("event ack carries a payload: %s", ack.Payload)
	}
	// Slack redelivers an envelope it thinks was lost: same event id.
	sock.Send(t, slacktest.Envelope{EnvelopeID: "env-2", Type: "events_api", Payload: event, RetryAttempt: 1, RetryReason: "timeout"}, 5*time.Second)
	sock.WaitAck(t, "env-2", 5*time.Second)
	if n := h.queued(); n != 1 {
		t.Fatalf("%d jobs queued, want 1", n)
	}
	h.drain()
	qs := h.answers.Questions()
	if len(qs) != 1 || qs[0].Text != "which release started this?" || qs[0].Incident == nil || qs[0].Incident.Key != inc.Key {
		t.Fatalf("questions %+v", qs)
	}
	replies := h.slack.Replies(inc.Channel, inc.ThreadTS)
	if last := replies[len(replies)-1]; last.User != slacktest.BotUserID || !strings.Contains(string(last.Blocks), "times out") {
		t.Errorf("the answer is not the last reply of the incident thread: %+v", last)
	}
	if n := h.slack.CallCount("apps.connections.open"); n != 1 || sock.Connections() != 1 {
		t.Errorf("%d connections.open calls, %d connections; want 1 and 1", n, sock.Connections())
	}
}

func TestSocketModeCommandsAndButtons(t *testing.T) {
	h := newHarness(t, nil)
	inc := h.openIncident()
	sock, _ := runSocket(t, h, slacktest.AppToken)

	help := map[string]any{"command": "/oncall", "text": "help", "user_id": engineer, "channel_id": inc.Channel,
		"team_domain": "acme", "response_url": h.slack.ResponseURL("help"), "trigger_id": "13345224609.738474920.8088930838d88f008e0"}
	sock.Send(t, slacktest.Envelope{EnvelopeID: "env-cmd", Type: "slash_commands", Payload: help, AcceptsResponsePayload: true}, 5*time.Second)
	ack := sock.WaitAck(t, "env-cmd", 5*time.Second)
	var reply struct {
		ResponseType string          `json:"response_type"`
		Text         string          `json:"text"`
		Blocks       json.RawMessage `json:"blocks"`
	}
	if err := json.Unmarshal(ack.Payload, &reply); err != nil || !strings.Contains(string(reply.Blocks), "the on-call copilot") || reply.ResponseType != "ephemeral" {
		t.Errorf("help ack payload %s (%v)", ack.Payload, err)
	}

	press := json.RawMessage(h.blockActions(engineer, inc.Channel, inc.ThreadTS, inc.ThreadTS, ActionAcknowledge, "oncall_actions", inc.Key, h.slack.ResponseURL("ack"), false))
	sock.Send(t, slacktest.Envelope{EnvelopeID: "env-btn", Type: "interactive", Payload: press, AcceptsResponsePayload: true}, 5*time.Second)
	sock.WaitAck(t, "env-btn", 5*time.Second)
	h.drain()
	if got := h.incident(inc.Key); got.AckedBy != engineer {
		t.Errorf("acked by %q after the button over Socket Mode, want %s", got.AckedBy, engineer)
	}
}

func TestSocketModeRefusedToken(t *testing.T) {
	h := newHarness(t, nil)
	h.slack.AppToken = "xapp-the-right-one"
	sock := slacktest.NewSocketServer(t)
	h.slack.SetSocketURL(sock.URL)
	s, err := NewSocket(SocketOptions{AppToken: "xapp-1-A0WRONG-secretvalue", APIURL: h.slack.URL, Intake: h.intake})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = s.Run(ctx)
	if err == nil || ctx.Err() != nil {
		t.Fatalf("Run with a refused token: %v, want an error before the deadline", err)
	}
	if strings.Contains(err.Error(), "secretvalue") {
		t.Errorf("the error shows the token: %v", err)
	}
}

func TestNewSocketChecksOptions(t *testing.T) {
	h := newHarness(t, nil)
	for name, opts := range map[string]SocketOptions{
		"bot token instead of app token": {AppToken: slacktest.Token, Intake: h.intake},
		"no intake":                      {AppToken: slacktest.AppToken},
		"relative api url":               {AppToken: slacktest.AppToken, Intake: h.intake, APIURL: "slack.com/api"},
	} {
		if _, err := NewSocket(opts); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestIdentify(t *testing.T) {
	h := newHarness(t, nil)
	user, botID, err := h.bot.Identify(context.Background())
	if err != nil || user != slacktest.BotUserID || botID != slacktest.BotID {
		t.Errorf("Identify: %q, %q, %v", user, botID, err)
	}
	h.slack.Token = "xoxb-another"
	if _, _, err := h.bot.Identify(context.Background()); err == nil || !strings.Contains(err.Error(), "invalid_auth") {
		t.Errorf("Identify with a refused token: %v", err)
	}
}
