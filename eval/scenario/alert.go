package scenario

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// The Alertmanager webhook payload, version 4, in the field order
// Alertmanager writes it.
type amWebhook struct {
	Receiver          string            `json:"receiver"`
	Status            string            `json:"status"`
	Alerts            []amAlert         `json:"alerts"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
}

type amAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// runStats summarises the alerting agent's runs that started in [from, to).
type runStats struct {
	runs, failed int
	p95          time.Duration
	costNanos    int64
}

func (g *gen) stats(from, to time.Time) runStats {
	var s runStats
	var durs []time.Duration
	for _, t := range g.truth {
		if t.Attributes["gen_ai.agent.name"] != g.main.Name || t.Start.Before(from) || !t.Start.Before(to) {
			continue
		}
		s.runs++
		if r := t.Root(); r != nil && r.Failed() {
			s.failed++
		}
		durs = append(durs, t.Duration())
		for i := range t.Spans {
			s.costNanos += int64(math.Round(float64(t.Spans[i].Cost * 1e9)))
		}
	}
	if len(durs) > 0 {
		sort.Slice(durs, func(i, j int) bool { return durs[i] < durs[j] })
		s.p95 = durs[(len(durs)*95)/100-boolInt(len(durs)*95%100 == 0)]
	}
	return s
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func oneDecimal(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

// rule is what the scenario's alert rule computes at one evaluation.
type rule struct {
	summary, expr string
}

// evaluate runs the alert rule of the scenario's kind at time at over
// the alerting agent's runs, the way Prometheus would: the error ratio or
// p95 of the last 10 minutes, or the spend of the last 30 against the hour
// before. It fails when the rule would not fire at that time.
func (g *gen) evaluate(at time.Time) (rule, error) {
	a := g.main
	last10 := g.stats(at.Add(-10*time.Minute), at)
	switch g.kind {
	case oncall.AlertKindLatency:
		before := g.stats(at.Add(-IncidentWindow-BaselineWindow), at.Add(-IncidentWindow))
		threshold := max(5, int(math.Ceil(float64(before.p95*3/2)/float64(time.Second))))
		if last10.p95 <= time.Duration(threshold)*time.Second {
			return rule{}, fmt.Errorf("latency alert would not fire: p95 %v, threshold %ds", last10.p95, threshold)
		}
		return rule{
			summary: fmt.Sprintf("p95 run duration of %s is %ss over the last 10 minutes (threshold %ds)", a.Name, oneDecimal(last10.p95.Seconds()), threshold),
			expr:    fmt.Sprintf(`histogram_quantile(0.95, sum by (le) (rate(agent_run_duration_seconds_bucket{agent=%q}[10m]))) > %d`, a.Name, threshold),
		}, nil
	case oncall.AlertKindCost:
		now, before := g.stats(at.Add(-IncidentWindow), at), g.stats(at.Add(-IncidentWindow-BaselineWindow), at.Add(-IncidentWindow))
		ratio := 0.0
		if before.costNanos > 0 {
			ratio = float64(now.costNanos) * 2 / float64(before.costNanos)
		}
		if ratio < 2 {
			return rule{}, fmt.Errorf("cost alert would not fire: ratio %.2f", ratio)
		}
		return rule{
			summary: fmt.Sprintf("LLM spend of %s is $%s in the last 30 minutes, %sx its rate over the hour before (threshold 2x)", a.Name, strconv.FormatFloat(usd(now.costNanos), 'f', 2, 64), oneDecimal(ratio)),
			expr:    fmt.Sprintf(`sum(increase(llm_cost_usd_total{agent=%q}[30m])) > sum(increase(llm_cost_usd_total{agent=%q}[1h] offset 30m))`, a.Name, a.Name),
		}, nil
	}
	rate := 0.0
	if last10.runs > 0 {
		rate = float64(last10.failed) * 100 / float64(last10.runs)
	}
	if rate <= float64(g.errThreshold) {
		return rule{}, fmt.Errorf("error alert would not fire: %.1f%% failed, threshold %d%%", rate, g.errThreshold)
	}
	return rule{
		summary: fmt.Sprintf("%s: %s%% of agent runs failed in the last 10 minutes (threshold %d%%)", a.Name, oneDecimal(rate), g.errThreshold),
		expr:    fmt.Sprintf(`sum(rate(agent_runs_total{agent=%q,status="error"}[10m])) / sum(rate(agent_runs_total{agent=%q}[10m])) > %s`, a.Name, a.Name, strconv.FormatFloat(float64(g.errThreshold)/100, 'f', 2, 64)),
	}, nil
}

// fire finds when the alert fires, as Prometheus would with a "for"
// clause: at the first 30-second evaluation after the onset at which the
// rule has held at every evaluation for the last g.holdFor. It fails when
// that does not happen within 20 minutes of the onset.
func (g *gen) fire() error {
	// Error alerts are set above the agent's usual failure rate, or the
	// background noise alone would page.
	if before := g.stats(g.onset.Add(-70*time.Minute), g.onset.Add(-10*time.Minute)); before.runs > 0 {
		usual := float64(before.failed) * 100 / float64(before.runs)
		for float64(g.errThreshold) < 1.5*usual {
			g.errThreshold += 5
		}
	}
	first := g.onset.Truncate(30 * time.Second).Add(30 * time.Second)
	var since time.Time
	var err error
	for at := first; !at.After(g.onset.Add(20 * time.Minute)); at = at.Add(30 * time.Second) {
		if _, err = g.evaluate(at); err != nil {
			since = time.Time{}
			continue
		}
		if g.causeRuns(at.Add(-10*time.Minute), at) < 2 {
			// The rule holds on noise; the incident is not what fires it.
			since = time.Time{}
			continue
		}
		if since.IsZero() {
			since = at
		}
		if at.Sub(since) >= g.holdFor && at.Sub(g.onset) >= 2*time.Minute {
			g.alertAt = at
			return nil
		}
	}
	if err == nil {
		err = fmt.Errorf("alert rule did not hold for %v within 20 minutes of the onset", g.holdFor)
	}
	return err
}

// causeRuns counts the alerting agent's runs in [from, to) the cause
// affected.
func (g *gen) causeRuns(from, to time.Time) int {
	seen := map[string]bool{}
	for _, m := range g.marks {
		if m.Label == "cause" && m.Main && !m.Start.Before(from) && m.Start.Before(to) {
			seen[m.TraceID] = true
		}
	}
	return len(seen)
}

// alertLabels are the label names the scenario's alert rule writes for the
// service, agent and environment: teams name them their own way, rarely
// after the trace attributes that carry the same values.
type alertLabels struct {
	Service, Agent, Env string // "" when the rule does not write it
}

func (g *gen) pickAlertLabels() alertLabels {
	r := g.r
	return alertLabels{
		Service: pick(r, []string{"service", "service_name", "app", "job", "app_kubernetes_io_name"}),
		Agent:   pick(r, []string{"agent", "agent", "agent_name", "gen_ai_agent_name", ""}),
		Env:     pick(r, []string{"env", "environment", "environment", "deployment_environment", "stage"}),
	}
}

// alert writes the webhook Alertmanager sends when the scenario's alert
// fires. Its numbers are computed from the generated runs.
func (g *gen) alert(exemplars []string) ([]byte, error) {
	r, a, v := g.r, g.main, g.w.v
	team := pick(r, []string{"ai-platform", "support-eng", "agents-core", "applied-ml"})
	_, base := g.windows()
	ru, err := g.evaluate(g.alertAt)
	if err != nil {
		return nil, err
	}
	summary, expr := ru.summary, ru.expr
	var name, severity string
	switch g.kind {
	case oncall.AlertKindLatency:
		name = pick(r, []string{"AgentLatencyP95High", "AgentRunDurationHigh", "SlowAgentResponses"})
		severity = "warning"
	case oncall.AlertKindCost:
		name = pick(r, []string{"LLMSpendHigh", "AgentTokenCostSpike", "AgentCostAnomaly"})
		severity = "warning"
	default:
		name = pick(r, []string{"AgentErrorRateHigh", "AgentRunFailures", "LLMAgentErrorsElevated"})
		severity = pick(r, []string{"critical", "page"})
	}
	labels := map[string]string{"alertname": name, "severity": severity, "team": team, "region": g.region}
	ln := g.labels
	labels[ln.Service] = a.Service
	if ln.Agent != "" {
		labels[ln.Agent] = a.Name
	}
	labels[ln.Env] = g.env
	dashboard := fmt.Sprintf("https://grafana.example.com/d/llm-agents/agent-overview?orgId=1&var-agent=%s&from=%d&to=%d",
		url.QueryEscape(a.Name), base.Start.UnixMilli(), g.alertAt.Add(IncidentWindow).UnixMilli())
	ann := map[string]string{
		"summary":     summary,
		"description": fmt.Sprintf("%s in %s (%s) breached its objective. See the dashboard and recent traces of service %s.", a.Name, g.env, g.region, a.Service),
		"runbook_url": "https://runbooks.example.com/agents/" + name,
	}
	leakKey, leakContact := r.percent(50), r.percent(60)
	if !leakKey && !leakContact {
		leakContact = true
	}
	if leakKey {
		dashboard += "&auth_token=" + v.plant(v.GrafanaKey)
	}
	ann["dashboard"] = dashboard
	if leakContact {
		p := &v.People[r.intn(len(v.People))]
		ann["escalation"] = fmt.Sprintf("If unresolved after 30 minutes page %s %s (%s, %s).", p.First, p.Last, v.email(p), v.phone(p))
	}
	if len(exemplars) > 0 && g.kind == oncall.AlertKindErrors && r.percent(30) {
		ann["exemplar_trace_id"] = exemplars[0]
	}
	wh := amWebhook{
		Receiver: pick(r, []string{"oncall-copilot", "llm-agents-oncall", "ai-platform-slack"}),
		Status:   "firing",
		Alerts: []amAlert{{
			Status:       "firing",
			Labels:       labels,
			Annotations:  ann,
			StartsAt:     g.alertAt,
			GeneratorURL: "http://prometheus.monitoring.svc.cluster.local:9090/graph?g0.expr=" + url.QueryEscape(expr) + "&g0.tab=1",
			Fingerprint:  oncall.LabelFingerprint(labels),
		}},
		GroupLabels:       map[string]string{"alertname": name, ln.Service: a.Service},
		CommonLabels:      labels,
		CommonAnnotations: ann,
		ExternalURL:       "http://alertmanager.monitoring.svc.cluster.local:9093",
		Version:           "4",
		GroupKey:          fmt.Sprintf(`{}/{team=%q}:{alertname=%q, %s=%q}`, team, name, ln.Service, a.Service),
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(wh); err != nil {
		return nil, fmt.Errorf("encode alert: %w", err)
	}
	return b.Bytes(), nil
}
