package bot

import (
	"strings"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

var t0 = time.Date(2026, 3, 14, 9, 26, 0, 0, time.UTC)

func testTraceURL(traceID, spanID string) string {
	u := "https://traces.example.com/trace/" + traceID
	if spanID != "" {
		u += "?span=" + spanID
	}
	return u
}

// testRedact stands in for the redact package: it hides one known secret.
func testRedact(s string) string { return strings.ReplaceAll(s, "sk-live-51HxSECRET", "[SECRET_1]") }

func testAlert() oncall.Alert {
	return oncall.Alert{
		Source:      "alertmanager",
		Fingerprint: "a1b2c3",
		GroupKey:    `{}:{alertname="AgentErrorRate"}`,
		Status:      oncall.AlertFiring,
		Name:        "AgentErrorRate",
		Severity:    "critical",
		Summary:     "support-agent error rate 23% over 10m (threshold 5%)",
		Labels: map[string]string{
			"alertname": "AgentErrorRate", "service": "support-agent", "agent": "triage-bot",
			"environment": "prod", "severity": "critical", "team": "ml-platform", "pod": "support-agent-7d9f",
		},
		StartsAt:     t0,
		SourceURL:    "https://alertmanager.example.com/#/alerts?receiver=oncall",
		GeneratorURL: "https://prometheus.example.com/graph?g0.expr=rate(agent_errors_total[5m])&g0.tab=1",
	}
}

func testIncident() oncall.Incident {
	a := testAlert()
	return oncall.Incident{
		Key: "inc-7f3a", Status: oncall.IncidentOpen, Alert: a, Alerts: []oncall.Alert{a},
		Route: "agents", Channel: "C0INCIDENTS", OpenedAt: t0.Add(30 * time.Second), UpdatedAt: t0.Add(30 * time.Second), Fires: 1,
	}
}

func testDiagnosis() *oncall.Diagnosis {
	return &oncall.Diagnosis{
		Summary: "Since 09:12 the search tool times out on most calls after the provider switched regions; the agent retries until it hits max iterations.",
		Causes: []oncall.Cause{
			{
				Title:      "Search tool upstream timeouts",
				Detail:     "The tool span fails with a 30s timeout in 41 of 57 failing traces; none in the baseline.",
				Confidence: oncall.ConfidenceHigh,
				Evidence: []oncall.Evidence{
					{TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7", Note: "tool span: deadline exceeded after 30.0s"},
					{TraceID: "5c8e2a1f9d7b4e6a8c3f1b2d4e6a8c0f", SpanID: "a3ce929d0e0e4736"},
				},
			},
			{
				Title:      "Retry loop exhausts the iteration budget",
				Confidence: oncall.ConfidenceMedium,
				Evidence:   []oncall.Evidence{{TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", Note: "12 agent iterations"}},
			},
		},
		Fixes: []oncall.Fix{
			{Type: "tool", Change: "Set the search client timeout to 8s and return a partial result instead of raising.", Where: "tools/search.py"},
			{Type: "harness", Change: "Stop retrying a tool after 2 identical timeouts."},
			{Type: "config_infra", Change: "Pin the search provider to its previous region."},
		},
		NextSteps: []string{"Check the search provider's status page for the region switch.", "Compare tool latency p95 before and after 09:12."},
		Model:     "gpt-4.1-mini",
	}
}

func testReport() oncall.Report {
	return oncall.Report{
		Alert:         testAlert(),
		AlertKind:     oncall.AlertKindErrors,
		WindowStart:   t0.Add(-15 * time.Minute),
		WindowEnd:     t0,
		BaselineStart: t0.Add(-75 * time.Minute),
		Onset:         t0.Add(-9 * time.Minute),
		Selection: &oncall.Selection{
			Filters: []oncall.LabelMatch{
				{Label: "service_name", Value: "research-svc", Attributes: []string{"service.name"}, Traces: 1420},
				{Label: "environment", Value: "production", Attributes: []string{"deployment.environment.name"}, Traces: 3100, Mapped: "deployment.environment"},
			},
			Unused: []oncall.LabelMatch{{Label: "agent", Value: "researcher", Mapped: "gen_ai.agent.name"}},
			Store:  3400, Incident: 240, Baseline: 1180,
		},
		TracesExamined:    240,
		BaselineTraces:    1180,
		FailingTraces:     57,
		FailuresPerMinute: 3.8,
		Clusters: []oncall.Cluster{
			{
				Signature: "tool:search:timeout", Kind: "error", SpanKind: oncall.KindTool, SpanName: "search", ToolName: "web_search",
				Error: "TimeoutError: request to upstream exceeded 30s", Count: 41, BaselineCount: 0, Rate: 0.17, New: true,
				TraceIDs: []string{"4bf92f3577b34da6a3ce929d0e0e4736", "5c8e2a1f9d7b4e6a8c3f1b2d4e6a8c0f", "6d9f3b2a0e8c5f7b9d4a2c3e5f7b9d1a", "7e0a4c3b1f9d6a8c0e5b3d4f6a8c0e2b"},
				SpanIDs:  []string{"00f067aa0ba902b7", "a3ce929d0e0e4736", "b4df03ae1f1f5847", "c5e014bf20206958"},
			},
			{
				Signature: "agent:max_iterations", Kind: "max_iterations", SpanKind: oncall.KindAgent, SpanName: "support-agent",
				Error: "agent stopped after 12 iterations", Count: 16, BaselineCount: 4, Rate: 0.067, BaselineRate: 0.0034,
				TraceIDs: []string{"4bf92f3577b34da6a3ce929d0e0e4736"}, SpanIDs: []string{"1a2b3c4d5e6f7a8b"},
				Detail: "median 12 iterations vs 3",
			},
		},
		Suspects: []oncall.Suspect{
			{Attribute: "search.region", Value: "eu-west-2", FailingCount: 41, FailingTotal: 57, HealthyCount: 3, HealthyTotal: 183, BaselineValue: "eu-west-1"},
		},
		HealthyExample: "8f1b5d4c2a0e7b9d1f6c3e5a7b9d1f3c",
		Missing:        []string{"phoenix: 2 traces could not be read (HTTP 502)"},
		Diagnosis:      testDiagnosis(),
		Usage:          oncall.Usage{PromptTokens: 18234, CompletionTokens: 912, Cost: 0.0114, Calls: 2},
		Duration:       14200 * time.Millisecond,
		EvidenceCut:    []string{"3 of 8 example traces of cluster agent:max_iterations"},
	}
}

// hostile is text an attacker could plant in a trace, an alert or a
// model answer.
const hostile = "<!channel> <!here> <!everyone> <@U024BE7LH> <#C0SECRET|ops> <!subteam^S0123ABC> " +
	"@here @Channel @everyone <https://evil.example/phish|Click to fix> https://evil.example/raw " +
	"a &amp; b `tick` key=sk-live-51HxSECRET"

func hostileIncident() oncall.Incident {
	inc := testIncident()
	inc.Alert.Name = "Agent " + hostile
	inc.Alert.Summary = hostile
	inc.Alert.Labels["service"] = hostile
	inc.Alert.Labels["agent"] = hostile
	inc.Alert.SourceURL = "javascript:alert(1)"
	inc.Alert.GeneratorURL = "https://prometheus.example.com/graph?q=a|b><!here>"
	inc.Headline = hostile
	inc.TriagedAt = t0.Add(time.Minute)
	inc.AckedBy = hostile
	return inc
}

func hostileReport() oncall.Report {
	rep := testReport()
	rep.Alert = hostileIncident().Alert
	d := rep.Diagnosis
	d.Summary = hostile
	d.Causes[0].Title, d.Causes[0].Detail = hostile, hostile
	d.Causes[0].Evidence = append(d.Causes[0].Evidence, oncall.Evidence{TraceID: "<!here>", SpanID: "x|<https://evil.example>", Note: hostile})
	d.Fixes[0].Change, d.Fixes[0].Where, d.Fixes[1].Type = hostile, hostile, hostile
	d.NextSteps = append(d.NextSteps, hostile)
	d.Model = hostile
	c := &rep.Clusters[0]
	c.Signature, c.Error, c.Detail, c.SpanName, c.ToolName, c.Kind = hostile, hostile, hostile, hostile, hostile, hostile
	c.TraceIDs = append(c.TraceIDs[:1], "<@U024BE7LH>")
	rep.Suspects[0].Attribute, rep.Suspects[0].Value, rep.Suspects[0].BaselineValue = hostile, hostile, hostile
	rep.Missing = append(rep.Missing, hostile)
	rep.EvidenceCut = append(rep.EvidenceCut, hostile)
	rep.HealthyExample = hostile
	return rep
}
