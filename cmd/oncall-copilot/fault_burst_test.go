package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oncall-copilot/oncall-copilot/bot/slacktest"
	"github.com/oncall-copilot/oncall-copilot/llm/llmtest"
)

// diagnosisTexts returns the triage replies in the threads of the parents
// naming each alert.
func diagnosisTexts(s *slacktest.Server, names []string) map[string][]string {
	out := map[string][]string{}
	for _, m := range s.Messages() {
		if m.ThreadTS != "" {
			continue
		}
		for _, n := range names {
			if !mentions(m, n) {
				continue
			}
			for _, r := range s.Replies(m.Channel, m.TS) {
				if strings.Contains(string(r.Blocks), "Triage of") {
					out[n] = append(out[n], r.Text+string(r.Blocks))
				}
			}
		}
	}
	return out
}

// TestSlackAndModelFaultBursts runs serve against a Slack that answers
// 500, 503 and 429 in bursts and a model that does too, then goes down:
// every group still gets one thread and one diagnosis, the model's while
// its retries absorb the bursts, the deterministic analysis saying the
// model is unavailable once it is down, and the circuit breaker stops
// calling it.
func TestSlackAndModelFaultBursts(t *testing.T) {
	t.Parallel()
	slack := slacktest.NewServer(t)
	slack.UseClock(time.Now)
	model := llmtest.NewServer(t)
	var down atomic.Bool
	var downCalls atomic.Int32
	model.Handle(func(req llmtest.Request) llmtest.Reply {
		if down.Load() {
			downCalls.Add(1)
			return llmtest.Status(http.StatusInternalServerError, "", "upstream model error")
		}
		return groundedReply(req)
	})
	env := faultEnv(t, slack, slack.URL, model, nil)
	env["QUEUE_JOB_TIMEOUT"], env["QUEUE_RECLAIM_IDLE"] = "30s", "40s"
	env["WORKERS"] = "3"

	var burst, outage []group
	var burstNames, outageNames []string
	for i := range 12 {
		g := group{Name: fmt.Sprintf("Burst%c", 'A'+i), Team: fmt.Sprintf("t%03d", i)}
		if i >= 4 {
			g.Name = fmt.Sprintf("ModelDown%c", 'A'+i-4)
			outage, outageNames = append(outage, g), append(outageNames, g.Name)
			continue
		}
		burst, burstNames = append(burst, g), append(burstNames, g.Name)
	}
	p := startProc(t, env, "--config", routesConfig(t, 12))

	// Bursts: each absorbed by the retries of one call, or of a job.
	model.Enqueue(llmtest.Status(http.StatusTooManyRequests, "1", "rate limited"),
		llmtest.Status(http.StatusInternalServerError, "", "boom"),
		llmtest.Status(http.StatusServiceUnavailable, "", "overloaded"))
	slack.Fail("chat.postMessage", 3, slacktest.HTTPStatus(http.StatusInternalServerError))
	slack.Fail("chat.postMessage", 2, slacktest.RateLimited(time.Second))
	slack.Fail("chat.update", 2, slacktest.HTTPStatus(http.StatusServiceUnavailable))
	sendAll(t, p.addr, burst)
	waitExactlyOnce(t, slack, burstNames, 40*time.Second)
	for name, texts := range diagnosisTexts(slack, burstNames) {
		if !strings.Contains(texts[0], "Tool failure") {
			t.Errorf("%s: the model's diagnosis was not posted:\n%s", name, texts[0])
		}
	}
	failed := 0
	for _, c := range slack.Calls() {
		if c.Status != http.StatusOK || c.Error != "" {
			failed++
		}
	}
	if failed != 7 {
		t.Errorf("Slack failed %d calls, want the 7 injected", failed)
	}

	// The model goes down: the deterministic analysis is posted, saying
	// so, and after five failed calls the breaker stops asking.
	down.Store(true)
	sendAll(t, p.addr, outage)
	waitExactlyOnce(t, slack, outageNames, 60*time.Second)
	open := 0
	for name, texts := range diagnosisTexts(slack, outageNames) {
		if !strings.Contains(texts[0], "model unavailable") {
			t.Errorf("%s: the diagnosis does not say the model was unavailable:\n%s", name, texts[0])
		}
		if strings.Contains(texts[0], "circuit open") {
			open++
		}
	}
	if open == 0 {
		t.Error("no triage met the open circuit")
	}
	// Without the breaker each of the 8 triages would ask 4 times. With
	// it, the calls started after the fifth failure fail at once, and
	// those under way stop retrying.
	if n := downCalls.Load(); n >= 8*4 {
		t.Errorf("the model was asked %d times while down; the breaker should have stopped it", n)
	}
	assertDrained(t, p, env, slack, append(burstNames, outageNames...))
}

// TestTraceStoreDown runs serve against a Jaeger that answers 503 to
// everything: the alert is still triaged, once, and the diagnosis says
// which traces could not be read.
func TestTraceStoreDown(t *testing.T) {
	t.Parallel()
	var asked atomic.Int32
	jaeger := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		http.Error(w, "upstream connect error", http.StatusServiceUnavailable)
	}))
	t.Cleanup(jaeger.Close)
	slack := slacktest.NewServer(t)
	slack.UseClock(time.Now)
	env := faultEnv(t, slack, slack.URL, nil, nil)
	delete(env, "TRACE_JSONL_PATH")
	env["JAEGER_QUERY_URL"] = jaeger.URL
	env["QUEUE_JOB_TIMEOUT"], env["QUEUE_RECLAIM_IDLE"] = "1m", "2m"
	gs, names := groupNames("TracesDown", 1)
	p := startProc(t, env, "--config", routesConfig(t, 1))
	sendAll(t, p.addr, gs)
	waitExactlyOnce(t, slack, names, 60*time.Second)
	text := diagnosisTexts(slack, names)[names[0]][0]
	for _, want := range []string{"incident window traces from jaeger", "baseline window traces from jaeger", "503"} {
		if !strings.Contains(text, want) {
			t.Errorf("the diagnosis does not say %q:\n%s", want, text)
		}
	}
	if asked.Load() == 0 {
		t.Error("Jaeger was never asked")
	}
	assertDrained(t, p, env, slack, names)
}
