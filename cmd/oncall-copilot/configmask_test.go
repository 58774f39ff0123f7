package main

import (
	"context"
	"strings"
	"testing"
)

// TestConfigCheckMasksURLPasswords runs `config check` with a password in
// OPENAI_BASE_URL, once valid and once failing validation: neither the
// printed configuration nor the error shows it.
func TestConfigCheckMasksURLPasswords(t *testing.T) {
	const pw = "s3cr3t-proxy-password"
	for name, base := range map[string]string{
		"valid":   "https://svc:" + pw + "@llm-proxy.internal/v1",
		"invalid": "ftp://svc:" + pw + "@llm-proxy.internal/v1",
	} {
		t.Run(name, func(t *testing.T) {
			env := map[string]string{"DATA_DIR": t.TempDir(), "OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": base,
				"WEBHOOK_TOKEN": webhookToken, "SLACK_BOT_TOKEN": "xoxb-1-2-abc", "SLACK_CHANNEL": "#agents-oncall", "TRACE_JSONL_PATH": exampleTraces}
			var out, errOut strings.Builder
			err := run(context.Background(), []string{"config", "check"}, func(k string) string { return env[k] }, &out, &errOut)
			if (err != nil) != (name == "invalid") {
				t.Fatalf("config check: %v\n%s", err, errOut.String())
			}
			printed := out.String() + errOut.String()
			if err != nil {
				printed += err.Error()
				if !strings.Contains(err.Error(), "model.base_url") {
					t.Errorf("the error does not name model.base_url: %v", err)
				}
			}
			if strings.Contains(printed, pw) {
				t.Errorf("config check prints the URL's password:\n%s", printed)
			}
			if !strings.Contains(out.String(), "xxxxx@llm-proxy.internal") {
				t.Errorf("config check does not show the masked URL:\n%s", out.String())
			}
		})
	}
}
