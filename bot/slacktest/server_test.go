package slacktest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
)

func client(s *Server, token string) *slack.Client {
	return slack.New(token, slack.OptionAPIURL(s.URL+"/"))
}

func TestThreadLifecycle(t *testing.T) {
	s := NewServer(t)
	api := client(s, Token)
	ctx := context.Background()

	ch, parent, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("parent", false),
		slack.MsgOptionBlocks(slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", "*parent*", false, false), nil, nil)))
	if err != nil {
		t.Fatalf("post parent: %v", err)
	}
	if ch != "C1" || parent == "" {
		t.Fatalf("post parent answered channel %q ts %q", ch, parent)
	}
	_, reply, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("reply", false), slack.MsgOptionTS(parent))
	if err != nil {
		t.Fatalf("post reply: %v", err)
	}
	if reply == parent {
		t.Fatalf("reply ts %q equals parent ts", reply)
	}
	human := s.AddReply("C1", parent, "U0HUMAN", "what broke?")
	if _, _, _, err := api.UpdateMessageContext(ctx, "C1", parent, slack.MsgOptionText("parent v2", false)); err != nil {
		t.Fatalf("update: %v", err)
	}
	if err := api.AddReactionContext(ctx, "eyes", slack.NewRefToMessage("C1", parent)); err != nil {
		t.Fatalf("add reaction: %v", err)
	}
	if err := api.AddReactionContext(ctx, "eyes", slack.NewRefToMessage("C1", parent)); err == nil || err.Error() != "already_reacted" {
		t.Errorf("second add reaction: err = %v, want already_reacted", err)
	}

	msgs, _, _, err := api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: "C1", Timestamp: parent})
	if err != nil {
		t.Fatalf("replies: %v", err)
	}
	var got []string
	for _, m := range msgs {
		got = append(got, m.Text+"@"+m.ThreadTimestamp)
	}
	want := []string{"parent v2@" + parent, "reply@" + parent, "what broke?@" + parent}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("replies = %q, want %q", got, want)
	}
	if msgs[0].ReplyCount != 2 {
		t.Errorf("parent reply_count = %d, want 2", msgs[0].ReplyCount)
	}
	if msgs[2].User != "U0HUMAN" || msgs[2].Timestamp != human {
		t.Errorf("human reply = %+v", msgs[2])
	}

	posted := s.Messages()
	if len(posted) != 3 || posted[0].Text != "parent v2" || posted[1].ThreadTS != parent {
		t.Errorf("Messages() = %+v", posted)
	}
	if string(posted[0].Blocks) != `[{"type":"section","text":{"type":"mrkdwn","text":"*parent*"}}]` {
		t.Errorf("parent blocks after a text-only update = %s, want the original kept", posted[0].Blocks)
	}
	if u := s.Updates(); len(u) != 1 || u[0].TS != parent || u[0].Text != "parent v2" {
		t.Errorf("Updates() = %+v", u)
	}
	if r := s.Reactions(); len(r) != 1 || r[0] != (Reaction{Channel: "C1", TS: parent, Name: "eyes"}) {
		t.Errorf("Reactions() = %+v", r)
	}
	if err := api.RemoveReactionContext(ctx, "eyes", slack.NewRefToMessage("C1", parent)); err != nil {
		t.Fatalf("remove reaction: %v", err)
	}
	if r := s.Reactions(); len(r) != 0 {
		t.Errorf("Reactions() after remove = %+v", r)
	}
	for _, c := range s.Calls() {
		if c.Params.Get("token") != "" {
			t.Errorf("call %s recorded the token", c.Method)
		}
	}
}

func TestUniqueIncreasingTS(t *testing.T) {
	s := NewServer(t)
	api := client(s, Token)
	prev := ""
	for i := range 20 {
		_, ts, err := api.PostMessage("C1", slack.MsgOptionText("m", false))
		if err != nil {
			t.Fatal(err)
		}
		if len(ts) != len("1700000000.000100") || ts <= prev {
			t.Fatalf("message %d ts %q after %q", i, ts, prev)
		}
		prev = ts
	}
}

func TestMethodErrors(t *testing.T) {
	s := NewServer(t)
	api := client(s, Token)
	ctx := context.Background()
	_, parent, err := api.PostMessage("C1", slack.MsgOptionText("p", false))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"wrong token", func() error { _, err := client(s, "xoxb-wrong").AuthTestContext(ctx); return err }, "invalid_auth"},
		{"no token", func() error { _, err := client(s, "").AuthTestContext(ctx); return err }, "not_authed"},
		{"no text", func() error { _, _, err := api.PostMessage("C1"); return err }, "no_text"},
		{"update unknown ts", func() error {
			_, _, _, err := api.UpdateMessage("C1", "1.000000", slack.MsgOptionText("x", false))
			return err
		}, "message_not_found"},
		{"reply to unknown thread", func() error {
			_, _, err := api.PostMessage("C1", slack.MsgOptionText("x", false), slack.MsgOptionTS("1.000000"))
			return err
		}, "thread_not_found"},
		{"update in another channel", func() error {
			_, _, _, err := api.UpdateMessage("C2", parent, slack.MsgOptionText("x", false))
			return err
		}, "message_not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var se slack.SlackErrorResponse
			if !errors.As(err, &se) || se.Err != tt.want {
				t.Errorf("err = %v, want %s", err, tt.want)
			}
		})
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name  string
		fault Fault
		check func(t *testing.T, err error)
	}{
		{"rate limited", RateLimited(3 * time.Second), func(t *testing.T, err error) {
			var rl *slack.RateLimitedError
			if !errors.As(err, &rl) || rl.RetryAfter != 3*time.Second {
				t.Errorf("err = %#v, want RateLimitedError after 3s", err)
			}
		}},
		{"server error", HTTPStatus(http.StatusServiceUnavailable), func(t *testing.T, err error) {
			var sc slack.StatusCodeError
			if !errors.As(err, &sc) || sc.Code != http.StatusServiceUnavailable {
				t.Errorf("err = %#v, want StatusCodeError 503", err)
			}
		}},
		{"api error", APIError("channel_not_found"), func(t *testing.T, err error) {
			var se slack.SlackErrorResponse
			if !errors.As(err, &se) || se.Err != "channel_not_found" {
				t.Errorf("err = %#v, want channel_not_found", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewServer(t)
			api := client(s, Token)
			s.Fail("chat.postMessage", 2, tt.fault)
			for i := range 2 {
				_, _, err := api.PostMessage("C1", slack.MsgOptionText("x", false))
				if err == nil {
					t.Fatalf("call %d succeeded through a fault", i)
				}
				tt.check(t, err)
			}
			if _, _, err := api.PostMessage("C1", slack.MsgOptionText("x", false)); err != nil {
				t.Fatalf("call after faults: %v", err)
			}
			if got := len(s.Messages()); got != 1 {
				t.Errorf("messages = %d, want 1 (faulted calls post nothing)", got)
			}
			if got := s.CallCount("chat.postMessage"); got != 3 {
				t.Errorf("calls = %d, want 3", got)
			}
			if _, err := api.AuthTest(); err != nil {
				t.Errorf("auth.test hit a fault meant for chat.postMessage: %v", err)
			}
		})
	}
}

func TestJSONRequest(t *testing.T) {
	s := NewServer(t)
	body := `{"channel":"C9","text":"hi","blocks":[{"type":"divider"}],"unfurl_links":false}`
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/chat.postMessage", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Authorization", "Bearer "+Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		OK bool   `json:"ok"`
		TS string `json:"ts"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || !out.OK || out.TS == "" {
		t.Fatalf("answer ok=%v ts=%q err=%v", out.OK, out.TS, err)
	}
	m := s.Messages()
	if len(m) != 1 || m[0].Channel != "C9" || string(m[0].Blocks) != `[{"type":"divider"}]` || m[0].Params.Get("unfurl_links") != "false" {
		t.Errorf("Messages() = %+v", m)
	}
}

func TestEphemeralAndUpload(t *testing.T) {
	s := NewServer(t)
	api := client(s, Token)
	ctx := context.Background()
	_, parent, err := api.PostMessage("C1", slack.MsgOptionText("p", false))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.PostEphemeralContext(ctx, "C1", "U0HUMAN", slack.MsgOptionText("only you", false)); err != nil {
		t.Fatalf("ephemeral: %v", err)
	}
	if e := s.Ephemerals(); len(e) != 1 || e[0].User != "U0HUMAN" || e[0].Text != "only you" {
		t.Errorf("Ephemerals() = %+v", e)
	}
	f, err := api.UploadFileContext(ctx, slack.UploadFileParameters{
		Filename: "traces.jsonl", FileSize: 7, Content: "{\"a\":1}", Title: "Traces",
		Channel: "C1", ThreadTimestamp: parent,
	})
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	files := s.Files()
	if len(files) != 1 || files[0].ID != f.ID || string(files[0].Content) != `{"a":1}` ||
		files[0].Title != "Traces" || files[0].ThreadTS != parent || files[0].Name != "traces.jsonl" {
		t.Errorf("Files() = %+v", files)
	}
	if len(s.Messages()) != 1 {
		t.Errorf("ephemeral or upload added a message: %+v", s.Messages())
	}
}

func TestWaitFor(t *testing.T) {
	s := NewServer(t)
	go func() {
		_, _, _ = client(s, Token).PostMessage("C1", slack.MsgOptionText("late", false))
	}()
	got := s.WaitForMessages(t, 1, 5*time.Second)
	if got[0].Text != "late" {
		t.Errorf("waited for %+v", got)
	}
}
