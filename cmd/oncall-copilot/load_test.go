package main

// The load test: alerts across groups through the webhook of two serve
// replicas sharing one Redis, several workers each, with the fake Slack
// and model on loopback. It proves zero lost and zero duplicate threads
// under load and measures intake and processing.
//
// CI runs a small load (1,000 alerts, 50 groups). The full one, whose
// figures go to BENCHMARKS-load.md, is ./scripts/loadtest.sh:
//
//	ONCALL_LOAD_ALERTS=10000 ONCALL_LOAD_GROUPS=500 ONCALL_LOAD_REPORT=BENCHMARKS-load.md \
//		go test -run '^TestLoad$' -count=1 -timeout 30m ./cmd/oncall-copilot

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oncall-copilot/oncall-copilot/bot/slacktest"
	"github.com/oncall-copilot/oncall-copilot/llm/llmtest"
	"github.com/oncall-copilot/oncall-copilot/store/redisdb"
)

// loadSettings are the load test's knobs, from the environment.
type loadSettings struct {
	Alerts, Groups   int
	Replicas         int
	Workers          int
	Senders          int
	GroupsPerChannel int
	Report           string // file the figures are written to; none when empty
}

func loadSettingsFrom(getenv func(string) string) (loadSettings, error) {
	s := loadSettings{Alerts: 1000, Groups: 50, Replicas: 2, Workers: 16, Senders: 32, GroupsPerChannel: 5, Report: getenv("ONCALL_LOAD_REPORT")}
	for _, v := range []struct {
		name string
		p    *int
	}{{"ONCALL_LOAD_ALERTS", &s.Alerts}, {"ONCALL_LOAD_GROUPS", &s.Groups}, {"ONCALL_LOAD_REPLICAS", &s.Replicas}, {"ONCALL_LOAD_WORKERS", &s.Workers}, {"ONCALL_LOAD_SENDERS", &s.Senders}} {
		if raw := getenv(v.name); raw != "" {
			n, err := strconv.Atoi(raw)
			if err != nil || n < 1 {
				return s, fmt.Errorf("%s: want a positive number, got %q", v.name, raw)
			}
			*v.p = n
		}
	}
	if s.Alerts < s.Groups {
		return s, fmt.Errorf("ONCALL_LOAD_ALERTS (%d) must be at least ONCALL_LOAD_GROUPS (%d)", s.Alerts, s.Groups)
	}
	return s, nil
}

// loadFigures are what the load test measured.
type loadFigures struct {
	Settings          loadSettings
	Accepted, Retried int
	IntakeTime        time.Duration // first webhook sent to last accepted
	WebhookP50        time.Duration
	WebhookP99        time.Duration
	ThreadsTime       time.Duration // first webhook sent to every group posted once
	DrainTime         time.Duration // first webhook sent to an empty queue
	SlackCalls        int
	ModelCalls        int
	Parents           int
	Diagnoses         int
	Lost, Duplicates  int
	Dead              int
}

func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("the load test is skipped in -short mode")
	}
	t.Parallel()
	set, err := loadSettingsFrom(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	redis := startRedis(t)
	slack := slacktest.NewServer(t)
	slack.UseClock(time.Now)
	model := llmtest.NewServer(t)
	model.Handle(groundedReply)

	channels := (set.Groups + set.GroupsPerChannel - 1) / set.GroupsPerChannel
	cfg := routesConfig(t, channels)
	var gs []group
	var names []string
	for i := range set.Groups {
		g := group{Name: fmt.Sprintf("LoadGroup%04d", i), Team: fmt.Sprintf("t%03d", i%channels)}
		gs, names = append(gs, g), append(names, g.Name)
	}
	env := faultEnv(t, slack, slack.URL, model, map[string]string{"REDIS_URL": redis.url()})
	env["WORKERS"] = strconv.Itoa(set.Workers)
	env["LOG_LEVEL"] = "warn"
	env["QUEUE_JOB_TIMEOUT"], env["QUEUE_RECLAIM_IDLE"] = "2m", "3m"
	var replicas []*proc
	for range set.Replicas {
		replicas = append(replicas, startProc(t, env, "--config", cfg))
	}
	payloads := make([][]byte, len(gs))
	for i, g := range gs {
		payloads[i] = alertPayload(t, g, "firing")
	}

	// Every group is notified Alerts/Groups times, round after round, as
	// Alertmanager re-sends a group's notification while it fires.
	fig := loadFigures{Settings: set}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	start := time.Now()
	var mu sync.Mutex
	var latencies []time.Duration
	var accepted, retried atomic.Int32
	work := make(chan int)
	var wg sync.WaitGroup
	for s := range set.Senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range work {
				p := replicas[(n+s)%len(replicas)]
				t0 := time.Now()
				res := sendUntilAccepted(ctx, p.addr, payloads[n%len(payloads)])
				d := time.Since(t0)
				if !res.accepted {
					t.Errorf("alert %d not accepted: %v", n, res.answers)
					continue
				}
				accepted.Add(1)
				retried.Add(int32(len(res.answers) - 1))
				mu.Lock()
				latencies = append(latencies, d)
				mu.Unlock()
			}
		}()
	}
	for n := range set.Alerts {
		work <- n
	}
	close(work)
	wg.Wait()
	fig.IntakeTime = time.Since(start)
	fig.Accepted, fig.Retried = int(accepted.Load()), int(retried.Load())
	slices.Sort(latencies)
	if len(latencies) > 0 {
		fig.WebhookP50 = latencies[len(latencies)/2]
		fig.WebhookP99 = latencies[len(latencies)*99/100]
	}
	if fig.Accepted != set.Alerts {
		t.Fatalf("accepted %d of %d alerts", fig.Accepted, set.Alerts)
	}

	waitExactlyOnce(t, slack, names, 15*time.Minute)
	fig.ThreadsTime = time.Since(start)
	store, err := redisdb.Open(ctx, redisdb.Options{URL: redis.url(), Prefix: env["REDIS_PREFIX"]})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	slacktest.WaitFor(t, func() bool {
		st, err := store.QueueStats(ctx)
		return err == nil && st.Ready+st.Delayed+st.InFlight == 0
	}, 10*time.Minute)
	fig.DrainTime = time.Since(start)
	st, err := store.QueueStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fig.Dead = st.Dead

	counts := countThreads(slack, names)
	for _, n := range names {
		fig.Parents += counts.parents[n]
		fig.Diagnoses += counts.diagnoses[n]
		switch {
		case counts.parents[n] == 0:
			fig.Lost++
		case counts.parents[n] > 1 || counts.diagnoses[n] > 1:
			fig.Duplicates++
		}
	}
	fig.SlackCalls, fig.ModelCalls = len(slack.Calls()), len(model.Requests())
	if fig.Lost != 0 || fig.Duplicates != 0 || fig.Dead != 0 || fig.Parents != set.Groups {
		t.Errorf("lost %d, duplicated %d, dead %d, %d parents for %d groups", fig.Lost, fig.Duplicates, fig.Dead, fig.Parents, set.Groups)
	}
	for _, p := range replicas {
		p.stop(t, 30*time.Second)
	}
	t.Logf("%d alerts, %d groups: intake %v (%.0f/s, p50 %v, p99 %v), threads %v, drained %v",
		set.Alerts, set.Groups, fig.IntakeTime.Round(time.Millisecond), float64(set.Alerts)/fig.IntakeTime.Seconds(),
		fig.WebhookP50.Round(time.Microsecond), fig.WebhookP99.Round(time.Microsecond), fig.ThreadsTime.Round(time.Millisecond), fig.DrainTime.Round(time.Millisecond))
	if set.Report != "" {
		if err := os.WriteFile(set.Report, []byte(loadReport(fig)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// loadReport renders the figures as the BENCHMARKS-load.md section.
func loadReport(f loadFigures) string {
	s := f.Settings
	var b strings.Builder
	redisVersion := "unknown"
	if out, err := exec.Command("redis-server", "--version").Output(); err == nil {
		redisVersion = strings.TrimSpace(string(out))
	}
	fmt.Fprintf(&b, "# Load: %d alerts across %d groups\n\n", s.Alerts, s.Groups)
	fmt.Fprintf(&b, "Measured %s by `./scripts/loadtest.sh` (`TestLoad` in cmd/oncall-copilot) on %d CPUs (%s/%s), %s, %s.\n\n",
		time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), redisVersion)
	fmt.Fprintf(&b, "Setup: %d `serve` replicas sharing one Redis (a Stream read by one consumer group; `appendonly yes`,\n", s.Replicas)
	fmt.Fprintf(&b, "`appendfsync always`), %d workers each. %d senders POST Alertmanager webhooks to the replicas in turn,\n", s.Workers, s.Senders)
	fmt.Fprintf(&b, "each group notified %d times, round after round, retrying on 5xx as Alertmanager does. Groups are\n", s.Alerts/s.Groups)
	fmt.Fprintf(&b, "routed %d to a Slack channel (%d channels, each paced to one message a second per replica, as Slack\n", s.GroupsPerChannel, (s.Groups+s.GroupsPerChannel-1)/s.GroupsPerChannel)
	b.WriteString("allows). Slack and the model are fakes on loopback answering at once; the traces are the bundled\n")
	b.WriteString("quickstart JSONL, read from disk by every triage.\n\n")
	b.WriteString("| Figure | Value |\n| --- | --- |\n")
	row := func(k, v string) { fmt.Fprintf(&b, "| %s | %s |\n", k, v) }
	row("Alerts accepted (202)", fmt.Sprintf("%d of %d", f.Accepted, s.Alerts))
	row("Webhook answers retried after a 5xx", strconv.Itoa(f.Retried))
	row("Intake: all alerts accepted in", fmt.Sprintf("%v (%.0f alerts/s)", f.IntakeTime.Round(time.Millisecond), float64(s.Alerts)/f.IntakeTime.Seconds()))
	row("Webhook latency p50 / p99", fmt.Sprintf("%v / %v", f.WebhookP50.Round(10*time.Microsecond), f.WebhookP99.Round(10*time.Microsecond)))
	row("Every group posted and triaged after", f.ThreadsTime.Round(time.Millisecond).String())
	row("Queue empty after", f.DrainTime.Round(time.Millisecond).String())
	row("Threads (parent messages)", fmt.Sprintf("%d for %d groups", f.Parents, s.Groups))
	row("Diagnosis replies", strconv.Itoa(f.Diagnoses))
	row("Lost groups / duplicate threads / dead letters", fmt.Sprintf("%d / %d / %d", f.Lost, f.Duplicates, f.Dead))
	row("Slack Web API calls", strconv.Itoa(f.SlackCalls))
	row("Model calls", strconv.Itoa(f.ModelCalls))
	b.WriteString("\nIntake is bounded by Redis and the HTTP handling; posting every thread by the triages (each reads and\n")
	b.WriteString("analyses the trace file for the named trace and both windows) and by Slack's pacing (a parent, a diagnosis\n")
	fmt.Fprintf(&b, "and a parent update per incident). The queue is empty as soon as the last thread is posted: the %d\n", s.Alerts-s.Groups)
	b.WriteString("re-sends of groups already handled are acknowledged without a Slack or model call.\n")
	return b.String()
}
