package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/alerts"
	"github.com/oncall-copilot/oncall-copilot/bot"
	"github.com/oncall-copilot/oncall-copilot/config"
	"github.com/oncall-copilot/oncall-copilot/worker"
)

// serveRequirements are the problems serve refuses to start with, beyond
// cfg.Validate: config check reports the same, so that "configuration is
// valid" means serve starts.
func serveRequirements(cfg config.Config) error {
	var problems []error
	if !cfg.Slack.BotToken.IsSet() {
		problems = append(problems, errors.New("slack.bot_token: SLACK_BOT_TOKEN is required to serve"))
	}
	if cfg.Slack.Channel == "" {
		problems = append(problems, errors.New("slack.channel: SLACK_CHANNEL is required to serve"))
	}
	if !cfg.WebhookToken.IsSet() && !cfg.InsecureNoAuth {
		problems = append(problems, errors.New("webhook_token: WEBHOOK_TOKEN is required (or pass --insecure-no-auth to accept unauthenticated alerts)"))
	}
	if t := cfg.Slack.AppToken.Reveal(); t != "" && !strings.HasPrefix(t, "xapp-") {
		problems = append(problems, errors.New("slack.app_token: SLACK_APP_TOKEN must be an app-level token (xapp-…) with the connections:write scope, from the app's Basic Information page"))
	}
	t := cfg.Traces
	if t.JSONL.Path == "" && t.Langfuse.Host == "" && t.Phoenix.BaseURL == "" && t.Jaeger.QueryURL == "" && t.Tempo.URL == "" {
		problems = append(problems, errors.New("traces: no trace source configured: set TRACE_JSONL_PATH, LANGFUSE_HOST, PHOENIX_BASE_URL, JAEGER_QUERY_URL or TEMPO_URL"))
	}
	if p := cfg.Traces.JSONL.Path; p != "" {
		if _, err := os.Stat(p); err != nil {
			problems = append(problems, fmt.Errorf("traces.jsonl.path: TRACE_JSONL_PATH %s: %w", p, pathProblem(err)))
		}
	}
	return errors.Join(problems...)
}

func pathProblem(err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return errors.New("no such file or directory")
	}
	return err
}

// channelSetting is one configured Slack channel and the setting that
// names it, so that a problem with the channel says what to change.
type channelSetting struct {
	setting string // SLACK_CHANNEL (slack.channel), routes[1] (agents).channel, …
	channel string // as configured: an id or a name
}

// configuredChannels lists every channel the configuration posts to,
// each once, with the first setting that names it.
func configuredChannels(cfg config.Config) []channelSetting {
	var out []channelSetting
	seen := map[string]bool{}
	add := func(setting, channel string) {
		channel = strings.TrimSpace(channel)
		if channel == "" || seen[channel] {
			return
		}
		seen[channel] = true
		out = append(out, channelSetting{setting, channel})
	}
	add("SLACK_CHANNEL (slack.channel)", cfg.Slack.Channel)
	for i, r := range cfg.Routes {
		add(fmt.Sprintf("routes[%d] (%s).channel", i, r.Name), r.Channel)
	}
	if st, err := cfg.DigestSettings(); err == nil && st.Enabled {
		if len(cfg.Digests.Schedules) == 0 {
			add("DIGEST_CHANNEL", st.Schedule.Channel)
		}
		for i, s := range cfg.Digests.Schedules {
			add(fmt.Sprintf("digests.schedules[%d] (%s).channel", i, s.Name), s.Channel)
		}
	}
	return out
}

// slackChecker is what the start-up checks need of the Slack client.
type slackChecker interface {
	CheckAuth(ctx context.Context) (bot.Identity, error)
	CheckChannel(ctx context.Context, channel string) (string, error)
}

var _ slackChecker = (*bot.Slack)(nil)

// errSlackUnreachable marks a check that could not reach Slack, as
// opposed to Slack refusing the settings.
var errSlackUnreachable = errors.New("slack unreachable")

// checkSlack checks the bot token (auth.test) and that every configured
// channel exists, is not archived and has the app as a member
// (conversations.info: is_member). It returns the id of each channel by
// its configured value. Every problem is reported at once, each naming
// the setting and the fix; when Slack could not be reached the error
// wraps errSlackUnreachable.
func checkSlack(ctx context.Context, s slackChecker, channels []channelSetting) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	id, err := s.CheckAuth(ctx)
	switch {
	case errors.Is(err, bot.ErrAuth):
		return nil, fmt.Errorf("SLACK_BOT_TOKEN (slack.bot_token): Slack rejected the token: copy the Bot User OAuth Token (xoxb-…) from the app's OAuth & Permissions page, after installing the app to the workspace (%w)", err)
	case err != nil:
		return nil, fmt.Errorf("%w: %w", errSlackUnreachable, err)
	}
	app := "@" + id.User
	if id.User == "" {
		app = "@oncall-copilot"
	}
	ids := map[string]string{}
	var problems []error
	for _, c := range channels {
		chID, err := s.CheckChannel(ctx, c.channel)
		if err == nil {
			ids[c.channel] = chID
			continue
		}
		show := c.channel
		if !bot.IsChannelID(show) && !strings.HasPrefix(show, "#") {
			show = "#" + show
		}
		switch {
		case errors.Is(err, bot.ErrNotInChannel):
			err = fmt.Errorf("%s: the app is not in %s: invite the app with /invite %s to %s", c.setting, show, app, show)
		case errors.Is(err, bot.ErrChannelNotFound):
			err = fmt.Errorf("%s: no channel %s that the app can see: check the name (or use the channel id, from the channel's details), and for a private channel invite the app with /invite %s", c.setting, show, app)
		case errors.Is(err, bot.ErrChannelArchived):
			err = fmt.Errorf("%s: %s is archived: unarchive it or set another channel", c.setting, show)
		case errors.Is(err, bot.ErrAuth):
			err = fmt.Errorf("%s: Slack refused to look %s up: %w", c.setting, show, err)
		case bot.RefusalCode(err) == "missing_scope":
			err = fmt.Errorf("%s: the app may not look channels up: add the channels:read and groups:read scopes (see slack/manifest.*.yaml), reinstall the app, and restart", c.setting)
		default:
			return nil, fmt.Errorf("%w: check %s: %w", errSlackUnreachable, c.setting, err)
		}
		problems = append(problems, err)
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	return ids, nil
}

// resolvedRoutes are the routes and default channel with every channel
// replaced by its id, as checkSlack found them.
func resolvedRoutes(cfg config.Config, ids map[string]string) (alerts.Routes, string) {
	id := func(ch string) string {
		if v, ok := ids[strings.TrimSpace(ch)]; ok {
			return v
		}
		return ch
	}
	routes := make(alerts.Routes, len(cfg.Routes))
	copy(routes, cfg.Routes)
	for i := range routes {
		routes[i].Channel = id(routes[i].Channel)
	}
	return routes, id(cfg.Slack.Channel)
}

// slackHealth is Slack's part in /readyz: ready once the start-up checks
// passed, unready while the token is refused.
type slackHealth struct {
	mu      sync.Mutex
	problem string // empty when healthy
}

func (h *slackHealth) set(problem string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.problem = problem
}

// Problem says what is wrong with Slack, or "".
func (h *slackHealth) Problem() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.problem
}

// watch checks the token every interval until ctx ends, so that a
// revoked token shows in /readyz.
func (h *slackHealth) watch(ctx context.Context, s slackChecker, channels []channelSetting, interval time.Duration, log *slog.Logger) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		var err error
		if h.Problem() == "" {
			_, err = s.CheckAuth(ctx)
		} else {
			_, err = checkSlack(ctx, s, channels)
		}
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if h.Problem() == "" {
				log.Error("slack check failed", "err", err)
			}
			h.set(err.Error())
			continue
		}
		if h.Problem() != "" {
			log.Info("slack check passed")
		}
		h.set("")
	}
}

// settingHints name the setting behind a Slack refusal at the start of a
// job's error, so that the dead letter (jobs list) says what to fix
// before jobs retry.
func settingHints(cfg config.Config) func(next worker.HandlerFunc) worker.HandlerFunc {
	return func(next worker.HandlerFunc) worker.HandlerFunc {
		return func(ctx context.Context, job oncall.Job) error {
			err := next(ctx, job)
			if err == nil {
				return nil
			}
			setting, channel := "SLACK_CHANNEL", cfg.Slack.Channel
			for i, r := range cfg.Routes {
				if r.Name == job.Route && strings.TrimSpace(r.Channel) != "" {
					setting, channel = fmt.Sprintf("routes[%d] (%s).channel", i, r.Name), r.Channel
				}
			}
			var hint string
			switch bot.RefusalCode(err) {
			case "channel_not_found":
				hint = fmt.Sprintf("%s=%s: no such channel the app can see; fix it, restart, then jobs retry", setting, channel)
			case "not_in_channel":
				hint = fmt.Sprintf("%s=%s: the app is not in the channel; /invite @oncall-copilot there, then jobs retry", setting, channel)
			case "is_archived":
				hint = fmt.Sprintf("%s=%s: the channel is archived; set another one, restart, then jobs retry", setting, channel)
			case "invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive":
				hint = "SLACK_BOT_TOKEN: Slack refused the token; fix it, restart, then jobs retry"
			case "missing_scope":
				hint = "the Slack app lacks a scope: add those of the manifest in slack/, reinstall, then jobs retry"
			default:
				return err
			}
			return fmt.Errorf("%s: %w", hint, err) // a permanent err stays permanent
		}
	}
}
