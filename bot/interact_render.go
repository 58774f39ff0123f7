package bot

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/slack-go/slack"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// Action ids of the copilot's buttons and inputs. Each button's value is
// the incident key.
const (
	actionPrefix      = "oncall_"
	ActionAcknowledge = "oncall_ack"
	ActionRerun       = "oncall_rerun"
	ActionResolve     = "oncall_resolve"
	ActionHelpful     = "oncall_helpful"
	ActionUnhelpful   = "oncall_unhelpful"
	ActionReason      = "oncall_reason" // the reason typed after 👎; block id "oncall_reason:<incident key>"
)

// maxAnswerChars caps an answer; it is split over as many messages as it
// needs.
const maxAnswerChars = 30000

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, true, false)
}

// RenderActions renders the buttons under a diagnosis: acknowledge,
// re-run triage, mark resolved (with a confirmation), and the verdict on
// the diagnosis.
func RenderActions(inc oncall.Incident) *slack.ActionBlock {
	key := inc.Key
	confirm := slack.NewConfirmationBlockObject(plain("Mark resolved?"),
		mrkdwn("The incident is marked resolved for everyone. If its alert is still firing, the next notification opens it again."),
		plain("Mark resolved"), plain("Cancel"))
	return slack.NewActionBlock("oncall_actions",
		slack.NewButtonBlockElement(ActionAcknowledge, key, plain("Acknowledge")).WithStyle(slack.StylePrimary),
		slack.NewButtonBlockElement(ActionRerun, key, plain("Re-run triage")),
		slack.NewButtonBlockElement(ActionResolve, key, plain("Mark resolved")).WithConfirm(confirm),
		slack.NewButtonBlockElement(ActionHelpful, key, plain("👍 Helpful")),
		slack.NewButtonBlockElement(ActionUnhelpful, key, plain("👎 Not helpful")),
	)
}

// Question is one question for the copilot, asked in Slack.
type Question struct {
	Text     string // the question, without the mention of the copilot
	User     string
	Channel  string
	ThreadTS string
	// Incident is the incident of the thread; nil for questions asked
	// elsewhere.
	Incident *oncall.Incident
	// History is the thread before the question, oldest first.
	History []Turn
}

// Turn is one earlier message of a thread.
type Turn struct {
	FromBot bool
	Text    string
}

// Answer is the copilot's reply to a question.
type Answer struct {
	Text      string // Slack mrkdwn from the model; escaped and redacted when rendered
	Partial   bool   // the budget ran out or the model failed first
	Steps     int
	ToolCalls int
	Model     string
	Usage     oncall.Usage
}

// RenderAnswer renders an answer as thread replies, one []slack.Block per
// message: the text in sections, a footer saying how it was made, and
// "Part i of n" when it takes several messages.
func RenderAnswer(ans Answer, opts RenderOptions) [][]slack.Block {
	msgs := renderAnswer(ans, opts)
	out := make([][]slack.Block, len(msgs))
	for i, m := range msgs {
		out[i] = m.blocks
	}
	return out
}

// AnswerFallback returns the notification text of each message
// RenderAnswer renders.
func AnswerFallback(ans Answer, opts RenderOptions) []string {
	msgs := renderAnswer(ans, opts)
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.text
	}
	return out
}

func renderAnswer(ans Answer, opts RenderOptions) []message {
	r := renderer{opts}
	text := r.clip(fromMarkdown(ans.Text), maxAnswerChars)
	if strings.TrimSpace(text) == "" {
		text = "_No answer._"
	}
	var blocks []slack.Block
	for _, piece := range splitText(text, maxSectionChars) {
		blocks = append(blocks, section(piece))
	}
	var footer []string
	if ans.Partial {
		footer = append(footer, ":warning: Partial answer")
	}
	if ans.Model != "" {
		footer = append(footer, "Model "+r.code(ans.Model, 100))
	}
	if ans.ToolCalls > 0 {
		footer = append(footer, fmt.Sprintf("%d tool calls in %d steps", ans.ToolCalls, ans.Steps))
	}
	if u := ans.Usage; u.PromptTokens+u.CompletionTokens > 0 {
		footer = append(footer, count(u.PromptTokens+u.CompletionTokens)+" tokens")
		if u.Cost > 0 {
			footer = append(footer, cost(u.Cost))
		}
	}
	if len(footer) > 0 {
		blocks = append(blocks, contextBlock(footer...))
	}
	parts := pack(blocks)
	first := r.line(fromMarkdown(ans.Text), fallbackSummary)
	msgs := make([]message, len(parts))
	for i, p := range parts {
		msgs[i] = message{blocks: p, text: first}
		if len(parts) > 1 {
			msgs[i].text = fmt.Sprintf("Answer (part %d of %d)", i+1, len(parts))
			if i == 0 {
				msgs[i].text += ": " + first
			}
		}
	}
	return msgs
}

var (
	mdBold    = regexp.MustCompile(`\*\*([^*\n]+)\*\*`)
	mdHeading = regexp.MustCompile(`(?m)^#{1,6}\s+(.+)$`)
)

// fromMarkdown turns the Markdown models like to write into Slack
// mrkdwn: **bold** and headings become *bold*.
func fromMarkdown(s string) string {
	s = mdBold.ReplaceAllString(s, "*$1*")
	return mdHeading.ReplaceAllString(s, "*$1*")
}

// mention renders a Slack user id as a mention, anything else as text.
func mention(user string, r renderer) string {
	if slackUserID.MatchString(user) {
		return "<@" + user + ">"
	}
	return r.line(user, 80)
}

// noteBlocks is a short note of the copilot's own words, which may hold
// mentions; anything untrusted in it must already be safe.
func noteBlocks(text string) []slack.Block { return []slack.Block{section(text)} }

var mentionRE = regexp.MustCompile(`<@[A-Z0-9]+>`)

// notification turns a note into its notification text: mentions become
// "someone", so the people it names are not pinged twice, and bold marks
// go.
func notification(text string) string {
	text = mentionRE.ReplaceAllString(text, "someone")
	return strings.ReplaceAll(text, "*", "")
}

// feedbackPrompt asks the engineer who found a diagnosis unhelpful why,
// in an input that sends the reason when Enter is pressed.
func feedbackPrompt(key string) []slack.Block {
	input := slack.NewPlainTextInputBlockElement(plain("e.g. wrong cause, missed the deploy, too vague"), ActionReason).
		WithDispatchActionConfig(&slack.DispatchActionConfig{TriggerActionsOn: []string{"on_enter_pressed"}})
	in := slack.NewInputBlock(ActionReason+":"+key, plain("What was wrong with the diagnosis?"), nil, input)
	in.DispatchAction = true
	return []slack.Block{section("Thanks for the feedback. What was wrong with it? Type a reason and press Enter; it is kept with the incident and counted in digests."), in}
}

// RenderStatus renders the open incidents for /oncall status, newest
// first, with links to their threads when the workspace domain is known.
func RenderStatus(incs []oncall.Incident, teamDomain string, now time.Time, opts RenderOptions) []slack.Block {
	r := renderer{opts}
	if len(incs) == 0 {
		return []slack.Block{section(":white_check_mark: No open incidents.")}
	}
	heading := fmt.Sprintf("*%d open incident", len(incs))
	if len(incs) != 1 {
		heading += "s"
	}
	heading += "*"
	const shown = 15
	var lines []string
	for i, inc := range incs {
		if i == shown {
			lines = append(lines, fmt.Sprintf("_…and %d more_", len(incs)-shown))
			break
		}
		name := r.line(alertName(inc.Alert), 150)
		if u := permalink(teamDomain, inc.Channel, inc.ThreadTS); u != "" {
			name = link(u, name)
		}
		line := fmt.Sprintf("%s *%s* — %s", statusEmoji(inc), name, r.status(inc))
		if !inc.OpenedAt.IsZero() {
			line += ", opened " + formatDuration(now.Sub(inc.OpenedAt)) + " ago"
		}
		if inc.Fires > 1 {
			line += fmt.Sprintf(", fired %d times", inc.Fires)
		}
		if inc.Headline != "" {
			line += "\n    " + r.line(inc.Headline, 200)
		}
		lines = append(lines, line)
	}
	return listSections(heading, lines)
}

var teamDomainRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
var channelRE = regexp.MustCompile(`^[A-Z0-9]{2,30}$`)
var tsRE = regexp.MustCompile(`^[0-9]{6,12}\.[0-9]{1,9}$`)

// permalink links a Slack message in a workspace, or is "".
func permalink(teamDomain, channel, ts string) string {
	if !teamDomainRE.MatchString(teamDomain) || !channelRE.MatchString(channel) || !tsRE.MatchString(ts) {
		return ""
	}
	return "https://" + teamDomain + ".slack.com/archives/" + channel + "/p" + strings.Replace(ts, ".", "", 1)
}

// helpText is the answer to /oncall help.
func helpText(command string) string {
	return fmt.Sprintf("*%[1]s* — the on-call copilot\n"+
		"• `%[1]s status` — the open incidents\n"+
		"• `%[1]s digest` — post a digest of recent incidents in this channel now\n"+
		"• `%[1]s triage &lt;trace-id | alert fingerprint&gt;` — re-run the triage of the incident with that alert, or explain what happened in one trace\n"+
		"• `%[1]s help` — this help\n"+
		"Ask follow-up questions by mentioning the copilot in an incident thread, or anywhere it is invited: "+
		"_why did trace 4bf9… fail?_, _what failed in agent checkout in the last hour?_", command)
}
