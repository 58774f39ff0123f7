package bot

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncall-copilot/oncall-copilot/bot/slacktest"
)

func TestURLVerification(t *testing.T) {
	h := newHarness(t, nil)
	resp := h.sendEvent([]byte(`{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`), nil)
	body, _ := io.ReadAll(resp.Body)
	var got struct{ Challenge string }
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &got) != nil || got.Challenge != "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" {
		t.Errorf("status %d, body %s: want the challenge back", resp.StatusCode, body)
	}
}

func TestEventsAPIMentionIsAnsweredInItsThread(t *testing.T) {
	h := newHarness(t, nil)
	inc := h.openIncident()
	h.slack.AddReply(inc.Channel, inc.ThreadTS, engineer2, "I restarted the search pods, no change")
	qts := h.slack.AddReply(inc.Channel, inc.ThreadTS, engineer, "<@U0FAKEBOT> why did the search tool start timing out?")
	mention := messageEvent("Ev0MENTION", "app_mention", "", engineer, "", "<@U0FAKEBOT> why did the search tool start timing out?", inc.Channel, qts, inc.ThreadTS)

	if resp := h.sendEvent(mention, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	// Slack's retries (+1 min, +5 min) carry the same event id; the
	// message event of the same message carries the same channel and ts.
	h.clock.Advance(time.Minute)
	h.sendEvent(mention, http.Header{"X-Slack-Retry-Num": {"1"}, "X-Slack-Retry-Reason": {"http_timeout"}})
	h.clock.Advance(4 * time.Minute)
	h.sendEvent(mention, http.Header{"X-Slack-Retry-Num": {"2"}, "X-Slack-Retry-Reason": {"http_timeout"}})
	h.sendEvent(messageEvent("Ev0MESSAGE", "message", "", engineer, "", "<@U0FAKEBOT> why did the search tool start timing out?", inc.Channel, qts, inc.ThreadTS), nil)
	if n := h.queued(); n != 1 {
		t.Fatalf("%d jobs queued, want 1 for one message", n)
	}

	h.drain()
	qs := h.answers.Questions()
	if len(qs) != 1 {
		t.Fatalf("%d questions asked, want 1", len(qs))
	}
	q := qs[0]
	if q.Text != "why did the search tool start timing out?" || q.User != engineer || q.Incident == nil || q.Incident.Key != inc.Key {
		t.Errorf("question %+v", q)
	}
	if q.Incident.Report == nil || q.Incident.Diagnosis == nil {
		t.Error("the question lacks the incident's report and diagnosis")
	}
	// The history is the people's messages before the question; the
	// parent (the alert) and the report are in the incident already.
	if len(q.History) != 1 || q.History[0].Text != "I restarted the search pods, no change" || q.History[0].FromBot {
		t.Errorf("history %+v", q.History)
	}
	replies := h.slack.Replies(inc.Channel, inc.ThreadTS)
	last := replies[len(replies)-1]
	if last.User != slacktest.BotUserID || !strings.Contains(string(last.Blocks), "*lookup* tool times out") || tsBefore(last.TS, qts) {
		t.Errorf("last reply in the thread is not the answer: %+v", last)
	}
	if !strings.Contains(string(last.Blocks), "<https://traces.example.com/trace/") && !strings.Contains(string(last.Blocks), "4bf92f3577b34da6a3ce929d0e0e4736") {
		t.Errorf("answer lost its trace id: %s", last.Blocks)
	}
	// 👀 showed the work and went away with the answer.
	if h.slack.CallCount("reactions.add") != 1 || h.slack.CallCount("reactions.remove") != 1 || len(h.slack.Reactions()) != 0 {
		t.Errorf("reactions: %d added, %d removed, %v left", h.slack.CallCount("reactions.add"), h.slack.CallCount("reactions.remove"), h.slack.Reactions())
	}
	if c := h.slack.Calls(); !slices.ContainsFunc(c, func(c slacktest.Call) bool {
		return c.Method == "reactions.add" && c.Params.Get("name") == "eyes" && c.Params.Get("timestamp") == qts
	}) {
		t.Error("no 👀 on the question")
	}
}

func TestBotLoopGuard(t *testing.T) {
	h := newHarness(t, nil)
	inc := h.openIncident()
	reply := h.slack.AddReply(inc.Channel, inc.ThreadTS, engineer, "why?")
	tests := []struct {
		name  string
		event []byte
	}{
		{"own message", messageEvent("Ev1", "message", "", slacktest.BotUserID, slacktest.BotID, "Here is what I found?", inc.Channel, reply, inc.ThreadTS)},
		{"own message without bot id", messageEvent("Ev2", "message", "", slacktest.BotUserID, "", "Here is what I found?", inc.Channel, reply, inc.ThreadTS)},
		{"echo of an update", messageEvent("Ev3", "message", "message_changed", "", "", "", inc.Channel, "1700000099.000100", "")},
		{"another bot", messageEvent("Ev4", "message", "bot_message", "", "B0OTHER", "<@U0FAKEBOT> ping?", inc.Channel, reply, inc.ThreadTS)},
		{"another bot's mention", messageEvent("Ev5", "app_mention", "", "U0OTHERBOT", "B0OTHER", "<@U0FAKEBOT> ping?", inc.Channel, reply, inc.ThreadTS)},
		{"deletion", messageEvent("Ev6", "message", "message_deleted", "", "", "", inc.Channel, reply, inc.ThreadTS)},
		{"edited mention", []byte(strings.Replace(string(messageEvent("Ev7", "app_mention", "", engineer, "", "<@U0FAKEBOT> why?", inc.Channel, reply, inc.ThreadTS)),
			`"type":"app_mention"`, `"type":"app_mention","edited":{"user":"U0ENGINEER","ts":"1700000001.000000"}`, 1))},
		{"top-level chatter", messageEvent("Ev8", "message", "", engineer, "", "lunch?", inc.Channel, "1700000077.000100", "")},
		// A mention in a canvas: Slack sends app_mention with subtype
		// document_mention; there is no chat thread to answer in.
		{"mention in a canvas", messageEvent("Ev9", "app_mention", "document_mention", engineer, "", "<@U0FAKEBOT> see this doc?", inc.Channel, "1700000078.000100", "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if resp := h.sendEvent(tt.event, nil); resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if n := h.queued(); n != 0 {
				t.Errorf("%d jobs queued, want none", n)
			}
		})
	}
}

func TestEventNotQueuedIsProcessedOnRetry(t *testing.T) {
	h := newHarness(t, nil)
	inc := h.openIncident()
	qts := h.slack.AddReply(inc.Channel, inc.ThreadTS, engineer, "<@U0FAKEBOT> what changed?")
	ev := messageEvent("Ev0FLAKY", "app_mention", "", engineer, "", "<@U0FAKEBOT> what changed?", inc.Channel, qts, inc.ThreadTS)
	h.queue.fail = 1
	if resp := h.sendEvent(ev, nil); resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status %d while the queue is down, want 500 so Slack retries", resp.StatusCode)
	}
	h.clock.Advance(time.Minute)
	if resp := h.sendEvent(ev, http.Header{"X-Slack-Retry-Num": {"1"}}); resp.StatusCode != http.StatusOK {
		t.Fatalf("retry: status %d", resp.StatusCode)
	}
	if n := h.queued(); n != 1 {
		t.Fatalf("%d jobs queued after the retry, want 1", n)
	}
	h.drain()
	if len(h.answers.Questions()) != 1 {
		t.Error("the retried event was not answered")
	}
}

func TestWhichMessagesAreAnswered(t *testing.T) {
	tests := []struct {
		name     string
		incident bool
		typ      string
		text     string
		dm       bool
		want     bool
	}{
		{"question in an incident thread", true, "message", "is this the same as yesterday?", false, true},
		{"question word without mark", true, "message", "what changed in the prompt", false, true},
		{"statement in an incident thread", true, "message", "restarted the pods", false, false},
		{"question to a colleague", true, "message", "<@U0ALICE> can you check the deploy?", false, false},
		{"question in another thread", false, "message", "why is it slow?", false, false},
		{"mention anywhere", false, "app_mention", "<@U0FAKEBOT> what failed in agent checkout in the last hour?", false, true},
		{"direct message", false, "message", "why did trace 4bf92f35 fail", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			channel, thread := "C0ELSEWHERE", ""
			if tt.incident {
				inc := h.openIncident()
				channel, thread = inc.Channel, inc.ThreadTS
			} else if !tt.dm {
				thread = h.slack.AddReply(channel, "", engineer, "checkout looks broken")
			}
			ts := h.slack.AddReply(channel, thread, engineer, tt.text)
			body := messageEvent("Ev", tt.typ, "", engineer, "", tt.text, channel, ts, thread)
			if tt.dm {
				body = []byte(strings.Replace(string(body), `"channel_type":"channel"`, `"channel_type":"im"`, 1))
			}
			h.sendEvent(body, nil)
			h.drain()
			if got := len(h.answers.Questions()) == 1; got != tt.want {
				t.Errorf("answered: %v, want %v", got, tt.want)
			}
		})
	}
}
