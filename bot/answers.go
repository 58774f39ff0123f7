package bot

import (
	"context"
	"log/slog"

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
	if err := a.opts.Incidents.RecordAnswer(ctx, key, qa, maxKeptAnswers); err != nil {
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
