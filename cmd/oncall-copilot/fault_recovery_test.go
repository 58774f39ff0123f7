package main

// Recovery with real processes and the default queue settings: one of
// three replicas killed with SIGKILL in the middle of its triages, a 10 s
// Redis outage (append-only file), and a Redis restarted without
// persistence that comes back empty. Model calls take 2 s, as real ones
// do. Every group must end with exactly one thread and one diagnosis.

import (
	"context"
	"io"
	"maps"
	"net/http"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oncall-copilot/oncall-copilot/bot/slacktest"
	"github.com/oncall-copilot/oncall-copilot/llm/llmtest"
)

// slowModel answers groundedly after delay and counts the requests.
func slowModel(t *testing.T, delay time.Duration) (*llmtest.Server, *atomic.Int32) {
	t.Helper()
	m := llmtest.NewServer(t)
	var asked atomic.Int32
	m.Handle(func(req llmtest.Request) llmtest.Reply {
		asked.Add(1)
		time.Sleep(delay)
		return groundedReply(req)
	})
	return m, &asked
}

// replicaEnvs are the environments of replicas sharing the Redis at url
// with the default queue settings, replica i asking models[i].
func replicaEnvs(t *testing.T, slack *slacktest.Server, url string, models []*llmtest.Server) []map[string]string {
	t.Helper()
	base := faultEnv(t, slack, slack.URL, models[0], map[string]string{"REDIS_URL": url})
	delete(base, "QUEUE_JOB_TIMEOUT")
	delete(base, "QUEUE_RECLAIM_IDLE")
	var envs []map[string]string
	for _, m := range models {
		env := maps.Clone(base)
		env["OPENAI_BASE_URL"] = m.URL
		env["DATA_DIR"] = t.TempDir()
		envs = append(envs, env)
	}
	return envs
}

// waitAtLeast waits until n reaches want.
func waitAtLeast(t *testing.T, n *atomic.Int32, want int32, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for n.Load() < want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d, want at least %d", what, n.Load(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestKillOneOfThreeReplicasMidTriage(t *testing.T) {
	t.Parallel()
	redis := startRedis(t)
	slack := slacktest.NewServer(t)
	slack.UseClock(time.Now)
	var models []*llmtest.Server
	var asked []*atomic.Int32
	for range 3 {
		m, a := slowModel(t, 2*time.Second)
		models, asked = append(models, m), append(asked, a)
	}
	envs := replicaEnvs(t, slack, redis.url(), models)
	gs, names := groupNames("KillReplica", 12)
	cfg := routesConfig(t, len(gs))
	var procs []*proc
	for _, env := range envs {
		procs = append(procs, startProc(t, env, "--config", cfg))
	}
	for i, g := range gs {
		sendAll(t, procs[i%len(procs)].addr, []group{g})
	}
	waitAtLeast(t, asked[0], 1, "model calls of the replica to kill")
	time.Sleep(500 * time.Millisecond) // inside its 2 s model call
	killed := time.Now()
	procs[0].kill()

	waitExactlyOnce(t, slack, names, 60*time.Second)
	took := time.Since(killed)
	t.Logf("every group diagnosed %.1fs after the kill (the victim had %d model calls)", took.Seconds(), asked[0].Load())
	reclaimed := procs[1].stderr.String() + procs[2].stderr.String()
	if !strings.Contains(reclaimed, "reclaimed idle delivery") {
		t.Errorf("the killed replica's jobs were not reclaimed by the others")
	}
	procs[2].stop(t, 15*time.Second)
	assertDrained(t, procs[1], envs[1], slack, names)
}

func TestRedisOutageWithThreeReplicas(t *testing.T) {
	t.Parallel()
	redis := startRedis(t)
	slack := slacktest.NewServer(t)
	slack.UseClock(time.Now)
	model, asked := slowModel(t, 2*time.Second)
	envs := replicaEnvs(t, slack, redis.url(), []*llmtest.Server{model, model, model})
	gs, names := groupNames("RedisOutage", 12)
	cfg := routesConfig(t, len(gs))
	var procs []*proc
	for _, env := range envs {
		procs = append(procs, startProc(t, env, "--config", cfg))
	}
	for i, g := range gs {
		sendAll(t, procs[i%len(procs)].addr, []group{g})
	}
	waitAtLeast(t, asked, 4, "model calls before the outage")
	down := time.Now()
	redis.kill()
	time.Sleep(10 * time.Second)
	redis.restart(t)
	up := time.Now()

	waitExactlyOnce(t, slack, names, 60*time.Second)
	t.Logf("every group diagnosed %.1fs after the outage began, %.1fs after Redis was back",
		time.Since(down).Seconds(), time.Since(up).Seconds())
	procs[1].stop(t, 15*time.Second)
	procs[2].stop(t, 15*time.Second)
	assertDrained(t, procs[0], envs[0], slack, names)
}

// get returns the body of GET addr+path.
func get(t *testing.T, addr, path string) string {
	t.Helper()
	resp, err := http.Get(addr + path)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestRedisThatLostItsData(t *testing.T) {
	t.Parallel()
	redis := startRedisWith(t, noPersistence)
	slack := slacktest.NewServer(t)
	slack.UseClock(time.Now)
	model := llmtest.NewServer(t)
	model.Handle(groundedReply)
	env := replicaEnvs(t, slack, redis.url(), []*llmtest.Server{model})[0]
	gs, names := groupNames("Forgotten", 6)
	cfg := routesConfig(t, len(gs))

	// Required persistence refuses this server.
	strict := maps.Clone(env)
	strict["REDIS_REQUIRE_PERSISTENCE"] = "true"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), "serve", "--config", cfg)
	cmd.Dir = t.TempDir()
	for k, v := range strict {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "redis keeps nothing across a restart") {
		t.Errorf("serve with REDIS_REQUIRE_PERSISTENCE on a Redis without persistence: %v\n%s", err, tail(string(out), 10))
	}

	p := startProc(t, env, "--config", cfg)
	if !strings.Contains(p.stderr.String(), "REDIS KEEPS NOTHING ACROSS A RESTART") {
		t.Errorf("no warning about a Redis without persistence at start:\n%s", tail(p.stderr.String(), 20))
	}
	sendAll(t, p.addr, gs)
	waitExactlyOnce(t, slack, names, 30*time.Second)

	// Redis restarts and comes back empty.
	redis.restart(t)
	slacktest.WaitFor(t, func() bool { return strings.Contains(get(t, p.addr, "/readyz"), "store lost its data") }, 20*time.Second)
	var m string
	for range 100 {
		if m = get(t, p.addr, "/metrics"); strings.Contains(m, "oncall_store_data_losses_total 1") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(m, "oncall_store_data_losses_total 1") {
		t.Errorf("/metrics does not count the loss:\n%s", tail(grepLines(m, "oncall_"), 20))
	}
	if !strings.Contains(p.stderr.String(), "redis lost its data") {
		t.Error("the loss is not in the log")
	}

	// Alertmanager sends the groups again: they go to their threads.
	sendAll(t, p.addr, gs)
	slacktest.WaitFor(t, func() bool {
		return strings.Count(p.stderr.String(), "thread the store forgot found in Slack") >= len(gs)
	}, 30*time.Second)
	assertDrained(t, p, env, slack, names)
}

// grepLines keeps the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
