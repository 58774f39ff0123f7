package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/oncall-copilot/oncall-copilot/config"
	"github.com/oncall-copilot/oncall-copilot/eval"
	"github.com/oncall-copilot/oncall-copilot/eval/scenario"
)

// runEval scores triage on a directory of labelled scenarios.
func runEval(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = commandHelp(fs, stderr, "eval [--scenarios DIR] [--model=false] [--format text|json]", `
Triages every labelled scenario in --scenarios (each a directory with
alert.json, traces/ and expected.json) and scores the diagnoses.

Settings: none required; OPENAI_API_KEY (and OPENAI_BASE_URL,
OPENAI_MODEL) scores the model's diagnoses too.`)
	path := fs.String("config", getenv("ONCALL_CONFIG"), "YAML configuration file")
	dir := fs.String("scenarios", "examples/scenarios", "directory of scenario directories (alert.json, traces/, expected.json)")
	format := fs.String("format", "text", "output format: text or json")
	useModel := fs.Bool("model", true, "diagnose with the configured model too, when a key is set")
	live := fs.Bool("live", false, "triage each alert a minute after it fired, as the server does, instead of replaying it hours later")
	pos, err := parseArgs(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return errUsage
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "eval: unexpected argument %q\n", pos[0])
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
