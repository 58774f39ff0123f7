package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/assistant"
	"github.com/oncall-copilot/oncall-copilot/bot"
	"github.com/oncall-copilot/oncall-copilot/config"
	"github.com/oncall-copilot/oncall-copilot/incident"
	"github.com/oncall-copilot/oncall-copilot/llm"
	"github.com/oncall-copilot/oncall-copilot/retry"
	"github.com/oncall-copilot/oncall-copilot/store/boltdb"
	"github.com/oncall-copilot/oncall-copilot/store/redisdb"
	"github.com/oncall-copilot/oncall-copilot/worker"
)

// Conformance of the adapters to what the interactive Slack side declares.
var (
	_ slackStore         = (*boltdb.Store)(nil)
	_ slackStore         = (*redisdb.Store)(nil)
	_ assistant.Model    = (*llm.Client)(nil)
	_ bot.Answerer       = assistantAnswerer{}
	_ worker.HandlerFunc = (*bot.App)(nil).Handle
	_ bot.Lifecycle      = (*incident.Service)(nil)
)

// slackStore is what the interactive side needs of a store: incidents,
// once-keys and the queue.
type slackStore interface {
	bot.IncidentStore
	bot.OnceStore
	bot.Queue
}

// interactivityConfigured reports whether Slack can reach the copilot
// with clicks: Socket Mode, or the Events API endpoints (signed, or
// unsigned on purpose). Without it the buttons under a diagnosis are
// left out.
func interactivityConfigured(cfg config.Config) bool {
	return cfg.Slack.AppToken.IsSet() || cfg.Slack.SigningSecret.IsSet() || cfg.Slack.AllowUnsigned
}

// slackInteractive is the interactive Slack side as serve runs it: the
// handler of its jobs, its HTTP endpoints and its Socket Mode connection.
type slackInteractive struct {
	app    *bot.App    // nil when interactivity is off
	socket *bot.Socket // nil without an app token
	log    *slog.Logger
}

// slackApp wires the interactive Slack side: questions answered by the
// assistant, the buttons on diagnoses and /oncall. Socket Mode is used
// when SLACK_APP_TOKEN is set; the HTTP Events API endpoints
// (/slack/events, /slack/interactions, /slack/commands) are registered on
// mux when SLACK_SIGNING_SECRET is set, and without it only when
// SLACK_ALLOW_UNSIGNED=true. With neither token nor secret the interactive
// side is off and serve posts incidents only. digester may be nil.
//
// serve uses it so:
//
//	sa, err := slackApp(ctx, cfg, store, slack, inc, d, digester, mux, log, tel)
//	...
//	Handler: sa.Handle(inc.Handle),
//	...
//	g.Go(func() error { return sa.Run(gctx) })
func slackApp(ctx context.Context, cfg config.Config, store backend, slack *bot.Slack, incidents bot.Lifecycle, d *deps, digester bot.Digester, mux *http.ServeMux, log *slog.Logger, tel *telemetry) (*slackInteractive, error) {
	s := &slackInteractive{log: log.With("component", "slack-interactive")}
	unsigned := cfg.Slack.AllowUnsigned
	appToken, secret := cfg.Slack.AppToken.Reveal(), cfg.Slack.SigningSecret.Reveal()
	serveHTTP := secret != "" || unsigned
	if appToken == "" && !serveHTTP {
		s.log.Info("slack interactivity off: set SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (Events API) for questions, buttons and /oncall")
		return s, nil
	}
	st, ok := store.(slackStore)
	if !ok {
		return nil, fmt.Errorf("the %T store cannot serve the interactive Slack side", store)
	}
	botUser, _, err := slack.Identify(ctx)
	if err != nil {
		return nil, fmt.Errorf("slack interactivity: SLACK_BOT_TOKEN (slack.bot_token): %w", err)
	}
	answerer, err := newAnswerer(cfg, d, log, tel)
	if err != nil {
		return nil, err
	}
	intake, err := bot.NewIntake(bot.IntakeOptions{
		Queue: st, Once: st, SigningSecret: secret, AllowUnsigned: unsigned && secret == "", BotUserID: botUser, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	opts := bot.AppOptions{Slack: slack, Store: st, Incidents: incidents, Digester: digester, BotUserID: botUser, Logger: log}
	if answerer != nil {
		opts.Answerer = answerer
	}
	if s.app, err = bot.NewApp(opts); err != nil {
		return nil, err
	}
	if serveHTTP {
		if err := intake.Register(mux); err != nil {
			return nil, err
		}
		if secret == "" {
			s.log.Warn("the Slack endpoints accept unsigned requests (SLACK_ALLOW_UNSIGNED): anyone who can reach them can act as Slack")
		}
	}
	if appToken != "" {
		if s.socket, err = bot.NewSocket(bot.SocketOptions{AppToken: appToken, APIURL: cfg.Slack.APIURL.Reveal(), Intake: intake, Logger: log}); err != nil {
			return nil, fmt.Errorf("SLACK_APP_TOKEN (slack.app_token): %w", err)
		}
		if err := s.socket.CheckToken(ctx); err != nil {
			if errors.Is(err, bot.ErrAuth) {
				return nil, fmt.Errorf("SLACK_APP_TOKEN (slack.app_token): Slack refused the app-level token: create one with the connections:write scope on the app's Basic Information page (%w)", err)
			}
			return nil, fmt.Errorf("SLACK_APP_TOKEN (slack.app_token): %w", err)
		}
	}
	s.log.Info("slack interactivity on", "socket_mode", appToken != "", "events_api", serveHTTP, "assistant", answerer != nil, "bot_user", botUser)
	return s, nil
}

// Handle routes the Slack jobs to the interactive side and every other
// job to next.
func (s *slackInteractive) Handle(next worker.HandlerFunc) worker.HandlerFunc {
	return func(ctx context.Context, job oncall.Job) error {
		if !bot.IsSlackJob(job.Kind) {
			return next(ctx, job)
		}
		if s.app == nil {
			return retry.Permanent(fmt.Errorf("%s job: slack interactivity is off on this server", job.Kind))
		}
		return s.app.Handle(ctx, job)
	}
}

// Run keeps the Socket Mode connection until ctx ends; without one it
// just waits.
func (s *slackInteractive) Run(ctx context.Context) error {
	if s.socket == nil {
		<-ctx.Done()
		return nil
	}
	if err := s.socket.Run(ctx); err != nil {
		return fmt.Errorf("SLACK_APP_TOKEN (slack.app_token): %w", err)
	}
	return nil
}

// newAnswerer builds the assistant over the shared model and default
// trace source, or nil when no model is configured. tel, when not nil,
// traces each answer; its model and trace-store calls are measured and
// traced by the shared clients.
func newAnswerer(cfg config.Config, d *deps, log *slog.Logger, tel *telemetry) (bot.Answerer, error) {
	opts, err := assistantOptions(cfg, d, log)
	if err != nil || opts.Model == nil {
		return nil, err
	}
	a, err := assistant.New(opts)
	if err != nil {
		return nil, err
	}
	return tel.answerer(assistantAnswerer{a}), nil
}

// assistantOptions are the assistant's options over the shared clients;
// Model is nil when no model is configured.
func assistantOptions(cfg config.Config, d *deps, log *slog.Logger) (assistant.Options, error) {
	if d.Model == nil {
		return assistant.Options{}, nil
	}
	src, err := d.defaultSource()
	if err != nil {
		return assistant.Options{}, err
	}
	var filters []string
	for _, attr := range cfg.Triage.LabelMap {
		if !slices.Contains(filters, attr) {
			filters = append(filters, attr)
		}
	}
	slices.Sort(filters)
	return assistant.Options{
		Model: d.Model, Source: src, Redactor: d.Redactor, ModelName: cfg.Model.Name,
		Budget: max(cfg.Model.TokenBudget, assistant.DefaultBudget), MaxTraces: cfg.Triage.MaxTraces,
		Filters: filters, Logger: log,
	}, nil
}

// assistantAnswerer answers Slack questions with the assistant.
type assistantAnswerer struct{ a *assistant.Assistant }

func (x assistantAnswerer) Answer(ctx context.Context, q bot.Question) (bot.Answer, error) {
	if x.a == nil {
		return bot.Answer{}, errors.New("no assistant")
	}
	hist := make([]assistant.Turn, len(q.History))
	for i, t := range q.History {
		hist[i] = assistant.Turn{Assistant: t.FromBot, Text: t.Text}
	}
	ans, err := x.a.Answer(ctx, assistant.Question{Text: q.Text, Incident: q.Incident, History: hist})
	if err != nil {
		return bot.Answer{}, err
	}
	return bot.Answer{
		Text: strings.TrimSpace(ans.Text), Partial: ans.Partial, Steps: ans.Steps, ToolCalls: len(ans.Tried),
		Model: ans.Model, Usage: ans.Usage,
	}, nil
}
