package bot

import (
	"context"
	"log/slog"
	"slices"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// Caps on the thread's answers an incident keeps, for its page.
const (
	maxKeptAnswers     = 50
	maxKeptAnswerRunes = 4000
)

// recordAnswer keeps a question of an incident's thread and its answer,
// redacted, for the incident page. A redelivered question replaces its
// earlier record. The answer is in the thread already, so a failure is
// logged only.
func (a *App) recordAnswer(ctx context.Context, log *slog.Logger, key string, ev eventJob, question string, ans Answer) {
	r := renderer{a.slack.render}
	red := func(s string) string {
		if r.opts.Redact != nil {
			s = r.opts.Redact(s)
		}
		return clipRunes(s, maxKeptAnswerRunes)
	}
	qa := oncall.ThreadAnswer{TS: ev.TS, User: ev.User, Question: red(question), Answer: red(ans.Text), At: a.now()}
	_, err := a.opts.Store.UpdateIncident(ctx, key, func(inc *oncall.Incident) error {
		inc.Answers = slices.DeleteFunc(inc.Answers, func(x oncall.ThreadAnswer) bool { return qa.TS != "" && x.TS == qa.TS })
		inc.Answers = append(inc.Answers, qa)
		if n := len(inc.Answers); n > maxKeptAnswers {
			inc.Answers = inc.Answers[n-maxKeptAnswers:]
		}
		return nil
	})
	if err != nil {
		log.Warn("answer not kept for the incident page", "err", err)
	}
}

func clipRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
