package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/bot"
	"github.com/oncall-copilot/oncall-copilot/bot/slacktest"
	"github.com/oncall-copilot/oncall-copilot/config"
	"github.com/oncall-copilot/oncall-copilot/llm/llmtest"
	"github.com/oncall-copilot/oncall-copilot/store/boltdb"
	"github.com/oncall-copilot/oncall-copilot/worker"
)

// slackConfig is a configuration for the interactive side against the
// fake Slack and model.
func slackConfig(slack *slacktest.Server, model *llmtest.Server) config.Config {
	cfg := config.Default()
	cfg.Slack.BotToken = config.Secret(slack.Token)
	cfg.Slack.APIURL = config.URL(slack.URL + "/")
	cfg.Slack.Channel = channel
	cfg.Traces.JSONL.Path = exampleTraces
	if model != nil {
		cfg.Model.APIKey = "sk-test-not-a-real-key-000000000000"
		cfg.Model.BaseURL = config.URL(model.URL)
		cfg.Model.Name = "gpt-4o-mini"
	}
	return cfg
}

func openTestStore(t *testing.T) *boltdb.Store {
	t.Helper()
	st, err := boltdb.Open(boltdb.Options{Path: filepath.Join(t.TempDir(), "oncall.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newBotSlack(t *testing.T, cfg config.Config) *bot.Slack {
	t.Helper()
	s, err := bot.New(bot.Options{Token: cfg.Slack.BotToken.Reveal(), APIURL: cfg.Slack.APIURL.Reveal(), MinInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSlackAppAnswersOverSocketMode runs the interactive side as serve
// wires it: Socket Mode, the worker pool, the assistant over the bundled
// example traces and a model that calls a tool before it answers.
func TestSlackAppAnswersOverSocketMode(t *testing.T) {
	slack := slacktest.NewServer(t)
	sock := slacktest.NewSocketServer(t)
	slack.SetSocketURL(sock.URL)
	model := llmtest.NewServer(t)
	// The bundled quickstart alert, and the half hour before it fired.
	fired, err := readAlert(exampleAlert, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	searchArgs := fmt.Sprintf(`{"start":%q,"end":%q,"failed_only":true,"limit":3}`,
		fired.StartsAt.Add(-30*time.Minute).Format(time.RFC3339), fired.StartsAt.Add(10*time.Minute).Format(time.RFC3339))
	model.Handle(func(req llmtest.Request) llmtest.Reply {
		var results []string
		for _, m := range req.Messages {
			if m.Role == "tool" {
				results = append(results, m.Content)
			}
		}
		if len(results) == 0 {
			return llmtest.Tools(oncall.ToolCall{Name: "search_traces",
				Arguments: searchArgs})
		}
		id := traceIDPattern.FindString(results[0])
		return llmtest.Text("The runs fail in a tool call, for example trace=" + id + ".")
	})
	cfg := slackConfig(slack, model)
	cfg.Slack.AppToken = slacktest.AppToken
	store := openTestStore(t)
	pub := newBotSlack(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	mux := http.NewServeMux()
	sa, err := slackApp(ctx, cfg, store, pub, testLifecycle(t, store, pub), testDeps(t, cfg, nil), nil, mux, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Without a signing secret the HTTP endpoints do not exist.
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/slack/events", strings.NewReader(`{}`)))
	if rec.Code != http.StatusNotFound {
		t.Errorf("/slack/events answered %d without a signing secret, want 404", rec.Code)
	}

	inc := oncall.Incident{Key: "inc-socket", Status: oncall.IncidentOpen, Channel: channel, OpenedAt: time.Now(),
		Alert: oncall.Alert{Name: "AgentRunFailures", Status: oncall.AlertFiring, StartsAt: fired.StartsAt}}
	if _, _, err := store.CreateIncident(ctx, inc); err != nil {
		t.Fatal(err)
	}
	_, ts, err := pub.PostParent(ctx, inc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.UpdateIncident(ctx, inc.Key, func(i *oncall.Incident) error { i.ThreadTS = ts; return nil }); err != nil {
		t.Fatal(err)
	}

	var others atomic.Int32
	pool, err := worker.New(worker.Options{Queue: store, PollWait: 50 * time.Millisecond, Name: "test",
		Handler: sa.Handle(func(context.Context, oncall.Job) error { others.Add(1); return nil })})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{}, 2)
	go func() { _ = pool.Run(ctx); done <- struct{}{} }()
	go func() { _ = sa.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })

	qts := slack.AddReply(channel, ts, "U0ENGINEER", "<@"+slacktest.BotUserID+"> why are the runs failing?")
	event, _ := json.Marshal(map[string]any{
		"type": "event_callback", "event_id": "Ev0E2E", "team_id": slacktest.TeamID,
		"authorizations": []map[string]any{{"user_id": slacktest.BotUserID, "is_bot": true}},
		"event": map[string]any{"type": "app_mention", "user": "U0ENGINEER", "text": "<@" + slacktest.BotUserID + "> why are the runs failing?",
			"ts": qts, "thread_ts": ts, "channel": channel, "event_ts": qts},
	})
	sock.Send(t, slacktest.Envelope{EnvelopeID: "e2e-1", Type: "events_api", Payload: json.RawMessage(event)}, 10*time.Second)
	sock.WaitAck(t, "e2e-1", 10*time.Second)

	var answer slacktest.Message
	slacktest.WaitFor(t, func() bool {
		for _, m := range slack.Replies(channel, ts) {
			if m.User == slacktest.BotUserID && strings.Contains(m.Text, "The runs fail in a tool call") {
				answer = m
				return true
			}
		}
		return false
	}, 20*time.Second)
	reqs := model.Requests()
	if len(reqs) != 2 || len(reqs[0].Tools) == 0 {
		t.Fatalf("%d model requests; want a tool step and an answer", len(reqs))
	}
	var tool string
	for _, m := range reqs[1].Messages {
		if m.Role == "tool" {
			tool = m.Content
		}
	}
	if id := traceIDPattern.FindString(tool); id == "" || !strings.Contains(answer.Text, id) {
		t.Errorf("the answer does not cite a trace the tool found:\ntool: %s\nanswer: %s", tool, answer.Text)
	}
	if !strings.Contains(string(answer.Blocks), "1 tool calls in 2 steps") {
		t.Errorf("the answer's footer does not say how it was made: %s", answer.Blocks)
	}
	if n := others.Load(); n != 0 {
		t.Errorf("%d Slack jobs reached the alert handler", n)
	}
}

func TestSlackAppEventsAPIAndOffSwitch(t *testing.T) {
	slack := slacktest.NewServer(t)
	store := openTestStore(t)
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	getenv := func(v map[string]string) func(string) string { return func(k string) string { return v[k] } }

	t.Run("off without token or secret", func(t *testing.T) {
		cfg := slackConfig(slack, nil)
		mux := http.NewServeMux()
		sa, err := slackApp(ctx, cfg, store, newBotSlack(t, cfg), nil, testDeps(t, cfg, nil), nil, mux, log, nil)
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/slack/events", strings.NewReader(`{}`)))
		if rec.Code != http.StatusNotFound {
			t.Errorf("/slack/events answered %d with interactivity off", rec.Code)
		}
		called := false
		h := sa.Handle(func(context.Context, oncall.Job) error { called = true; return nil })
		if err := h(ctx, oncall.Job{Kind: oncall.JobAlert}); err != nil || !called {
			t.Errorf("alert job: %v, handled: %v", err, called)
		}
		if err := h(ctx, oncall.Job{Kind: bot.JobSlackEvent}); err == nil {
			t.Error("a Slack job was accepted with interactivity off")
		}
	})

	t.Run("events api with a signing secret", func(t *testing.T) {
		cfg := slackConfig(slack, nil)
		cfg.Slack.SigningSecret = "e2e-signing-secret"
		mux := http.NewServeMux()
		sl := newBotSlack(t, cfg)
		if _, err := slackApp(ctx, cfg, store, sl, testLifecycle(t, store, sl), testDeps(t, cfg, nil), nil, mux, log, nil); err != nil {
			t.Fatal(err)
		}
		body := []byte(`{"type":"url_verification","challenge":"c-123"}`)
		ts := time.Now().Unix()
		req := httptest.NewRequest(http.MethodPost, "/slack/events", strings.NewReader(string(body)))
		req.Header.Set("X-Slack-Request-Timestamp", itoa(ts))
		req.Header.Set("X-Slack-Signature", slacktest.Sign("e2e-signing-secret", itoa(ts), body))
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "c-123") {
			t.Errorf("url_verification: %d %s", rec.Code, rec.Body)
		}
		unsigned := httptest.NewRequest(http.MethodPost, "/slack/events", strings.NewReader(string(body)))
		rec = httptest.NewRecorder()
		mux.ServeHTTP(rec, unsigned)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("unsigned request answered %d, want 401", rec.Code)
		}
	})

	t.Run("bad unsigned switch", func(t *testing.T) {
		if _, err := config.Load("", getenv(map[string]string{"SLACK_ALLOW_UNSIGNED": "perhaps"})); err == nil || !strings.Contains(err.Error(), "SLACK_ALLOW_UNSIGNED") {
			t.Errorf("an unreadable SLACK_ALLOW_UNSIGNED: %v", err)
		}
	})

	t.Run("refused bot token", func(t *testing.T) {
		cfg := slackConfig(slack, nil)
		cfg.Slack.SigningSecret = "s"
		cfg.Slack.BotToken = "xoxb-wrong"
		if _, err := slackApp(ctx, cfg, store, newBotSlack(t, cfg), nil, testDeps(t, cfg, nil), nil, http.NewServeMux(), log, nil); err == nil || strings.Contains(err.Error(), "xoxb-wrong") {
			t.Errorf("slackApp with a refused token: %v", err)
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
