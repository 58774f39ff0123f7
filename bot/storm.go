package bot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/retry"
)

// stormRows bounds the table of a storm's parent message: Slack takes at
// most 3,000 characters in a section's text
// (api.slack.com/reference/block-kit/blocks#section). Members past it are
// counted, and listed in the thread's summary replies.
const stormRows = 20

// renderStorm renders a storm incident's parent: the running count and a
// compact table of its members (alert, service, severity, status),
// firing ones first, most severe and then newest first, then the
// latest resolved.
func renderStorm(inc oncall.Incident, opts RenderOptions) []slack.Block {
	r := renderer{opts}
	firing := 0
	for _, m := range inc.Members {
		if m.Status != oncall.IncidentResolved {
			firing++
		}
	}
	head := fmt.Sprintf(":zap: *Alert storm:* %d incidents in this channel, %d firing, %d resolved",
		len(inc.Members), firing, len(inc.Members)-firing)
	blocks := []slack.Block{section(head)}
	if inc.Headline != "" && !inc.TriagedAt.IsZero() {
		blocks = append(blocks, section(":mag: *Diagnosis:* "+r.clip(inc.Headline, 500)+"\n_Details in the thread._"))
	}
	rows := slices.Clone(inc.Members)
	slices.SortStableFunc(rows, func(a, b oncall.StormMember) int {
		ar, br := a.Status == oncall.IncidentResolved, b.Status == oncall.IncidentResolved
		if ar != br {
			if ar {
				return 1
			}
			return -1
		}
		if !ar {
			return cmp.Or(cmp.Compare(oncall.SeverityRank(a.Severity), oncall.SeverityRank(b.Severity)), b.JoinedAt.Compare(a.JoinedAt))
		}
		return b.JoinedAt.Compare(a.JoinedAt)
	})
	more := 0
	if len(rows) > stormRows {
		more, rows = len(rows)-stormRows, rows[:stormRows]
	}
	// A cell is cut to its width before it is escaped, so that an
	// entity (&lt;) is never cut in half; backticks would end the code
	// block.
	cell := func(s string, w int) string {
		s = strings.Join(strings.Fields(strings.ReplaceAll(s, "`", "'")), " ")
		if rs := []rune(s); len(rs) > w {
			s = string(rs[:w-1]) + "…"
		}
		n := utf8.RuneCountInString(s)
		if s == "" {
			s, n = "-", 1
		}
		return r.line(s, 4*w) + strings.Repeat(" ", max(0, w-n))
	}
	var b strings.Builder
	b.WriteString("```\n")
	b.WriteString(cell("alert", 32) + " " + cell("service", 18) + " " + cell("severity", 9) + " status\n")
	for _, m := range rows {
		status := "firing"
		if m.Status == oncall.IncidentResolved {
			status = "resolved"
		}
		if m.Fires > 1 {
			status += fmt.Sprintf(" (x%d)", m.Fires)
		}
		b.WriteString(cell(m.Name, 32) + " " + cell(m.Service, 18) + " " + cell(m.Severity, 9) + " " + status + "\n")
	}
	b.WriteString("```")
	if len(inc.Members) > 0 {
		blocks = append(blocks, section(b.String()))
	}
	note := "Who joined is summarised in the thread; resolutions update this table."
	if more > 0 {
		note = fmt.Sprintf("%d more not shown; who joined is summarised in the thread.", more)
	}
	return append(blocks, contextBlock(note))
}

// stormFallback is the plain text of a storm's parent message.
func stormFallback(inc oncall.Incident) string {
	return fmt.Sprintf(":zap: Alert storm: %d incidents in this channel", len(inc.Members))
}

// NoteEventType is the metadata event type of a marked note; its payload
// holds "incident_key" and "mark", which names the note.
const NoteEventType = "oncall_note"

// PostMarkedNote posts text in inc's thread like PostNote, carrying mark
// in its metadata, so that FindMarkedNote can tell whether it was posted
// by a sender that died before recording it.
func (s *Slack) PostMarkedNote(ctx context.Context, inc oncall.Incident, mark, text string) error {
	if inc.Channel == "" || inc.ThreadTS == "" {
		return fmt.Errorf("post note %s on incident %s: %w: no channel or thread", mark, inc.Key, ErrPermanent)
	}
	if strings.TrimSpace(text) == "" {
		return fmt.Errorf("post note %s on incident %s: %w: empty text", mark, inc.Key, ErrPermanent)
	}
	channel, err := s.threadChannel(ctx, "post note", inc)
	if err != nil {
		return err
	}
	r := renderer{s.render}
	var blocks []slack.Block
	for _, piece := range splitText(r.clip(text, maxMessageChars/2), maxSectionChars) {
		blocks = append(blocks, section(piece))
	}
	meta := slack.MsgOptionMetadata(slack.SlackMetadata{
		EventType:    NoteEventType,
		EventPayload: map[string]any{"incident_key": inc.Key, "mark": mark},
	})
	if _, _, err := s.post(ctx, channel, inc.ThreadTS, r.line(text, 300), blocks, meta); err != nil {
		return fmt.Errorf("post note %s on incident %s: %w", mark, inc.Key, err)
	}
	return nil
}

// FindMarkedNote reports whether the note PostMarkedNote posted with mark
// is in inc's thread. It reads conversations.replies, at most
// lookupMaxPages pages; errors are as FindParent's.
func (s *Slack) FindMarkedNote(ctx context.Context, inc oncall.Incident, mark string) (bool, error) {
	if inc.Channel == "" || inc.ThreadTS == "" {
		return false, retry.Permanent(fmt.Errorf("find note %s of incident %s: %w: no channel or thread", mark, inc.Key, ErrPermanent))
	}
	channel, err := s.threadChannel(ctx, "find note", inc)
	if err != nil {
		return false, err
	}
	params := slack.GetConversationRepliesParameters{
		ChannelID: channel, Timestamp: inc.ThreadTS, Limit: lookupPageSize, IncludeAllMetadata: true,
	}
	for range lookupMaxPages {
		var msgs []slack.Message
		var more bool
		var next string
		err := s.read(ctx, "conversations.replies", channel, func(ctx context.Context) error {
			var err error
			msgs, more, next, err = s.api.GetConversationRepliesContext(ctx, &params)
			return err
		})
		if err != nil {
			err = fmt.Errorf("find note %s of incident %s in %s: %w", mark, inc.Key, channel, err)
			if errors.Is(err, ErrPermanent) {
				return false, retry.Permanent(err)
			}
			return false, err
		}
		for _, m := range msgs {
			p := m.Metadata.EventPayload
			if m.Metadata.EventType == NoteEventType && p["incident_key"] == inc.Key && p["mark"] == mark {
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
