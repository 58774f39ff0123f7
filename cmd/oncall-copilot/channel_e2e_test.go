package main

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/oncall-copilot/oncall-copilot/bot/slacktest"
)

// channelNameEnv is serve's environment with the channel given by name,
// as the README's set-up has it, against slack.
func channelNameEnv(t *testing.T, slack *slacktest.Server, model string, channelSetting string) map[string]string {
	return map[string]string{
		"LISTEN_ADDR":          "127.0.0.1:0",
		"DATA_DIR":             t.TempDir(),
		"WEBHOOK_TOKEN":        webhookToken,
		"SLACK_BOT_TOKEN":      slack.Token,
		"SLACK_API_URL":        slack.URL + "/",
		"SLACK_CHANNEL":        channelSetting,
		"TRACE_JSONL_PATH":     exampleTraces,
		"OPENAI_API_KEY":       "sk-test-not-a-real-key-000000000000",
		"OPENAI_BASE_URL":      model,
		"OPENAI_MODEL":         "gpt-4o-mini",
		"SLACK_SIGNING_SECRET": signingSecret,
		"DIGEST_SCHEDULE":      "off",
	}
}

// refusedCalls lists the Web API calls the fake Slack refused.
func refusedCalls(slack *slacktest.Server) []string {
	var out []string
	for _, c := range slack.Calls() {
		if c.Error != "" {
			out = append(out, c.Method+": "+c.Error)
		}
	}
	return out
}

// TestServeByChannelName runs serve with SLACK_CHANNEL='#agents-oncall'
// against a fake Slack that, like Slack, takes a channel name only when
// posting: one alert and its resolution make one thread whose parent is
// updated after triage and on resolution, a follow-up question is
// answered in it, and the digest's chart is uploaded into the digest's
// thread, without a single refused call.
func TestServeByChannelName(t *testing.T) {
	alertBody, err := os.ReadFile(exampleAlert)
	if err != nil {
		t.Fatal(err)
	}
	slack := slacktest.NewServer(t)
	ch := slack.AddChannel(slacktest.Channel{Name: "agents-oncall", IsMember: true})
	slack.AddChannel(slacktest.Channel{Name: "random", IsMember: true})
	model := groundedModel(t)
	env := channelNameEnv(t, slack, model.URL, "#agents-oncall")
	srv := startServer(t, env)

	if resp := srv.postAlert(t, alertBody); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("webhook answered %d", resp.StatusCode)
	}
	slacktest.WaitFor(t, func() bool { return len(slack.Updates()) >= 1 }, 20*time.Second)
	msgs := slack.Messages()
	if len(msgs) == 0 || msgs[0].ThreadTS != "" || msgs[0].Channel != ch.ID {
		t.Fatalf("messages %+v, want the parent first, in %s", msgs, ch.ID)
	}
	parent := msgs[0]
	if up := slack.Updates(); up[0].TS != parent.TS || !strings.Contains(up[0].Text+string(up[0].Blocks), "Diagnosis") {
		t.Errorf("the parent was not updated with the diagnosis: %+v", up[0])
	}

	q := slack.AddReply(ch.ID, parent.TS, "U0ENGINEER", "<@"+slacktest.BotUserID+"> why is the tool failing?")
	askInChannelThread(t, srv, ch.ID, parent.TS, q, "evt-name-1", 0)
	slacktest.WaitFor(t, func() bool {
		for _, r := range slack.Replies(ch.ID, parent.TS) {
			if strings.Contains(r.Text, "dependency is down") {
				return true
			}
		}
		return false
	}, 20*time.Second)

	replies := len(slack.Replies(ch.ID, parent.TS))
	if resp := srv.postAlert(t, resolvedPayload(t, alertBody)); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("resolution answered %d", resp.StatusCode)
	}
	slacktest.WaitFor(t, func() bool { return len(slack.Replies(ch.ID, parent.TS)) > replies }, 20*time.Second)
	ups := slack.Updates()
	if final := ups[len(ups)-1]; final.TS != parent.TS || !strings.Contains(strings.ToLower(final.Text), "resolved") {
		t.Errorf("the parent was not updated on resolution: %+v", final)
	}
	if err := srv.stop(); err != nil {
		t.Fatalf("serve returned %v", err)
	}
	top := 0
	for _, m := range slack.Messages() {
		if m.ThreadTS == "" {
			top++
		}
	}
	if top != 1 {
		t.Errorf("%d top-level messages, want one thread", top)
	}

	// The digest of the same store, posted by name, with its chart.
	out, errOut, err := runDigestTest(t, exampleEnd(t), env, "--post", "--data-dir", env["DATA_DIR"], "--traces", exampleTraces)
	if err != nil {
		t.Fatalf("digest --post: %v\n%s%s", err, out, errOut)
	}
	files := slack.Files()
	if len(files) != 1 || files[0].Channel != ch.ID {
		t.Fatalf("files %+v, want the chart shared in %s", files, ch.ID)
	}
	if digestMsg := slack.Messages()[len(slack.Messages())-1]; files[0].ThreadTS != digestMsg.TS || digestMsg.Channel != ch.ID {
		t.Errorf("chart in thread %s, digest at %s in %s", files[0].ThreadTS, digestMsg.TS, digestMsg.Channel)
	}
	if refused := refusedCalls(slack); len(refused) > 0 {
		t.Errorf("Slack refused calls: %v", refused)
	}
}
