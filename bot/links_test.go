package bot

import (
	"strings"
	"testing"

	"github.com/oncall-copilot/oncall-copilot/redact"
)

func TestAlertLinksCarryNoSecrets(t *testing.T) {
	red, err := redact.New(redact.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const key = "sk-proj-aB3dE5gH7jK9mN1pQ2rS4tU6vW8xY0zCfLhP"
	tests := []struct {
		name, raw, want string
	}{
		{"clean link", "https://grafana.example.com/d/agents?orgId=1&var-agent=returns", "https://grafana.example.com/d/agents?orgId=1&var-agent=returns"},
		{"token in the query", "https://grafana.example.com/d/agents?orgId=1&auth_token=" + key, "https://grafana.example.com/d/agents"},
		{"token in the fragment", "https://am.example.com/#/alerts?token=" + key, "https://am.example.com/"},
		{"credentials and a token", "https://ops:hunter2hunter2@am.example.com/x?token=" + key, "https://am.example.com/x"},
		{"secret in the path", "https://hooks.example.com/" + key + "/alerts", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := renderer{RenderOptions{Redact: red.String}}
			if got := r.safeURL(tt.raw); got != tt.want {
				t.Errorf("safeURL = %q, want %q", got, tt.want)
			}
			inc := testIncident()
			inc.Alert.SourceURL, inc.Alert.GeneratorURL = tt.raw, tt.raw
			blocks := blocksJSON(t, RenderParent(inc, RenderOptions{Redact: red.String}))
			if strings.Contains(blocks, key) || strings.Contains(blocks, "hunter2") {
				t.Errorf("the parent message carries the secret:\n%s", blocks)
			}
		})
	}
	if got := (renderer{}).safeURL("https://x.example.com/?token=" + key); !strings.Contains(got, key) {
		t.Errorf("without a redactor the link is kept as it is, got %q", got)
	}
}
