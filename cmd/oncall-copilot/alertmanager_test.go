package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oncall-copilot/oncall-copilot/bot/slacktest"
	"github.com/oncall-copilot/oncall-copilot/internal/testenv"
)

// alertmanagerBinary finds Debian's prometheus-alertmanager (or an
// upstream alertmanager) on PATH.
func alertmanagerBinary(t *testing.T) string {
	for _, name := range []string{"prometheus-alertmanager", "alertmanager"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	testenv.Missing(t, os.Getenv, "prometheus-alertmanager is not installed")
	return ""
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestRealAlertmanager runs the real Alertmanager with our server as its
// webhook receiver: two alert groups become two Slack threads, and each
// thread gets its resolution when the alerts end.
func TestRealAlertmanager(t *testing.T) {
	bin := alertmanagerBinary(t)
	slack := slacktest.NewServer(t)
	srv := startServer(t, map[string]string{
		"LISTEN_ADDR":      "127.0.0.1:0",
		"DATA_DIR":         t.TempDir(),
		"WEBHOOK_TOKEN":    webhookToken,
		"SLACK_BOT_TOKEN":  slack.Token,
		"SLACK_API_URL":    slack.URL + "/",
		"SLACK_CHANNEL":    channel,
		"TRACE_JSONL_PATH": exampleTraces,
	})

	dir := t.TempDir()
	cfg := fmt.Sprintf(`route:
  receiver: copilot
  group_by: ['alertname', 'agent']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: copilot
    webhook_configs:
      - url: %s/webhooks/alertmanager
        send_resolved: true
        http_config:
          authorization:
            credentials: %s
`, srv.addr, webhookToken)
	if err := os.WriteFile(filepath.Join(dir, "alertmanager.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	amAddr := freePort(t)
	var amLog bytes.Buffer
	cmd := exec.Command(bin,
		"--config.file="+filepath.Join(dir, "alertmanager.yml"),
		"--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+amAddr,
		"--cluster.listen-address=",
	)
	cmd.Stdout, cmd.Stderr = &amLog, &amLog
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("alertmanager log:\n%s", amLog.String())
		}
	})
	amURL := "http://" + amAddr
	slacktest.WaitFor(t, func() bool {
		resp, err := http.Get(amURL + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second)

	now := time.Now().UTC()
	push := func(endsAt time.Time) {
		t.Helper()
		var alerts []map[string]any
		for _, g := range []struct{ name, agent string }{
			{"AgentErrorRateHigh", "support-agent"},
			{"AgentErrorRateHigh", "support-agent"}, // same group, second instance
			{"AgentLatencyHigh", "research-agent"},
		} {
			alerts = append(alerts, map[string]any{
				"labels": map[string]string{
					"alertname": g.name, "agent": g.agent, "severity": "critical",
					"instance": fmt.Sprintf("pod-%d", len(alerts)),
				},
				"annotations":  map[string]string{"summary": g.agent + " is unhealthy"},
				"startsAt":     now.Add(-time.Minute).Format(time.RFC3339),
				"endsAt":       endsAt.Format(time.RFC3339),
				"generatorURL": "http://prometheus.example/graph",
			})
		}
		body, _ := json.Marshal(alerts)
		resp, err := http.Post(amURL+"/api/v2/alerts", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("alertmanager answered %d", resp.StatusCode)
		}
	}
	push(now.Add(time.Hour))

	parents := func() []slacktest.Message {
		var out []slacktest.Message
		for _, m := range slack.Messages() {
			if m.ThreadTS == "" {
				out = append(out, m)
			}
		}
		return out
	}
	slacktest.WaitFor(t, func() bool { return len(parents()) >= 2 }, 30*time.Second)
	// Give Alertmanager a few group intervals to (wrongly) send more.
	slacktest.WaitFor(t, func() bool { return len(slack.Updates()) >= 2 }, 30*time.Second)
	if got := parents(); len(got) != 2 {
		t.Fatalf("want one thread per alert group (2), got %d", len(got))
	}

	// End the alerts: Alertmanager sends the resolutions.
	push(time.Now().UTC().Add(-time.Second))
	resolvedThreads := func() int {
		n := 0
		for _, p := range parents() {
			for _, r := range slack.Replies(channel, p.TS) {
				if strings.Contains(strings.ToLower(r.Text), "resolved") {
					n++
					break
				}
			}
		}
		return n
	}
	slacktest.WaitFor(t, func() bool { return resolvedThreads() == 2 }, 30*time.Second)
	if got := parents(); len(got) != 2 {
		t.Errorf("resolution opened new threads: %d parents", len(got))
	}
}
