package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/oncall-copilot/oncall-copilot/bot/slacktest"
	"github.com/oncall-copilot/oncall-copilot/llm/llmtest"
)

// stormView is what the fake Slack shows of a storm of groups in one
// channel: the groups with threads of their own, the storm thread, and
// how often each group is named in the storm thread's replies.
type stormView struct {
	own     []string
	stormTS string
	table   string         // the storm parent's latest content
	listed  map[string]int // group → storm replies naming it
	reports int            // triage reports in the storm thread
	dupes   []string       // messages posted more than once
}

func viewStorm(s *slacktest.Server, names []string) stormView {
	v := stormView{listed: map[string]int{}}
	seen := map[string]int{}
	for _, m := range s.Messages() {
		seen[m.ThreadTS+"\x00"+m.Text+string(m.Blocks)]++
		if m.ThreadTS != "" {
			continue
		}
		if strings.Contains(m.Text, "Alert storm") {
			v.stormTS, v.table = m.TS, m.Text+string(m.Blocks)
			continue
		}
		for _, n := range names {
			if mentions(m, n) {
				v.own = append(v.own, n)
			}
		}
	}
	for k, n := range seen {
		if n > 1 {
			v.dupes = append(v.dupes, fmt.Sprintf("%dx %.120q", n, k))
		}
	}
	if v.stormTS == "" {
		return v
	}
	for _, r := range s.Replies(channel, v.stormTS) {
		if strings.Contains(string(r.Blocks), "Triage of") {
			v.reports++
			continue
		}
		for _, n := range names {
			if mentions(r, n) {
				v.listed[n]++
			}
		}
	}
	return v
}

// TestKillDuringStorm kills serve with SIGKILL in the middle of an alert
// storm in one channel, Slack pacing its messages like the real one (at
// a fifth of the real interval, to keep the test short): the next
// process finishes the storm thread from the outbox in the store. Every
// member is in the storm's table and listed once in its summaries, the
// storm has one triage, and no message is posted twice.
func TestKillDuringStorm(t *testing.T) {
	t.Parallel()
	for name, backend := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			slack := slacktest.NewServer(t)
			slack.UseClock(time.Now)
			slack.SetPacing(slacktest.Pacing{Interval: 200 * time.Millisecond, Burst: 1})
			model := llmtest.NewServer(t)
			model.Handle(groundedReply)
			env := faultEnv(t, slack, slack.URL, model, backend)
			env["SLACK_SEND_INTERVAL"] = "200ms"
			env["STORM_THRESHOLD"] = "3"
			env["STORM_SUMMARY_EVERY"] = "1s"
			gs, names := groupNames("StormKill", 20)

			// Both processes listen on one address, as behind a
			// service, so that Alertmanager's retries reach the second.
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			env["LISTEN_ADDR"] = ln.Addr().String()
			ln.Close()
			first := startProc(t, env)
			// One group every 300ms, so that the kill finds some members
			// summarised, some waiting in the outbox and some not sent.
			sent := make(chan error, 1)
			go func() {
				for _, g := range gs {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					res := sendUntilAccepted(ctx, first.addr, alertPayload(t, g, "firing"))
					cancel()
					if !res.accepted {
						sent <- fmt.Errorf("alert %s not accepted: %v", g.Name, res.answers)
						return
					}
					time.Sleep(300 * time.Millisecond)
				}
				sent <- nil
			}()
			slacktest.WaitFor(t, func() bool {
				return len(viewStorm(slack, names).listed) > 0
			}, 20*time.Second)
			first.kill()
			killedTime := time.Now()
			killedAt := len(viewStorm(slack, names).listed)

			second := startProc(t, env)
			if err := <-sent; err != nil {
				t.Fatal(err)
			}
			var v stormView
			deadline := time.Now().Add(40 * time.Second)
			for {
				v = viewStorm(slack, names)
				if len(v.listed) == len(names)-3 && v.reports == 1 && strings.Contains(v.table, fmt.Sprintf("%d incidents", len(names)-3)) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("storm not finished: %d threads of their own, %d members listed, %d reports, table %.300q", len(v.own), len(v.listed), v.reports, v.table)
				}
				time.Sleep(100 * time.Millisecond)
			}
			// A job the dead process held goes back to the queue
			// after QUEUE_RECLAIM_IDLE (6s); let it be taken.
			time.Sleep(time.Until(killedTime.Add(8 * time.Second)))
			second.stop(t, 15*time.Second)
			v = viewStorm(slack, names)
			t.Logf("members listed at the kill: %d of %d", killedAt, len(names)-3)
			if len(v.own) != 3 {
				t.Errorf("%d groups got a thread of their own, want the first 3: %v", len(v.own), v.own)
			}
			if bad := countThreads(slack, v.own).exactlyOnce(v.own); len(bad) > 0 {
				t.Errorf("threads of their own: %v", bad)
			}
			for _, n := range names {
				own := strings.Contains(strings.Join(v.own, " "), n)
				if !own && v.listed[n] != 1 {
					t.Errorf("%s listed %d times in the storm thread", n, v.listed[n])
				}
			}
			if v.reports != 1 {
				t.Errorf("storm thread has %d triage reports, want 1", v.reports)
			}
			if len(v.dupes) > 0 {
				t.Errorf("messages posted twice: %v", v.dupes)
			}
			out, errOut, err := runJobsCmd(env, "list")
			if err != nil {
				t.Fatalf("jobs list: %v\n%s", err, errOut)
			}
			if !strings.HasPrefix(out, "Queue: 0 ready, 0 delayed, 0 in flight, 0 dead") {
				t.Errorf("queue not drained: %q", out)
			}
		})
	}
}
