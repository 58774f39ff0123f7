package main

import (
	"errors"
	"strings"
	"testing"
)

// TestTriageAlertSources triages the sample payload of every supported
// source, detected and named.
func TestTriageAlertSources(t *testing.T) {
	tests := []struct {
		file   string
		source string
	}{
		{"../../alerts/testdata/alertmanager-firing.json", ""},
		{"../../alerts/testdata/grafana-firing.json", ""},
		{"../../alerts/testdata/grafana-firing.json", "grafana"},
		{"../../alerts/testdata/pagerduty-resolved.json", ""},
		{"../../alerts/testdata/langsmith-errors.json", "langsmith"},
		{"../../alerts/testdata/generic-datadog.json", ""},
	}
	for _, tt := range tests {
		t.Run(tt.file+" "+tt.source, func(t *testing.T) {
			args := []string{"triage", "--alert", tt.file, "--traces", exampleTraces, "--offline"}
			if tt.source != "" {
				args = append(args, "--source", tt.source)
			}
			var out, errOut strings.Builder
			if err := run(t.Context(), args, func(string) string { return "" }, &out, &errOut); err != nil {
				t.Fatalf("%v: %v\n%s", args, err, errOut.String())
			}
			if out.Len() == 0 {
				t.Error("no report")
			}
		})
	}
	var errOut strings.Builder
	err := run(t.Context(), []string{"triage", "--alert", exampleAlert, "--source", "nagios"}, func(string) string { return "" }, &strings.Builder{}, &errOut)
	if !errors.Is(err, errUsage) || !strings.Contains(errOut.String(), "--source must be one of") {
		t.Errorf("an unknown source: %v, %s", err, errOut.String())
	}
	err = run(t.Context(), []string{"triage", "--alert", "../../alerts/testdata/grafana-firing.json", "--source", "pagerduty", "--traces", exampleTraces}, func(string) string { return "" }, &strings.Builder{}, &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), "read as pagerduty") {
		t.Errorf("a payload of another source: %v", err)
	}
}
