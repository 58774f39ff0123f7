package slacktest

import (
	"context"
	"testing"

	"github.com/slack-go/slack"
)

// TestChannelNamesOnlyWherePostingTakesThem checks the fake refuses a
// channel name where Slack does: everywhere but chat.postMessage and
// chat.postEphemeral.
func TestChannelNamesOnlyWherePostingTakesThem(t *testing.T) {
	s := NewServer(t)
	ch := s.AddChannel(Channel{Name: "agents-oncall", IsMember: true})
	c := client(s, Token)
	ctx := context.Background()

	gotCh, ts, err := c.PostMessageContext(ctx, "#agents-oncall", slack.MsgOptionText("parent", false))
	if err != nil {
		t.Fatalf("chat.postMessage with a name: %v", err)
	}
	if gotCh != ch.ID {
		t.Fatalf("chat.postMessage answered channel %q, want the id %q", gotCh, ch.ID)
	}
	if _, err := c.PostEphemeralContext(ctx, "agents-oncall", "U1", slack.MsgOptionText("psst", false)); err != nil {
		t.Fatalf("chat.postEphemeral with a name: %v", err)
	}

	byName := map[string]func() error{
		"chat.update": func() error {
			_, _, _, err := c.UpdateMessageContext(ctx, "#agents-oncall", ts, slack.MsgOptionText("x", false))
			return err
		},
		"reactions.add": func() error {
			return c.AddReactionContext(ctx, "eyes", slack.NewRefToMessage("#agents-oncall", ts))
		},
		"conversations.replies": func() error {
			_, _, _, err := c.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: "#agents-oncall", Timestamp: ts})
			return err
		},
		"conversations.history": func() error {
			_, err := c.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "agents-oncall"})
			return err
		},
		"conversations.info": func() error {
			_, err := c.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: "#agents-oncall"})
			return err
		},
	}
	for method, call := range byName {
		if err := call(); err == nil || err.Error() != "channel_not_found" {
			t.Errorf("%s with a name: err %v, want channel_not_found", method, err)
		}
	}
	if _, _, _, err := c.UpdateMessageContext(ctx, ch.ID, ts, slack.MsgOptionText("x", false)); err != nil {
		t.Errorf("chat.update with the id: %v", err)
	}
	if m := s.Messages(); len(m) != 1 || m[0].Channel != ch.ID {
		t.Errorf("messages %+v, want one recorded under %s", m, ch.ID)
	}
}

func TestChannelRefusals(t *testing.T) {
	s := NewServer(t)
	member := s.AddChannel(Channel{Name: "in", IsMember: true})
	outside := s.AddChannel(Channel{Name: "out"})
	private := s.AddChannel(Channel{Name: "secret", IsPrivate: true})
	archived := s.AddChannel(Channel{Name: "old", IsMember: true, IsArchived: true})
	c := client(s, Token)
	ctx := context.Background()
	post := func(ch string) error {
		_, _, err := c.PostMessageContext(ctx, ch, slack.MsgOptionText("hi", false))
		return err
	}
	tests := []struct {
		name, channel, want string
	}{
		{"member", member.ID, ""},
		{"not a member", outside.ID, "not_in_channel"},
		{"not a member, by name", "#out", "not_in_channel"},
		{"private, not a member", private.ID, "channel_not_found"},
		{"archived", archived.ID, "is_archived"},
		{"unknown id", "C0NOSUCH", "channel_not_found"},
		{"unknown name", "#agents-oncal", "channel_not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := post(tt.channel)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("chat.postMessage to %s: %q, want %q", tt.channel, got, tt.want)
			}
		})
	}

	info, err := c.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: outside.ID})
	if err != nil || info.IsMember || info.Name != "out" {
		t.Errorf("conversations.info of a public channel the bot is not in: %+v, %v; want is_member false", info, err)
	}
	if _, err := client(s, "xoxb-wrong").AuthTestContext(ctx); err == nil || err.Error() != "invalid_auth" {
		t.Errorf("auth.test with a wrong token: %v, want invalid_auth", err)
	}

	// conversations.list pages with a cursor and leaves out private
	// channels the bot is not in.
	var names []string
	params := &slack.GetConversationsParameters{Types: []string{"public_channel", "private_channel"}, Limit: 1}
	for {
		chans, next, err := c.GetConversationsContext(ctx, params)
		if err != nil {
			t.Fatalf("conversations.list: %v", err)
		}
		for _, ch := range chans {
			names = append(names, ch.Name)
		}
		if next == "" {
			break
		}
		params.Cursor = next
	}
	if len(names) != 3 {
		t.Errorf("conversations.list gave %v, want in, out and old", names)
	}
}
