package bot

import (
	"context"
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/digest/view"
)

// digestSafe makes untrusted text one line of mrkdwn that links and mentions
// nothing.
func digestSafe(s string, max int) string {
	s = view.Clip(view.OneLine(s), max)
	s = broadcastWord.ReplaceAllString(s, "$1\u200b$2")
	return mrkdwnEscaper.Replace(s)
}

// digestCode shows untrusted text as inline code.
func digestCode(s string, max int) string {
	s = strings.ReplaceAll(view.OneLine(s), "`", "'")
	if s == "" {
		return "`-`"
	}
	return "`" + digestSafe(s, max) + "`"
}

func digestSection(s string, fields ...string) *slack.SectionBlock {
	var fs []*slack.TextBlockObject
	for _, f := range fields {
		if f != "" {
			fs = append(fs, mrkdwn(f))
		}
	}
	return slack.NewSectionBlock(mrkdwn(s), fs, nil)
}

func digestContext(s string) *slack.ContextBlock { return slack.NewContextBlock("", mrkdwn(s)) }

// SendDigest renders d and posts it to channel, with its chart (a PNG,
// nil for none, described by chartAlt) in the thread, as PostDigest does:
// digest.Poster.
func (s *Slack) SendDigest(ctx context.Context, channel string, d view.Digest, chart []byte, chartAlt string) error {
	return s.PostDigest(ctx, channel, DigestFallback(d), RenderDigest(d, s.render), chart, chartAlt)
}

// DigestFallback is the notification text of a digest message: one line
// of safe mrkdwn.
func DigestFallback(d view.Digest) string { return digestSafe(view.Headline(d), 300) }

// RenderDigest renders the digest as the Block Kit blocks of one Slack
// message, well within Slack's limits (at most 16 blocks; lists are
// capped when the digest is built). Untrusted text is escaped and shown
// as code; it links and mentions nothing.
func RenderDigest(d view.Digest, opts RenderOptions) []slack.Block {
	header := slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, view.Clip(view.Title(d), 150), true, false))
	ctx := ":calendar: " + digestSafe(view.WindowLabel(d), 200)
	if d.Name != "" {
		ctx += "  ·  schedule " + digestCode(d.Name, 60)
	}
	blocks := []slack.Block{header, digestContext(ctx)}
	if n := d.Narrative; n != nil {
		blocks = append(blocks, digestSection(digestSafe(n.Text, view.NarrativeMaxRunes+1)))
		if n.Model != "" {
			blocks = append(blocks, digestContext(":robot_face: written by "+digestCode(n.Model, 60)+" from the figures below"))
		}
	}
	if d.Quiet {
		blocks = append(blocks, digestSection(":white_check_mark: "+digestSafe(view.QuietLine(d), 500)))
		return append(blocks, digestFooter(d)...)
	}

	in := d.Incidents
	blocks = append(blocks, digestSection(
		fmt.Sprintf("*Incidents*   :rotating_light: %d opened   :white_check_mark: %d resolved   :hourglass_flowing_sand: %d still open", in.Opened, in.Resolved, in.StillOpen),
		digestLabelled("Time to acknowledge", view.FormatDurations(in.TimeToAck)),
		digestLabelled("Time to resolve", view.FormatDurations(in.TimeToResolve)),
	))
	if len(in.Noisiest) > 0 {
		lines := []string{"*Noisiest alerts*"}
		for _, n := range in.Noisiest {
			lines = append(lines, fmt.Sprintf("• %s %s in %s", digestCode(n.Name, 80), view.Plural(n.Fires, "fire", "fires"), view.Plural(n.Incidents, "incident", "incidents")))
		}
		blocks = append(blocks, digestSection(strings.Join(lines, "\n")))
	}
	if len(in.Open) > 0 {
		lines := []string{"*Still open*"}
		for _, o := range in.Open {
			lines = append(lines, fmt.Sprintf("• %s%s since %s%s", digestCode(o.Name, 80), digestSeverity(o.Severity), view.When(d, o.OpenedAt), view.AckedLabel(o.Acked)))
		}
		if more := in.StillOpen - len(in.Open); more > 0 {
			lines = append(lines, fmt.Sprintf("• and %d more", more))
		}
		blocks = append(blocks, digestSection(strings.Join(lines, "\n")))
	}

	f := d.Fleet
	if f.Runs > 0 || f.PrevRuns > 0 {
		blocks = append(blocks, slack.NewDividerBlock(), digestSection(
			"*Agent runs*   "+view.RunsLine(f.Runs, f.Failing),
			digestLabelled("Previous window", view.PrevLine(f)),
			digestLabelled("New failure patterns", view.Count(f.NewClusters)),
		))
		if len(f.Clusters) > 0 {
			lines := []string{"*Top failure clusters*"}
			for i, c := range f.Clusters {
				lines = append(lines, digestCluster(i, c, opts))
			}
			blocks = append(blocks, digestSection(strings.Join(lines, "\n")))
		}
		if len(f.Agents) > 0 {
			lines := []string{"*Highest failure rates*"}
			for _, a := range f.Agents {
				lines = append(lines, fmt.Sprintf("• %s %s (%d of %d) %s %s", digestCode(a.Agent, 60), view.Percent(a.Rate), a.Failing, a.Runs, digestTrendEmoji(a.Trend), view.TrendLabel(a)))
			}
			blocks = append(blocks, digestSection(strings.Join(lines, "\n")))
		}
	}
	return append(blocks, digestFooter(d)...)
}

// footer is the copilot's spend and feedback, and what is missing.
func digestFooter(d view.Digest) []slack.Block {
	c := d.Copilot
	spend := fmt.Sprintf(":moneybag: copilot: %s, %s tokens, %s  ·  :+1: %d  :-1: %d", view.Plural(c.Triages, "triage", "triages"),
		view.Count(c.Usage.PromptTokens+c.Usage.CompletionTokens), view.Money(c.Usage.Cost), c.Helpful, c.Unhelpful)
	out := []slack.Block{slack.NewDividerBlock(), digestContext(spend)}
	if len(d.Missing) > 0 {
		parts := make([]string, 0, len(d.Missing))
		for _, m := range d.Missing {
			parts = append(parts, digestSafe(m, 300))
		}
		out = append(out, digestContext(view.Clip(":warning: not included: "+strings.Join(parts, "; "), 1900)))
	}
	return out
}

func digestLabelled(label, value string) string {
	if value == "" {
		return ""
	}
	return "*" + label + "*\n" + value
}

func digestCluster(i int, c oncall.Cluster, opts RenderOptions) string {
	badge := ""
	if c.New {
		badge = ":new: "
	}
	s := fmt.Sprintf("%d. %s%s at %s: %s — %s (previous window %d)", i+1, badge, view.KindLabel(c.Kind), digestCode(view.Where(c), 60),
		digestCode(c.Error, 120), view.Plural(c.Count, "run", "runs"), c.BaselineCount)
	if len(c.TraceIDs) > 0 {
		span := ""
		if len(c.SpanIDs) > 0 {
			span = c.SpanIDs[0]
		}
		s += "  " + digestTraceRef(c.TraceIDs[0], span, opts)
	}
	return s
}

// traceRef cites a trace as a link to the trace UI when one is
// configured, else as code.
func digestTraceRef(traceID, spanID string, opts RenderOptions) string {
	label := traceID
	if spanID != "" {
		label += " / " + spanID
	}
	if opts.TraceURL != nil && linkableID.MatchString(traceID) && (spanID == "" || linkableID.MatchString(spanID)) {
		if u := linkURL(opts.TraceURL(traceID, spanID)); u != "" {
			return "<" + u + "|" + digestSafe(label, 120) + ">"
		}
	}
	return digestCode(label, 120)
}

func digestTrendEmoji(t view.Trend) string {
	switch t {
	case view.TrendUp:
		return ":arrow_upper_right:"
	case view.TrendDown:
		return ":arrow_lower_right:"
	case view.TrendNew:
		return ":new:"
	default:
		return ":arrow_right:"
	}
}

func digestSeverity(s string) string {
	if s = digestSafe(s, 20); s == "" {
		return ""
	}
	return " (" + s + ")"
}
