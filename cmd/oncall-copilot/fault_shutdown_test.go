package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/oncall-copilot/oncall-copilot/bot/slacktest"
)

// TestSigtermHandsBackInFlightJobs stops serve with SIGTERM while its
// jobs wait on the model: it exits cleanly once the shutdown deadline
// passes, the jobs are back in the queue, not lost nor dead, and the next
// start posts each diagnosis once.
func TestSigtermHandsBackInFlightJobs(t *testing.T) {
	t.Parallel()
	slack := slacktest.NewServer(t)
	slack.UseClock(time.Now)
	model, stuck, asked := stuckModel(t)
	env := faultEnv(t, slack, slack.URL, model, nil)
	gs, names := groupNames("Sigterm", 2)
	cfg := routesConfig(t, len(gs))
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("shutdown_timeout: 1s\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()

	first := startProc(t, env, "--config", cfg)
	sendAll(t, first.addr, gs)
	waitAsked(t, asked, 2) // both jobs are inside their triage
	first.stop(t, 15*time.Second)
	logs := first.stderr.String()
	if n := strings.Count(logs, "job handed back on shutdown"); n != 2 {
		t.Errorf("%d jobs handed back, want 2:\n%s", n, tail(logs, 30))
	}
	out, _, err := runJobsCmd(env, "list")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "0 in flight, 0 dead") || strings.HasPrefix(out, "Queue: 0 ready, 0 delayed") {
		t.Errorf("the jobs are not back in the queue:\n%s", out)
	}

	stuck.Store(false)
	second := startProc(t, env, "--config", cfg)
	waitExactlyOnce(t, slack, names, 30*time.Second)
	assertDrained(t, second, env, slack, names)
}
