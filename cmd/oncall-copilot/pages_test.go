package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oncall-copilot/oncall-copilot/bot/slacktest"
	"github.com/oncall-copilot/oncall-copilot/incidentpage"
)

const (
	publicURL  = "https://oncall.example.com"
	signingKey = "e2e-page-signing-key-0123456789abcdef"
)

var pageLink = regexp.MustCompile(`<(https://oncall\.example\.com/incidents/[^|>]+)\|Open the full report>`)

func httpGet(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServeLinksTheIncidentPage runs the real program: after a triage the
// Slack parent links to the incident page, which shows the whole
// investigation, and refuses a wrong or expired token.
func TestServeLinksTheIncidentPage(t *testing.T) {
	alertBody, err := os.ReadFile(exampleAlert)
	if err != nil {
		t.Fatal(err)
	}
	for name, extra := range backends(t) {
		t.Run(name, func(t *testing.T) {
			slack := slacktest.NewServer(t)
			model := groundedModel(t)
			env := map[string]string{
				"LISTEN_ADDR": "127.0.0.1:0", "DATA_DIR": t.TempDir(), "WEBHOOK_TOKEN": webhookToken,
				"SLACK_BOT_TOKEN": slack.Token, "SLACK_API_URL": slack.URL + "/", "SLACK_CHANNEL": channel,
				"SLACK_SIGNING_SECRET": signingSecret, "TRACE_JSONL_PATH": exampleTraces,
				"OPENAI_API_KEY": "sk-test-not-a-real-key-000000000000", "OPENAI_BASE_URL": model.URL, "OPENAI_MODEL": "gpt-4o-mini",
				"PUBLIC_URL": publicURL, "WEB_SIGNING_KEY": signingKey + ",previous-page-signing-key-0123456789",
				"LOG_LEVEL": "debug", // the token must stay out of even the most detailed log
			}
			if extra["REDIS_URL"] != "" {
				env["REDIS_URL"] = extra["REDIS_URL"]
				env["REDIS_PREFIX"] = fmt.Sprintf("e2e-page-%d:", time.Now().UnixNano())
				t.Cleanup(func() { cleanRedis(t, extra["REDIS_URL"], env["REDIS_PREFIX"]) })
			}
			srv := startServer(t, env)
			if resp := srv.postAlert(t, alertBody); resp.StatusCode != http.StatusAccepted {
				t.Fatalf("webhook answered %d", resp.StatusCode)
			}
			slacktest.WaitFor(t, func() bool { return len(slack.Updates()) >= 1 }, 20*time.Second)
			var parentTS string
			for _, m := range slack.Messages() {
				if m.ThreadTS == "" {
					parentTS = m.TS
				}
			}
			ups := slack.Updates()
			final := ups[len(ups)-1]
			m := pageLink.FindStringSubmatch(strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(string(final.Blocks)))
			if m == nil {
				t.Fatalf("the parent does not link the full report:\n%s", final.Blocks)
			}
			link, err := url.Parse(strings.ReplaceAll(m[1], "&amp;", "&"))
			if err != nil {
				t.Fatal(err)
			}
			var inReply bool
			for _, r := range slack.Replies(channel, parentTS) {
				inReply = inReply || strings.Contains(string(r.Blocks), "Open the full report")
			}
			if !inReply {
				t.Error("the triage reply does not link the full report")
			}

			askInThread(t, srv, parentTS, "evt-page-1", 0)
			slacktest.WaitFor(t, func() bool {
				_, body := httpGet(t, srv.addr+link.RequestURI())
				return strings.Contains(body, "dependency is down")
			}, 20*time.Second)

			status, body := httpGet(t, srv.addr+link.RequestURI())
			if status != http.StatusOK {
				t.Fatalf("the linked page answered %d", status)
			}
			for what, want := range map[string]string{
				"alert":            "LLMAgentErrorsElevated",
				"selection":        "How the traces were selected",
				"onset chart":      `id="onset-chart"`,
				"ranked clusters":  `<tr class="cluster">`,
				"ruled-out":        `id="ruled-out"`,
				"diagnosis":        "Tool failure",
				"citation link":    `class="cite mono" href="#`,
				"waterfall":        `<article class="wf"`,
				"failing vs heal.": `id="compare"`,
				"thread answer":    "dependency is down",
				"slack thread":     "https://slack.com/archives/" + channel + "/p",
			} {
				if !strings.Contains(body, want) {
					t.Errorf("the page lacks the %s (%q)", what, want)
				}
			}
			if strings.Contains(body, "sk-test-not-a-real-key") {
				t.Error("the API key reached the page")
			}

			key := strings.TrimPrefix(link.Path, "/incidents/")
			tok := link.Query().Get("t")
			other, _ := incidentpage.NewSigner([]string{"someone-else-signing-key-0123456789abcdef"})
			same, _ := incidentpage.NewSigner([]string{signingKey})
			for name, u := range map[string]string{
				"no token":       "/incidents/" + key,
				"wrong token":    "/incidents/" + key + "?t=" + url.QueryEscape(other.Sign("incident:"+key, time.Now().Add(time.Hour))),
				"expired token":  "/incidents/" + key + "?t=" + url.QueryEscape(same.Sign("incident:"+key, time.Now().Add(-time.Minute))),
				"tampered":       "/incidents/" + key + "?t=" + url.QueryEscape(tok[:len(tok)-2]+"AA"),
				"list, no token": "/incidents",
			} {
				if status, _ := httpGet(t, srv.addr+u); status != http.StatusNotFound {
					t.Errorf("%s: status %d, want 404", name, status)
				}
			}
			// The pages command signs links with the same keys: to this
			// page, and to the list of incidents.
			for _, args := range [][]string{{"pages", "link", key}, {"pages", "link"}} {
				var out, errOut strings.Builder
				if err := run(context.Background(), args, func(k string) string { return env[k] }, &out, &errOut); err != nil {
					t.Fatalf("%v: %v\n%s", args, err, errOut.String())
				}
				u, err := url.Parse(strings.TrimSpace(out.String()))
				if err != nil || u.Host != "oncall.example.com" || u.Query().Get("t") == "" {
					t.Fatalf("%v printed %q", args, out.String())
				}
				status, body := httpGet(t, srv.addr+u.RequestURI())
				if status != http.StatusOK || !strings.Contains(body, "LLMAgentErrorsElevated") {
					t.Errorf("%v: the printed link answered %d", args, status)
				}
			}
			if err := srv.stop(); err != nil {
				t.Fatalf("serve returned %v", err)
			}
			if strings.Contains(srv.stderr.String(), tok) {
				t.Error("a page token reached the log")
			}
			if strings.Contains(srv.stderr.String(), signingKey) || strings.Contains(srv.stdout.String(), signingKey) {
				t.Error("the signing key reached the output")
			}
			if !strings.Contains(srv.stderr.String(), "incident pages on") {
				t.Error("serve does not say the incident pages are on")
			}
		})
	}
}

func TestServeWithoutPageAccessServesNoPages(t *testing.T) {
	slack := slacktest.NewServer(t)
	srv := startServer(t, map[string]string{
		"LISTEN_ADDR": "127.0.0.1:0", "DATA_DIR": t.TempDir(), "WEBHOOK_TOKEN": webhookToken,
		"SLACK_BOT_TOKEN": slack.Token, "SLACK_API_URL": slack.URL + "/", "SLACK_CHANNEL": channel,
		"TRACE_JSONL_PATH": exampleTraces,
	})
	for _, p := range []string{"/incidents", "/incidents/0123abcd"} {
		if status, _ := httpGet(t, srv.addr+p); status != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404 with the pages off", p, status)
		}
	}
}
