package main

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/alerts"
	"github.com/oncall-copilot/oncall-copilot/eval"
	"github.com/oncall-copilot/oncall-copilot/eval/scenario"
	"github.com/oncall-copilot/oncall-copilot/redact"
	"github.com/oncall-copilot/oncall-copilot/tracesource/jsonl"
	"github.com/oncall-copilot/oncall-copilot/tracesource/otlp"
	"github.com/oncall-copilot/oncall-copilot/triage"
)

// promptSize is one scenario's prompt against its traces pasted raw.
type promptSize struct {
	Scenario         string
	Evidence, Raw    int // tokens
	Traces, Selected int
}

// measurePrompt triages one scenario as the eval does and counts the
// tokens of its evidence and of the OTLP/JSON of every trace the triage
// selected, each trace counted on its own (exactly, up to the counter's
// cut-off for very long texts).
func measurePrompt(ctx context.Context, sc scenario.Scenario, red *redact.Redactor, counter triage.TokenCounter) (promptSize, error) {
	n, err := alerts.DecodeAlertmanager(sc.Alert, time.Now())
	if err != nil {
		return promptSize{}, fmt.Errorf("scenario %s alert: %w", sc.Name, err)
	}
	src, err := jsonl.New(jsonl.Options{Path: sc.TracesPath})
	if err != nil {
		return promptSize{}, err
	}
	svc, err := triage.NewService(triage.ServiceOptions{
		Sources: map[string]triage.TraceSource{"jsonl": src}, ModelName: "gpt-4o-mini", Redactor: red,
		LabelMap: map[string]string{"agent": "gen_ai.agent.name", "service": "service.name"},
	})
	if err != nil {
		return promptSize{}, err
	}
	p, err := svc.Prepare(ctx, oncall.TriageRequest{Alert: n.Alerts[0]})
	if err != nil {
		return promptSize{}, fmt.Errorf("scenario %s: %w", sc.Name, err)
	}
	ps := promptSize{Scenario: sc.Name, Evidence: p.Evidence.Tokens, Selected: len(p.Traces)}
	for _, t := range p.Traces {
		b, err := otlp.Encode([]oncall.Trace{t})
		if err != nil {
			return ps, err
		}
		ps.Raw += counter.Count(string(b))
	}
	return ps, nil
}

// tokenRows measures prompt sizes over the example scenarios and takes
// evidence recall from the eval.
func tokenRows(ctx context.Context, dir string) ([]row, error) {
	fig := "Prompt tokens against the selected traces pasted raw"
	fail := func(err error) ([]row, error) {
		return []row{{Figure: fig, Target: ">= 20x fewer", Measured: "not run", Met: "NO", Note: err.Error()}}, err
	}
	scenarios, err := scenario.LoadAll(dir)
	if err != nil {
		return fail(err)
	}
	_, totals, err := eval.Run(ctx, scenarios, eval.Options{ModelName: "gpt-4o-mini"})
	if err != nil {
		return fail(err)
	}
	red, err := redact.New(redact.Options{})
	if err != nil {
		return fail(err)
	}
	counter := triage.NewTokenCounter("gpt-4o-mini")
	sizes := make([]promptSize, len(scenarios))
	errs := make([]error, len(scenarios))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.NumCPU())
	for i, sc := range scenarios {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			sizes[i], errs[i] = measurePrompt(ctx, sc, red, counter)
		}()
	}
	wg.Wait()
	var ratios []float64
	sumRatio, sumEv, sumRaw, maxEv := 0.0, 0, 0, 0
	for i, s := range sizes {
		if errs[i] != nil {
			return fail(errs[i])
		}
		if s.Evidence == 0 {
			continue
		}
		r := float64(s.Raw) / float64(s.Evidence)
		ratios = append(ratios, r)
		sumRatio += r
		sumEv += s.Evidence
		sumRaw += s.Raw
		maxEv = max(maxEv, s.Evidence)
	}
	if len(ratios) == 0 {
		return fail(fmt.Errorf("no scenario in %s built an evidence pack", dir))
	}
	slices.Sort(ratios)
	mean := sumRatio / float64(len(ratios))
	budget := triage.DefaultEvidenceBudget
	return []row{
		{
			Figure:   fmt.Sprintf("Prompt tokens against the selected traces pasted raw (mean of %d scenarios)", len(ratios)),
			Target:   ">= 20x fewer",
			Measured: fmt.Sprintf("%.0fx fewer (min %.0fx, median %.0fx)", mean, ratios[0], ratios[len(ratios)/2]),
			Baseline: fmt.Sprintf("%d raw tokens a scenario vs %d in the prompt (mean)", sumRaw/len(ratios), sumEv/len(ratios)),
			Ratio:    fmt.Sprintf("%.3f", 1/mean),
			Met:      met(mean >= 20),
			Note:     "raw = the OTLP/JSON of every trace the triage selected (both windows), tokenized with o200k_base trace by trace",
		},
		{
			Figure:   "Evidence recall of the eval (cause's span and error in the prompt)",
			Target:   "1.00, as pasting the traces raw",
			Measured: fmt.Sprintf("%.2f (cause@1 %.2f, cause@3 %.2f)", totals.EvidenceRecall, totals.CauseAt1, totals.CauseAt3),
			Met:      met(totals.EvidenceRecall >= 1),
		},
		{
			Figure:   "Prompt size over the eval scenarios",
			Target:   fmt.Sprintf("<= %d tokens (budget)", budget),
			Measured: fmt.Sprintf("max %d, mean %.0f tokens; %d over budget", totals.MaxTokens, totals.MeanTokens, totals.OverBudget),
			Ratio:    ratio(float64(totals.MaxTokens), float64(budget)),
			Met:      met(totals.OverBudget == 0 && totals.MaxTokens <= budget),
		},
	}, nil
}
