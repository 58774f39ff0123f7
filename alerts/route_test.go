package alerts

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

func TestParseMatchers(t *testing.T) {
	tests := []struct {
		in      string
		want    []string // String() of each matcher
		wantErr string
	}{
		{`severity="critical"`, []string{`severity="critical"`}, ""},
		{`severity=critical`, []string{`severity="critical"`}, ""},
		{`severity=~"critical|warning"`, []string{`severity=~"critical|warning"`}, ""},
		{`env != "dev"`, []string{`env!="dev"`}, ""},
		{`team!~"ml.*"`, []string{`team!~"ml.*"`}, ""},
		{`{severity="critical", team=~"a|b",}`, []string{`severity="critical"`, `team=~"a|b"`}, ""},
		{`a="x,y", b = plain value `, []string{`a="x,y"`, `b="plain value"`}, ""},
		{`msg="say \"hi\"\n"`, []string{`msg="say \"hi\"\n"`}, ""},
		{`"dotted.name"="v"`, []string{`dotted.name="v"`}, ""},
		{`"odd name"="v"`, []string{`"odd name"="v"`}, ""},
		{`agent=`, []string{`agent=""`}, ""},
		{``, nil, "no matcher"},
		{`{}`, nil, "no matcher"},
		{`severity`, nil, "want =, !=, =~ or !~"},
		{`=critical`, nil, "want a label name"},
		{`severity=~"(unclosed"`, nil, "bad regular expression"},
		{`severity="open`, nil, "unterminated"},
		{`{severity="x"`, nil, "missing closing }"},
		{`a="x" b="y"`, nil, "want , between matchers"},
		{`a=x"y`, nil, "stray quote"},
		{`a="\q"`, nil, "bad quoted string"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			ms, err := ParseMatchers(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range ms {
				got = append(got, m.String())
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMatcherMatches(t *testing.T) {
	tests := []struct {
		matcher string
		value   string
		want    bool
	}{
		{`severity="critical"`, "critical", true},
		{`severity="critical"`, "Critical", false},
		{`severity!="critical"`, "warning", true},
		{`severity!="critical"`, "critical", false},
		{`severity=~"critical|warning"`, "warning", true},
		{`severity=~"crit"`, "critical", false}, // anchored: no substring match
		{`severity=~"crit.*"`, "critical", true},
		{`severity=~"a|b"`, "xa", false}, // the anchor covers every alternative
		{`severity!~"info|debug"`, "info", false},
		{`severity!~"info|debug"`, "critical", true},
		{`agent=""`, "", true}, // a missing label is the empty value
		{`agent!=""`, "", false},
		{`agent=~".*"`, "", true},
		{`agent=~".+"`, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.matcher+" on "+tt.value, func(t *testing.T) {
			m, err := ParseMatcher(tt.matcher)
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Matches(tt.value); got != tt.want {
				t.Errorf("Matches(%q) = %v, want %v", tt.value, got, tt.want)
			}
		})
	}
	if _, err := ParseMatcher(`a="1", b="2"`); err == nil {
		t.Error("ParseMatcher accepted two matchers")
	}
	if _, err := NewMatcher("<>", "a", "b"); err == nil {
		t.Error("NewMatcher accepted an unknown operator")
	}
}

func boolPtr(b bool) *bool { return &b }

func testRoutes() Routes {
	return Routes{
		{Name: "info-offline", Matchers: []string{`severity="info"`}, Channel: "C-quiet", Model: boolPtr(false)},
		{Name: "pagerduty", Sources: []string{"pagerduty"}, Channel: "C-pd"},
		{Name: "agents-audit", Match: map[string]string{"team": "agents"}, Continue: true, Channel: "C-audit"},
		{
			Name:        "agents",
			Matchers:    []string{`team="agents"`, `severity=~"critical|warning"`},
			Channel:     "C-agents",
			TraceSource: "phoenix",
			LabelMap:    map[string]string{"team": "team.name", "environment": ""},
			Window:      15 * time.Minute,
			Baseline:    2 * time.Hour,
		},
		{Name: "latency", MatchRE: map[string]string{"alertname": ".*[Ll]atency.*"}},
	}
}

func TestRouteTable(t *testing.T) {
	table, err := NewRouteTable(testRoutes(), "C-default")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		source string
		labels map[string]string
		want   []string // route@channel
	}{
		{"first match wins", "alertmanager", map[string]string{"severity": "info", "team": "agents"}, []string{"info-offline@C-quiet"}},
		{"source restriction", "pagerduty", map[string]string{"severity": "critical"}, []string{"pagerduty@C-pd"}},
		{"source restriction excludes others", "grafana", map[string]string{"alertname": "X"}, []string{"default@C-default"}},
		{"continue lets the next route match too", "grafana", map[string]string{"team": "agents", "severity": "critical"}, []string{"agents-audit@C-audit", "agents@C-agents"}},
		{"continue then no later match", "grafana", map[string]string{"team": "agents", "severity": "page"}, []string{"agents-audit@C-audit"}},
		{"regexp route, default channel", "generic", map[string]string{"alertname": "Agent latency p95"}, []string{"latency@C-default"}},
		{"nothing matches", "generic", map[string]string{"alertname": "Disk"}, []string{"default@C-default"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, d := range table.Route(oncall.Alert{Source: tt.source, Labels: tt.labels}) {
				got = append(got, d.Route+"@"+d.Channel)
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("routes = %v, want %v", got, tt.want)
			}
		})
	}

	d := table.Route(oncall.Alert{Labels: map[string]string{"team": "agents", "severity": "warning"}})[1]
	want := RouteOptions{TraceSource: "phoenix", LabelMap: map[string]string{"team": "team.name", "environment": ""}, Window: 15 * time.Minute, Baseline: 2 * time.Hour}
	gotJSON, _ := json.Marshal(d.Options)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("options = %s, want %s", gotJSON, wantJSON)
	}
	if !table.Route(oncall.Alert{Labels: map[string]string{"severity": "info"}})[0].Options.Offline() {
		t.Error("model: false must make the route offline")
	}
}

func TestRoutesValidateReportsEveryProblem(t *testing.T) {
	routes := Routes{
		{Name: "", Matchers: []string{`a="b"`}},
		{Name: "dup"},
		{Name: "dup"},
		{Name: "bad-matchers", Matchers: []string{`severity=~"(x"`, `team`, `ok="fine"`}},
		{Name: "bad-legacy", MatchRE: map[string]string{"a": "[z-a]"}, Match: map[string]string{"": "x"}},
		{Name: "bad-source", Sources: []string{"nagios"}},
		{Name: "bad-window", Window: -time.Minute, Baseline: -time.Hour, LabelMap: map[string]string{" ": "x"}},
	}
	err := routes.Validate()
	if err == nil {
		t.Fatal("bad routes validated")
	}
	for _, want := range []string{
		"routes[0]: name is required",
		"routes[2] (dup): name repeats routes[1]",
		"routes[3] (bad-matchers): matchers[0]",
		"routes[3] (bad-matchers): matchers[1]",
		"routes[4] (bad-legacy): match_re \"a\"",
		"routes[4] (bad-legacy): match \"\"",
		"routes[5] (bad-source): unknown source \"nagios\"",
		"routes[6] (bad-window): window -1m0s is negative",
		"routes[6] (bad-window): baseline -1h0m0s is negative",
		"routes[6] (bad-window): label_map has an empty label name",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "matchers[2]") {
		t.Errorf("a good matcher was reported: %v", err)
	}
	if _, err := NewRouteTable(routes, "C"); err == nil {
		t.Error("NewRouteTable accepted bad routes")
	}
	if err := testRoutes().Validate(); err != nil {
		t.Errorf("good routes: %v", err)
	}
}

func TestRouteOptionsPayload(t *testing.T) {
	o := RouteOptions{TraceSource: "jaeger", Window: time.Minute, Model: boolPtr(false)}
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"trace_source":"jaeger","window_ns":60000000000,"model":false}` {
		t.Errorf("payload = %s", b)
	}
	back, err := DecodeRouteOptions(b)
	if err != nil || back.TraceSource != "jaeger" || back.Window != time.Minute || !back.Offline() {
		t.Errorf("decoded %+v, %v", back, err)
	}
	if z, err := DecodeRouteOptions(nil); err != nil || !z.IsZero() {
		t.Errorf("empty payload: %+v, %v", z, err)
	}
	if _, err := DecodeRouteOptions([]byte(`{"window_ns":"soon"}`)); err == nil {
		t.Error("bad payload decoded")
	}
}
