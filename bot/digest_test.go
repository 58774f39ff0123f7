package bot

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"github.com/oncall-copilot/oncall-copilot/bot/slacktest"
)

var (
	digestPNG    = []byte("\x89PNG\r\n\x1a\nnot really a chart, but bytes to carry")
	digestBlocks = []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, "Daily digest", false, false)),
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "*Incidents* 2 opened", false, false), nil, nil),
	}
)

func TestPostDigestWithChart(t *testing.T) {
	f := newFixture(t)
	err := f.bot.PostDigest(t.Context(), "C0DIGEST", "Daily digest: 2 opened", digestBlocks, digestPNG, "Failing agent runs per hour")
	if err != nil {
		t.Fatalf("PostDigest: %v", err)
	}
	msgs := f.srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.Channel != "C0DIGEST" || m.ThreadTS != "" || m.Text != "Daily digest: 2 opened" || !strings.Contains(string(m.Blocks), "*Incidents* 2 opened") {
		t.Errorf("message = %+v, want the digest at the top of C0DIGEST", m)
	}
	if m.Params.Get("unfurl_links") != "false" || m.Params.Get("link_names") == "true" {
		t.Errorf("message params %v: want unfurling and name linking off", m.Params)
	}
	files := f.srv.Files()
	if len(files) != 1 {
		t.Fatalf("%d files, want the chart", len(files))
	}
	file := files[0]
	if !bytes.Equal(file.Content, digestPNG) || file.Channel != "C0DIGEST" || file.ThreadTS != m.TS || file.Name != digestChartName || file.Title != digestChartTitle {
		t.Errorf("file = %+v, want the chart in the digest's thread", file)
	}
	var order []string
	for _, c := range f.srv.Calls() {
		order = append(order, c.Method)
		if c.Method == "files.getUploadURLExternal" && c.Params.Get("alt_txt") != "Failing agent runs per hour" {
			t.Errorf("alt text %q", c.Params.Get("alt_txt"))
		}
	}
	if got := strings.Join(order, " "); got != "chat.postMessage files.getUploadURLExternal upload files.completeUploadExternal" {
		t.Errorf("calls %s, want the message then the three upload steps", got)
	}
	if strings.Contains(f.logs.String(), slacktest.Token) {
		t.Error("the token reached the logs")
	}
}

func TestPostDigestWithoutChart(t *testing.T) {
	f := newFixture(t)
	if err := f.bot.PostDigest(t.Context(), "C0DIGEST", "Daily digest: all quiet", digestBlocks, nil, ""); err != nil {
		t.Fatalf("PostDigest: %v", err)
	}
	if len(f.srv.Messages()) != 1 || f.srv.CallCount("files.getUploadURLExternal") != 0 {
		t.Errorf("messages %d, uploads %d; want one message and no upload", len(f.srv.Messages()), f.srv.CallCount("files.getUploadURLExternal"))
	}
}

func TestPostDigestFailures(t *testing.T) {
	cases := []struct {
		name      string
		fail      func(s *slacktest.Server)
		channel   string
		blocks    []slack.Block
		wantErr   string
		permanent bool
		wantMsgs  int
		wantFiles int
		wantCalls map[string]int
	}{
		{
			name: "upload steps are retried", channel: "C1", blocks: digestBlocks,
			fail: func(s *slacktest.Server) {
				s.Fail("files.getUploadURLExternal", 1, slacktest.HTTPStatus(503))
				s.Fail("files.completeUploadExternal", 1, slacktest.RateLimited(0))
			},
			wantMsgs: 1, wantFiles: 1,
			wantCalls: map[string]int{"chat.postMessage": 1, "files.getUploadURLExternal": 2, "files.completeUploadExternal": 2},
		},
		{
			name: "a refused chart leaves the message posted", channel: "C1", blocks: digestBlocks,
			fail: func(s *slacktest.Server) {
				s.Fail("files.completeUploadExternal", 1, slacktest.APIError("not_in_channel"))
			},
			wantErr: "message posted, chart not", permanent: true, wantMsgs: 1,
			wantCalls: map[string]int{"chat.postMessage": 1, "files.completeUploadExternal": 1},
		},
		{
			name: "a refused message uploads nothing", channel: "C1", blocks: digestBlocks,
			fail:    func(s *slacktest.Server) { s.Fail("chat.postMessage", 1, slacktest.APIError("channel_not_found")) },
			wantErr: "channel_not_found", permanent: true,
			wantCalls: map[string]int{"chat.postMessage": 1, "files.getUploadURLExternal": 0},
		},
		{name: "no channel", blocks: digestBlocks, wantErr: "no channel", permanent: true, wantCalls: map[string]int{"chat.postMessage": 0}},
		{name: "no blocks", channel: "C1", wantErr: "empty message", permanent: true, wantCalls: map[string]int{"chat.postMessage": 0}},
		{name: "too many blocks", channel: "C1", blocks: make([]slack.Block, 51), wantErr: "51 blocks", permanent: true, wantCalls: map[string]int{"chat.postMessage": 0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if tc.fail != nil {
				tc.fail(f.srv)
			}
			err := f.bot.PostDigest(t.Context(), tc.channel, "digest", tc.blocks, digestPNG, "chart")
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("PostDigest: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("PostDigest error = %v, want one saying %q", err, tc.wantErr)
			case tc.wantErr != "" && errors.Is(err, ErrPermanent) != tc.permanent:
				t.Errorf("errors.Is(%v, ErrPermanent) = %v, want %v", err, !tc.permanent, tc.permanent)
			}
			if n := len(f.srv.Messages()); n != tc.wantMsgs {
				t.Errorf("%d messages, want %d", n, tc.wantMsgs)
			}
			if n := len(f.srv.Files()); n != tc.wantFiles {
				t.Errorf("%d files, want %d", n, tc.wantFiles)
			}
			for method, want := range tc.wantCalls {
				if got := f.srv.CallCount(method); got != want {
					t.Errorf("%s called %d times, want %d", method, got, want)
				}
			}
		})
	}
}
