package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/oncall-copilot/oncall-copilot/bot"
	"github.com/oncall-copilot/oncall-copilot/config"
)

const configUsage = `usage: oncall-copilot config check [--config FILE] [--data-dir DIR] [--insecure-no-auth] [--online]

Prints the effective configuration, secrets masked, and checks it as
serve does: every problem at once, each naming its setting. serve needs
SLACK_BOT_TOKEN, SLACK_CHANNEL and WEBHOOK_TOKEN (or --insecure-no-auth);
TRACE_JSONL_PATH, when set, must exist.

With --online it also makes serve's start-up checks over the network:
Slack accepts the bot token (auth.test) and the app token
(apps.connections.open), every configured channel exists and has the app
as a member (conversations.info), and Redis answers (with REDIS_URL).
`

func runConfig(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, configUsage)
		return errUsage
	}
	switch args[0] {
	case "check":
		return runConfigCheck(ctx, args[1:], getenv, stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, configUsage)
		return nil
	default:
		fmt.Fprintf(stderr, "unknown command \"config %s\"\n\n%s", args[0], configUsage)
		return errUsage
	}
}

func runConfigCheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("config check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, configUsage) }
	path := fs.String("config", getenv("ONCALL_CONFIG"), "YAML configuration file")
	dataDir := fs.String("data-dir", "", "directory of the embedded store (default ./data)")
	noAuth := fs.Bool("insecure-no-auth", false, "check for serve --insecure-no-auth")
	online := fs.Bool("online", false, "also check Slack and the store over the network")
	pos, err := parseArgs(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return errUsage
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "config check takes no arguments, got %q\n\n%s", pos, configUsage)
		return errUsage
	}
	cfg, err := config.Load(*path, getenv)
	if err != nil {
		return err
	}
	if *dataDir != "" {
		cfg.DataDir = *dataDir
	}
	if *noAuth {
		cfg.InsecureNoAuth = true
	}
	fmt.Fprint(stdout, cfg.Dump())
	if err := errors.Join(cfg.Validate(), serveRequirements(cfg)); err != nil {
		return fmt.Errorf("configuration is invalid:\n%w", err)
	}
	if *online {
		if err := checkOnline(ctx, cfg, getenv); err != nil {
			return fmt.Errorf("configuration is valid, but serve would not start:\n%w", err)
		}
		fmt.Fprintln(stderr, "configuration is valid; Slack and the store answer")
		return nil
	}
	fmt.Fprintln(stderr, "configuration is valid (config check --online also checks Slack and the store)")
	return nil
}

// checkOnline makes serve's start-up checks: Slack's tokens and
// channels, and the store.
func checkOnline(ctx context.Context, cfg config.Config, getenv func(string) string) error {
	var problems []error
	slack, err := bot.New(bot.Options{Token: cfg.Slack.BotToken.Reveal(), APIURL: cfg.Slack.APIURL.Reveal()})
	if err != nil {
		return err
	}
	if _, err := checkSlack(ctx, slack, configuredChannels(cfg)); err != nil {
		problems = append(problems, err)
	}
	if t := cfg.Slack.AppToken.Reveal(); t != "" {
		sock, err := bot.NewSocket(bot.SocketOptions{AppToken: t, APIURL: cfg.Slack.APIURL.Reveal(), Intake: &bot.Intake{}})
		if err == nil {
			err = sock.CheckToken(ctx)
		}
		if err != nil {
			problems = append(problems, fmt.Errorf("SLACK_APP_TOKEN (slack.app_token): %w", err))
		}
	}
	if cfg.RedisURL.IsSet() {
		store, _, err := openStore(ctx, cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			problems = append(problems, err)
		} else {
			if err := store.Ping(ctx); err != nil {
				problems = append(problems, fmt.Errorf("redis_url: %w", err))
			}
			store.Close()
		}
	}
	return errors.Join(problems...)
}
