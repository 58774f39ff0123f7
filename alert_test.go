package oncall

import (
	"net/url"
	"testing"
	"time"
)

func TestAlertMeasuredKind(t *testing.T) {
	prom := func(expr string) string {
		return "http://prometheus:9090/graph?g0.expr=" + url.QueryEscape(expr) + "&g0.tab=1"
	}
	tests := []struct {
		name  string
		alert Alert
		want  AlertKind
		from  string
	}{
		{"memory usage is no token cost", Alert{Name: "High memory usage", Summary: "usage above budget",
			GeneratorURL: prom(`container_memory_usage_bytes{pod=~"agent-.*"} > 2e9`)}, "", ""},
		{"title words are not read", Alert{Name: "AgentLatencyHigh", Summary: "token spend"}, "", ""},
		{"error ratio", Alert{GeneratorURL: prom(`sum(rate(agent_runs_total{agent="billing-agent",status="error"}[10m])) / sum(rate(agent_runs_total{agent="billing-agent"}[10m])) > 0.1`)}, AlertKindErrors, "the alert's query"},
		{"histogram quantile", Alert{Name: "AgentErrors", GeneratorURL: prom(`histogram_quantile(0.95, sum by (le) (rate(gen_ai_client_operation_duration_seconds_bucket[5m]))) > 8`)}, AlertKindLatency, "the alert's query"},
		{"token usage", Alert{GeneratorURL: prom(`sum(increase(gen_ai_client_token_usage_sum{service="slow-svc"}[1h])) > 2e6`)}, AlertKindCost, "the alert's query"},
		{"spend in dollars", Alert{Annotations: map[string]string{"query": `sum(llm_cost_usd_total) > 40`}}, AlertKindCost, "the alert's query"},
		{"metric label", Alert{Labels: map[string]string{"metric": "p95_latency"}}, AlertKindLatency, "the alert's metric"},
		{"alert_kind label wins", Alert{Labels: map[string]string{"alert_kind": "Cost"}, GeneratorURL: prom(`rate(errors_total[5m]) > 1`)}, AlertKindCost, "the alert_kind label"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, from := tt.alert.MeasuredKind()
			if got != tt.want || from != tt.from {
				t.Errorf("MeasuredKind() = %q from %q, want %q from %q", got, from, tt.want, tt.from)
			}
			if tt.want == "" && tt.alert.Kind() != AlertKindErrors {
				t.Errorf("Kind() = %q, want errors for an alert that does not say", tt.alert.Kind())
			}
		})
	}
}

func TestLookbackReadsTheRulesRange(t *testing.T) {
	for _, tt := range []struct {
		name string
		a    Alert
		want time.Duration
	}{
		{"prometheus generator url", Alert{GeneratorURL: "http://prometheus:9090/graph?g0.expr=sum%28rate%28agent_runs_total%7Bstatus%3D%22error%22%7D%5B5m%5D%29%29+%2F+sum%28rate%28agent_runs_total%5B5m%5D%29%29+%3E+0.2&g0.tab=1"}, 5 * time.Minute},
		{"longest range wins", Alert{Annotations: map[string]string{"query": "increase(x[1h30m]) / increase(y[10m])"}}, 90 * time.Minute},
		{"subquery", Alert{Annotations: map[string]string{"expr": "max_over_time(rate(x[1m])[15m:30s])"}}, 15 * time.Minute},
		{"no query", Alert{Name: "AgentErrors"}, 0},
		{"no range", Alert{Annotations: map[string]string{"query": "up == 0"}}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.Lookback(); got != tt.want {
				t.Errorf("Lookback() = %v, want %v", got, tt.want)
			}
		})
	}
}
