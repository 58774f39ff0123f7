package main

// Fault injection with real processes: serve killed with SIGKILL in the
// middle of a triage and between posting a parent and recording it, a
// redis-server killed and restarted under load, Slack and the model
// failing in bursts. Each test counts alert groups in against threads and
// diagnoses out: exactly one of each per group.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oncall-copilot/oncall-copilot/bot/slacktest"
	"github.com/oncall-copilot/oncall-copilot/llm/llmtest"
)

// faultEnv is the environment of a serve process against the fake Slack
// and, when model is set, the fake model. Jobs time out after 5s and are
// reclaimed from a dead process after 6s.
func faultEnv(t *testing.T, slack *slacktest.Server, slackURL string, model *llmtest.Server, backend map[string]string) map[string]string {
	t.Helper()
	env := map[string]string{
		"LISTEN_ADDR":        "127.0.0.1:0",
		"DATA_DIR":           t.TempDir(),
		"WEBHOOK_TOKEN":      webhookToken,
		"SLACK_BOT_TOKEN":    slack.Token,
		"SLACK_API_URL":      slackURL + "/",
		"SLACK_CHANNEL":      channel,
		"TRACE_JSONL_PATH":   absPath(t, exampleTraces),
		"LOG_LEVEL":          "debug",
		"DIGEST_SCHEDULE":    "off",
		"WORKERS":            "2",
		"QUEUE_JOB_TIMEOUT":  "5s",
		"QUEUE_RECLAIM_IDLE": "6s",
	}
	if model != nil {
		env["OPENAI_API_KEY"] = "sk-test-not-a-real-key-000000000000"
		env["OPENAI_BASE_URL"] = model.URL
		env["OPENAI_MODEL"] = "gpt-4o-mini"
	}
	if u := backend["REDIS_URL"]; u != "" {
		env["REDIS_URL"] = u
		env["REDIS_PREFIX"] = fmt.Sprintf("fault-%d:", time.Now().UnixNano())
		t.Cleanup(func() { cleanRedis(t, u, env["REDIS_PREFIX"]) })
	}
	return env
}

// groundedReply answers like a model: a diagnosis citing the first trace
// id of the prompt.
func groundedReply(req llmtest.Request) llmtest.Reply {
	var prompt strings.Builder
	for _, m := range req.Messages {
		prompt.WriteString(m.Content + "\n")
	}
	trace := traceIDPattern.FindString(prompt.String())
	return llmtest.JSON(map[string]any{
		"summary": "A tool started failing in the incident window.",
		"causes": []map[string]any{{"title": "Tool failure", "detail": "The tool span errors.", "confidence": "high",
			"evidence": []map[string]any{{"trace_id": trace, "note": "failing run"}}}},
		"fixes":      []map[string]any{{"type": "harness", "change": "Retry the tool call.", "where": "tool wrapper"}},
		"next_steps": []string{"Check the tool's dependency."},
	})
}

// stuckModel hangs every request while stuck is set, telling asked of
// each, and answers groundedly otherwise.
func stuckModel(t *testing.T) (m *llmtest.Server, stuck *atomic.Bool, asked chan struct{}) {
	m = llmtest.NewServer(t)
	stuck, asked = &atomic.Bool{}, make(chan struct{}, 64)
	stuck.Store(true)
	m.Handle(func(req llmtest.Request) llmtest.Reply {
		if stuck.Load() {
			asked <- struct{}{}
			return llmtest.Reply{Hang: true}
		}
		return groundedReply(req)
	})
	return m, stuck, asked
}

// groupNames makes n groups, each routed to a channel of its own by
// routesConfig, so that Slack's pacing of one channel does not slow them.
func groupNames(prefix string, n int) ([]group, []string) {
	var gs []group
	var names []string
	for i := range n {
		g := group{Name: fmt.Sprintf("%s%c", prefix, 'A'+i), Team: fmt.Sprintf("t%03d", i)}
		gs = append(gs, g)
		names = append(names, g.Name)
	}
	return gs, names
}

func sendAll(t *testing.T, addr string, gs []group) {
	t.Helper()
	for _, g := range gs {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res := sendUntilAccepted(ctx, addr, alertPayload(t, g, "firing"))
		cancel()
		if !res.accepted {
			t.Fatalf("alert %s not accepted: %v", g.Name, res.answers)
		}
	}
}

func waitAsked(t *testing.T, asked chan struct{}, n int) {
	t.Helper()
	for i := range n {
		select {
		case <-asked:
		case <-time.After(20 * time.Second):
			t.Fatalf("the model was asked %d times, want %d", i, n)
		}
	}
}

// waitExactlyOnce waits until every group has one thread and one
// diagnosis, then checks that nothing more arrives while the queue
// drains.
func waitExactlyOnce(t *testing.T, slack *slacktest.Server, names []string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		bad := countThreads(slack, names).exactlyOnce(names)
		if len(bad) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v, groups not posted exactly once: %v", timeout, bad)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// assertDrained stops p and checks, with the jobs command, that nothing
// is left queued, in flight or dead, and that Slack saw only the groups'
// threads.
func assertDrained(t *testing.T, p *proc, env map[string]string, slack *slacktest.Server, names []string) {
	t.Helper()
	p.stop(t, 15*time.Second)
	out, errOut, err := runJobsCmd(env, "list")
	if err != nil {
		t.Fatalf("jobs list: %v\n%s", err, errOut)
	}
	if !strings.HasPrefix(out, "Queue: 0 ready, 0 delayed, 0 in flight, 0 dead") {
		t.Errorf("queue not drained: %q", out)
	}
	if bad := countThreads(slack, names).exactlyOnce(names); len(bad) > 0 {
		t.Errorf("after the queue drained: %v", bad)
	}
	top := 0
	for _, m := range slack.Messages() {
		if m.ThreadTS == "" {
			top++
		}
	}
	if top != len(names) {
		t.Errorf("%d top-level messages for %d groups", top, len(names))
	}
}

func TestKillDuringTriage(t *testing.T) {
	t.Parallel()
	for name, backend := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			slack := slacktest.NewServer(t)
			slack.UseClock(time.Now)
			model, stuck, asked := stuckModel(t)
			env := faultEnv(t, slack, slack.URL, model, backend)
			gs, names := groupNames("KillTriage", 3)
			cfg := routesConfig(t, len(gs))

			first := startProc(t, env, "--config", cfg)
			sendAll(t, first.addr, gs)
			waitAsked(t, asked, 2) // both workers are inside a triage
			first.kill()
			stuck.Store(false)

			second := startProc(t, env, "--config", cfg)
			waitExactlyOnce(t, slack, names, 30*time.Second)
			assertDrained(t, second, env, slack, names)
			if !strings.Contains(second.stderr.String(), "reclaimed idle delivery") {
				t.Errorf("the dead process's jobs were not reclaimed:\n%s", tail(second.stderr.String(), 40))
			}
		})
	}
}

// hangAfterFirstParent is a proxy to the fake Slack that lets the first
// parent message through and then never answers, so the process posting
// it can be killed before it records the parent's ts.
type hangAfterFirstParent struct {
	target string // the fake's API base, ending in /api
	hung   chan struct{}
	once   atomic.Bool
}

func (h *hangAfterFirstParent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, h.target+strings.TrimPrefix(r.URL.Path, "/api"), strings.NewReader(string(body)))
	req.Header = r.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	parent := strings.HasSuffix(r.URL.Path, "/chat.postMessage") && form.Get("thread_ts") == "" && resp.StatusCode == http.StatusOK
	if parent && h.once.CompareAndSwap(false, true) {
		close(h.hung)
		<-r.Context().Done()
		return
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(answer)
}

func TestKillBetweenParentAndRecord(t *testing.T) {
	t.Parallel()
	for name, backend := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			slack := slacktest.NewServer(t)
			slack.UseClock(time.Now)
			proxy := &hangAfterFirstParent{target: slack.URL, hung: make(chan struct{})}
			ps := httptest.NewServer(proxy)
			t.Cleanup(ps.Close)
			model := llmtest.NewServer(t)
			model.Handle(groundedReply)
			env := faultEnv(t, slack, ps.URL+"/api", model, backend)
			gs, names := groupNames("KillPosting", 2)
			cfg := routesConfig(t, len(gs))

			first := startProc(t, env, "--config", cfg)
			sendAll(t, first.addr, gs)
			select {
			case <-proxy.hung:
			case <-time.After(20 * time.Second):
				t.Fatal("no parent was posted")
			}
			first.kill()
			if n := len(slack.Messages()); n == 0 {
				t.Fatal("the parent did not reach Slack before the kill")
			}

			second := startProc(t, env, "--config", cfg)
			waitExactlyOnce(t, slack, names, 30*time.Second)
			assertDrained(t, second, env, slack, names)
			if slack.CallCount("conversations.history") == 0 {
				t.Error("the retry did not look the parent up")
			}
		})
	}
}

func TestRedisRestartUnderLoad(t *testing.T) {
	t.Parallel()
	redis := startRedis(t)
	slack := slacktest.NewServer(t)
	slack.UseClock(time.Now)
	env := faultEnv(t, slack, slack.URL, nil, map[string]string{"REDIS_URL": redis.url()})
	env["WORKERS"] = "4"
	// 15 groups, each notified 4 times: 60 webhooks.
	gs, names := groupNames("RedisRestart", 15)
	p := startProc(t, env, "--config", routesConfig(t, len(gs)))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var accepted, refused atomic.Int32
	var wg sync.WaitGroup
	work := make(chan group)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for g := range work {
				res := sendUntilAccepted(ctx, p.addr, alertPayload(t, g, "firing"))
				if res.accepted {
					accepted.Add(1)
				}
				for _, s := range res.answers {
					if s == http.StatusServiceUnavailable {
						refused.Add(1)
					}
				}
			}
		}()
	}
	outage := make(chan struct{})
	go func() {
		defer close(work)
		for round := range 4 {
			for _, g := range gs {
				if round == 1 && g == gs[7] {
					<-outage // the rest of the load meets the outage
				}
				select {
				case work <- g:
				case <-ctx.Done():
					return
				}
			}
		}
	}()

	slacktest.WaitFor(t, func() bool { return accepted.Load() >= 20 }, 30*time.Second)
	redis.kill()
	// While the queue is unreachable the webhook answers 503 with a
	// Retry-After, and /readyz says not ready.
	probe := sendOnce(t, p.addr, alertPayload(t, group{Name: "RedisRestartProbe", Team: "t000"}, "firing"))
	if probe.StatusCode != http.StatusServiceUnavailable || probe.Header.Get("Retry-After") == "" {
		t.Errorf("webhook with redis down answered %d (Retry-After %q), want 503 with Retry-After", probe.StatusCode, probe.Header.Get("Retry-After"))
	}
	if p.ready() {
		t.Error("/readyz answered 200 with redis down")
	}
	close(outage)
	time.Sleep(time.Second) // senders meet the outage and retry
	redis.restart(t)
	slacktest.WaitFor(t, p.ready, 20*time.Second)

	wg.Wait()
	if n := accepted.Load(); n != 60 {
		t.Fatalf("accepted %d of 60 webhooks", n)
	}
	if refused.Load() == 0 {
		t.Error("no sender met a 503 during the outage")
	}
	waitExactlyOnce(t, slack, names, 40*time.Second)
	assertDrained(t, p, env, slack, names)
	t.Logf("60 webhooks accepted, %d answered 503 during the outage first, 15 threads", refused.Load())
}

// sendOnce posts body once and returns the answer.
func sendOnce(t *testing.T, addr string, body []byte) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, addr+"/webhooks/alertmanager", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+webhookToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}
