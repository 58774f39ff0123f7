package incident

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/bot"
	"github.com/oncall-copilot/oncall-copilot/bot/slacktest"
	"github.com/oncall-copilot/oncall-copilot/store/boltdb"
)

// outboxService builds a Service that sends through the outbox, inside
// a synctest bubble, talking to srv (made outside the bubble) without a
// socket, so the bubble's clock runs Slack's pacing too.
func outboxService(t *testing.T, srv *slacktest.Server, tr Triager, opts Options) (*Service, *boltdb.Store) {
	t.Helper()
	store, err := boltdb.Open(boltdb.Options{Path: filepath.Join(t.TempDir(), "oncall.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	srv.SetPacing(slacktest.Pacing{Interval: time.Second, Burst: 1, Now: time.Now})
	pub, err := bot.New(bot.Options{Token: srv.Token, APIURL: srv.URL + "/", HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	opts.Store, opts.Publisher, opts.Triager, opts.Outbox = store, pub, tr, store
	svc, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return svc, store
}

// workers runs jobs as a worker pool would, 4 at a time.
func workers(ctx context.Context, t *testing.T, svc *Service, jobs <-chan oncall.Job, wg *sync.WaitGroup) {
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if err := svc.Handle(ctx, j); err != nil {
					t.Errorf("job %s: %v", j.ID, err)
				}
			}
		}()
	}
}

func channelJob(group, channel string) oncall.Job {
	j := groupJob(group)
	j.ID, j.Channel = "job-"+group+"-"+channel, channel
	return j
}

// okCalls are the calls Slack took, of method, in ts's thread or on it.
func okCalls(srv *slacktest.Server, method string, keep func(slacktest.Call) bool) []slacktest.Call {
	var out []slacktest.Call
	for _, c := range srv.Calls() {
		if c.Method == method && c.Status == http.StatusOK && c.Error == "" && (keep == nil || keep(c)) {
			out = append(out, c)
		}
	}
	return out
}

func p99(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[(len(ds)*99+99)/100-1]
}

// One new group a second for a minute into one channel, Slack pacing
// like the real one: the first five get threads, the rest join a storm.
// Every own thread's parent, and the storm table's edit showing every
// member, come within 5s of the alert; the storm costs no more than a
// message per member and a few summaries; nothing is refused with 429.
func TestStormThroughOutbox(t *testing.T) {
	srv := slacktest.NewServer(t)
	synctest.Test(t, func(t *testing.T) {
		tr := &failingTriager{}
		svc, _ := outboxService(t, srv, tr, Options{StormThreshold: 5, StormWindow: 5 * time.Minute, StormSummaryEvery: 30 * time.Second})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { defer close(done); svc.RunOutbox(ctx) }()
		jobs := make(chan oncall.Job)
		var wg sync.WaitGroup
		workers(ctx, t, svc, jobs, &wg)

		const n = 60
		sent := map[string]time.Time{}
		for i := range n {
			g := fmt.Sprintf("g%03d", i)
			sent["Alert"+g] = time.Now()
			jobs <- channelJob(g, "C1")
			time.Sleep(time.Second)
		}
		close(jobs)
		wg.Wait()
		time.Sleep(2 * time.Minute) // the last summary
		cancel()
		<-done

		parents := okCalls(srv, "chat.postMessage", func(c slacktest.Call) bool { return c.Params.Get("thread_ts") == "" })
		if len(parents) != 6 {
			t.Fatalf("parents posted = %d, want 5 incidents and 1 storm", len(parents))
		}
		var stormTS string
		for _, m := range srv.Messages() {
			if m.ThreadTS == "" && strings.Contains(m.Text, "Alert storm") {
				stormTS = m.TS
			}
		}
		if stormTS == "" {
			t.Fatal("no storm thread")
		}
		var lat []time.Duration
		for _, c := range parents {
			for name, at := range sent {
				if strings.Contains(c.Params.Get("text"), name) {
					lat = append(lat, c.At.Sub(at))
				}
			}
		}
		edits := okCalls(srv, "chat.update", func(c slacktest.Call) bool { return c.Params.Get("ts") == stormTS })
		members := 0
		for name, at := range sent {
			for _, c := range edits {
				if strings.Contains(c.Params.Get("blocks"), name) {
					lat = append(lat, c.At.Sub(at))
					members++
					break
				}
			}
		}
		if members != n-5 {
			t.Errorf("storm table edits show %d members, want %d", members, n-5)
		}
		t.Logf("p99 webhook to Slack %v over %d posts and edits; storm: %d edits, %d replies; 429s: %d", p99(slices.Clone(lat)), len(lat), len(edits), len(okCalls(srv, "chat.postMessage", func(c slacktest.Call) bool { return c.Params.Get("thread_ts") == stormTS })), srv.RateLimitedCount())
		if got := p99(lat); got > 5*time.Second {
			t.Errorf("p99 webhook to Slack = %v over %d posts and edits, want within 5s", got, len(lat))
		}
		stormMsgs := okCalls(srv, "chat.postMessage", func(c slacktest.Call) bool { return c.Params.Get("thread_ts") == stormTS })
		// One triage report and a summary per 30s of the storm, at most.
		if cost := 1 + len(stormMsgs) + len(edits); cost > (n-5)+1+3 {
			t.Errorf("storm cost %d messages (%d replies, %d edits) for %d members", cost, len(stormMsgs), len(edits), n-5)
		}
		var lines []string
		for _, r := range srv.Replies("C1", stormTS) {
			lines = append(lines, string(r.Blocks))
		}
		for name := range sent {
			if name <= "Alertg004" {
				continue
			}
			if c := countText(lines, name); c != 1 {
				t.Errorf("%s listed %d times in the storm's summaries", name, c)
			}
		}
		if tr.calls != 6 {
			t.Errorf("triages = %d, want the 5 incidents and the storm", tr.calls)
		}
		if n := srv.RateLimitedCount(); n != 0 {
			t.Errorf("Slack refused %d calls with 429", n)
		}
	})
}

// During a storm of a thousand groups in one channel, an alert routed to
// another channel is posted within a second: a busy channel has its own
// sender and workers never wait on it.
func TestBusyChannelDoesNotDelayAnother(t *testing.T) {
	srv := slacktest.NewServer(t)
	synctest.Test(t, func(t *testing.T) {
		svc, _ := outboxService(t, srv, &failingTriager{}, Options{StormThreshold: 5, StormWindow: 5 * time.Minute})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { defer close(done); svc.RunOutbox(ctx) }()
		jobs := make(chan oncall.Job)
		var wg sync.WaitGroup
		workers(ctx, t, svc, jobs, &wg)

		var quietAt time.Time
		for i := range 1000 {
			if i == 500 {
				quietAt = time.Now()
				jobs <- channelJob("quiet", "C2")
			}
			jobs <- channelJob(fmt.Sprintf("b%04d", i), "C1")
			time.Sleep(10 * time.Millisecond)
		}
		close(jobs)
		wg.Wait()
		time.Sleep(10 * time.Second)
		cancel()
		<-done

		posts := okCalls(srv, "chat.postMessage", func(c slacktest.Call) bool {
			return c.Params.Get("channel") == "C2" && c.Params.Get("thread_ts") == ""
		})
		if len(posts) != 1 {
			t.Fatalf("C2 parents = %d, want 1", len(posts))
		}
		t.Logf("C2 parent %v after its alert; C1: %d messages, %d edits", posts[0].At.Sub(quietAt), len(okCalls(srv, "chat.postMessage", func(c slacktest.Call) bool { return c.Params.Get("channel") == "C1" })), len(okCalls(srv, "chat.update", nil)))
		if d := posts[0].At.Sub(quietAt); d > time.Second {
			t.Errorf("C2's parent came %v after its alert, want within 1s", d)
		}
		c1 := okCalls(srv, "chat.postMessage", func(c slacktest.Call) bool { return c.Params.Get("channel") == "C1" })
		if len(c1) > 5*3+1+2+3 {
			t.Errorf("C1 got %d messages for a 1000-group storm", len(c1))
		}
	})
}

// Two replicas on one store, both sending: each channel's lease lets
// one send at a time, so together they keep to Slack's pace (no 429),
// and nothing is posted twice.
func TestReplicasShareAChannelsPace(t *testing.T) {
	srv := slacktest.NewServer(t)
	synctest.Test(t, func(t *testing.T) {
		tr := &failingTriager{}
		opts := Options{StormThreshold: 3, StormWindow: 5 * time.Minute, StormSummaryEvery: 10 * time.Second, OutboxOwner: "replica-a"}
		a, store := outboxService(t, srv, tr, opts)
		pub, err := bot.New(bot.Options{Token: srv.Token, APIURL: srv.URL + "/", HTTPClient: srv.Client()})
		if err != nil {
			t.Fatal(err)
		}
		opts.Store, opts.Publisher, opts.Triager, opts.Outbox, opts.OutboxOwner = store, pub, tr, store, "replica-b"
		b, err := New(opts)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		var done sync.WaitGroup
		for _, svc := range []*Service{a, b} {
			done.Add(1)
			go func() { defer done.Done(); svc.RunOutbox(ctx) }()
		}
		jobs := make(chan oncall.Job)
		var wg sync.WaitGroup
		workers(ctx, t, a, jobs, &wg)
		workers(ctx, t, b, jobs, &wg)
		for i := range 20 {
			jobs <- channelJob(fmt.Sprintf("r%03d", i), "C1")
			time.Sleep(300 * time.Millisecond)
		}
		close(jobs)
		wg.Wait()
		time.Sleep(time.Minute)
		cancel()
		done.Wait()

		if n := srv.RateLimitedCount(); n != 0 {
			t.Errorf("Slack refused %d calls with 429: two replicas sent to one channel at once", n)
		}
		seen := map[string]int{}
		for _, m := range srv.Messages() {
			seen[m.ThreadTS+"\x00"+m.Text]++
		}
		for k, n := range seen {
			if n > 1 {
				t.Errorf("posted %d times: %q", n, k)
			}
		}
		var summaries []string
		for _, m := range srv.Messages() {
			if m.ThreadTS != "" && strings.Contains(m.Text, "joined the storm") {
				summaries = append(summaries, string(m.Blocks))
			}
		}
		for i := 3; i < 20; i++ {
			if c := countText(summaries, fmt.Sprintf("Alertr%03d", i)); c != 1 {
				t.Errorf("Alertr%03d listed %d times in the storm's summaries", i, c)
			}
		}
	})
}
