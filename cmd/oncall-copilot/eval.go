package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/oncall-copilot/oncall-copilot/config"
	"github.com/oncall-copilot/oncall-copilot/eval"
	"github.com/oncall-copilot/oncall-copilot/scenario"
)

// runEval scores triage on a directory of labelled scenarios.
func runEval(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", getenv("ONCALL_CONFIG"), "YAML configuration file")
	dir := fs.String("scenarios", "examples/scenarios", "directory of scenario directories (alert.json, traces/, expected.json)")
	format := fs.String("format", "text", "output format: text or json")
	useModel := fs.Bool("model", true, "diagnose with the configured model too, when a key is set")
	live := fs.Bool("live", false, "triage each alert a minute after it fired, as the server does, instead of replaying it hours later")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	cfg, err := config.Load(*path, getenv)
	if err != nil {
		return err
	}
	scenarios, err := scenario.LoadAll(*dir)
	if err != nil {
		return err
	}
	opts := eval.Options{Budget: cfg.Model.TokenBudget, ModelName: cfg.Model.Name, LabelMap: cfg.Triage.LabelMap, Live: *live}
	if *useModel {
		m, err := newModel(cfg)
		if err != nil {
			return err
		}
		if m != nil {
			opts.Model = m
		}
	}
	results, totals, err := eval.Run(ctx, scenarios, opts)
	if err != nil {
		return err
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"results": results, "totals": totals})
	}
	eval.WriteTable(stdout, results, totals)
	if totals.Errors > 0 {
		return fmt.Errorf("%d scenarios failed to run", totals.Errors)
	}
	return nil
}
