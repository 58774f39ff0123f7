package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncall-copilot/oncall-copilot/bot/slacktest"
	"github.com/oncall-copilot/oncall-copilot/internal/testenv"
	"github.com/oncall-copilot/oncall-copilot/llm/llmtest"
)

const (
	exampleAlert  = "../../examples/quickstart/alert.json"
	exampleTraces = "../../examples/quickstart/traces"
	webhookToken  = "e2e-webhook-token"
	channel       = "C0INCIDENTS"
)

// syncBuffer is a bytes.Buffer safe for the server's writes and the
// test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// server is one running "serve" process, in-process through run().
type server struct {
	addr   string
	stdout *syncBuffer
	stderr *syncBuffer
	stop   func() error
}

func startServer(t *testing.T, env map[string]string, args ...string) *server {
	t.Helper()
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"serve"}, args...), func(k string) string { return env[k] }, stdout, stderr)
	}()
	s := &server{stdout: stdout, stderr: stderr}
	var stopped bool
	var runErr error
	s.stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			runErr = <-done
		}
		return runErr
	}
	t.Cleanup(func() { _ = s.stop() })
	re := regexp.MustCompile(`listening on (\S+)`)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(stdout.String()); m != nil {
			s.addr = "http://" + m[1]
			break
		}
		select {
		case err := <-done:
			stopped, runErr = true, err
			t.Fatalf("serve exited early: %v\n%s", err, stderr)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if s.addr == "" {
		t.Fatalf("serve did not start:\n%s", stderr)
	}
	slacktest.WaitFor(t, func() bool {
		resp, err := http.Get(s.addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second)
	return s
}

func (s *server) postAlert(t *testing.T, body []byte) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.addr+"/webhooks/alertmanager", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+webhookToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

var traceIDPattern = regexp.MustCompile(`\b[0-9a-f]{32}\b`)
var spanIDPattern = regexp.MustCompile(`\b[0-9a-f]{16}\b`)

// Ids the fake model invents in prose: in a diagnosis, and in an answer
// in the thread.
const (
	inventedProseID  = "0123456789abcdef0123456789abcdef"
	inventedAnswerID = "89abcdef0123456789abcdef01234567"
)

// groundedModel answers like a model would: a diagnosis citing the first
// trace and span ids its prompt shows, and ids it made up in its prose.
func groundedModel(t *testing.T) *llmtest.Server {
	m := llmtest.NewServer(t)
	m.Handle(func(req llmtest.Request) llmtest.Reply {
		if req.ResponseFormat == nil {
			// A follow-up question: answer in prose.
			return llmtest.Text("The lookup tool fails with HTTP 503 since the incident began; its dependency is down. See trace " + inventedAnswerID + ".")
		}
		var prompt string
		for _, msg := range req.Messages {
			prompt += msg.Content + "\n"
		}
		trace := traceIDPattern.FindString(prompt)
		span := spanIDPattern.FindString(strings.ReplaceAll(prompt, trace, ""))
		return llmtest.JSON(map[string]any{
			"summary": "A tool started failing in the incident window, first in trace " + inventedProseID + ".",
			"causes": []map[string]any{{
				"title": "Tool failure", "detail": "The tool span errors and the error propagates, as trace " + trace + " shows.", "confidence": "high",
				"evidence": []map[string]any{{"trace_id": trace, "span_id": span, "note": "origin span"}, {"trace_id": "ffffffffffffffffffffffffffffffff", "span_id": "", "note": "made up"}},
			}},
			"fixes":      []map[string]any{{"type": "harness", "change": "Add a timeout and retry around the tool call.", "where": "tool wrapper"}},
			"next_steps": []string{"Check the tool's dependency.", "Open span " + inventedProseID[:16] + "."},
		})
	})
	return m
}

// backends lists the store backends the end-to-end tests run on.
func backends(t *testing.T) map[string]map[string]string {
	out := map[string]map[string]string{"embedded": {}}
	url := os.Getenv("REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/15"
	}
	if redisReachable(url) {
		out["redis"] = map[string]string{"REDIS_URL": url}
	} else if testenv.CI(os.Getenv) {
		t.Fatalf("redis at %s is unreachable; the end-to-end test needs it in CI", url)
	} else {
		t.Logf("redis at %s unreachable: running the embedded backend only", url)
	}
	return out
}

func TestServeEndToEnd(t *testing.T) {
	alertBody, err := os.ReadFile(exampleAlert)
	if err != nil {
		t.Fatalf("the bundled example alert is missing: %v", err)
	}
	for name, extra := range backends(t) {
		t.Run(name, func(t *testing.T) {
			slack := slacktest.NewServer(t)
			model := groundedModel(t)
			env := map[string]string{
				"LISTEN_ADDR":          "127.0.0.1:0",
				"DATA_DIR":             t.TempDir(),
				"WEBHOOK_TOKEN":        webhookToken,
				"SLACK_BOT_TOKEN":      slack.Token,
				"SLACK_API_URL":        slack.URL + "/",
				"SLACK_CHANNEL":        channel,
				"TRACE_JSONL_PATH":     exampleTraces,
				"OPENAI_API_KEY":       "sk-test-not-a-real-key-000000000000",
				"OPENAI_BASE_URL":      model.URL,
				"OPENAI_MODEL":         "gpt-4o-mini",
				"LOG_LEVEL":            "debug",
				"SLACK_SIGNING_SECRET": signingSecret,
			}
			if extra["REDIS_URL"] != "" {
				env["REDIS_URL"] = extra["REDIS_URL"]
				env["REDIS_PREFIX"] = fmt.Sprintf("e2e-%d:", time.Now().UnixNano())
				t.Cleanup(func() { cleanRedis(t, extra["REDIS_URL"], env["REDIS_PREFIX"]) })
			}
			srv := startServer(t, env)

			resp := srv.postAlert(t, alertBody)
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("webhook answered %d", resp.StatusCode)
			}
			// The parent, the diagnosis in its thread, and the parent updated.
			slacktest.WaitFor(t, func() bool { return len(slack.Updates()) >= 1 }, 20*time.Second)
			msgs := slack.Messages()
			var parents []slacktest.Message
			for _, m := range msgs {
				if m.ThreadTS == "" {
					parents = append(parents, m)
				}
			}
			if len(parents) != 1 {
				t.Fatalf("want one parent message, got %d: %+v", len(parents), msgs)
			}
			parent := parents[0]
			if parent.Channel != channel {
				t.Errorf("parent posted to %q", parent.Channel)
			}
			replies := slack.Replies(channel, parent.TS)
			if len(replies) == 0 {
				t.Fatalf("no reply in the parent's thread; messages: %+v", msgs)
			}
			for _, r := range replies {
				if r.ThreadTS != parent.TS {
					t.Errorf("reply thread_ts %q != parent ts %q", r.ThreadTS, parent.TS)
				}
			}
			diag := string(replies[0].Blocks) + replies[0].Text
			if !strings.Contains(diag, "Tool failure") {
				t.Errorf("the model's cause is not in the thread:\n%s", diag)
			}
			if strings.Contains(diag, "ffffffffffffffffffffffffffffffff") {
				t.Errorf("an invented trace id was not dropped:\n%s", diag)
			}
			if strings.Contains(diag, inventedProseID[:16]) || !strings.Contains(diag, "id not in the evidence") {
				t.Errorf("an id invented in the diagnosis prose reached Slack, or was not marked:\n%s", diag)
			}
			if strings.Contains(diag, "sk-test-not-a-real-key") {
				t.Errorf("the API key leaked into Slack")
			}
			updates := slack.Updates()
			if updates[len(updates)-1].TS != parent.TS {
				t.Errorf("the update was not of the parent")
			}
			if len(model.Requests()) == 0 {
				t.Errorf("the model was not asked")
			}

			// A follow-up question in the thread, through the signed Events API.
			askInThread(t, srv, parent.TS, "evt-1", 0)
			askInThread(t, srv, parent.TS, "evt-1", 1) // Slack's retry of the same event, signed anew
			slacktest.WaitFor(t, func() bool {
				for _, r := range slack.Replies(channel, parent.TS) {
					if strings.Contains(r.Text, "dependency is down") {
						return true
					}
				}
				return false
			}, 20*time.Second)
			answers := 0
			for _, r := range slack.Replies(channel, parent.TS) {
				if strings.Contains(r.Text, "dependency is down") {
					answers++
				}
			}
			if answers != 1 {
				t.Errorf("answers to one question (sent twice) = %d, want 1", answers)
			}
			for _, r := range slack.Replies(channel, parent.TS) {
				if strings.Contains(r.Text+string(r.Blocks), inventedAnswerID) {
					t.Errorf("an id invented in a thread answer reached Slack:\n%s", r.Text)
				}
			}
			replies = slack.Replies(channel, parent.TS)

			// The same alert again: no second thread.
			posted := len(slack.Messages())
			if resp := srv.postAlert(t, alertBody); resp.StatusCode != http.StatusAccepted {
				t.Fatalf("re-send answered %d", resp.StatusCode)
			}
			// Then its resolution: the parent is updated and a reply added.
			resolved := resolvedPayload(t, alertBody)
			if resp := srv.postAlert(t, resolved); resp.StatusCode != http.StatusAccepted {
				t.Fatalf("resolution answered %d", resp.StatusCode)
			}
			slacktest.WaitFor(t, func() bool {
				return len(slack.Replies(channel, parent.TS)) > len(replies)
			}, 20*time.Second)
			for _, m := range slack.Messages()[posted:] {
				if m.ThreadTS == "" {
					t.Errorf("a second top-level message was posted: %+v", m)
				}
			}
			last := slack.Replies(channel, parent.TS)
			note := last[len(last)-1].Text
			if !strings.Contains(strings.ToLower(note), "resolved") {
				t.Errorf("resolution reply = %q", note)
			}
			ups := slack.Updates()
			final := ups[len(ups)-1]
			if final.TS != parent.TS || !strings.Contains(strings.ToLower(final.Text+string(final.Blocks)), "resolved") {
				t.Errorf("the parent was not updated to resolved: %+v", final)
			}
			if err := srv.stop(); err != nil {
				t.Fatalf("serve returned %v", err)
			}
			if strings.Contains(srv.stderr.String(), "sk-test-not-a-real-key") {
				t.Errorf("the API key leaked into the logs")
			}
		})
	}
}

// resolvedPayload turns a firing Alertmanager payload into its resolution.
func resolvedPayload(t *testing.T, firing []byte) []byte {
	t.Helper()
	var p map[string]any
	if err := json.Unmarshal(firing, &p); err != nil {
		t.Fatal(err)
	}
	p["status"] = "resolved"
	for _, a := range p["alerts"].([]any) {
		am := a.(map[string]any)
		am["status"] = "resolved"
		starts, _ := time.Parse(time.RFC3339, am["startsAt"].(string))
		am["endsAt"] = starts.Add(42 * time.Minute).Format(time.RFC3339)
	}
	b, _ := json.Marshal(p)
	return b
}

const signingSecret = "e2e-signing-secret"

// askInThread posts a signed app_mention event, as Slack sends it, asking
// a question in the incident's thread.
func askInThread(t *testing.T, srv *server, threadTS, eventID string, retry int) {
	t.Helper()
	askInChannelThread(t, srv, channel, threadTS, "1700000999.000100", eventID, retry)
}

// askInChannelThread is askInThread in the channel of id channelID:
// Slack's events always carry the channel's id.
func askInChannelThread(t *testing.T, srv *server, channel, threadTS, ts, eventID string, retry int) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"token": "ignored", "team_id": slacktest.TeamID, "api_app_id": "A0APP", "type": "event_callback",
		"event_id": eventID, "event_time": time.Now().Unix(),
		"event": map[string]any{
			"type": "app_mention", "user": "U0ENGINEER", "channel": channel, "ts": ts,
			"thread_ts": threadTS, "text": "<@" + slacktest.BotUserID + "> why is the tool failing?",
		},
	})
	sent := fmt.Sprint(time.Now().Unix() + int64(retry))
	req, _ := http.NewRequest(http.MethodPost, srv.addr+"/slack/events", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Slack-Request-Timestamp", sent)
	req.Header.Set("X-Slack-Signature", slacktest.Sign(signingSecret, sent, body))
	if retry > 0 {
		req.Header.Set("X-Slack-Retry-Num", fmt.Sprint(retry))
		req.Header.Set("X-Slack-Retry-Reason", "http_timeout")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("events endpoint answered %d", resp.StatusCode)
	}
}
