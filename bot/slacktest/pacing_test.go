package slacktest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
)

func TestPacing(t *testing.T) {
	var (
		mu  sync.Mutex
		now = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	s := NewServer(t)
	s.SetPacing(Pacing{Interval: time.Second, Burst: 2, Now: clock})
	api := client(s, Token)
	ctx := context.Background()
	post := func(channel string) error {
		_, _, err := api.PostMessageContext(ctx, channel, slack.MsgOptionText("x", false))
		return err
	}
	steps := []struct {
		name    string
		channel string
		advance time.Duration
		limited bool
	}{
		{"first of a burst", "C1", 0, false},
		{"second of a burst", "C1", 0, false},
		{"third at once is refused", "C1", 0, true},
		{"another channel is not slowed", "C2", 0, false},
		{"a second later one more fits", "C1", time.Second, false},
		{"but not two", "C1", 0, true},
		{"a quiet channel takes a burst again", "C1", 10 * time.Second, false},
	}
	for _, st := range steps {
		advance(st.advance)
		err := post(st.channel)
		var rl *slack.RateLimitedError
		switch {
		case st.limited && !errors.As(err, &rl):
			t.Errorf("%s: err = %v, want 429", st.name, err)
		case st.limited && rl.RetryAfter < time.Second:
			t.Errorf("%s: Retry-After %v, want at least 1s", st.name, rl.RetryAfter)
		case !st.limited && err != nil:
			t.Errorf("%s: %v", st.name, err)
		}
	}
	// chat.update is paced in the same budget.
	advance(10 * time.Second)
	_, ts, err := api.PostMessageContext(ctx, "C3", slack.MsgOptionText("x", false))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := api.UpdateMessageContext(ctx, "C3", ts, slack.MsgOptionText("y", false)); err != nil {
		t.Fatalf("update within the burst: %v", err)
	}
	var rl *slack.RateLimitedError
	if _, _, _, err := api.UpdateMessageContext(ctx, "C3", ts, slack.MsgOptionText("z", false)); !errors.As(err, &rl) {
		t.Errorf("update over the rate: err = %v, want 429", err)
	}
	if got := s.RateLimitedCount(); got != 3 {
		t.Errorf("RateLimitedCount = %d, want 3", got)
	}
}
