package oncall

import "testing"

func TestMatchesFilters(t *testing.T) {
	tr := Trace{
		Name: "checkout run", Service: "checkout-svc",
		Attributes: map[string]string{"deployment.environment": "prod"},
		Spans: []Span{
			{SpanID: "a", Service: "checkout-svc", Attributes: map[string]string{"gen_ai.agent.name": "checkout"}},
			{SpanID: "b", Service: "payments-svc"},
		},
	}
	tests := []struct {
		name    string
		filters map[string]string
		want    bool
	}{
		{"no filters", nil, true},
		{"trace attribute", map[string]string{"deployment.environment": "prod"}, true},
		{"span attribute", map[string]string{"gen_ai.agent.name": "checkout"}, true},
		{"service of the trace", map[string]string{"service.name": "checkout-svc"}, true},
		{"service of a span", map[string]string{"service.name": "payments-svc"}, true},
		{"trace name", map[string]string{"trace.name": "checkout run"}, true},
		{"empty value matches", map[string]string{"team": ""}, true},
		{"every filter must hold", map[string]string{"deployment.environment": "prod", "gen_ai.agent.name": "billing"}, false},
		{"wrong value", map[string]string{"deployment.environment": "dev"}, false},
		{"absent attribute", map[string]string{"cloud.region": "eu"}, false},
	}
	for _, tt := range tests {
		if got := tr.MatchesFilters(tt.filters); got != tt.want {
			t.Errorf("%s: MatchesFilters(%v) = %v, want %v", tt.name, tt.filters, got, tt.want)
		}
	}
}
