package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/alerts"
	"github.com/oncall-copilot/oncall-copilot/config"
	"github.com/oncall-copilot/oncall-copilot/redact"
	"github.com/oncall-copilot/oncall-copilot/report"
	"github.com/oncall-copilot/oncall-copilot/tracesource/jsonl"
)

// runTriage triages one alert from files and prints the report.
func runTriage(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("triage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = commandHelp(fs, stderr, "triage --alert FILE [--source NAME] [--traces PATH | --trace-source NAME] [--format text|json] [--offline]", triageHelp)
	path := fs.String("config", getenv("ONCALL_CONFIG"), "YAML configuration file")
	alertPath := fs.String("alert", "", "webhook payload (JSON file) of the alert to triage; required")
	alertSource := fs.String("source", "", "the payload's source: "+strings.Join(alerts.SourceNames(), ", ")+" (default: detected)")
	traces := fs.String("traces", "", "JSONL trace file or directory (default: the configured trace source)")
	traceSource := fs.String("trace-source", "", "configured trace source to read: jsonl, langfuse, phoenix, jaeger or tempo (default: traces.default)")
	format := fs.String("format", "text", "output format: text or json")
	offline := fs.Bool("offline", false, "deterministic analysis only, even when a model is configured")
	at := fs.String("at", "", "triage as if it ran at this time (RFC 3339), e.g. the minute the alert fired; default now")
	pos, err := parseArgs(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return errUsage
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "triage takes no arguments, got %q\n", pos)
		fs.Usage()
		return errUsage
	}
	if *alertPath == "" {
		fmt.Fprintln(stderr, "triage: --alert FILE is required")
		fs.Usage()
		return errUsage
	}
	// --source once named the trace source; a trace source's name there
	// still means that.
	if slices.Contains([]string{"jsonl", "langfuse", "phoenix", "jaeger", "tempo"}, *alertSource) && *traceSource == "" {
		*traceSource, *alertSource = *alertSource, ""
	}
	if *alertSource != "" && !slices.Contains(alerts.SourceNames(), *alertSource) {
		fmt.Fprintf(stderr, "triage: --source must be one of %s, got %q\n", strings.Join(alerts.SourceNames(), ", "), *alertSource)
		return errUsage
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(stderr, "triage: --format must be text or json, got %q\n", *format)
		return errUsage
	}
	now := time.Now
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			fmt.Fprintf(stderr, "triage: --at must be an RFC 3339 time, got %q\n", *at)
			return errUsage
		}
		now = func() time.Time { return t }
	}
	cfg, err := config.Load(*path, getenv)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("configuration is invalid:\n%w", err)
	}
	alert, err := readAlert(*alertPath, *alertSource, now())
	if err != nil {
		return err
	}
	log := newLogger("warn", stderr)
	if *traces != "" {
		if err := checkTraces(ctx, *traces, stderr); err != nil {
			return err
		}
	}
	red, err := redact.New(redact.Options{})
	if err != nil {
		return err
	}
	d, err := newDeps(cfg, *traces, *traceSource, red, log, nil)
	if err != nil {
		return err
	}
	svc, err := newTriage(cfg, d, log, now)
	if err != nil {
		return err
	}
	req := oncall.TriageRequest{Alert: alert}
	if *offline {
		no := false
		req.Options.Model = &no
	}
	rep, err := svc.Triage(ctx, req)
	if err != nil {
		return fmt.Errorf("triage: %w", err)
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	_, err = io.WriteString(stdout, report.RenderText(rep))
	return err
}

const triageHelp = `
Triages one alert from a webhook payload file against the traces and
prints the report. The payload may come from any supported source
(alertmanager, grafana, pagerduty, langsmith or generic); its source is
detected unless --source names it.

Settings: a trace source (--traces PATH, or TRACE_JSONL_PATH, LANGFUSE_HOST,
PHOENIX_BASE_URL, JAEGER_QUERY_URL or TEMPO_URL); OPENAI_API_KEY for a
model diagnosis (deterministic analysis without it, or with --offline).`

// readAlert reads a webhook payload of source (detected when empty) and
// picks the alert to triage: the earliest firing one.
func readAlert(path, source string, now time.Time) (oncall.Alert, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return oncall.Alert{}, fmt.Errorf("read alert: %w", err)
	}
	if source == "" {
		source = alerts.DetectSource(b)
	}
	n, err := alerts.Decode(source, b, now)
	if err != nil {
		return oncall.Alert{}, fmt.Errorf("alert %s (read as %s; --source names another): %w", path, source, err)
	}
	if len(n.Alerts) == 0 {
		return oncall.Alert{}, fmt.Errorf("alert %s (read as %s): no alert in the payload", path, source)
	}
	best := n.Alerts[0]
	for _, a := range n.Alerts[1:] {
		if !a.Resolved() && (best.Resolved() || a.StartsAt.Before(best.StartsAt)) {
			best = a
		}
	}
	return best, nil
}

// checkTraces reads the --traces path once before the triage, so a path
// that does not exist, holds no trace file or nothing readable stops the
// command with an error naming the files, instead of a report of "no
// traces". What it could read in part is said on stderr, and the triage
// goes on with the rest.
func checkTraces(ctx context.Context, path string, stderr io.Writer) error {
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("traces %s: no such file or directory", path)
		}
		return fmt.Errorf("traces: %w", err)
	}
	src, err := jsonl.New(jsonl.Options{Path: path})
	if err != nil {
		return fmt.Errorf("traces: %w", err)
	}
	res, err := src.Search(ctx, oncall.TraceQuery{Limit: 1})
	if err != nil {
		return fmt.Errorf("traces %s: %w", path, err)
	}
	if res.Matched == 0 {
		return fmt.Errorf("traces %s: the files hold no trace", path)
	}
	for _, u := range res.Unreadable {
		fmt.Fprintf(stderr, "triage: warning: traces %s: %s\n", path, u)
	}
	return nil
}
