package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadFileThenEnv(t *testing.T) {
	cfg, err := Load("testdata/good.yaml", env(map[string]string{
		"OPENAI_MODEL":  "gpt-4.1",
		"TRIAGE_WINDOW": "10m",
		"SLACK_API_URL": "http://127.0.0.1:1/api",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if cfg.ListenAddr != ":9090" || cfg.Workers != 2 {
		t.Errorf("file values not applied: %+v", cfg)
	}
	if cfg.Model.Name != "gpt-4.1" {
		t.Errorf("env must override the file: model = %q", cfg.Model.Name)
	}
	if cfg.Triage.Window.D() != 10*time.Minute || cfg.Triage.Baseline.D() != 2*time.Hour {
		t.Errorf("durations: window %v baseline %v", cfg.Triage.Window.D(), cfg.Triage.Baseline.D())
	}
	if cfg.Model.APIKey.Reveal() != "sk-file-key" {
		t.Errorf("secret not loaded")
	}
	if len(cfg.Routes) != 2 || cfg.Routes[1].Window != 15*time.Minute || cfg.Routes[0].Model == nil || *cfg.Routes[0].Model {
		t.Errorf("routes: %+v", cfg.Routes)
	}
	if got := cfg.Traces.Configured(); len(got) != 2 || cfg.Traces.DefaultSource() != "jsonl" {
		t.Errorf("trace sources: %v default %q", got, cfg.Traces.DefaultSource())
	}
	if a := cfg.Webhooks.Auth()["pagerduty"]; len(a.HMACSecrets) != 2 || a.HMACSecrets[1] != "pd-secret-2" {
		t.Errorf("webhook auth: %+v", a)
	}
	if cfg.Model.TokenBudget != 8000 {
		t.Errorf("default token budget lost: %d", cfg.Model.TokenBudget)
	}
}

func TestLoadRejectsUnknownFields(t *testing.T) {
	_, err := Load("testdata/unknown-field.yaml", env(nil))
	if err == nil || !strings.Contains(err.Error(), "listen_adr") {
		t.Fatalf("want an error naming the unknown field, got %v", err)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	cfg, err := Load("testdata/bad-values.yaml", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.Validate()
	if err == nil {
		t.Fatal("want errors")
	}
	for _, field := range []string{"workers", "log_level", "redis_url", "model.base_url", "model.token_budget", "triage.window", "triage.max_failing_traces", "traces.tempo.concurrency", "traces.default", "traces.phoenix.project", "routes", "webhooks.sources.nagios", "storm.threshold", "storm.window", "storm.summary_every", "storm.triage_at", "slack.send_interval"} {
		if !strings.Contains(err.Error(), field+":") {
			t.Errorf("error does not name %s:\n%v", field, err)
		}
	}
}

func TestBadEnvValue(t *testing.T) {
	_, err := Load("", env(map[string]string{"WORKERS": "many", "TRIAGE_WINDOW": "soon"}))
	if err == nil || !strings.Contains(err.Error(), "WORKERS") || !strings.Contains(err.Error(), "TRIAGE_WINDOW") {
		t.Fatalf("want both env errors, got %v", err)
	}
}

func TestSecretsNeverPrint(t *testing.T) {
	const value = "xoxb-123-super-secret"
	s := Secret(value)
	cfg := Default()
	cfg.Slack.BotToken = s
	cfg.Model.APIKey = s
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("x", "token", s, "cfg", cfg)
	j, _ := json.Marshal(cfg)
	outputs := map[string]string{
		"%v":   fmt.Sprintf("%v", s),
		"%s":   fmt.Sprintf("%s", s),
		"%q":   fmt.Sprintf("%q", s),
		"%x":   fmt.Sprintf("%x", s),
		"%#v":  fmt.Sprintf("%#v", cfg),
		"%+v":  fmt.Sprintf("%+v", cfg),
		"json": string(j),
		"dump": cfg.Dump(),
		"slog": logBuf.String(),
		"err":  fmt.Errorf("wrapped: %v", s).Error(),
	}
	for name, out := range outputs {
		if strings.Contains(out, value) {
			t.Errorf("%s leaks the secret: %s", name, out)
		}
	}
	if !strings.Contains(cfg.Dump(), "<secret>") {
		t.Errorf("dump should show the mask:\n%s", cfg.Dump())
	}
	if Secret("").String() != "" {
		t.Errorf("an empty secret should print empty")
	}
}
