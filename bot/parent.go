package bot

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/slack-go/slack"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// keyLabels are the few alert labels the parent message shows, each with
// the label names sources commonly use for it, most specific first.
var keyLabels = []struct {
	title string
	names []string
}{
	{"Service", []string{"service", "service_name", "service.name", "app"}},
	{"Agent", []string{"agent", "agent_name", "gen_ai_agent_name", "gen_ai.agent.name"}},
	{"Environment", []string{"environment", "env", "deployment_environment", "deployment.environment"}},
}

// slackUserID matches a Slack user id, as an acknowledgement made in
// Slack records it.
var slackUserID = regexp.MustCompile(`^[UW][A-Z0-9]{2,20}$`)

// RenderParent renders the incident's parent message: severity and status,
// alert name and summary, a few key labels, links back to the alert source
// and, once triaged, the diagnosis headline.
func RenderParent(inc oncall.Incident, opts RenderOptions) []slack.Block {
	if len(inc.Members) > 0 {
		return renderStorm(inc, opts)
	}
	r := renderer{opts}
	a := inc.Alert
	blocks := []slack.Block{
		section(fmt.Sprintf("%s *%s*", statusEmoji(inc), r.line(alertName(a), 200))),
	}
	if s := alertSummary(a); s != "" {
		blocks = append(blocks, section(r.clip(s, 1500)))
	}

	fields := []*slack.TextBlockObject{mrkdwn("*Status*\n" + r.status(inc))}
	if sev := severity(a); sev != "" {
		fields = append(fields, mrkdwn("*Severity*\n"+r.line(sev, 100)))
	}
	for _, kl := range keyLabels {
		for _, name := range kl.names {
			if v := strings.TrimSpace(a.Labels[name]); v != "" {
				fields = append(fields, mrkdwn("*"+kl.title+"*\n"+r.line(v, 100)))
				break
			}
		}
	}
	if !a.StartsAt.IsZero() {
		fields = append(fields, mrkdwn("*Started*\n"+slackDate(a.StartsAt)))
	}
	blocks = append(blocks, slack.NewSectionBlock(nil, fields, nil))

	if inc.Headline != "" && !inc.TriagedAt.IsZero() {
		blocks = append(blocks, section(":mag: *Diagnosis:* "+r.clip(inc.Headline, 500)+"\n_Details in the thread._"))
	}

	var links []string
	if u := r.reportURL(inc); u != "" {
		links = append(links, link(u, "Open the full report"))
	}
	if u := r.safeURL(a.SourceURL); linkURL(u) != "" {
		links = append(links, link(u, "Open in "+r.line(sourceName(a), 40)))
	}
	if u := r.safeURL(a.GeneratorURL); linkURL(u) != "" {
		links = append(links, link(u, "Query"))
	}
	var notes []string
	if n := len(inc.Alerts); n > 1 {
		notes = append(notes, fmt.Sprintf("%d alerts in this group", n))
	}
	if inc.Fires > 1 {
		notes = append(notes, fmt.Sprintf("fired %d times", inc.Fires))
	}
	if len(links)+len(notes) > 0 {
		blocks = append(blocks, contextBlock(append(links, notes...)...))
	}
	return blocks
}

// ParentFallback is the plain text of the parent message, shown in
// notifications and by clients that cannot show blocks.
func ParentFallback(inc oncall.Incident, opts RenderOptions) string {
	if len(inc.Members) > 0 {
		return stormFallback(inc)
	}
	r := renderer{opts}
	status := r.status(inc)
	if inc.Status == oncall.IncidentAcknowledged {
		// A mention in the notification text would ping the person who
		// acknowledged.
		status = "acknowledged"
	}
	s := fmt.Sprintf("%s [%s] %s", statusEmoji(inc), status, r.line(alertName(inc.Alert), 200))
	if sum := alertSummary(inc.Alert); sum != "" {
		s += ": " + r.line(sum, 300)
	}
	return s
}

// status says where the incident is: the alert's state, the triage
// progress, acknowledgement and resolution.
func (r renderer) status(inc oncall.Incident) string {
	switch {
	case inc.Status == oncall.IncidentResolved:
		if d := resolvedAfter(inc); d > 0 {
			return "resolved after " + formatDuration(d)
		}
		return "resolved"
	case inc.Status == oncall.IncidentAcknowledged:
		s := "acknowledged"
		if by := strings.TrimSpace(inc.AckedBy); by != "" {
			if slackUserID.MatchString(by) {
				s += " by <@" + by + ">"
			} else {
				s += " by " + r.line(by, 80)
			}
		}
		return s
	case inc.TriagedAt.IsZero():
		return "firing · triaging…"
	default:
		return "firing · triaged"
	}
}

func resolvedAfter(inc oncall.Incident) time.Duration {
	start := inc.Alert.StartsAt
	if start.IsZero() {
		start = inc.OpenedAt
	}
	end := inc.ResolvedAt
	if end.IsZero() {
		end = inc.Alert.EndsAt
	}
	if start.IsZero() || end.IsZero() || end.Before(start) {
		return 0
	}
	return end.Sub(start)
}

// statusEmoji is ✅ once resolved, else the severity's colour.
func statusEmoji(inc oncall.Incident) string {
	if inc.Status == oncall.IncidentResolved {
		return "✅"
	}
	switch strings.ToLower(severity(inc.Alert)) {
	case "critical", "crit", "page", "error", "high", "p1", "sev1":
		return "🔴"
	case "warning", "warn", "medium", "p2", "p3", "sev2", "sev3":
		return "🟠"
	case "info", "low", "none", "p4", "p5", "sev4":
		return "🔵"
	default:
		return "⚪"
	}
}

func severity(a oncall.Alert) string {
	if a.Severity != "" {
		return a.Severity
	}
	return a.Labels["severity"]
}

func alertName(a oncall.Alert) string {
	if strings.TrimSpace(a.Name) != "" {
		return a.Name
	}
	return "unnamed alert"
}

func alertSummary(a oncall.Alert) string {
	if strings.TrimSpace(a.Summary) != "" {
		return a.Summary
	}
	return a.Description
}

func sourceName(a oncall.Alert) string {
	if a.Source != "" {
		return a.Source
	}
	return "alert source"
}

// slackDate shows t in each reader's own time zone, with UTC as the
// fallback for clients that cannot.
func slackDate(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), t.UTC().Format("2006-01-02 15:04 UTC"))
}

// formatDuration renders a duration as people read it: 45s, 42m, 3h5m,
// 2d4h; the incident lifecycle's wording uses the same.
func formatDuration(d time.Duration) string { return oncall.FormatDuration(d) }

// safeURL keeps what of a link from an alert is free of secrets: a URL
// the redactor finds something in loses its query and fragment (where
// tokens ride), and is dropped when what remains still holds one.
func (r renderer) safeURL(raw string) string {
	if r.opts.Redact == nil || r.opts.Redact(raw) == raw {
		return raw
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return ""
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	if s := u.String(); r.opts.Redact(s) == s {
		return s
	}
	return ""
}
