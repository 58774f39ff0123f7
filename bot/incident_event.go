package bot

import (
	"context"
	"fmt"
	"strings"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// PostEvent tells an incident's thread what happened to it, worded by
// EventText, as PostNote posts a note.
func (s *Slack) PostEvent(ctx context.Context, inc oncall.Incident, ev oncall.IncidentEvent) error {
	text := EventText(ev)
	if text == "" {
		return fmt.Errorf("post event on incident %s: %w: unknown event %q", inc.Key, ErrPermanent, ev.Kind)
	}
	return s.PostNote(ctx, inc, text)
}

// EventText words an incident event for its thread, with Slack emoji
// codes; "" for an unknown kind. PostNote escapes what it quotes.
func EventText(ev oncall.IncidentEvent) string {
	switch ev.Kind {
	case oncall.EventRefired:
		return fmt.Sprintf(":repeat: Re-fired (fire #%d) after being resolved; triaging again.", ev.Fires)
	case oncall.EventFlapping:
		return fmt.Sprintf(":warning: Flapping: fired %d times within %s. I will not re-triage or post each flap until it settles; the message above keeps its state.",
			ev.Count, oncall.FormatDuration(ev.Window))
	case oncall.EventResolved:
		return fmt.Sprintf(":white_check_mark: Resolved after %s.", oncall.FormatDuration(ev.After))
	case oncall.EventStormSummary:
		var b strings.Builder
		fmt.Fprintf(&b, ":zap: %d joined the storm (%d to %d):", len(ev.Members), ev.From, ev.To)
		for _, m := range ev.Members {
			b.WriteString("\n• " + m.Name)
			if m.Severity != "" {
				b.WriteString(" (" + m.Severity + ")")
			}
			if m.Service != "" {
				b.WriteString(" — " + m.Service)
			}
			if m.Fires > 1 {
				fmt.Fprintf(&b, " — re-fired (#%d)", m.Fires)
			}
		}
		return b.String()
	case oncall.EventStormMember:
		a := ev.Alert
		line := fmt.Sprintf(":zap: %s", a.Name)
		if a.Severity != "" {
			line += " (" + a.Severity + ")"
		}
		if a.Summary != "" {
			line += ": " + a.Summary
		}
		if ev.Fires > 1 {
			line += fmt.Sprintf(" — re-fired (#%d)", ev.Fires)
		}
		return line
	case oncall.EventStormMemberResolved:
		return fmt.Sprintf(":white_check_mark: %s resolved after %s.", ev.Alert.Name, oncall.FormatDuration(ev.After))
	}
	return ""
}

// PostMarkedEvent words ev like PostEvent and posts it as a marked note
// (PostMarkedNote), so a sender that died before recording it can tell it
// was posted.
func (s *Slack) PostMarkedEvent(ctx context.Context, inc oncall.Incident, mark string, ev oncall.IncidentEvent) error {
	text := EventText(ev)
	if text == "" {
		return fmt.Errorf("post event on incident %s: %w: unknown event %q", inc.Key, ErrPermanent, ev.Kind)
	}
	return s.PostMarkedNote(ctx, inc, mark, text)
}
