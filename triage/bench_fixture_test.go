package triage

import (
	"net/url"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/analysis"
	"github.com/oncall-copilot/oncall-copilot/analysis/analysistest"
)

// The synthetic agent runs the triage benchmarks read: the same runs as
// analysis's BenchmarkAnalyze (analysis/analyze_fixture_test.go builds
// them for its tests), so the figures of the two packages compare.

// incidentStart is where the incident window of every scenario begins.
var incidentStart = time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)

var (
	incidentWin = analysis.Window{Start: incidentStart, End: incidentStart.Add(30 * time.Minute)}
	baselineWin = analysis.Window{Start: incidentStart.Add(-60 * time.Minute), End: incidentStart}
	windows     = analysis.Options{Incident: incidentWin, Baseline: baselineWin}
)

// benchTraces builds the benchmark's runs (analysistest.BenchTraces).
func benchTraces(n, spans int) []oncall.Trace {
	return analysistest.BenchTraces(n, spans, incidentStart, baselineWin.Start)
}

func errorAlert() oncall.Alert {
	return oncall.Alert{
		Source: "alertmanager", Fingerprint: "a1b2c3", GroupKey: "support-agent", Status: oncall.AlertFiring,
		Name: "AgentErrorRateHigh", Severity: "critical", Summary: "support-agent error rate above 20%",
		Labels: map[string]string{"service": "support-agent"}, StartsAt: incidentWin.End, ReceivedAt: incidentWin.End,
		GeneratorURL: "http://prometheus:9090/graph?g0.expr=" + url.QueryEscape(`sum(rate(agent_runs_total{service="support-agent",status="error"}[5m])) / sum(rate(agent_runs_total{service="support-agent"}[5m])) > 0.2`),
	}
}
