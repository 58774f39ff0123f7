package config

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestMaskURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://api.openai.com/v1", "https://api.openai.com/v1"},
		{"https://user:hunter2@proxy.example.com/v1", "https://xxxxx@proxy.example.com/v1"},
		{"https://ghp_TOKENONLY@proxy.example.com", "https://xxxxx@proxy.example.com"},
		{"http://u:p@ss@host:8080/path?q=a@b", "http://xxxxx@host:8080/path?q=a@b"},
		{"http://user:pa ss%zz@host/", "http://xxxxx@host/"}, // does not parse, masked anyway
		{"user:hunter2@host:443", "xxxxx@host:443"},
		{"https://host/path@not-userinfo", "https://host/path@not-userinfo"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := MaskURL(tt.in); got != tt.want {
			t.Errorf("MaskURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestURLNeverPrintsItsPassword(t *testing.T) {
	u := URL("https://svc:hunter2@llm-proxy.internal/v1")
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "url", u)
	text, _ := u.MarshalText()
	outputs := map[string]string{
		"%s": fmt.Sprintf("%s", u), "%v": fmt.Sprintf("%v", u), "%q": fmt.Sprintf("%q", u),
		"%#v": fmt.Sprintf("%#v", u), "%+v": fmt.Sprintf("%+v", struct{ U URL }{u}),
		"String": u.String(), "MarshalText": string(text), "slog": logged.String(),
	}
	for how, out := range outputs {
		if strings.Contains(out, "hunter2") || strings.Contains(out, "svc") {
			t.Errorf("%s prints the user info: %s", how, out)
		}
		if !strings.Contains(out, "llm-proxy.internal") {
			t.Errorf("%s hides the host too: %s", how, out)
		}
	}
	if u.Reveal() != "https://svc:hunter2@llm-proxy.internal/v1" {
		t.Errorf("Reveal = %q", u.Reveal())
	}
	if got := u.WithoutUserInfo(); got != "https://llm-proxy.internal/v1" {
		t.Errorf("WithoutUserInfo = %q", got)
	}
}

// TestURLPasswordsNeverPrint sets every URL setting, from the environment
// as operators do, with a password in it: neither the dump config check
// prints nor a validation error may show it.
func TestURLPasswordsNeverPrint(t *testing.T) {
	const pw = "hunter2-url-password"
	urlVars := []string{
		"SLACK_API_URL", "OPENAI_BASE_URL", "TRACE_UI_URL", "LANGFUSE_HOST", "PHOENIX_BASE_URL",
		"JAEGER_QUERY_URL", "TEMPO_URL", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
	}
	good := map[string]string{"OPENAI_API_KEY": "sk-test", "LANGFUSE_PUBLIC_KEY": "pk", "LANGFUSE_SECRET_KEY": "sk", "PHOENIX_PROJECT": "p"}
	bad := map[string]string{"OPENAI_API_KEY": "sk-test", "LANGFUSE_PUBLIC_KEY": "pk", "LANGFUSE_SECRET_KEY": "sk", "PHOENIX_PROJECT": "p"}
	for _, v := range urlVars {
		good[v] = "https://svc:" + pw + "@" + strings.ToLower(v) + ".example.com/x"
		// Not http(s): each one fails validation and is quoted in the error.
		bad[v] = "ftp://svc:" + pw + "@" + strings.ToLower(v) + ".example.com/x"
	}
	for name, vars := range map[string]map[string]string{"valid": good, "invalid": bad} {
		t.Run(name, func(t *testing.T) {
			cfg, err := Load("", env(vars))
			if err != nil {
				t.Fatal(err)
			}
			verr := cfg.Validate()
			if name == "invalid" {
				if verr == nil {
					t.Fatal("ftp URLs validated")
				}
				for _, field := range []string{"slack.api_url", "model.base_url", "traces.langfuse.host", "traces.tempo.url", "telemetry.otlp_endpoint"} {
					if !strings.Contains(verr.Error(), field+":") {
						t.Errorf("validation error does not name %s:\n%v", field, verr)
					}
				}
			}
			var logged bytes.Buffer
			slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "cfg", cfg)
			outputs := map[string]string{"dump": cfg.Dump(), "%+v": fmt.Sprintf("%+v", cfg), "%#v": fmt.Sprintf("%#v", cfg), "slog": logged.String()}
			if verr != nil {
				outputs["validate"] = verr.Error()
			}
			for how, out := range outputs {
				if strings.Contains(out, pw) {
					t.Errorf("%s prints a URL password:\n%s", how, out)
				}
			}
			if !strings.Contains(cfg.Dump(), "xxxxx@model_base_url") && !strings.Contains(cfg.Dump(), "xxxxx@openai_base_url") {
				t.Errorf("dump does not show the masked model URL:\n%s", cfg.Dump())
			}
		})
	}
}
