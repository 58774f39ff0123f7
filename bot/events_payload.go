package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// envelope is the outer Events API payload.
type envelope struct {
	Type           string `json:"type"`
	Challenge      string `json:"challenge"`
	EventID        string `json:"event_id"`
	Authorizations []struct {
		UserID string `json:"user_id"`
		IsBot  bool   `json:"is_bot"`
	} `json:"authorizations"`
	Event *innerEvent `json:"event"`
}

// innerEvent is the part of a message or app_mention event the copilot
// reads.
type innerEvent struct {
	Type        string          `json:"type"`
	Subtype     string          `json:"subtype"`
	User        string          `json:"user"`
	BotID       string          `json:"bot_id"`
	Text        string          `json:"text"`
	TS          string          `json:"ts"`
	ThreadTS    string          `json:"thread_ts"`
	Channel     string          `json:"channel"`
	ChannelType string          `json:"channel_type"`
	Edited      json.RawMessage `json:"edited"`
}

// eventJob is the payload of a JobSlackEvent: a message the copilot may
// answer.
type eventJob struct {
	EventID     string `json:"event_id"`
	Type        string `json:"type"` // app_mention or message
	Channel     string `json:"channel"`
	ChannelType string `json:"channel_type,omitempty"`
	User        string `json:"user"`
	Text        string `json:"text"`
	TS          string `json:"ts"`
	ThreadTS    string `json:"thread_ts,omitempty"`
	Mentioned   bool   `json:"mentioned"` // the message mentions the copilot
}

// HandleEvent takes one Events API payload (the HTTP body, or a Socket
// Mode events_api envelope's payload). It returns the challenge of a
// url_verification, queues a message the copilot may answer, and drops
// the rest: the copilot's own messages and other bots', edits and
// deletions (among them the message_changed echoes of its own updates),
// top-level channel messages that do not mention it, and retries of an
// event or a message already queued. The error wraps ErrMalformed for a
// payload Slack would not send; any other error means nothing was queued
// and Slack should retry.
func (in *Intake) HandleEvent(ctx context.Context, body []byte) (challenge string, err error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return "", fmt.Errorf("%w: event: %v", ErrMalformed, err)
	}
	switch env.Type {
	case "url_verification":
		if env.Challenge == "" {
			return "", fmt.Errorf("%w: url_verification without a challenge", ErrMalformed)
		}
		return env.Challenge, nil
	case "event_callback":
	case "app_rate_limited":
		in.log.Warn("slack is rate limiting the app's events")
		return "", nil
	default:
		in.log.Debug("slack payload ignored", "type", env.Type)
		return "", nil
	}
	if env.EventID == "" || env.Event == nil {
		return "", fmt.Errorf("%w: event_callback without event or event_id", ErrMalformed)
	}
	botUser := in.opts.BotUserID
	for _, a := range env.Authorizations {
		if botUser == "" && a.IsBot {
			botUser = a.UserID
		}
	}
	job, why := messageJob(env, botUser)
	if why != "" {
		in.log.Debug("slack event ignored", "event", env.EventID, "type", env.Event.Type, "why", why)
		return "", nil
	}
	if job.Channel == "" || job.TS == "" {
		return "", fmt.Errorf("%w: %s event without channel or ts", ErrMalformed, job.Type)
	}
	payload, err := json.Marshal(job)
	if err != nil {
		return "", fmt.Errorf("encode event: %w", err)
	}
	// An app_mention and the message event of the same message share the
	// channel and ts: whichever comes first is queued.
	keys := []string{"slack:event:" + env.EventID, "slack:message:" + job.Channel + ":" + job.TS}
	queued, err := in.enqueueOnce(ctx, keys, oncall.Job{Kind: JobSlackEvent, Channel: job.Channel, Payload: payload})
	if err != nil {
		return "", err
	}
	in.log.Info("slack event received", "event", env.EventID, "type", job.Type, "channel", job.Channel, "queued", queued)
	return "", nil
}

// messageJob turns an event into a job, or says why it is ignored.
func messageJob(env envelope, botUser string) (eventJob, string) {
	ev := env.Event
	switch {
	case ev.BotID != "":
		return eventJob{}, "from a bot"
	case botUser != "" && ev.User == botUser:
		return eventJob{}, "own message"
	case ev.User == "":
		return eventJob{}, "no user"
	}
	job := eventJob{
		EventID: env.EventID, Type: ev.Type, Channel: ev.Channel, ChannelType: ev.ChannelType, User: ev.User,
		Text: ev.Text, TS: ev.TS, ThreadTS: ev.ThreadTS,
		Mentioned: ev.Type == "app_mention" || mentions(ev.Text, botUser),
	}
	switch ev.Type {
	case "app_mention":
		if len(ev.Edited) > 0 && string(ev.Edited) != "null" {
			return eventJob{}, "edited mention"
		}
		// A mention in a canvas (subtype document_mention) or any other
		// non-chat place has no thread to answer in; only a chat
		// message's mention (no subtype, or a broadcast or file share
		// reply) is a question.
		switch ev.Subtype {
		case "", "thread_broadcast", "file_share":
		default:
			return eventJob{}, "mention subtype " + ev.Subtype
		}
		return job, ""
	case "message":
		switch ev.Subtype {
		case "", "thread_broadcast", "file_share":
		default:
			return eventJob{}, "message subtype " + ev.Subtype
		}
		if ev.ChannelType == "im" {
			return job, ""
		}
		if ev.ThreadTS != "" && ev.ThreadTS != ev.TS {
			return job, ""
		}
		return eventJob{}, "top-level channel message"
	}
	return eventJob{}, "event type " + ev.Type
}

// actionJob is the payload of a JobSlackAction: one button or input on
// a message the copilot posted.
type actionJob struct {
	ActionID    string `json:"action_id"`
	Value       string `json:"value,omitempty"`
	BlockID     string `json:"block_id,omitempty"`
	User        string `json:"user"`
	Channel     string `json:"channel"`
	MessageTS   string `json:"message_ts,omitempty"`
	ThreadTS    string `json:"thread_ts,omitempty"`
	ResponseURL string `json:"response_url,omitempty"`
	Ephemeral   bool   `json:"ephemeral,omitempty"`
}

// HandleInteraction takes one interactivity payload (the JSON of the
// HTTP form's payload field, or of a Socket Mode interactive envelope)
// and queues a job for each of the copilot's own actions in it. Other
// interactions are acknowledged and dropped.
func (in *Intake) HandleInteraction(ctx context.Context, payload []byte) error {
	var cb slack.InteractionCallback
	if err := json.Unmarshal(payload, &cb); err != nil {
		return fmt.Errorf("%w: interaction: %v", ErrMalformed, err)
	}
	if cb.Type != slack.InteractionTypeBlockActions {
		in.log.Debug("slack interaction ignored", "type", cb.Type)
		return nil
	}
	if cb.User.ID == "" {
		return fmt.Errorf("%w: block_actions without a user", ErrMalformed)
	}
	channel := cb.Channel.ID
	if channel == "" {
		channel = cb.Container.ChannelID
	}
	for _, a := range cb.ActionCallback.BlockActions {
		if a == nil || !strings.HasPrefix(a.ActionID, actionPrefix) {
			continue
		}
		job := actionJob{
			ActionID: a.ActionID, Value: a.Value, BlockID: a.BlockID, User: cb.User.ID, Channel: channel,
			MessageTS: cb.Container.MessageTs, ThreadTS: cb.Container.ThreadTs, ResponseURL: cb.ResponseURL,
			Ephemeral: cb.Container.IsEphemeral,
		}
		if job.MessageTS == "" {
			job.MessageTS = cb.Message.Timestamp
		}
		if job.ThreadTS == "" {
			job.ThreadTS = cb.Message.ThreadTimestamp
		}
		if job.Channel == "" {
			return fmt.Errorf("%w: action %s without a channel", ErrMalformed, a.ActionID)
		}
		p, err := json.Marshal(job)
		if err != nil {
			return fmt.Errorf("encode action: %w", err)
		}
		key := "slack:action:" + cb.User.ID + ":" + a.ActionID + ":" + a.BlockID + ":" + a.ActionTs
		queued, err := in.enqueueOnce(ctx, []string{key}, oncall.Job{Kind: JobSlackAction, Channel: channel, Payload: p})
		if err != nil {
			return err
		}
		in.log.Info("slack action received", "action", a.ActionID, "channel", channel, "queued", queued)
	}
	return nil
}

// mentions reports whether text mentions user (<@U123> or <@U123|name>).
func mentions(text, user string) bool {
	return user != "" && (strings.Contains(text, "<@"+user+">") || strings.Contains(text, "<@"+user+"|"))
}
