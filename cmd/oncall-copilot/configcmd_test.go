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

// TestCommandLine: every command's help lists what it needs and exits
// 0; flags go after positional arguments; a typo is an unknown command.
func TestCommandLine(t *testing.T) {
	tests := []struct {
		args  []string
		usage bool
		want  string // in stdout or stderr
	}{
		{args: []string{"serve", "-h"}, want: "SLACK_CHANNEL"},
		{args: []string{"triage", "-h"}, want: "--source"},
		{args: []string{"digest", "-h"}, want: "SLACK_BOT_TOKEN"},
		{args: []string{"eval", "-h"}, want: "OPENAI_API_KEY"},
		{args: []string{"jobs", "retry", "-h"}, want: "retry ID"},
		{args: []string{"config", "-h"}, want: "--online"},
		{args: []string{"config", "chek"}, usage: true, want: `unknown command "config chek"`},
		{args: []string{"jobs", "retyr", "x"}, usage: true, want: `unknown jobs command "retyr"`},
		{args: []string{"serev"}, usage: true, want: `unknown command "serev"`},
		{args: []string{"jobs", "retry"}, usage: true, want: "the id of one dead letter is required"},
		{args: []string{"serve", "extra"}, usage: true, want: "serve takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errOut strings.Builder
			err := run(t.Context(), tt.args, func(string) string { return "" }, &out, &errOut)
			if tt.usage != errors.Is(err, errUsage) || (!tt.usage && err != nil) {
				t.Errorf("err %v, usage error wanted: %v", err, tt.usage)
			}
			if got := out.String() + errOut.String(); !strings.Contains(got, tt.want) {
				t.Errorf("output does not say %q:\n%s", tt.want, got)
			}
		})
	}
}
