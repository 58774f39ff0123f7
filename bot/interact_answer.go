package bot

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/slack-go/slack"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// Limits of what a question carries from its thread.
const (
	historyMessages = 40
	answerAttempts  = 3 // deliveries before a failing answer is given up with an apology
	workingReaction = "eyes"
)

// questionWords start a sentence that asks something.
var questionWords = regexp.MustCompile(`(?i)^\s*(why|what|how|when|where|which|who|whose|is|are|was|were|can|could|did|does|do|should|would|will|any|has|have)\b`)

// userMentionRE matches a user mention as Slack writes it: <@U123> or
// <@U123|name>.
var userMentionRE = regexp.MustCompile(`<@([UW][A-Z0-9]+)(\|[^>]*)?>`)

// answer answers a message when it is for the copilot: it mentions it,
// is a direct message, or asks a question in an incident thread without
// addressing someone else. It shows 👀 on the message while it works and
// replaces it with the answer, in the message's thread.
func (a *App) answer(ctx context.Context, job oncall.Job, ev eventJob) error {
	log := a.log.With("channel", ev.Channel, "ts", ev.TS, "event", ev.EventID)
	var inc *oncall.Incident
	if ev.ThreadTS != "" {
		i, err := a.opts.Store.IncidentByThread(ctx, ev.Channel, ev.ThreadTS)
		switch {
		case err == nil:
			inc = &i
			log = log.With("incident", i.Key)
		case errors.Is(err, oncall.ErrNotFound):
		default:
			return fmt.Errorf("find the incident of thread %s: %w", ev.ThreadTS, err)
		}
	}
	mentioned := ev.Mentioned || mentions(ev.Text, a.opts.BotUserID)
	if !mentioned && ev.ChannelType != "im" && (inc == nil || !asksCopilot(ev.Text, a.opts.BotUserID)) {
		log.Debug("message not for the copilot")
		return nil
	}
	thread := ev.ThreadTS
	if thread == "" {
		thread = ev.TS
	}
	text := a.questionText(ev.Text)
	if text == "" {
		_, _, err := a.slack.post(ctx, ev.Channel, thread, "Ask me about this incident or about your agents' traces.",
			noteBlocks("Ask me about this incident or about your agents' traces, for example _why did the top cluster start?_ or _what failed in agent checkout in the last hour?_"))
		return err
	}
	if err := a.slack.react(ctx, ev.Channel, ev.TS, workingReaction, true); err != nil {
		log.Warn("working reaction failed", "err", err)
	}
	defer func() {
		if err := a.slack.react(context.WithoutCancel(ctx), ev.Channel, ev.TS, workingReaction, false); err != nil {
			log.Warn("removing the working reaction failed", "err", err)
		}
	}()
	if a.opts.Answerer == nil {
		return a.postAnswer(ctx, ev.Channel, thread, Answer{Text: "I cannot answer questions here: no model is configured for the copilot."})
	}
	q := Question{Text: text, User: ev.User, Channel: ev.Channel, ThreadTS: ev.ThreadTS, Incident: inc}
	if ev.ThreadTS != "" {
		q.History = a.history(ctx, ev, inc != nil)
	}
	ans, err := a.opts.Answerer.Answer(ctx, q)
	if err != nil {
		if ctx.Err() != nil || job.Attempts+1 < answerAttempts {
			return fmt.Errorf("answer question: %w", err)
		}
		log.Error("question not answered", "attempts", job.Attempts+1, "err", err)
		ans = Answer{Text: "Sorry, I could not answer this: something failed on my side. Try again in a few minutes.", Partial: true}
	}
	if err := a.postAnswer(ctx, ev.Channel, thread, ans); err != nil {
		return err
	}
	if inc != nil {
		a.recordAnswer(ctx, log, inc.Key, ev, text, ans)
	}
	log.Info("question answered", "partial", ans.Partial, "steps", ans.Steps, "tool_calls", ans.ToolCalls)
	return nil
}

func (a *App) postAnswer(ctx context.Context, channel, thread string, ans Answer) error {
	if err := a.slack.postMessages(ctx, channel, thread, renderAnswer(ans, a.slack.render)); err != nil {
		return fmt.Errorf("post answer: %w", err)
	}
	return nil
}

// asksCopilot reports whether a reply in an incident thread is a
// question for the copilot: it asks something and mentions no one else.
func asksCopilot(text, botUser string) bool {
	for _, m := range userMentionRE.FindAllStringSubmatch(text, -1) {
		if m[1] != botUser {
			return false
		}
	}
	return strings.Contains(text, "?") || questionWords.MatchString(text)
}

// questionText removes the mentions of the copilot from a message and
// turns other mentions and Slack's link markup into plain text.
func (a *App) questionText(text string) string {
	text = userMentionRE.ReplaceAllStringFunc(text, func(m string) string {
		sub := userMentionRE.FindStringSubmatch(m)
		if sub[1] == a.opts.BotUserID {
			return ""
		}
		return "@" + sub[1]
	})
	text = slackLinkRE.ReplaceAllString(text, "$1")
	text = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(text)
	return strings.TrimSpace(text)
}

// slackLinkRE matches Slack's <url|label>, <url> and <#C123|name>.
var slackLinkRE = regexp.MustCompile(`<[#!]?([^<>|]+)(?:\|[^<>]*)?>`)

// history reads the thread before the question. The parent of an
// incident thread is the alert, which the incident context already has.
func (a *App) history(ctx context.Context, ev eventJob, incidentThread bool) []Turn {
	msgs, err := a.slack.threadReplies(ctx, ev.Channel, ev.ThreadTS, historyMessages)
	if err != nil {
		a.log.Warn("thread history unavailable", "channel", ev.Channel, "thread", ev.ThreadTS, "err", err)
		return nil
	}
	var out []Turn
	for _, m := range msgs {
		if m.Timestamp == ev.TS || !tsBefore(m.Timestamp, ev.TS) {
			continue
		}
		if incidentThread && m.Timestamp == ev.ThreadTS {
			continue
		}
		text := messageText(m)
		if strings.TrimSpace(text) == "" {
			continue
		}
		fromBot := m.User == a.opts.BotUserID || m.BotID != ""
		if fromBot && strings.HasPrefix(m.Text, reportTitlePrefix) {
			continue // the triage report: the incident context has it
		}
		if !fromBot {
			text = a.questionText(text)
		}
		out = append(out, Turn{FromBot: fromBot, Text: text})
	}
	return out
}

// messageText is a message's text, or for the copilot's block messages
// the text of its sections.
func messageText(m slack.Message) string {
	var parts []string
	for _, b := range m.Blocks.BlockSet {
		if s, ok := b.(*slack.SectionBlock); ok && s.Text != nil {
			parts = append(parts, s.Text.Text)
		}
	}
	if len(parts) > 0 {
		return strings.Join(parts, "\n")
	}
	return m.Text
}

// tsBefore compares Slack timestamps ("1700000000.000100").
func tsBefore(a, b string) bool {
	as, af, _ := strings.Cut(a, ".")
	bs, bf, _ := strings.Cut(b, ".")
	if len(as) != len(bs) {
		return len(as) < len(bs)
	}
	if as != bs {
		return as < bs
	}
	for len(af) < len(bf) {
		af += "0"
	}
	for len(bf) < len(af) {
		bf += "0"
	}
	return af < bf
}
