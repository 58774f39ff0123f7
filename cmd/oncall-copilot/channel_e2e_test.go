package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oncall-copilot/oncall-copilot/bot/slacktest"
	"github.com/oncall-copilot/oncall-copilot/report"
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
	if r := slack.Replies(ch.ID, parent.TS); len(r) == 0 || !strings.Contains(string(r[len(r)-1].Blocks), "oncall_actions") {
		t.Error("no buttons under the diagnosis, with the Events API configured")
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

// TestServeStopsOnWrongSlackSetting: a refused token or a channel the app
// cannot post to stops serve at start, with an error naming the setting
// and the fix.
func TestServeStopsOnWrongSlackSetting(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(s *slacktest.Server, env map[string]string)
		channel string
		want    []string
	}{
		{name: "wrong token", channel: "#agents-oncall",
			setup: func(s *slacktest.Server, env map[string]string) { env["SLACK_BOT_TOKEN"] = "xoxb-wrong" },
			want:  []string{"SLACK_BOT_TOKEN", "rejected the token"}},
		{name: "mistyped channel", channel: "#agents-oncal",
			want: []string{"SLACK_CHANNEL", "#agents-oncal", "no channel"}},
		{name: "app not in the channel", channel: "#quiet",
			want: []string{"SLACK_CHANNEL", "invite the app with /invite @oncall-copilot to #quiet"}},
		{name: "archived channel", channel: "#old",
			want: []string{"SLACK_CHANNEL", "#old is archived"}},
		{name: "wrong app token", channel: "#agents-oncall",
			setup: func(s *slacktest.Server, env map[string]string) { env["SLACK_APP_TOKEN"] = "xapp-wrong" },
			want:  []string{"SLACK_APP_TOKEN", "refused the app-level token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			slack := slacktest.NewServer(t)
			slack.AddChannel(slacktest.Channel{Name: "agents-oncall", IsMember: true})
			slack.AddChannel(slacktest.Channel{Name: "quiet"})
			slack.AddChannel(slacktest.Channel{Name: "old", IsMember: true, IsArchived: true})
			env := channelNameEnv(t, slack, "http://127.0.0.1:1", tt.channel)
			if tt.setup != nil {
				tt.setup(slack, env)
			}
			var stdout, stderr strings.Builder
			err := run(t.Context(), []string{"serve"}, func(k string) string { return env[k] }, &stdout, &stderr)
			if err == nil {
				t.Fatal("serve started")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
			if strings.Contains(stdout.String(), "listening") {
				t.Error("serve listened before failing")
			}
			if strings.Contains(err.Error()+stderr.String(), slack.Token) {
				t.Error("the token was printed")
			}
		})
	}
}

// TestJobsRetryAfterChannelFix: an alert dead-lettered because the app
// was taken out of its channel says which setting to fix; after the
// channel is changed, jobs retry posts it to the new channel, in one
// thread.
func TestJobsRetryAfterChannelFix(t *testing.T) {
	alertBody, err := os.ReadFile(exampleAlert)
	if err != nil {
		t.Fatal(err)
	}
	slack := slacktest.NewServer(t)
	old := slack.AddChannel(slacktest.Channel{Name: "agents-old", IsMember: true})
	fixed := slack.AddChannel(slacktest.Channel{Name: "agents-oncall", IsMember: true})
	model := groundedModel(t)
	env := channelNameEnv(t, slack, model.URL, "#agents-old")
	delete(env, "SLACK_SIGNING_SECRET") // no interactivity: no buttons
	srv := startServer(t, env)
	slack.SetMember(old.ID, false) // removed from the channel after start

	if resp := srv.postAlert(t, alertBody); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("webhook answered %d", resp.StatusCode)
	}
	slacktest.WaitFor(t, func() bool {
		for _, c := range slack.Calls() {
			if c.Error == "not_in_channel" {
				return true
			}
		}
		return false
	}, 20*time.Second)
	if err := srv.stop(); err != nil {
		t.Fatalf("serve returned %v", err)
	}
	out, errOut, err := runJobsCmd(env, "list", "--format", "json")
	if err != nil {
		t.Fatalf("jobs list: %v\n%s", err, errOut)
	}
	var listed struct {
		DeadLetters []report.DeadLetter `json:"dead"`
	}
	if err := json.Unmarshal([]byte(out), &listed); err != nil || len(listed.DeadLetters) != 1 {
		t.Fatalf("jobs list: %v\n%s", err, out)
	}
	row := listed.DeadLetters[0]
	if !strings.Contains(row.LastError, "SLACK_CHANNEL=#agents-old") || !strings.Contains(row.LastError, "/invite") {
		t.Errorf("the dead letter does not name the setting and the fix: %q", row.LastError)
	}

	env["SLACK_CHANNEL"] = "#agents-oncall"
	// The id goes after the flags' place: jobs retry ID --data-dir DIR.
	if _, errOut, err := runJobsCmd(env, "retry", row.ID, "--data-dir", env["DATA_DIR"]); err != nil {
		t.Fatalf("jobs retry: %v\n%s", err, errOut)
	}
	srv = startServer(t, env)
	slacktest.WaitFor(t, func() bool { return len(slack.Updates()) >= 1 }, 20*time.Second)
	if err := srv.stop(); err != nil {
		t.Fatalf("serve returned %v", err)
	}
	var parents []slacktest.Message
	for _, m := range slack.Messages() {
		if m.ThreadTS == "" {
			parents = append(parents, m)
		}
	}
	if len(parents) != 1 || parents[0].Channel != fixed.ID {
		t.Fatalf("parents %+v, want one in %s", parents, fixed.ID)
	}
	replies := slack.Replies(fixed.ID, parents[0].TS)
	if len(replies) == 0 {
		t.Error("no diagnosis in the thread")
	}
	for _, r := range replies {
		if strings.Contains(string(r.Blocks), "oncall_actions") {
			t.Error("buttons under the diagnosis of a server without interactivity")
		}
	}
	if up := slack.Updates(); up[len(up)-1].Channel != fixed.ID || up[len(up)-1].TS != parents[0].TS {
		t.Errorf("the parent in %s was not updated: %+v", fixed.ID, up)
	}
}

// TestServeUnreadyWhileSlackIsDown: when Slack cannot be reached at
// start, serve runs but /readyz says it is not ready, and why.
func TestServeUnreadyWhileSlackIsDown(t *testing.T) {
	slack := slacktest.NewServer(t)
	slack.AddChannel(slacktest.Channel{Name: "agents-oncall", IsMember: true})
	slack.Fail("auth.test", 10, slacktest.HTTPStatus(http.StatusServiceUnavailable))
	env := channelNameEnv(t, slack, "http://127.0.0.1:1", "#agents-oncall")
	// Interactivity needs the bot's identity at start, and stops serve
	// without it; posting alone can wait for Slack.
	delete(env, "SLACK_SIGNING_SECRET")
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, stdout, stderr) }()
	t.Cleanup(func() { cancel(); <-done })
	re := regexp.MustCompile(`listening on (\S+)`)
	slacktest.WaitFor(t, func() bool { return re.MatchString(stdout.String()) || len(done) > 0 }, 30*time.Second)
	if !re.MatchString(stdout.String()) {
		t.Fatalf("serve did not start: %s", stderr)
	}
	addr := re.FindStringSubmatch(stdout.String())[1]
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "slack") {
		t.Errorf("/readyz answered %d %q, want 503 naming Slack", resp.StatusCode, body)
	}
}

// TestStartCheckMissingScope: an app installed before the copilot looked
// channels up lacks channels:read; serve says which scopes to add.
func TestStartCheckMissingScope(t *testing.T) {
	slack := slacktest.NewServer(t)
	slack.AddChannel(slacktest.Channel{Name: "agents-oncall", IsMember: true})
	slack.Fail("conversations.list", 1, slacktest.APIError("missing_scope"))
	env := channelNameEnv(t, slack, "http://127.0.0.1:1", "#agents-oncall")
	err := run(t.Context(), []string{"serve"}, func(k string) string { return env[k] }, &strings.Builder{}, &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), "channels:read and groups:read") || !strings.Contains(err.Error(), "SLACK_CHANNEL") {
		t.Errorf("serve: %v, want an error naming SLACK_CHANNEL and the scopes to add", err)
	}
}
