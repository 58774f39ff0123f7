package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/slack-go/slack"

	"github.com/oncall-copilot/oncall-copilot/retry"
)

// Identify asks Slack who the bot token belongs to (auth.test): the bot's
// user id, which mentions use, and its bot id, which its messages carry.
func (s *Slack) Identify(ctx context.Context) (userID, botID string, err error) {
	var resp *slack.AuthTestResponse
	err = retry.Do(ctx, s.retry, func(ctx context.Context) error {
		r, err := s.api.AuthTestContext(ctx)
		resp = r
		if err = classify("auth.test", err); err != nil {
			return s.scrub(err)
		}
		return nil
	})
	if err != nil {
		return "", "", fmt.Errorf("identify the bot: %w", err)
	}
	return resp.UserID, resp.BotID, nil
}

// react adds or removes an emoji reaction on a message; a reaction that
// is already there (or already gone) is not an error.
func (s *Slack) react(ctx context.Context, channel, ts, name string, add bool) error {
	method := "reactions.remove"
	if add {
		method = "reactions.add"
	}
	channel, err := s.ChannelID(ctx, channel)
	if err != nil {
		return fmt.Errorf("%s %s on %s: %w", method, name, ts, err)
	}
	err = s.call(ctx, method, channel, func(ctx context.Context) error {
		ref := slack.NewRefToMessage(channel, ts)
		if add {
			return s.api.AddReactionContext(ctx, name, ref)
		}
		return s.api.RemoveReactionContext(ctx, name, ref)
	})
	var se slack.SlackErrorResponse
	if errors.As(err, &se) && (se.Err == "already_reacted" || se.Err == "no_reaction") {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s %s on %s: %w", method, name, ts, err)
	}
	return nil
}

// threadReplies reads up to limit messages of the thread of ts, the
// parent first.
func (s *Slack) threadReplies(ctx context.Context, channel, ts string, limit int) ([]slack.Message, error) {
	channel, err := s.ChannelID(ctx, channel)
	if err != nil {
		return nil, fmt.Errorf("read thread %s: %w", ts, err)
	}
	var msgs []slack.Message
	err = s.call(ctx, "conversations.replies", channel, func(ctx context.Context) error {
		m, _, _, err := s.api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: channel, Timestamp: ts, Limit: limit})
		msgs = m
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read thread %s in %s: %w", ts, channel, err)
	}
	return msgs, nil
}

// postEphemeral shows a message to one user in a channel (in a thread
// when threadTS is set).
func (s *Slack) postEphemeral(ctx context.Context, channel, user, threadTS, text string, blocks []slack.Block) error {
	opts := messageOptions(text, blocks)
	if threadTS != "" {
		opts = append(opts, slack.MsgOptionTS(threadTS))
	}
	err := s.call(ctx, "chat.postEphemeral", channel, func(ctx context.Context) error {
		_, err := s.api.PostEphemeralContext(ctx, channel, user, opts...)
		return err
	})
	if err != nil {
		return fmt.Errorf("post ephemeral message to %s in %s: %w", user, channel, err)
	}
	return nil
}

// postMessages posts messages in order, in a thread when threadTS is
// set.
func (s *Slack) postMessages(ctx context.Context, channel, threadTS string, msgs []message) error {
	for i, m := range msgs {
		if _, _, err := s.post(ctx, channel, threadTS, m.text, m.blocks); err != nil {
			return fmt.Errorf("post message %d of %d in %s: %w", i+1, len(msgs), channel, err)
		}
	}
	return nil
}

// Reply is a message for a slash command's user: the immediate answer
// to the command, or a message posted to a response_url later.
type Reply struct {
	ResponseType    string        `json:"response_type,omitempty"` // ephemeral (default) or in_channel
	Text            string        `json:"text"`
	Blocks          []slack.Block `json:"blocks,omitempty"`
	ReplaceOriginal bool          `json:"replace_original,omitempty"`
}

// ephemeral is a reply only the user sees, from safe mrkdwn.
func ephemeral(text string) *Reply {
	return &Reply{ResponseType: "ephemeral", Text: notification(text), Blocks: noteBlocks(text)}
}

// defaultResponseURL accepts Slack's own response URLs only.
func defaultResponseURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.User != nil {
		return false
	}
	h := strings.ToLower(u.Hostname())
	return h == "hooks.slack.com" || strings.HasSuffix(h, ".slack.com")
}

// respond posts a reply to a response_url.
func (a *App) respond(ctx context.Context, responseURL string, r Reply) error {
	if !a.opts.AllowResponseURL(responseURL) {
		return retry.Permanent(errors.New("respond: response url is not Slack's"))
	}
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("respond: encode: %w", err)
	}
	return retry.Do(ctx, retry.DefaultPolicy(), func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, responseURL, bytes.NewReader(body))
		if err != nil {
			return retry.Permanent(fmt.Errorf("respond: %w", err))
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := a.opts.HTTPClient.Do(req)
		if err != nil {
			// The URL carries a one-time secret: keep it out of the error.
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			return fmt.Errorf("respond: %w", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return retry.CheckResponse("slack", "response_url", resp, b)
	})
}
