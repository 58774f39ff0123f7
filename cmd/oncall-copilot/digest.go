package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/oncall-copilot/oncall-copilot/bot"
	"github.com/oncall-copilot/oncall-copilot/config"
	"github.com/oncall-copilot/oncall-copilot/digest"
	"github.com/oncall-copilot/oncall-copilot/redact"
)

// runDigest builds the digest of the last --since now and prints it, or
// posts it to Slack with --post.
func runDigest(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return runDigestAt(ctx, args, getenv, stdout, stderr, time.Now)
}

func runDigestAt(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, now func() time.Time) error {
	fs := flag.NewFlagSet("digest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = commandHelp(fs, stderr, "digest [--since 24h] [--post [--channel CHANNEL]] [--format text|json]", `
Prints the digest of the last --since (incidents, the agents' runs, top
failure clusters, triage cost and feedback) or, with --post, posts it to
Slack with its chart.

Settings: a store (DATA_DIR or --data-dir, or REDIS_URL); a trace source
(--traces PATH, or TRACE_JSONL_PATH, LANGFUSE_HOST, …). --post needs
SLACK_BOT_TOKEN and a channel: --channel, DIGEST_CHANNEL or SLACK_CHANNEL
(a #name or an id; the app must be in it).`)
	path := fs.String("config", getenv("ONCALL_CONFIG"), "YAML configuration file")
	since := fs.Duration("since", 24*time.Hour, "how far back the digest looks")
	post := fs.Bool("post", false, "post the digest to Slack instead of printing it")
	channel := fs.String("channel", "", "channel to post to (default DIGEST_CHANNEL, else the configured channel)")
	format := fs.String("format", "text", "output format: text or json")
	traces := fs.String("traces", "", "JSONL trace file or directory (default: the configured default trace source)")
	dataDir := fs.String("data-dir", "", "directory of the embedded store (default ./data)")
	pos, err := parseArgs(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return errUsage
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "digest: unexpected argument %q\n", pos[0])
		return errUsage
	}
	if *since <= 0 {
		fmt.Fprintf(stderr, "digest: --since must be positive, got %v\n", *since)
		return errUsage
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(stderr, "digest: --format must be text or json, got %q\n", *format)
		return errUsage
	}
	cfg, err := config.Load(*path, getenv)
	if err != nil {
		return err
	}
	if *dataDir != "" {
		cfg.DataDir = *dataDir
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("configuration is invalid:\n%w", err)
	}
	settings, err := cfg.DigestSettings()
	if err != nil {
		return fmt.Errorf("digest settings are invalid:\n%w", err)
	}
	if *channel == "" {
		*channel = settings.Schedule.Channel
	}
	if *post && (!cfg.Slack.BotToken.IsSet() || *channel == "") {
		return fmt.Errorf("digest --post needs SLACK_BOT_TOKEN and a channel (--channel, DIGEST_CHANNEL or SLACK_CHANNEL)")
	}

	log := newLogger("warn", stderr)
	if !cfg.RedisURL.IsSet() {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return fmt.Errorf("create data dir: %w", err)
		}
	}
	store, _, err := openStore(ctx, cfg, log)
	if err != nil {
		// The embedded store is locked by a running server; its digest is
		// one /oncall digest away.
		return err
	}
	defer store.Close()
	ds, err := digestStore(store)
	if err != nil {
		return err
	}
	red, err := redact.New(redact.Options{})
	if err != nil {
		return fmt.Errorf("redaction rules: %w", err)
	}
	shared, err := newDeps(cfg, *traces, "", red, log, nil)
	if err != nil {
		return err
	}
	b, err := newDigestBuilder(cfg, ds, shared, log)
	if err != nil {
		return err
	}
	end := now()
	d, err := b.Build(ctx, digest.Request{Name: "on demand", Start: end.Add(-*since), End: end, Location: settings.Schedule.Location()})
	if err != nil {
		return err
	}

	if *post {
		slack, err := bot.New(bot.Options{Token: cfg.Slack.BotToken.Reveal(), APIURL: cfg.Slack.APIURL.Reveal(), Logger: log, TraceURL: cfg.Traces.TraceURL()})
		if err != nil {
			return err
		}
		chart, err := digest.Chart(d)
		if err != nil {
			return err
		}
		if err := slack.SendDigest(ctx, *channel, d, chart, digest.ChartAlt(d)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "digest posted to %s\n", *channel)
		return nil
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(d)
	}
	_, err = io.WriteString(stdout, digest.RenderText(d))
	return err
}
