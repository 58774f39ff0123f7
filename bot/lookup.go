package bot

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/slack-go/slack"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/retry"
)

// IncidentEventType is the metadata event type of an incident's parent
// message; its payload holds the incident key under "incident_key".
const IncidentEventType = "oncall_incident"

// Limits of one FindParent search of a channel's history.
const (
	lookupPageSize = 200
	lookupMaxPages = 10
	// lookupSkew widens the search before the incident opened, for the
	// difference between our clock and Slack's.
	lookupSkew = time.Minute
)

// ReportEventType is the metadata event type of the replies of a triage
// report; its payload holds "incident_key" and "fire", the incident's
// fire count when it was triaged.
const ReportEventType = "oncall_report"

// reportMetadata is the metadata of the replies of inc's triage report.
func reportMetadata(inc oncall.Incident) slack.MsgOption {
	return slack.MsgOptionMetadata(slack.SlackMetadata{
		EventType:    ReportEventType,
		EventPayload: map[string]any{"incident_key": inc.Key, "fire": strconv.Itoa(inc.Fires)},
	})
}

// incidentMetadata is the metadata an incident's parent message carries.
func incidentMetadata(inc oncall.Incident) slack.MsgOption {
	return slack.MsgOptionMetadata(slack.SlackMetadata{
		EventType:    IncidentEventType,
		EventPayload: map[string]any{"incident_key": inc.Key},
	})
}

// FindParent looks for the parent message of inc that PostParent posted
// in inc.Channel since inc.OpenedAt, by the incident key in its metadata,
// and returns its ts, or "" when there is none. Jobs that may have posted
// the parent before crashing call it before posting again.
//
// It reads conversations.history (channels:history or groups:history
// scope) newest first, at most lookupMaxPages pages of lookupPageSize
// messages; a parent further back is not found. Transient failures are
// retried under the publisher's policy. When Slack refuses the read (a
// missing scope, say) the error wraps ErrPermanent and is marked
// retry.Permanent, as asking again will not help.
func (s *Slack) FindParent(ctx context.Context, inc oncall.Incident) (string, error) {
	if inc.Channel == "" || inc.Key == "" {
		return "", fmt.Errorf("find parent of incident %s: %w: no channel or key", inc.Key, ErrPermanent)
	}
	channel, err := s.threadChannel(ctx, "find parent", inc)
	if err != nil {
		return "", err
	}
	inc.Channel = channel
	params := slack.GetConversationHistoryParameters{
		ChannelID:          inc.Channel,
		Limit:              lookupPageSize,
		IncludeAllMetadata: true,
	}
	if !inc.OpenedAt.IsZero() {
		params.Oldest = slackTS(inc.OpenedAt.Add(-lookupSkew))
	}
	for page := 1; page <= lookupMaxPages; page++ {
		var resp *slack.GetConversationHistoryResponse
		err := s.read(ctx, "conversations.history", inc.Channel, func(ctx context.Context) error {
			r, err := s.api.GetConversationHistoryContext(ctx, &params)
			resp = r
			return err
		})
		if err != nil {
			return "", fmt.Errorf("find parent of incident %s in %s: %w", inc.Key, inc.Channel, err)
		}
		for _, m := range resp.Messages {
			if m.Metadata.EventType != IncidentEventType {
				continue
			}
			if key, _ := m.Metadata.EventPayload["incident_key"].(string); key == inc.Key {
				s.log.Info("parent found", "incident", inc.Key, "channel", inc.Channel, "ts", m.Timestamp)
				return m.Timestamp, nil
			}
		}
		if !resp.HasMore || resp.ResponseMetaData.NextCursor == "" {
			return "", nil
		}
		params.Cursor = resp.ResponseMetaData.NextCursor
	}
	s.log.Warn("parent search gave up", "incident", inc.Key, "channel", inc.Channel,
		"messages", lookupMaxPages*lookupPageSize)
	return "", nil
}

// FindReport reports whether a reply of the triage report of inc's
// current fire (inc.Fires) is in its thread (inc.ThreadTS), for a job that
// may have posted it before dying without recording the triage. It reads
// conversations.replies, at most lookupMaxPages pages. Errors are as
// FindParent's.
func (s *Slack) FindReport(ctx context.Context, inc oncall.Incident) (bool, error) {
	if inc.Channel == "" || inc.ThreadTS == "" {
		return false, retry.Permanent(fmt.Errorf("find report of incident %s: %w: no channel or thread", inc.Key, ErrPermanent))
	}
	channel, err := s.threadChannel(ctx, "find report", inc)
	if err != nil {
		return false, err
	}
	inc.Channel = channel
	params := slack.GetConversationRepliesParameters{
		ChannelID: inc.Channel, Timestamp: inc.ThreadTS, Limit: lookupPageSize, IncludeAllMetadata: true,
	}
	fire := strconv.Itoa(inc.Fires)
	for range lookupMaxPages {
		var msgs []slack.Message
		var more bool
		var next string
		err := s.read(ctx, "conversations.replies", inc.Channel, func(ctx context.Context) error {
			var err error
			msgs, more, next, err = s.api.GetConversationRepliesContext(ctx, &params)
			return err
		})
		if err != nil {
			return false, fmt.Errorf("find report of incident %s in %s: %w", inc.Key, inc.Channel, err)
		}
		for _, m := range msgs {
			p := m.Metadata.EventPayload
			if m.Metadata.EventType == ReportEventType && p["incident_key"] == inc.Key && p["fire"] == fire {
				return true, nil
			}
		}
		if !more || next == "" {
			return false, nil
		}
		params.Cursor = next
	}
	return false, nil
}

// read runs one read-only Web API call under the retry policy. Reads are
// not paced: the pacing is for messages a channel's members see.
func (s *Slack) read(ctx context.Context, method, channel string, fn func(ctx context.Context) error) error {
	attempt := 0
	return retry.Do(ctx, s.retry, func(ctx context.Context) error {
		attempt++
		start := time.Now()
		err := classify(method, fn(ctx))
		s.observer.SlackCall(method, callOutcome(err), time.Since(start))
		if err != nil {
			err = s.scrub(err)
			s.log.Warn("slack call failed", "method", method, "channel", channel, "attempt", attempt,
				"retryable", !retry.IsPermanent(err), "err", err)
		}
		return err
	})
}

// slackTS writes t as a Slack timestamp.
func slackTS(t time.Time) string {
	us := t.UnixMicro()
	if us < 0 {
		us = 0
	}
	return strconv.FormatInt(us/1_000_000, 10) + "." + fmt.Sprintf("%06d", us%1_000_000)
}
