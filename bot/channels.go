package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/oncall-copilot/oncall-copilot/retry"
)

// Slack takes a channel name only in chat.postMessage and
// chat.postEphemeral (api.slack.com/methods/chat.postMessage: "an
// encoded ID or channel name"). chat.update, reactions.*,
// conversations.history/replies/info and files.completeUploadExternal
// want the id and answer channel_not_found to a name
// (github.com/slackapi/python-slack-sdk/issues/696). So the publisher
// resolves a configured name to its id once, with conversations.list,
// and keeps the id chat.postMessage answers with for everything after.

// Errors of channel checks, for errors.Is.
var (
	// ErrChannelNotFound: no conversation has that id or name, or it is
	// private and the bot is not in it.
	ErrChannelNotFound = errors.New("channel not found")
	// ErrNotInChannel: the channel exists and the bot is not a member.
	ErrNotInChannel = errors.New("the bot is not in the channel")
	// ErrChannelArchived: the channel is archived.
	ErrChannelArchived = errors.New("the channel is archived")
	// ErrAuth: Slack rejected the token.
	ErrAuth = errors.New("slack rejected the token")
)

// relistAfter is how long a name that was not found is not looked up
// again, so that a wrong name does not list the workspace on every call.
const relistAfter = 30 * time.Second

// IsChannelID tells a channel id (C…, G…, D…) from a name (#name or
// name): Slack keeps names in lower case and ids in upper case.
func IsChannelID(channel string) bool {
	return channel != "" && !strings.HasPrefix(channel, "#") && channel[0] >= 'A' && channel[0] <= 'Z'
}

// ChannelID returns the id of channel: an id as it is; a name, with or
// without its #, looked up with conversations.list (public channels and
// the private ones the bot is in; archived ones too, so that a check can
// say a channel is archived rather than missing) and cached.
// An unknown name is ErrChannelNotFound, marked permanent.
func (s *Slack) ChannelID(ctx context.Context, channel string) (string, error) {
	channel = strings.TrimSpace(channel)
	if IsChannelID(channel) {
		return channel, nil
	}
	name := strings.ToLower(strings.TrimPrefix(channel, "#"))
	if name == "" {
		return "", retry.Permanent(fmt.Errorf("resolve channel: %w: empty name", ErrChannelNotFound))
	}
	s.chMu.Lock()
	defer s.chMu.Unlock()
	if id, ok := s.channelIDs[name]; ok {
		return id, nil
	}
	if !s.listedAt.IsZero() && s.now().Sub(s.listedAt) < relistAfter {
		return "", retry.Permanent(fmt.Errorf("resolve channel #%s: %w", name, ErrChannelNotFound))
	}
	ids, err := s.listChannels(ctx)
	if err != nil {
		return "", fmt.Errorf("resolve channel #%s: %w", name, err)
	}
	s.channelIDs, s.listedAt = ids, s.now()
	if id, ok := ids[name]; ok {
		s.log.Info("channel resolved", "name", name, "channel", id)
		return id, nil
	}
	return "", retry.Permanent(fmt.Errorf("resolve channel #%s: %w (conversations.list saw %d channels)", name, ErrChannelNotFound, len(ids)))
}

// listChannels pages through conversations.list. The caller holds chMu.
func (s *Slack) listChannels(ctx context.Context) (map[string]string, error) {
	ids := map[string]string{}
	params := slack.GetConversationsParameters{
		Types: []string{"public_channel", "private_channel"}, Limit: 200,
	}
	for page := 0; page < 200; page++ {
		var chans []slack.Channel
		var next string
		err := s.read(ctx, "conversations.list", "", func(ctx context.Context) error {
			var err error
			chans, next, err = s.api.GetConversationsContext(ctx, &params)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, c := range chans {
			ids[strings.ToLower(c.Name)] = c.ID
		}
		if next == "" {
			break
		}
		params.Cursor = next
	}
	return ids, nil
}

// Identity is who the bot token belongs to.
type Identity struct {
	UserID, BotID, User, Team string
}

// CheckAuth asks Slack whom the token belongs to (auth.test). A
// rejected token is ErrAuth.
func (s *Slack) CheckAuth(ctx context.Context) (Identity, error) {
	var resp *slack.AuthTestResponse
	err := s.read(ctx, "auth.test", "", func(ctx context.Context) error {
		r, err := s.api.AuthTestContext(ctx)
		resp = r
		return err
	})
	if err != nil {
		if authCode(err) {
			return Identity{}, fmt.Errorf("auth.test: %w: %w", ErrAuth, err)
		}
		return Identity{}, fmt.Errorf("auth.test: %w", err)
	}
	return Identity{UserID: resp.UserID, BotID: resp.BotID, User: resp.User, Team: resp.Team}, nil
}

// authCode reports whether err is Slack refusing the token.
func authCode(err error) bool {
	var ae *apiError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.code {
	case "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "not_allowed_token_type":
		return true
	}
	return false
}

// CheckChannel checks that channel (an id or a name) exists, is not
// archived and has the bot as a member (conversations.info on its id:
// is_member), and returns its id. The errors wrap ErrChannelNotFound,
// ErrNotInChannel, ErrChannelArchived or ErrAuth.
func (s *Slack) CheckChannel(ctx context.Context, channel string) (string, error) {
	id, err := s.ChannelID(ctx, channel)
	if err != nil {
		if authCode(err) {
			return "", fmt.Errorf("%w: %w", ErrAuth, err)
		}
		return "", err
	}
	if strings.HasPrefix(id, "D") {
		return id, nil // a direct message: the bot is in it
	}
	var info *slack.Channel
	err = s.read(ctx, "conversations.info", id, func(ctx context.Context) error {
		c, err := s.api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: id})
		info = c
		return err
	})
	var ae *apiError
	switch {
	case err != nil && authCode(err):
		return "", fmt.Errorf("check channel %s: %w: %w", channel, ErrAuth, err)
	case errors.As(err, &ae) && ae.code == "channel_not_found":
		return "", fmt.Errorf("check channel %s: %w", channel, ErrChannelNotFound)
	case err != nil:
		return "", fmt.Errorf("check channel %s: %w", channel, err)
	case info.IsArchived:
		return "", fmt.Errorf("check channel %s: %w", channel, ErrChannelArchived)
	case !info.IsMember:
		return "", fmt.Errorf("check channel %s: %w", channel, ErrNotInChannel)
	}
	return id, nil
}

// RefusalCode returns the Web API error code ("channel_not_found",
// "not_in_channel", "invalid_auth", …) of a call Slack refused, found
// anywhere in err's chain, or "".
func RefusalCode(err error) string {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae.code
	case errors.Is(err, ErrChannelNotFound):
		return "channel_not_found"
	}
	return ""
}
