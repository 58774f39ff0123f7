package main

// The storm load test: two serve replicas on one Redis, Slack pacing
// every channel like the real one. One new group per pace unit into one
// channel for 60 units; then a storm of many groups into another
// channel, during which one alert goes to a quiet channel.
//
// CI runs it at a tenth of Slack's pace (a unit of 100ms) with a
// 300-group storm. ./scripts/stormtest.sh runs it at Slack's real pace
// (1s) with 1,000 groups and writes the figures to BENCHMARKS-storm.md:
//
//	ONCALL_STORM_UNIT=1s ONCALL_STORM_BIG=1000 ONCALL_STORM_REPORT=BENCHMARKS-storm.md \
//		go test -run '^TestStormLoad$' -count=1 -timeout 20m ./cmd/oncall-copilot

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncall-copilot/oncall-copilot/bot/slacktest"
	"github.com/oncall-copilot/oncall-copilot/llm/llmtest"
)

// stormFigures are what the storm load test measured.
type stormFigures struct {
	Unit                  time.Duration
	Groups, Big           int
	OwnThreads, Members   int
	FirstP50, FirstP99    time.Duration // webhook to own parent or storm table showing the member
	StormMessages         int           // posts in the storm thread, parent included
	StormEdits            int           // chat.update of the storm parent
	RateLimited           int           // 429s Slack answered
	QuietParent           time.Duration // webhook to the quiet channel's parent, during the big storm
	BigAccepted           time.Duration // first to last webhook of the big storm accepted
	BigTable              time.Duration // first webhook to the table counting every member
	BigMessages, BigEdits int
}

func stormSetting(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// firstCall is when Slack first took a call of method whose parameters
// satisfy keep.
func firstCall(calls []slacktest.Call, method string, keep func(slacktest.Call) bool) (time.Time, bool) {
	for _, c := range calls {
		if c.Method == method && c.Status == http.StatusOK && c.Error == "" && keep(c) {
			return c.At, true
		}
	}
	return time.Time{}, false
}

func TestStormLoad(t *testing.T) {
	unit := 100 * time.Millisecond
	if v := os.Getenv("ONCALL_STORM_UNIT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("ONCALL_STORM_UNIT: %v", err)
		}
		unit = d
	}
	f := stormFigures{Unit: unit, Groups: stormSetting("ONCALL_STORM_GROUPS", 60), Big: stormSetting("ONCALL_STORM_BIG", 300)}
	redis := startRedis(t)
	slack := slacktest.NewServer(t)
	slack.UseClock(time.Now)
	slack.SetPacing(slacktest.Pacing{Interval: unit, Burst: 1})
	model := llmtest.NewServer(t)
	model.Handle(groundedReply)
	env := faultEnv(t, slack, slack.URL, model, map[string]string{"REDIS_URL": redis.url()})
	env["SLACK_SEND_INTERVAL"] = unit.String()
	env["STORM_SUMMARY_EVERY"] = max(time.Second, 30*unit).String()
	env["WORKERS"] = "8"
	env["LOG_LEVEL"] = "info"
	cfg := filepath.Join(t.TempDir(), "oncall.yaml")
	routes := "routes:\n  - name: quiet\n    matchers: ['team=\"quiet\"']\n    channel: C0QUIET\n  - name: big\n    matchers: ['team=\"big\"']\n    channel: C0BIG\n"
	if err := os.WriteFile(cfg, []byte(routes), 0o600); err != nil {
		t.Fatal(err)
	}
	replicas := []*proc{startProc(t, env, "--config", cfg), startProc(t, env, "--config", cfg)}
	send := func(i int, g group) time.Time {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		res := sendUntilAccepted(ctx, replicas[i%2].addr, alertPayload(t, g, "firing"))
		if !res.accepted {
			t.Errorf("alert %s not accepted: %v", g.Name, res.answers)
		}
		return time.Now()
	}

	// One new group per unit into one channel.
	accepted := map[string]time.Time{}
	var names []string
	for i := range f.Groups {
		g := group{Name: fmt.Sprintf("Paced%03d", i), Team: "paced"}
		names = append(names, g.Name)
		accepted[g.Name] = send(i, g)
		time.Sleep(unit)
	}
	// Names are matched in the blocks' JSON, where a table row follows
	// an escaped newline ("\\nPaced005"): no word boundary before.
	word := func(name string) *regexp.Regexp { return regexp.MustCompile(name + `\b`) }
	var lat []time.Duration
	var stormTS string
	slacktest.WaitFor(t, func() bool {
		calls := slack.Calls()
		lat, stormTS = nil, ""
		f.OwnThreads, f.Members = 0, 0
		for _, m := range slack.Messages() {
			if m.Channel == channel && m.ThreadTS == "" && strings.Contains(m.Text, "Alert storm") {
				stormTS = m.TS
			}
		}
		for _, n := range names {
			re := word(n)
			if at, ok := firstCall(calls, "chat.postMessage", func(c slacktest.Call) bool {
				return c.Params.Get("thread_ts") == "" && re.MatchString(c.Params.Get("text"))
			}); ok {
				f.OwnThreads++
				lat = append(lat, at.Sub(accepted[n]))
				continue
			}
			if at, ok := firstCall(calls, "chat.update", func(c slacktest.Call) bool {
				return stormTS != "" && c.Params.Get("ts") == stormTS && re.MatchString(c.Params.Get("blocks"))
			}); ok {
				f.Members++
				lat = append(lat, at.Sub(accepted[n]))
			}
		}
		if f.OwnThreads+f.Members == f.Groups {
			return true
		}
		return false
	}, 60*unit+time.Minute)
	f.FirstP50, f.FirstP99 = quantileOf(lat, 0.5), quantileOf(lat, 0.99)
	for _, c := range slack.Calls() {
		if c.Status != http.StatusOK || c.Error != "" {
			continue
		}
		switch {
		case c.Method == "chat.postMessage" && (c.Params.Get("thread_ts") == stormTS || strings.Contains(c.Params.Get("text"), "Alert storm")) && c.Params.Get("channel") == channel:
			f.StormMessages++
		case c.Method == "chat.update" && c.Params.Get("ts") == stormTS:
			f.StormEdits++
		}
	}

	// A storm of many groups into another channel, sent as fast as the
	// replicas take them, and one alert to a quiet channel midway.
	bigStart := time.Now()
	var (
		wg      sync.WaitGroup
		quietAt time.Time
		next    = make(chan int)
	)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				send(i, group{Name: fmt.Sprintf("Big%04d", i), Team: "big"})
			}
		}()
	}
	for i := range f.Big {
		if i == f.Big/2 {
			quietAt = send(0, group{Name: "QuietOne", Team: "quiet"})
		}
		next <- i
	}
	close(next)
	wg.Wait()
	f.BigAccepted = time.Since(bigStart)
	slacktest.WaitFor(t, func() bool {
		_, ok := firstCall(slack.Calls(), "chat.postMessage", func(c slacktest.Call) bool { return c.Params.Get("channel") == "C0QUIET" })
		return ok
	}, 30*time.Second)
	at, _ := firstCall(slack.Calls(), "chat.postMessage", func(c slacktest.Call) bool { return c.Params.Get("channel") == "C0QUIET" })
	f.QuietParent = at.Sub(quietAt)
	want := fmt.Sprintf("%d incidents in this channel", f.Big-5)
	slacktest.WaitFor(t, func() bool {
		_, ok := firstCall(slack.Calls(), "chat.update", func(c slacktest.Call) bool {
			return c.Params.Get("channel") == "C0BIG" && strings.Contains(c.Params.Get("text"), want)
		})
		return ok
	}, 5*time.Minute)
	done, _ := firstCall(slack.Calls(), "chat.update", func(c slacktest.Call) bool {
		return c.Params.Get("channel") == "C0BIG" && strings.Contains(c.Params.Get("text"), want)
	})
	f.BigTable = done.Sub(bigStart)
	for _, c := range slack.Calls() {
		if c.Params.Get("channel") != "C0BIG" || c.Status != http.StatusOK || c.Error != "" {
			continue
		}
		switch c.Method {
		case "chat.postMessage":
			f.BigMessages++
		case "chat.update":
			f.BigEdits++
		}
	}
	f.RateLimited = slack.RateLimitedCount()
	for _, p := range replicas {
		p.stop(t, 30*time.Second)
	}
	t.Logf("storm figures: %+v", f)

	if f.OwnThreads != 5 || f.Members != f.Groups-5 {
		t.Errorf("%d threads of their own and %d storm members, want 5 and %d", f.OwnThreads, f.Members, f.Groups-5)
	}
	// Timings are the load command's to judge (scripts/stormtest.sh sets
	// ONCALL_STORM_REPORT and records them in BENCHMARKS-storm.md): on a
	// shared CI machine they measure its scheduling. The synctest storm
	// tests in incident hold the same bounds on a simulated clock. Here
	// the counts are checked, which hold whatever the machine's load.
	loadRun := os.Getenv("ONCALL_STORM_REPORT") != ""
	limit := 5 * unit
	if unit < time.Second {
		limit += 500 * time.Millisecond
	}
	if f.FirstP99 > limit {
		loadFigure(loadRun, t, "webhook to first post or table edit p99 %v, want within %v", f.FirstP99, limit)
	}
	// A message per member at most, and a summary per interval.
	if limit := f.Members + 2 + int(time.Duration(f.Groups)*unit/max(time.Second, 30*unit)) + 2; f.StormMessages+f.StormEdits > limit {
		t.Errorf("the storm cost %d messages and %d edits for %d members, want at most %d", f.StormMessages, f.StormEdits, f.Members, limit)
	}
	if f.QuietParent > time.Second {
		loadFigure(loadRun, t, "the quiet channel's parent came %v after its alert, during the storm; want within 1s", f.QuietParent)
	}
	if f.BigMessages > 5*3+2+10 {
		t.Errorf("the %d-group storm cost %d messages in its channel", f.Big, f.BigMessages)
	}
	if path := os.Getenv("ONCALL_STORM_REPORT"); path != "" {
		if err := os.WriteFile(path, []byte(stormReport(f)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// loadFigure fails the test in a load run and only logs otherwise.
func loadFigure(fail bool, t *testing.T, format string, args ...any) {
	t.Helper()
	if fail {
		t.Errorf(format, args...)
		return
	}
	t.Logf("load figure (judged by scripts/stormtest.sh): "+format, args...)
}

func quantileOf(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

func stormReport(f stormFigures) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Load: alert storms\n\nMeasured %s by `./scripts/stormtest.sh` (`TestStormLoad` in cmd/oncall-copilot) on %d CPUs (%s/%s), %s.\n\n",
		time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
	fmt.Fprintf(&b, "Setup: 2 `serve` replicas sharing one Redis, 8 workers each; the fake Slack paces chat.postMessage and\n"+
		"chat.update to one per %s per channel and answers 429 with Retry-After beyond that, as Slack documents\n"+
		"(api.slack.com/apis/rate-limits); the copilot sends at most one message per %s per channel. The storm guard\n"+
		"opens a storm after 5 new incidents in a channel within 5m. The model is a fake on loopback answering at once.\n\n", f.Unit, f.Unit)
	fmt.Fprintf(&b, "| Figure | Value |\n| --- | --- |\n")
	fmt.Fprintf(&b, "| One new group per %s into one channel for %d groups | %d threads of their own, %d storm members |\n", f.Unit, f.Groups, f.OwnThreads, f.Members)
	fmt.Fprintf(&b, "| Webhook to the group's first post, or to the storm table edit showing it, p50 / p99 | %s / %s |\n", f.FirstP50.Round(time.Millisecond), f.FirstP99.Round(time.Millisecond))
	fmt.Fprintf(&b, "| Storm thread: messages posted (parent, triage, summaries) / parent edits | %d / %d |\n", f.StormMessages, f.StormEdits)
	fmt.Fprintf(&b, "| %d new groups into one channel: all accepted in | %s |\n", f.Big, f.BigAccepted.Round(time.Millisecond))
	fmt.Fprintf(&b, "| ... its storm table counting every member after | %s |\n", f.BigTable.Round(time.Millisecond))
	fmt.Fprintf(&b, "| ... messages posted in that channel / edits | %d / %d |\n", f.BigMessages, f.BigEdits)
	fmt.Fprintf(&b, "| Meanwhile, webhook to the parent of an alert routed to another channel | %s |\n", f.QuietParent.Round(time.Millisecond))
	fmt.Fprintf(&b, "| 429s Slack answered, whole run | %d |\n", f.RateLimited)
	return b.String()
}
