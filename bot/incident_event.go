package bot

import (
	"context"
	"fmt"

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
