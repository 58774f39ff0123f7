package digest

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/slack-go/slack"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// RenderOptions are what the Block Kit rendering needs besides the digest.
type RenderOptions struct {
	// TraceURL links an example trace (and span) of a cluster in the
	// trace UI; nil, or an answer that is not an http(s) URL, shows the
	// ids as code.
	TraceURL func(traceID, spanID string) string
}

// broadcastWord matches plain words Slack may turn into broadcast
// mentions under some parse settings.
var broadcastWord = regexp.MustCompile(`(?i)([@＠])(here|channel|everyone)\b`)

// linkableID matches the ids that may go into a trace UI link.
var linkableID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// mrkdwnEscaper escapes Slack's control characters, so text can open no
// link and mention nobody.
var mrkdwnEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// safe makes untrusted text one line of mrkdwn that links and mentions
// nothing.
func safe(s string, max int) string {
	s = clip(oneLine(s), max)
	s = broadcastWord.ReplaceAllString(s, "$1\u200b$2")
	return mrkdwnEscaper.Replace(s)
}

// code shows untrusted text as inline code.
func code(s string, max int) string {
	s = strings.ReplaceAll(oneLine(s), "`", "'")
	if s == "" {
		return "`-`"
	}
	return "`" + safe(s, max) + "`"
}

func mrkdwn(s string) *slack.TextBlockObject {
	return &slack.TextBlockObject{Type: slack.MarkdownType, Text: s, Verbatim: true}
}

func section(s string, fields ...string) *slack.SectionBlock {
	var fs []*slack.TextBlockObject
	for _, f := range fields {
		if f != "" {
			fs = append(fs, mrkdwn(f))
		}
	}
	return slack.NewSectionBlock(mrkdwn(s), fs, nil)
}

func contextLine(s string) *slack.ContextBlock { return slack.NewContextBlock("", mrkdwn(s)) }

// Fallback is the notification text of a digest message: one line of
// safe mrkdwn.
func Fallback(d Digest) string { return safe(headline(d), 300) }

// RenderBlocks renders the digest as the Block Kit blocks of one Slack
// message, well within Slack's limits (at most 16 blocks; lists are
// capped when the digest is built). Untrusted text is escaped and shown
// as code; it links and mentions nothing.
func RenderBlocks(d Digest, opts RenderOptions) []slack.Block {
	header := slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, clip(title(d), 150), true, false))
	ctx := ":calendar: " + safe(windowLabel(d), 200)
	if d.Name != "" {
		ctx += "  ·  schedule " + code(d.Name, 60)
	}
	blocks := []slack.Block{header, contextLine(ctx)}
	if n := d.Narrative; n != nil {
		blocks = append(blocks, section(safe(n.Text, narrativeMaxRunes+1)))
		if n.Model != "" {
			blocks = append(blocks, contextLine(":robot_face: written by "+code(n.Model, 60)+" from the figures below"))
		}
	}
	if d.Quiet {
		blocks = append(blocks, section(":white_check_mark: "+safe(quietLine(d), 500)))
		return append(blocks, footer(d)...)
	}

	in := d.Incidents
	blocks = append(blocks, section(
		fmt.Sprintf("*Incidents*   :rotating_light: %d opened   :white_check_mark: %d resolved   :hourglass_flowing_sand: %d still open", in.Opened, in.Resolved, in.StillOpen),
		labelled("Time to acknowledge", durations(in.TimeToAck)),
		labelled("Time to resolve", durations(in.TimeToResolve)),
	))
	if len(in.Noisiest) > 0 {
		lines := []string{"*Noisiest alerts*"}
		for _, n := range in.Noisiest {
			lines = append(lines, fmt.Sprintf("• %s %s in %s", code(n.Name, 80), plural(n.Fires, "fire", "fires"), plural(n.Incidents, "incident", "incidents")))
		}
		blocks = append(blocks, section(strings.Join(lines, "\n")))
	}
	if len(in.Open) > 0 {
		lines := []string{"*Still open*"}
		for _, o := range in.Open {
			lines = append(lines, fmt.Sprintf("• %s%s since %s%s", code(o.Name, 80), blockSeverity(o.Severity), when(d, o.OpenedAt), ackedLabel(o.Acked)))
		}
		if more := in.StillOpen - len(in.Open); more > 0 {
			lines = append(lines, fmt.Sprintf("• and %d more", more))
		}
		blocks = append(blocks, section(strings.Join(lines, "\n")))
	}

	f := d.Fleet
	if f.Runs > 0 || f.PrevRuns > 0 {
		blocks = append(blocks, slack.NewDividerBlock(), section(
			"*Agent runs*   "+runsLine(f.Runs, f.Failing),
			labelled("Previous window", prevLine(f)),
			labelled("New failure patterns", count(f.NewClusters)),
		))
		if len(f.Clusters) > 0 {
			lines := []string{"*Top failure clusters*"}
			for i, c := range f.Clusters {
				lines = append(lines, blockCluster(i, c, opts))
			}
			blocks = append(blocks, section(strings.Join(lines, "\n")))
		}
		if len(f.Agents) > 0 {
			lines := []string{"*Highest failure rates*"}
			for _, a := range f.Agents {
				lines = append(lines, fmt.Sprintf("• %s %s (%d of %d) %s %s", code(a.Agent, 60), percent(a.Rate), a.Failing, a.Runs, trendEmoji(a.Trend), trendLabel(a)))
			}
			blocks = append(blocks, section(strings.Join(lines, "\n")))
		}
	}
	return append(blocks, footer(d)...)
}

// footer is the copilot's spend and feedback, and what is missing.
func footer(d Digest) []slack.Block {
	c := d.Copilot
	spend := fmt.Sprintf(":moneybag: copilot: %s, %s tokens, %s  ·  :+1: %d  :-1: %d", plural(c.Triages, "triage", "triages"),
		count(c.Usage.PromptTokens+c.Usage.CompletionTokens), money(c.Usage.Cost), c.Helpful, c.Unhelpful)
	out := []slack.Block{slack.NewDividerBlock(), contextLine(spend)}
	if len(d.Missing) > 0 {
		parts := make([]string, 0, len(d.Missing))
		for _, m := range d.Missing {
			parts = append(parts, safe(m, 300))
		}
		out = append(out, contextLine(clip(":warning: not included: "+strings.Join(parts, "; "), 1900)))
	}
	return out
}

func labelled(label, value string) string {
	if value == "" {
		return ""
	}
	return "*" + label + "*\n" + value
}

func blockCluster(i int, c oncall.Cluster, opts RenderOptions) string {
	badge := ""
	if c.New {
		badge = ":new: "
	}
	s := fmt.Sprintf("%d. %s%s at %s: %s — %s (previous window %d)", i+1, badge, kindLabel(c.Kind), code(where(c), 60),
		code(c.Error, 120), plural(c.Count, "run", "runs"), c.BaselineCount)
	if len(c.TraceIDs) > 0 {
		span := ""
		if len(c.SpanIDs) > 0 {
			span = c.SpanIDs[0]
		}
		s += "  " + traceRef(c.TraceIDs[0], span, opts)
	}
	return s
}

// traceRef cites a trace as a link to the trace UI when one is
// configured, else as code.
func traceRef(traceID, spanID string, opts RenderOptions) string {
	label := traceID
	if spanID != "" {
		label += " / " + spanID
	}
	if opts.TraceURL != nil && linkableID.MatchString(traceID) && (spanID == "" || linkableID.MatchString(spanID)) {
		if u := linkURL(opts.TraceURL(traceID, spanID)); u != "" {
			return "<" + u + "|" + safe(label, 120) + ">"
		}
	}
	return code(label, 120)
}

// linkURL returns raw made safe inside <url|label>, or "" when it is not
// an absolute http(s) URL.
func linkURL(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	u.User = nil
	return strings.NewReplacer("|", "%7C", "<", "%3C", ">", "%3E", " ", "%20", "\n", "", "\r", "").Replace(u.String())
}

func trendEmoji(t Trend) string {
	switch t {
	case TrendUp:
		return ":arrow_upper_right:"
	case TrendDown:
		return ":arrow_lower_right:"
	case TrendNew:
		return ":new:"
	default:
		return ":arrow_right:"
	}
}

func blockSeverity(s string) string {
	if s = safe(s, 20); s == "" {
		return ""
	}
	return " (" + s + ")"
}
