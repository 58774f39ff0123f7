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

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/alerts"
	"github.com/oncall-copilot/oncall-copilot/config"
	"github.com/oncall-copilot/oncall-copilot/redact"
	"github.com/oncall-copilot/oncall-copilot/report"
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
	at := fs.String("at", "", "triage as if it ran at this time (RFC 3339), e.g. the minute the alert fired; default now")
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
	alert, err := readAlert(*alertPath, now())
	if err != nil {
		return err
	}
	log := newLogger("warn", stderr)
	red, err := redact.New(redact.Options{})
	if err != nil {
		return err
	}
	svc, err := newTriage(cfg, *traces, *source, red, log, nil, now)
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
