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
	path := fs.String("config", getenv("ONCALL_CONFIG"), "YAML configuration file")
	alertPath := fs.String("alert", "", "Alertmanager webhook payload (JSON file) of the alert to triage")
	traces := fs.String("traces", "", "JSONL trace file or directory (default: the configured trace source)")
	source := fs.String("source", "", "configured trace source to read: jsonl, langfuse, phoenix, jaeger or tempo (default: traces.default)")
	format := fs.String("format", "text", "output format: text or json")
	offline := fs.Bool("offline", false, "deterministic analysis only, even when a model is configured")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *alertPath == "" {
		fmt.Fprintln(stderr, "triage: --alert FILE is required")
		fs.Usage()
		return errUsage
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(stderr, "triage: --format must be text or json, got %q\n", *format)
		return errUsage
	}
	cfg, err := config.Load(*path, getenv)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("configuration is invalid:\n%w", err)
	}
	alert, err := readAlert(*alertPath, time.Now())
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
	svc, err := newTriage(cfg, *traces, *source, red, log, nil)
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

// readAlert reads an Alertmanager webhook payload and picks the alert to
// triage: the earliest firing one.
func readAlert(path string, now time.Time) (oncall.Alert, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return oncall.Alert{}, fmt.Errorf("read alert: %w", err)
	}
	n, err := alerts.DecodeAlertmanager(b, now)
	if err != nil {
		var in *alerts.InputError
		if errors.As(err, &in) {
			return oncall.Alert{}, fmt.Errorf("alert %s: %w", path, err)
		}
		return oncall.Alert{}, err
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
