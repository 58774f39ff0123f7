package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/oncall-copilot/oncall-copilot/bot/slacktest"
)

func TestConfigCheck(t *testing.T) {
	slack := slacktest.NewServer(t)
	slack.AddChannel(slacktest.Channel{Name: "agents-oncall", IsMember: true})
	slack.AddChannel(slacktest.Channel{Name: "quiet"})
	valid := func() map[string]string {
		return map[string]string{
			"DATA_DIR": t.TempDir(), "WEBHOOK_TOKEN": webhookToken, "SLACK_BOT_TOKEN": slack.Token,
			"SLACK_API_URL": slack.URL + "/", "SLACK_CHANNEL": "#agents-oncall", "TRACE_JSONL_PATH": exampleTraces,
		}
	}
	tests := []struct {
		name    string
		args    []string
		change  func(env map[string]string)
		usage   bool
		want    []string // in the error, or in stderr when it passes
		wantErr bool
	}{
		{name: "valid", args: []string{"check"}, want: []string{"configuration is valid"}},
		{name: "valid online", args: []string{"check", "--online"}, want: []string{"Slack and the store answer"}},
		{name: "what serve refuses", args: []string{"check"}, wantErr: true,
			change: func(env map[string]string) {
				delete(env, "SLACK_BOT_TOKEN")
				delete(env, "SLACK_CHANNEL")
				delete(env, "WEBHOOK_TOKEN")
			},
			want: []string{"SLACK_BOT_TOKEN is required", "SLACK_CHANNEL is required", "WEBHOOK_TOKEN is required"}},
		{name: "missing traces file", args: []string{"check"}, wantErr: true,
			change: func(env map[string]string) { env["TRACE_JSONL_PATH"] = "/nonexistent/traces.jsonl" },
			want:   []string{"TRACE_JSONL_PATH /nonexistent/traces.jsonl: no such file"}},
		{name: "bad app token", args: []string{"check"}, wantErr: true,
			change: func(env map[string]string) { env["SLACK_APP_TOKEN"] = "xoxb-not-an-app-token" },
			want:   []string{"SLACK_APP_TOKEN must be an app-level token"}},
		{name: "online: app not in the channel", args: []string{"check", "--online"}, wantErr: true,
			change: func(env map[string]string) { env["SLACK_CHANNEL"] = "#quiet" },
			want:   []string{"SLACK_CHANNEL", "/invite @oncall-copilot to #quiet"}},
		{name: "online: wrong token", args: []string{"check", "--online"}, wantErr: true,
			change: func(env map[string]string) { env["SLACK_BOT_TOKEN"] = "xoxb-wrong" },
			want:   []string{"SLACK_BOT_TOKEN", "rejected"}},
		{name: "online: wrong app token", args: []string{"check", "--online"}, wantErr: true,
			change: func(env map[string]string) { env["SLACK_APP_TOKEN"] = "xapp-wrong" },
			want:   []string{"SLACK_APP_TOKEN"}},
		{name: "typo", args: []string{"chek"}, usage: true, want: []string{`unknown command "config chek"`}},
		{name: "flag after nothing", args: []string{"check", "extra"}, usage: true, want: []string{"takes no arguments"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := valid()
			if tt.change != nil {
				tt.change(env)
			}
			var out, errOut strings.Builder
			err := run(t.Context(), append([]string{"config"}, tt.args...), func(k string) string { return env[k] }, &out, &errOut)
			got := errOut.String()
			switch {
			case tt.usage:
				if !errors.Is(err, errUsage) {
					t.Fatalf("err %v, want a usage error", err)
				}
			case tt.wantErr:
				if err == nil {
					t.Fatalf("passed; stderr %s", got)
				}
				got = err.Error()
			case err != nil:
				t.Fatalf("err %v\n%s", err, got)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("%q does not say %q", got, w)
				}
			}
			if strings.Contains(out.String()+errOut.String()+got, slack.Token) {
				t.Error("the token was printed")
			}
		})
	}
}
