package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/alerts"
	"github.com/oncall-copilot/oncall-copilot/bot"
	"github.com/oncall-copilot/oncall-copilot/bot/slacktest"
	"github.com/oncall-copilot/oncall-copilot/incident"
	"github.com/oncall-copilot/oncall-copilot/internal/testenv"
	"github.com/oncall-copilot/oncall-copilot/redact"
	"github.com/oncall-copilot/oncall-copilot/store/redisdb"
	"github.com/oncall-copilot/oncall-copilot/tracesource/jsonl"
	"github.com/oncall-copilot/oncall-copilot/triage"
	"github.com/oncall-copilot/oncall-copilot/worker"
)

const (
	pipelineRate     = 100 // alerts a second
	pipelineDuration = 10 * time.Second
	exampleAlert     = "../../examples/quickstart/alert.json"
	exampleTraces    = "../../examples/quickstart/traces"
)

func redisURL() string {
	if u := os.Getenv("REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/15"
}

// parentClock records when Slack acknowledged each top-level message, by
// channel: the moment the incident's thread exists.
type parentClock struct {
	next http.RoundTripper
	mu   sync.Mutex
	at   map[string]time.Time
}

func (p *parentClock) RoundTrip(req *http.Request) (*http.Response, error) {
	if !strings.HasSuffix(req.URL.Path, "/chat.postMessage") || req.Body == nil {
		return p.next.RoundTrip(req)
	}
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	resp, err := p.next.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusOK {
		vals, _ := url.ParseQuery(string(body))
		if vals.Get("thread_ts") == "" && vals.Get("channel") != "" {
			p.mu.Lock()
			if _, ok := p.at[vals.Get("channel")]; !ok {
				p.at[vals.Get("channel")] = time.Now()
			}
			p.mu.Unlock()
		}
	}
	return resp, err
}

func (p *parentClock) get(channel string) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.at[channel]
	return t, ok
}

// channelPerAlert routes each bench alert to a channel of its own, so a
// parent message is told apart by its channel.
type channelPerAlert struct{}

func (channelPerAlert) Route(a oncall.Alert) []alerts.Destination {
	return []alerts.Destination{{Route: "bench", Channel: "CB" + a.Labels["bench_id"]}}
}

func channelOf(i int) string { return fmt.Sprintf("CB%d", i) }

// newSlack is a publisher on a fake Slack whose parents are clocked. The
// per-channel pacing that keeps real Slack (about a message a second per
// channel) happy is cut to a millisecond: the fake has no limit, and
// what is measured is the copilot.
func newSlack(b *testing.B, red *redact.Redactor) (*bot.Slack, *parentClock) {
	fake := slacktest.NewServer(b)
	clock := &parentClock{next: http.DefaultTransport, at: map[string]time.Time{}}
	slack, err := bot.New(bot.Options{Token: slacktest.Token, APIURL: fake.URL + "/", HTTPClient: &http.Client{Transport: clock, Timeout: 30 * time.Second},
		MinInterval: time.Millisecond, Redact: red.String, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	return slack, clock
}

// drive posts rate alerts a second for d to url. Alert k belongs to
// group(k): the first alert of a group opens its incident, the others are
// re-sends of it. It returns how long after its webhook was due each new
// group's parent message was acknowledged, and how many groups got none
// within a wait.
func drive(b *testing.B, url string, clock *parentClock, first, rate int, d time.Duration, group func(k int) int) (lat []time.Duration, lost int) {
	body, err := alertBodies(exampleAlert)
	if err != nil {
		b.Fatal(err)
	}
	post := jsonPost(url, benchToken, body)
	c := newClient(64)
	n := int(float64(rate) * d.Seconds())
	opened := map[int]time.Time{}
	start := time.Now()
	var wg sync.WaitGroup
	for k := range n {
		due := start.Add(time.Duration(k) * time.Second / time.Duration(rate))
		g := first + group(k)
		if _, ok := opened[g]; !ok {
			opened[g] = due
		}
		time.Sleep(time.Until(due))
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !do(c, post, g, http.StatusAccepted) {
				b.Errorf("alert %d of group %d was not accepted", first+k, g)
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for g, due := range opened {
		for {
			if at, ok := clock.get(channelOf(g)); ok {
				lat = append(lat, at.Sub(due))
				break
			}
			if time.Now().After(deadline) {
				lost++
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return lat, lost
}

// everyAlertNew puts every alert in a group of its own.
func everyAlertNew(k int) int { return k }

// oneInTen opens a new group with every tenth alert; the nine after it
// are re-sends of that group, as Alertmanager repeats a group's
// notification while new alerts join it.
func oneInTen(k int) int { return k - k%10 }

// selfCPU is the CPU time this process has used so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func report(b *testing.B, lat []time.Duration, lost int) {
	b.ReportMetric(float64(quantile(lat, 0.5))/float64(time.Millisecond), "p50-ms")
	b.ReportMetric(float64(quantile(lat, 0.99))/float64(time.Millisecond), "p99-ms")
	b.ReportMetric(float64(quantile(lat, 1))/float64(time.Millisecond), "max-ms")
	b.ReportMetric(float64(lost), "lost")
}

// pipeline is the real intake queueing into Redis, four workers (serve's
// default) opening incidents in Redis, posting parents to a fake Slack on
// loopback and triaging the example traces offline. It returns the
// webhook URL and the parent clock; it stops when the benchmark ends.
func pipeline(b *testing.B) (string, *parentClock) {
	ctx := b.Context()
	ropts, err := redis.ParseURL(redisURL())
	if err != nil {
		b.Fatal(err)
	}
	rdb := redis.NewClient(ropts)
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		testenv.Missing(b, os.Getenv, "redis at %s unreachable: %v", ropts.Addr, err)
	}
	prefix := randomPrefix("pipeline")
	store, err := redisdb.Open(ctx, redisdb.Options{URL: redisURL(), Prefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	red, err := redact.New(redact.Options{})
	if err != nil {
		b.Fatal(err)
	}
	src, err := jsonl.New(jsonl.Options{Path: exampleTraces})
	if err != nil {
		b.Fatal(err)
	}
	tri, err := triage.NewService(triage.ServiceOptions{Sources: map[string]triage.TraceSource{"jsonl": src}, Redactor: red, ModelName: "gpt-4o-mini",
		LabelMap: map[string]string{"service": "service.name", "agent": "gen_ai.agent.name"}})
	if err != nil {
		b.Fatal(err)
	}
	slack, clock := newSlack(b, red)
	inc, err := incident.New(incident.Options{Store: store, Publisher: slack, Triager: tri})
	if err != nil {
		b.Fatal(err)
	}
	pool, err := worker.New(worker.Options{Queue: store, Handler: inc.Handle, Workers: 4, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	intake, err := alerts.NewHandler(alerts.Options{Queue: store, Router: channelPerAlert{}, Token: benchToken, Deduper: store})
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	intake.Register(mux)
	sctx, stop := context.WithCancel(context.Background())
	addr, err := serve(sctx, mux)
	if err != nil {
		b.Fatal(err)
	}
	poolDone := make(chan error)
	go func() { poolDone <- pool.Run(sctx) }()
	b.Cleanup(func() {
		stop()
		<-poolDone
		store.Close()
		_ = dropKeys(context.Background(), rdb, prefix)
		rdb.Close()
	})

	// One alert first: the first triage loads the tokenizer tables.
	url := addr + "/webhooks/alertmanager"
	if _, lost := drive(b, url, clock, 0, 1, time.Second, everyAlertNew); lost > 0 {
		b.Fatal("the warm-up alert got no parent message")
	}
	return url, clock
}

// benchParents drives the pipeline at pipelineRate for pipelineDuration
// per iteration and reports the parent latencies of the new groups.
func benchParents(b *testing.B, url string, clock *parentClock, group func(int) int) {
	next := 1
	var lat []time.Duration
	lost, sent := 0, 0
	cpu0 := selfCPU()
	for b.Loop() {
		l, n := drive(b, url, clock, next, pipelineRate, pipelineDuration, group)
		next += pipelineRate * int(pipelineDuration.Seconds())
		sent += pipelineRate * int(pipelineDuration.Seconds())
		lat, lost = append(lat, l...), lost+n
	}
	report(b, lat, lost)
	// Everything in this process, load generator and fake Slack included;
	// the work still queued when the wait ended is not in it.
	b.ReportMetric(float64(selfCPU()-cpu0)/float64(time.Millisecond)/float64(sent), "cpu-ms/alert")
}

// BenchmarkWebhookToSlackParent sends 100 alerts a second through the
// pipeline, one in ten opening a new group (an alert storm as
// Alertmanager delivers it: new groups, and repeats of groups already
// open). Reported: how long after its first webhook was due each new
// group's parent message was acknowledged by Slack.
func BenchmarkWebhookToSlackParent(b *testing.B) {
	url, clock := pipeline(b)
	benchParents(b, url, clock, oneInTen)
}

// BenchmarkWebhookToSlackParentAllNew is the worst case: 100 alerts a
// second, every one a new group, so every one is triaged.
func BenchmarkWebhookToSlackParentAllNew(b *testing.B) {
	url, clock := pipeline(b)
	benchParents(b, url, clock, everyAlertNew)
}

// BenchmarkWebhookToSlackParentBaseline is the yardstick: a handler that
// decodes each webhook and posts the parent message to the same fake
// Slack before answering, with no queue, store or worker between them.
func BenchmarkWebhookToSlackParentBaseline(b *testing.B) {
	red, err := redact.New(redact.Options{})
	if err != nil {
		b.Fatal(err)
	}
	slack, clock := newSlack(b, red)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		n, err := alerts.DecodeAlertmanager(body, time.Now())
		if err != nil {
			http.Error(w, "invalid", http.StatusBadRequest)
			return
		}
		a := n.Alerts[0]
		inc := oncall.Incident{Key: oncall.IncidentKey("bench", n.GroupKey), Status: oncall.IncidentOpen, Alert: a, Alerts: n.Alerts,
			Channel: "CB" + a.Labels["bench_id"], OpenedAt: time.Now()}
		if _, _, err := slack.PostParent(r.Context(), inc); err != nil {
			http.Error(w, "slack failed", http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	sctx, stop := context.WithCancel(b.Context())
	defer stop()
	addr, err := serve(sctx, h)
	if err != nil {
		b.Fatal(err)
	}
	drive(b, addr, clock, 0, 1, time.Second, everyAlertNew)
	benchParents(b, addr, clock, everyAlertNew)
}
