package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/report"
	"github.com/oncall-copilot/oncall-copilot/store/boltdb"
	"github.com/oncall-copilot/oncall-copilot/store/redisdb"
)

// A dead letter's last error may quote what a failing service answered;
// jobs list must not print credentials from it.
const leakedKey = "sk-abcdefghijklmnopqrstuvwxyz0123456789ABCD"

var jobsT0 = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

// seedDeadLetters puts two dead letters in a store.
func seedDeadLetters(t *testing.T, s interface {
	Enqueue(ctx context.Context, job oncall.Job) error
	Dequeue(ctx context.Context, consumer string, wait time.Duration) (*oncall.Delivery, error)
	DeadLetter(ctx context.Context, d oncall.Delivery, cause string) error
}) {
	t.Helper()
	ctx := context.Background()
	alert := func(name string) oncall.Alert {
		return oncall.Alert{Source: "alertmanager", Name: name, GroupKey: "g-" + name, Status: oncall.AlertFiring, StartsAt: jobsT0}
	}
	jobs := []struct {
		job   oncall.Job
		cause string
	}{
		{oncall.Job{ID: "job-0001", Kind: oncall.JobAlert, Route: "agents", Channel: "C0INCIDENTS", GroupKey: "g1",
			Alerts: []oncall.Alert{alert("OrdersAgentErrorRate"), alert("OrdersAgentLatency")}, EnqueuedAt: jobsT0, Attempts: 7},
			"post parent of incident 1f2e in C0INCIDENTS: slack chat.postMessage: channel_not_found"},
		{oncall.Job{ID: "job-0002", Kind: oncall.JobAlert, Route: "default", Channel: "C0INCIDENTS", GroupKey: "g2",
			Alerts: []oncall.Alert{alert("SupportBotCost")}, EnqueuedAt: jobsT0.Add(3 * time.Minute)},
			"panic: runtime error: index out of range [3] with length 3\n\ngoroutine 7 [running]:\nkey " + leakedKey + " " + strings.Repeat("x", 200)},
	}
	for _, j := range jobs {
		if err := s.Enqueue(ctx, j.job); err != nil {
			t.Fatal(err)
		}
		d, err := s.Dequeue(ctx, "seed", time.Second)
		if err != nil || d == nil {
			t.Fatalf("dequeue %s: %v, %v", j.job.ID, d, err)
		}
		if err := s.DeadLetter(ctx, *d, j.cause); err != nil {
			t.Fatal(err)
		}
	}
}

// jobsBackends opens an empty store of each backend, seeded with two dead
// letters and closed again, and returns the environment pointing at it.
func jobsBackends(t *testing.T) map[string]map[string]string {
	out := map[string]map[string]string{}
	for name, extra := range backends(t) {
		env := map[string]string{"DATA_DIR": t.TempDir()}
		if url := extra["REDIS_URL"]; url != "" {
			env["REDIS_URL"] = url
			env["REDIS_PREFIX"] = fmt.Sprintf("jobs-%d:", time.Now().UnixNano())
			t.Cleanup(func() { cleanRedis(t, url, env["REDIS_PREFIX"]) })
			s, err := redisdb.Open(context.Background(), redisdb.Options{URL: url, Prefix: env["REDIS_PREFIX"], Now: func() time.Time { return jobsT0 }})
			if err != nil {
				t.Fatal(err)
			}
			seedDeadLetters(t, s)
			s.Close()
		} else {
			s, err := boltdb.Open(boltdb.Options{Path: filepath.Join(env["DATA_DIR"], "oncall.db"), Now: func() time.Time { return jobsT0 }})
			if err != nil {
				t.Fatal(err)
			}
			seedDeadLetters(t, s)
			s.Close()
		}
		out[name] = env
	}
	return out
}

func runJobsCmd(env map[string]string, args ...string) (stdout, stderr string, err error) {
	var out, errOut strings.Builder
	err = run(context.Background(), append([]string{"jobs"}, args...), func(k string) string { return env[k] }, &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestJobsListRetryDrop(t *testing.T) {
	for name, env := range jobsBackends(t) {
		t.Run(name, func(t *testing.T) {
			out, _, err := runJobsCmd(env, "list")
			if err != nil {
				t.Fatalf("jobs list: %v", err)
			}
			golden(t, "jobs_list.golden", out)
			if strings.Contains(out, leakedKey) {
				t.Errorf("jobs list printed a credential from a last error:\n%s", out)
			}

			out, _, err = runJobsCmd(env, "list", "--format", "json")
			if err != nil {
				t.Fatalf("jobs list --format json: %v", err)
			}
			var listed struct {
				Stats oncall.QueueStats   `json:"stats"`
				Dead  []report.DeadLetter `json:"dead"`
			}
			if err := json.Unmarshal([]byte(out), &listed); err != nil {
				t.Fatalf("json: %v\n%s", err, out)
			}
			if listed.Stats.Dead != 2 || len(listed.Dead) != 2 || listed.Dead[0].ID != "job-0001" || listed.Dead[0].Attempts != 8 ||
				listed.Dead[1].Alert != "SupportBotCost" || strings.Contains(out, leakedKey) {
				t.Errorf("json listing = %+v", listed)
			}

			if out, _, err = runJobsCmd(env, "retry", "job-0001"); err != nil || !strings.Contains(out, "job-0001 queued again") {
				t.Fatalf("jobs retry = %q, %v", out, err)
			}
			if out, _, err = runJobsCmd(env, "drop", "job-0002"); err != nil || !strings.Contains(out, "job-0002 dropped") {
				t.Fatalf("jobs drop = %q, %v", out, err)
			}
			out, _, err = runJobsCmd(env, "list")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(out, "Queue: 1 ready, 0 delayed, 0 in flight, 0 dead") || !strings.Contains(out, "No dead letters.") {
				t.Errorf("after retry and drop:\n%s", out)
			}
			for _, cmd := range []string{"retry", "drop"} {
				if _, _, err := runJobsCmd(env, cmd, "job-0002"); err == nil || !strings.Contains(err.Error(), "no dead letter has id job-0002") {
					t.Errorf("jobs %s of a missing id: %v", cmd, err)
				}
			}
		})
	}
}

func TestJobsEmbeddedStoreInUse(t *testing.T) {
	dir := t.TempDir()
	s, err := boltdb.Open(boltdb.Options{Path: filepath.Join(dir, "oncall.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, _, err = runJobsCmd(map[string]string{"DATA_DIR": dir}, "list")
	if err == nil || !strings.Contains(err.Error(), "locked by a running oncall-copilot serve") || !strings.Contains(err.Error(), "stop serve first") {
		t.Fatalf("jobs list on a store in use: %v", err)
	}

	_, _, err = runJobsCmd(map[string]string{"DATA_DIR": filepath.Join(dir, "elsewhere")}, "list")
	if err == nil || !strings.Contains(err.Error(), "no embedded store at") {
		t.Fatalf("jobs list without a store: %v", err)
	}
}

func TestJobsUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"list", "extra"}, {"retry"}, {"drop", " "}, {"purge"}, {"list", "--format", "xml"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			_, stderr, err := runJobsCmd(map[string]string{"DATA_DIR": t.TempDir()}, args...)
			if err != errUsage || stderr == "" {
				t.Errorf("err = %v, stderr = %q; want usage", err, stderr)
			}
		})
	}
}

func TestQueueLine(t *testing.T) {
	got := report.QueueLine(oncall.QueueStats{Ready: 3, Delayed: 1, InFlight: 2, Dead: 4, OldestAge: 252*time.Second + 400*time.Millisecond})
	want := "Queue: 3 ready, 1 delayed, 2 in flight, 4 dead; the next job has waited 4m12s"
	if got != want {
		t.Errorf("queueLine = %q, want %q", got, want)
	}
}
