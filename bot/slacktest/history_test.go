package slacktest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
)

func TestHistoryPagesNewestFirstWithMetadata(t *testing.T) {
	s := NewServer(t)
	var mu sync.Mutex
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	s.UseClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	api := client(s, Token)
	ctx := context.Background()

	post := func(text, thread string, meta *slack.SlackMetadata) string {
		t.Helper()
		opts := []slack.MsgOption{slack.MsgOptionText(text, false)}
		if thread != "" {
			opts = append(opts, slack.MsgOptionTS(thread))
		}
		if meta != nil {
			opts = append(opts, slack.MsgOptionMetadata(*meta))
		}
		_, ts, err := api.PostMessageContext(ctx, "C1", opts...)
		if err != nil {
			t.Fatalf("post %s: %v", text, err)
		}
		return ts
	}
	old := post("before", "", nil)
	advance(time.Hour)
	first := post("first", "", &slack.SlackMetadata{EventType: "incident", EventPayload: map[string]any{"key": "k1"}})
	post("reply", first, nil)
	second := post("second", "", nil) // same instant: the ts still grows
	if second <= first || first <= old {
		t.Fatalf("timestamps do not grow: %s %s %s", old, first, second)
	}
	if want := fmt.Sprintf("%d.000000", now.Unix()); first != want {
		t.Errorf("ts under the clock = %s, want %s", first, want)
	}
	// An update without metadata keeps it, as Slack does.
	if _, _, _, err := api.UpdateMessageContext(ctx, "C1", first, slack.MsgOptionText("first v2", false)); err != nil {
		t.Fatal(err)
	}

	oldest := fmt.Sprintf("%d.000000", now.Add(-time.Minute).Unix())
	var got []slack.Message
	cursor, pages := "", 0
	for {
		resp, err := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
			ChannelID: "C1", Oldest: oldest, Limit: 1, Cursor: cursor, IncludeAllMetadata: true,
		})
		if err != nil {
			t.Fatalf("history: %v", err)
		}
		pages++
		got = append(got, resp.Messages...)
		if !resp.HasMore {
			break
		}
		cursor = resp.ResponseMetaData.NextCursor
	}
	if pages != 2 || len(got) != 2 {
		t.Fatalf("got %d messages in %d pages, want 2 in 2: %+v", len(got), pages, got)
	}
	if got[0].Timestamp != second || got[1].Timestamp != first {
		t.Errorf("order = %s, %s; want newest first %s, %s", got[0].Timestamp, got[1].Timestamp, second, first)
	}
	m := got[1]
	if m.Text != "first v2" || m.ReplyCount != 1 {
		t.Errorf("first = %q with %d replies", m.Text, m.ReplyCount)
	}
	if m.Metadata.EventType != "incident" || m.Metadata.EventPayload["key"] != "k1" {
		t.Errorf("metadata = %+v", m.Metadata)
	}

	// Without include_all_metadata there is none; inclusive takes oldest.
	resp, err := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C1", Oldest: old, Inclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Messages) != 3 || resp.Messages[1].Metadata.EventType != "" {
		t.Errorf("inclusive history without metadata = %+v", resp.Messages)
	}
	if _, err := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C1", Cursor: "garbage"}); err == nil {
		t.Error("a bad cursor was accepted")
	}
}
