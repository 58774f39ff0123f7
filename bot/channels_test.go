package bot

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/oncall-copilot/oncall-copilot/bot/slacktest"
)

// TestThreadByChannelName is the thread of an incident configured with a
// channel name: the post takes the name and answers with the id, and
// every later call (update, replies, notes, lookups) uses the id, as
// Slack wants.
func TestThreadByChannelName(t *testing.T) {
	f := newFixture(t)
	ch := f.srv.AddChannel(slacktest.Channel{Name: "agents-oncall", IsMember: true})
	ctx := t.Context()
	inc := testIncident()
	inc.Channel = "#agents-oncall"
	id, ts, err := f.bot.PostParent(ctx, inc)
	if err != nil {
		t.Fatalf("PostParent: %v", err)
	}
	if id != ch.ID {
		t.Fatalf("PostParent gave channel %q, want the id %q", id, ch.ID)
	}
	inc.ThreadTS = ts
	// An incident recorded before ids were kept still holds the name:
	// it is resolved, not sent as it is.
	for _, channel := range []string{id, "#agents-oncall"} {
		inc.Channel = channel
		if err := f.bot.UpdateParent(ctx, inc); err != nil {
			t.Errorf("UpdateParent in %s: %v", channel, err)
		}
		if err := f.bot.PostNote(ctx, inc, "resolved"); err != nil {
			t.Errorf("PostNote in %s: %v", channel, err)
		}
		if _, err := f.bot.FindReport(ctx, inc); err != nil {
			t.Errorf("FindReport in %s: %v", channel, err)
		}
		found := inc
		found.OpenedAt = time.Time{} // the fake's timestamps are not the fixture clock's
		if got, err := f.bot.FindParent(ctx, found); err != nil || got != ts {
			t.Errorf("FindParent in %s: %q, %v; want %s", channel, got, err, ts)
		}
	}
	for _, c := range f.srv.Calls() {
		if c.Error != "" {
			t.Errorf("%s answered %s", c.Method, c.Error)
		}
	}
	if n := f.srv.CallCount("conversations.list"); n != 1 {
		t.Errorf("conversations.list called %d times, want once (cached)", n)
	}
}

func TestChannelIDPagesAndCaches(t *testing.T) {
	f := newFixture(t)
	for i := range 450 {
		f.srv.AddChannel(slacktest.Channel{Name: fmt.Sprintf("team-%03d", i)})
	}
	want := f.srv.AddChannel(slacktest.Channel{Name: "agents-oncall", IsMember: true})
	ctx := t.Context()
	for range 3 {
		got, err := f.bot.ChannelID(ctx, "#agents-oncall")
		if err != nil || got != want.ID {
			t.Fatalf("ChannelID: %q, %v; want %s", got, err, want.ID)
		}
	}
	if n := f.srv.CallCount("conversations.list"); n != 3 {
		t.Errorf("conversations.list called %d times, want 3 pages once", n)
	}
	if got, err := f.bot.ChannelID(ctx, "C0ALREADY"); err != nil || got != "C0ALREADY" {
		t.Errorf("ChannelID of an id: %q, %v; want it unchanged", got, err)
	}
	_, err := f.bot.ChannelID(ctx, "#agents-oncal")
	if !errors.Is(err, ErrChannelNotFound) {
		t.Errorf("ChannelID of a mistyped name: %v, want ErrChannelNotFound", err)
	}
}

func TestCheckChannel(t *testing.T) {
	f := newFixture(t)
	in := f.srv.AddChannel(slacktest.Channel{Name: "in", IsMember: true})
	f.srv.AddChannel(slacktest.Channel{Name: "out"})
	f.srv.AddChannel(slacktest.Channel{Name: "old", IsMember: true, IsArchived: true})
	old := f.srv.Channels()[2]
	tests := []struct {
		channel string
		want    error
	}{
		{"#in", nil},
		{in.ID, nil},
		{"#out", ErrNotInChannel},
		{"#nope", ErrChannelNotFound},
		{"C0NOSUCH", ErrChannelNotFound},
		{old.ID, ErrChannelArchived},
	}
	for _, tt := range tests {
		t.Run(tt.channel, func(t *testing.T) {
			id, err := f.bot.CheckChannel(t.Context(), tt.channel)
			if !errors.Is(err, tt.want) || (tt.want == nil && id == "") {
				t.Errorf("CheckChannel(%s) = %q, %v; want %v", tt.channel, id, err, tt.want)
			}
		})
	}

	f.srv.Token = "xoxb-other"
	if _, err := f.bot.CheckAuth(t.Context()); !errors.Is(err, ErrAuth) {
		t.Errorf("CheckAuth with a rejected token: %v, want ErrAuth", err)
	}
}
