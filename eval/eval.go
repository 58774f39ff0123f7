// Package eval scores triage on labelled scenarios: whether the ranked
// clusters put the real cause first (cause@1) or in the top three
// (cause@3), whether the root-cause error reaches the prompt (evidence
// recall), prompt size against the budget, and whether any planted secret
// leaks into the model prompt, the Slack messages or the CLI report.
package eval

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/alerts"
	"github.com/oncall-copilot/oncall-copilot/bot"
	"github.com/oncall-copilot/oncall-copilot/eval/scenario"
	"github.com/oncall-copilot/oncall-copilot/redact"
	"github.com/oncall-copilot/oncall-copilot/report"
	"github.com/oncall-copilot/oncall-copilot/tracesource/jsonl"
	"github.com/oncall-copilot/oncall-copilot/triage"
)

// Options configure a run.
type Options struct {
	// Model, when set, diagnoses each scenario, and the result says
	// whether the diagnosis names the expected cause.
	Model     triage.Model
	ModelName string
	Budget    int // prompt tokens; default 8000
	// LabelMap is the correlation hint from alert labels to trace
	// attributes; nil means DefaultLabelMap, the default configuration's.
	LabelMap map[string]string
	// Live triages each alert a minute after it fired, as the server
	// does, instead of replaying it hours later.
	Live bool
}

// DefaultLabelMap is the label map of oncall-copilot's default
// configuration, so the scores are those a new user gets.
func DefaultLabelMap() map[string]string {
	return map[string]string{
		"service":     "service.name",
		"agent":       "gen_ai.agent.name",
		"environment": "deployment.environment",
	}
}

// Result is one scenario's score.
type Result struct {
	Scenario       string   `json:"scenario"`
	Category       string   `json:"category"`
	Rank           int      `json:"rank"` // 1-based rank of the expected cause among the clusters; 0 when absent
	Top            string   `json:"top"`  // the first cluster's signature
	EvidenceRecall bool     `json:"evidence_recall"`
	PromptTokens   int      `json:"prompt_tokens"`
	Budget         int      `json:"budget"`
	Leaks          []string `json:"leaks,omitempty"` // "slack: AKIA…" and the like
	// ForeignAbove says a cluster of another service's incident ranked
	// above the expected cause (or at all, when the cause is missing).
	ForeignAbove bool `json:"foreign_above,omitempty"`
	// NoTraces says the report claimed no incident traces.
	NoTraces bool `json:"no_traces,omitempty"`
	// Dimensions are the generator dimensions the scenario exercises.
	Dimensions []string      `json:"dimensions,omitempty"`
	ModelNamed *bool         `json:"model_named_cause,omitempty"`
	Duration   time.Duration `json:"duration_ns"`
	Err        string        `json:"error,omitempty"`
}

// Totals sums a run.
type Totals struct {
	Scenarios      int           `json:"scenarios"`
	CauseAt1       float64       `json:"cause_at_1"`
	CauseAt3       float64       `json:"cause_at_3"`
	EvidenceRecall float64       `json:"evidence_recall"`
	MeanTokens     float64       `json:"prompt_tokens_mean"`
	MaxTokens      int           `json:"prompt_tokens_max"`
	OverBudget     int           `json:"over_budget"`
	Leaks          int           `json:"leaks"`
	ModelNamed     float64       `json:"model_named_cause,omitempty"`
	Errors         int           `json:"errors"`
	MeanDuration   time.Duration `json:"triage_mean_ns"`
	ForeignAbove   int           `json:"foreign_above"`
	NoTraces       int           `json:"no_traces"`
	// Dimensions counts the scenarios that exercise each dimension of
	// the generator (see scenario.Fleet): another service's incident in
	// the same window, both environment keys in one store, alert labels
	// named otherwise than the attributes, no agent label, and each alert
	// kind.
	Dimensions map[string]int `json:"dimensions"`
}

// Run scores every scenario.
func Run(ctx context.Context, scenarios []scenario.Scenario, opts Options) ([]Result, Totals, error) {
	if opts.Budget <= 0 {
		opts.Budget = triage.DefaultEvidenceBudget
	}
	red, err := redact.New(redact.Options{})
	if err != nil {
		return nil, Totals{}, err
	}
	var results []Result
	for _, sc := range scenarios {
		if err := ctx.Err(); err != nil {
			return results, total(results), err
		}
		results = append(results, runOne(ctx, sc, red, opts))
	}
	return results, total(results), nil
}

func runOne(ctx context.Context, sc scenario.Scenario, red *redact.Redactor, opts Options) Result {
	res := Result{Scenario: sc.Name, Category: string(sc.Expected.Category), Budget: opts.Budget, Dimensions: dimensions(sc.Expected)}
	fail := func(err error) Result { res.Err = err.Error(); return res }
	n, err := alerts.DecodeAlertmanager(sc.Alert, time.Now())
	if err != nil {
		return fail(fmt.Errorf("alert: %w", err))
	}
	// A replay runs hours after the alert fired and sees the incident
	// window up to one window length after its start; a live triage runs a
	// minute after it fired and sees up to then.
	now := n.Alerts[0].StartsAt.Add(2 * time.Hour)
	if opts.Live {
		now = n.Alerts[0].StartsAt.Add(time.Minute)
	}
	src, err := jsonl.New(jsonl.Options{Path: sc.TracesPath})
	if err != nil {
		return fail(err)
	}
	svc, err := triage.NewService(triage.ServiceOptions{
		Sources:   map[string]triage.TraceSource{"jsonl": src},
		Model:     opts.Model,
		ModelName: opts.ModelName,
		Budget:    opts.Budget,
		Redactor:  red,
		LabelMap:  cmpOr(opts.LabelMap, DefaultLabelMap()),
		Now:       func() time.Time { return now },
	})
	if err != nil {
		return fail(err)
	}
	start := time.Now()
	p, err := svc.Prepare(ctx, oncall.TriageRequest{Alert: n.Alerts[0]})
	if err != nil {
		return fail(err)
	}
	rep, err := svc.Finish(ctx, p)
	if err != nil {
		return fail(err)
	}
	res.Duration = time.Since(start)
	res.PromptTokens = p.Evidence.Tokens
	want := sc.Expected.Cause
	for i, c := range rep.Clusters {
		if i == 0 {
			res.Top = c.Signature
		}
		if res.Rank == 0 && Matches(c, want) {
			res.Rank = i + 1
		}
	}
	res.EvidenceRecall = recalled(p.Evidence.Text, want)
	if o := sc.Expected.Fleet.OtherIncident; o != nil {
		foreign := map[string]bool{}
		for _, id := range o.Traces {
			foreign[id] = true
		}
		for i, c := range rep.Clusters {
			if res.Rank > 0 && i+1 >= res.Rank {
				break
			}
			for _, id := range c.TraceIDs {
				res.ForeignAbove = res.ForeignAbove || foreign[id]
			}
		}
	}
	for _, m := range rep.Missing {
		res.NoTraces = res.NoTraces || strings.HasPrefix(m, "no traces in the incident window")
	}

	// Everything that leaves the process, as it would leave it.
	inc := oncall.Incident{Key: "eval", Status: oncall.IncidentOpen, Alert: rep.Alert, Channel: "C-EVAL", ThreadTS: "1.000"}
	ropts := bot.RenderOptions{Redact: red.String}
	slackOut, _ := json.Marshal(bot.RenderReport(inc, rep, ropts))
	parentOut, _ := json.Marshal(bot.RenderParent(inc, ropts))
	jsonOut, _ := json.Marshal(rep)
	outputs := map[string]string{
		"prompt": p.Evidence.Text,
		"slack":  string(slackOut) + string(parentOut) + strings.Join(bot.ReportFallback(inc, rep, ropts), "\n") + bot.ParentFallback(inc, ropts),
		"report": report.RenderText(rep) + string(jsonOut),
	}
	for _, secret := range sc.Expected.PlantedSecrets {
		for _, where := range []string{"prompt", "slack", "report"} {
			if strings.Contains(outputs[where], secret) {
				res.Leaks = append(res.Leaks, where+": "+abbreviate(secret))
			}
		}
	}
	if opts.Model != nil && rep.Diagnosis != nil && rep.Diagnosis.Offline == "" {
		named := diagnosisNames(rep.Diagnosis, want)
		res.ModelNamed = &named
	}
	return res
}

// Matches reports whether a cluster is the expected cause: the same span
// kind, the same span or tool name, and the expected error words.
func Matches(c oncall.Cluster, want scenario.Cause) bool {
	if want.SpanKind != "" && c.SpanKind != want.SpanKind {
		return false
	}
	nameOK := want.SpanName == "" && want.ToolName == ""
	if want.SpanName != "" && c.SpanName == want.SpanName {
		nameOK = true
	}
	if want.ToolName != "" && c.ToolName == want.ToolName {
		nameOK = true
	}
	if !nameOK {
		return false
	}
	if want.ErrorContains == "" {
		return true
	}
	text := strings.ToLower(c.Error + " " + c.Signature + " " + c.Detail)
	return strings.Contains(text, strings.ToLower(want.ErrorContains))
}

// recalled reports whether the prompt shows the cause's span and error.
func recalled(prompt string, want scenario.Cause) bool {
	lp := strings.ToLower(prompt)
	name := want.ToolName
	if name == "" {
		name = want.SpanName
	}
	if name != "" && !strings.Contains(lp, strings.ToLower(name)) {
		return false
	}
	return want.ErrorContains == "" || strings.Contains(lp, strings.ToLower(want.ErrorContains))
}

// diagnosisNames reports whether the diagnosis's first cause names the
// expected span or tool.
func diagnosisNames(d *oncall.Diagnosis, want scenario.Cause) bool {
	if len(d.Causes) == 0 {
		return false
	}
	text := strings.ToLower(d.Causes[0].Title + " " + d.Causes[0].Detail)
	for _, n := range []string{want.ToolName, want.SpanName} {
		if n != "" && strings.Contains(text, strings.ToLower(n)) {
			return true
		}
	}
	return false
}

func cmpOr(m, def map[string]string) map[string]string {
	if m == nil {
		return def
	}
	return m
}

// dimensions names the generator dimensions a scenario exercises.
func dimensions(e scenario.Expected) []string {
	f := e.Fleet
	out := []string{"kind_" + string(e.AlertKind)}
	if f.OtherIncident != nil {
		out = append(out, "other_service_incident")
	}
	if len(f.EnvironmentKeys) == 2 {
		out = append(out, "both_environment_keys")
	}
	for _, k := range f.EnvironmentKeys {
		if k == "deployment.environment.name" {
			out = append(out, "newer_environment_key")
			break
		}
	}
	agent, renamed := false, false
	for label, attr := range f.AlertLabels {
		agent = agent || attr == "gen_ai.agent.name"
		renamed = renamed || (label != attr && label != "service" && label != "agent" && label != "environment")
	}
	if renamed {
		out = append(out, "labels_named_otherwise")
	}
	if !agent {
		out = append(out, "no_agent_label")
	}
	if f.AlertDelaySeconds > 0 {
		out = append(out, "alert_after_onset")
	}
	if len(f.Services) >= 3 {
		out = append(out, "several_services")
	}
	if e.Noisy {
		out = append(out, "noisy_background")
	}
	return out
}

func abbreviate(s string) string {
	if len(s) > 8 {
		return s[:4] + "…"
	}
	return "…"
}

func total(results []Result) Totals {
	t := Totals{Scenarios: len(results), Dimensions: map[string]int{}}
	if len(results) == 0 {
		return t
	}
	var at1, at3, recall, tokens, named, withModel int
	var dur time.Duration
	for _, r := range results {
		if r.Err != "" {
			t.Errors++
		}
		if r.Rank == 1 {
			at1++
		}
		if r.Rank >= 1 && r.Rank <= 3 {
			at3++
		}
		if r.EvidenceRecall {
			recall++
		}
		tokens += r.PromptTokens
		t.MaxTokens = max(t.MaxTokens, r.PromptTokens)
		if r.PromptTokens > r.Budget {
			t.OverBudget++
		}
		t.Leaks += len(r.Leaks)
		for _, d := range r.Dimensions {
			t.Dimensions[d]++
		}
		if r.ForeignAbove {
			t.ForeignAbove++
		}
		if r.NoTraces {
			t.NoTraces++
		}
		if r.ModelNamed != nil {
			withModel++
			if *r.ModelNamed {
				named++
			}
		}
		dur += r.Duration
	}
	n := float64(len(results))
	t.CauseAt1, t.CauseAt3, t.EvidenceRecall = float64(at1)/n, float64(at3)/n, float64(recall)/n
	t.MeanTokens = float64(tokens) / n
	t.MeanDuration = dur / time.Duration(len(results))
	if withModel > 0 {
		t.ModelNamed = float64(named) / float64(withModel)
	}
	return t
}

// WriteTable prints the per-scenario table and the totals.
func WriteTable(w io.Writer, results []Result, t Totals) {
	fmt.Fprintf(w, "%-34s %-24s %4s %6s %7s %5s %8s  %s\n", "SCENARIO", "CATEGORY", "RANK", "RECALL", "TOKENS", "LEAKS", "TIME", "TOP CLUSTER")
	rows := slices.Clone(results)
	for _, r := range rows {
		rank := "-"
		if r.Rank > 0 {
			rank = fmt.Sprint(r.Rank)
		}
		top := r.Top
		if r.Err != "" {
			top = "error: " + r.Err
		}
		if len(top) > 70 {
			top = top[:69] + "…"
		}
		fmt.Fprintf(w, "%-34s %-24s %4s %6t %7d %5d %8s  %s\n", r.Scenario, r.Category, rank, r.EvidenceRecall, r.PromptTokens, len(r.Leaks), r.Duration.Round(time.Millisecond), top)
	}
	fmt.Fprintf(w, "\n%d scenarios: cause@1 %.2f, cause@3 %.2f, evidence recall %.2f, prompt tokens mean %.0f max %d, over budget %d, leaks %d, errors %d, mean triage %s\n",
		t.Scenarios, t.CauseAt1, t.CauseAt3, t.EvidenceRecall, t.MeanTokens, t.MaxTokens, t.OverBudget, t.Leaks, t.Errors, t.MeanDuration.Round(time.Millisecond))
	fmt.Fprintf(w, "another service's failure ranked above the cause: %d; \"no traces\" with traces in the store: %d\n", t.ForeignAbove, t.NoTraces)
	dims := slices.Sorted(maps.Keys(t.Dimensions))
	parts := make([]string, len(dims))
	for i, d := range dims {
		parts[i] = fmt.Sprintf("%s %d", d, t.Dimensions[d])
	}
	fmt.Fprintf(w, "scenarios per dimension: %s\n", strings.Join(parts, ", "))
	if t.ModelNamed > 0 {
		fmt.Fprintf(w, "model diagnosis names the expected cause: %.2f\n", t.ModelNamed)
	}
}
