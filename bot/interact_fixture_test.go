package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/bot/slacktest"
	"github.com/oncall-copilot/oncall-copilot/incident"
	"github.com/oncall-copilot/oncall-copilot/retry"
	"github.com/oncall-copilot/oncall-copilot/store/boltdb"
)

const (
	signingSecret = "8f742231b10e8888abcd99yyyzzz85a5"
	engineer      = "U0ENGINEER"
	engineer2     = "U0SECONDENG"
)

// testClock is a clock tests move by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fakeAnswerer records the questions and answers from a function.
type fakeAnswerer struct {
	mu        sync.Mutex
	questions []Question
	answer    func(Question) (Answer, error)
}

func (f *fakeAnswerer) Answer(_ context.Context, q Question) (Answer, error) {
	f.mu.Lock()
	f.questions = append(f.questions, q)
	fn := f.answer
	f.mu.Unlock()
	if fn != nil {
		return fn(q)
	}
	return Answer{Text: "The *lookup* tool times out: trace=4bf92f3577b34da6a3ce929d0e0e4736.", Model: "gpt-4o-mini", Steps: 3, ToolCalls: 2}, nil
}

func (f *fakeAnswerer) Questions() []Question {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Question(nil), f.questions...)
}

type fakeDigester struct {
	mu       sync.Mutex
	channels []string
	err      error
}

func (f *fakeDigester) PostDigest(_ context.Context, channel string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.channels = append(f.channels, channel)
	return f.err
}

// flakyQueue fails the next Fail enqueues.
type flakyQueue struct {
	*boltdb.Store
	mu   sync.Mutex
	fail int
}

func (q *flakyQueue) Enqueue(ctx context.Context, job oncall.Job) error {
	q.mu.Lock()
	if q.fail > 0 {
		q.fail--
		q.mu.Unlock()
		return errors.New("queue unavailable")
	}
	q.mu.Unlock()
	return q.Store.Enqueue(ctx, job)
}

// noTriage is a triager the handlers never reach: a re-run is queued,
// not run.
type noTriage struct{}

func (noTriage) Triage(context.Context, oncall.TriageRequest) (oncall.Report, error) {
	return oncall.Report{}, errors.New("not triaged in these tests")
}

// harness is the interactive side wired to a fake Slack, a real embedded
// store and a fake answerer, with the HTTP endpoints served.
type harness struct {
	t       *testing.T
	clock   *testClock
	slack   *slacktest.Server
	bot     *Slack
	store   *boltdb.Store
	queue   *flakyQueue
	intake  *Intake
	app     *App
	answers *fakeAnswerer
	digests *fakeDigester
	url     string
	seq     int
}

func newHarness(t *testing.T, edit func(*IntakeOptions, *AppOptions)) *harness {
	t.Helper()
	h := &harness{t: t, clock: &testClock{now: t0.Add(10 * time.Minute)}, slack: slacktest.NewServer(t), answers: &fakeAnswerer{}, digests: &fakeDigester{}}
	st, err := boltdb.Open(boltdb.Options{Path: filepath.Join(t.TempDir(), "oncall.db"), Now: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h.store, h.queue = st, &flakyQueue{Store: st}
	h.bot, err = New(Options{
		Token: slacktest.Token, APIURL: h.slack.URL, Now: h.clock.Now, Redact: testRedact, TraceURL: testTraceURL,
		Sleep: func(context.Context, time.Duration) error { return nil },
		Retry: retry.Policy{Attempts: 2, Sleep: func(context.Context, time.Duration) error { return nil }},
	})
	if err != nil {
		t.Fatal(err)
	}
	io := IntakeOptions{Queue: h.queue, Once: st, SigningSecret: signingSecret, Now: h.clock.Now}
	// The incident lifecycle is the real one: the handlers only word
	// what it does.
	inc, err := incident.New(incident.Options{Store: st, Publisher: h.bot, Triager: noTriage{}, Requeue: h.queue, Now: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ao := AppOptions{
		Slack: h.bot, Store: st, Incidents: inc, Answerer: h.answers, Digester: h.digests,
		BotUserID: slacktest.BotUserID, AllowResponseURL: func(string) bool { return true }, Now: h.clock.Now,
	}
	if edit != nil {
		edit(&io, &ao)
	}
	if h.intake, err = NewIntake(io); err != nil {
		t.Fatal(err)
	}
	if h.app, err = NewApp(ao); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	if err := h.intake.Register(mux); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	h.url = srv.URL
	return h
}

// send posts body to path as Slack does, signed at the clock's time.
func (h *harness) send(path, contentType string, body []byte, header http.Header) *http.Response {
	h.t.Helper()
	ts := strconv.FormatInt(h.clock.Now().Unix(), 10)
	req, err := http.NewRequest(http.MethodPost, h.url+path, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", slacktest.Sign(signingSecret, ts, body))
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (h *harness) sendEvent(body []byte, header http.Header) *http.Response {
	h.t.Helper()
	return h.send("/slack/events", "application/json", body, header)
}

// queued counts the jobs waiting.
func (h *harness) queued() int {
	h.t.Helper()
	st, err := h.store.QueueStats(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return st.Ready
}

// drain runs every queued job through the app, as a worker would, and
// returns them.
func (h *harness) drain() []oncall.Job {
	h.t.Helper()
	var jobs []oncall.Job
	ctx := context.Background()
	for range 50 {
		d, err := h.store.Dequeue(ctx, "test", 0)
		if err != nil {
			h.t.Fatal(err)
		}
		if d == nil {
			return jobs
		}
		jobs = append(jobs, d.Job)
		if IsSlackJob(d.Job.Kind) {
			if err := h.app.Handle(ctx, d.Job); err != nil {
				h.t.Fatalf("handle %s job: %v", d.Job.Kind, err)
			}
		}
		if err := h.store.Ack(ctx, *d); err != nil {
			h.t.Fatal(err)
		}
	}
	h.t.Fatal("the queue does not drain")
	return nil
}

// openIncident stores a triaged incident and posts its parent and report,
// as incident.Service would.
func (h *harness) openIncident() oncall.Incident {
	h.t.Helper()
	ctx := context.Background()
	inc := testIncident()
	inc.Alert.GroupKey = `{}:{alertname="AgentErrorRate"}`
	inc.Alerts = []oncall.Alert{inc.Alert}
	inc.Key = oncall.IncidentKey(inc.Route, inc.Alert.GroupKey)
	inc.OpenedAt = t0.Add(time.Minute)
	inc, _, err := h.store.CreateIncident(ctx, inc)
	if err != nil {
		h.t.Fatal(err)
	}
	_, ts, err := h.bot.PostParent(ctx, inc)
	if err != nil {
		h.t.Fatal(err)
	}
	rep := testReport()
	inc, err = h.store.UpdateIncident(ctx, inc.Key, func(i *oncall.Incident) error {
		i.ThreadTS = ts
		i.TriagedAt = t0.Add(3 * time.Minute)
		i.Headline = "Search tool upstream timeouts."
		i.Report, i.Diagnosis = &rep, rep.Diagnosis
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.bot.PostReport(ctx, inc, rep); err != nil {
		h.t.Fatal(err)
	}
	return inc
}

func (h *harness) incident(key string) oncall.Incident {
	h.t.Helper()
	inc, err := h.store.GetIncident(context.Background(), key)
	if err != nil {
		h.t.Fatal(err)
	}
	return inc
}

// messageEvent is an Events API event_callback as Slack sends it.
func messageEvent(eventID, typ, subtype, user, botID, text, channel, ts, threadTS string) []byte {
	ev := map[string]any{"type": typ, "user": user, "text": text, "ts": ts, "channel": channel, "event_ts": ts, "channel_type": "channel"}
	if subtype != "" {
		ev["subtype"] = subtype
	}
	if botID != "" {
		ev["bot_id"] = botID
	}
	if threadTS != "" {
		ev["thread_ts"] = threadTS
	}
	b, err := json.Marshal(map[string]any{
		"token": "legacy-verification-token", "team_id": slacktest.TeamID, "api_app_id": "A0FAKEAPP", "event": ev,
		"type": "event_callback", "event_id": eventID, "event_time": 1700000000, "event_context": "4-eyJldCI6ImFwcF9tZW50aW9uIn0",
		"authorizations": []map[string]any{{"enterprise_id": nil, "team_id": slacktest.TeamID, "user_id": slacktest.BotUserID, "is_bot": true, "is_enterprise_install": false}},
	})
	if err != nil {
		panic(err)
	}
	return b
}

// blockActions is an interactivity payload for one button or input;
// each call is a new press.
func (h *harness) blockActions(user, channel, messageTS, threadTS, actionID, blockID, value, responseURL string, ephemeral bool) []byte {
	h.seq++
	b, err := json.Marshal(map[string]any{
		"type": "block_actions", "user": map[string]any{"id": user, "username": "eng", "team_id": slacktest.TeamID},
		"api_app_id": "A0FAKEAPP", "token": "legacy", "trigger_id": "1337.42.abcd",
		"team":         map[string]any{"id": slacktest.TeamID, "domain": "acme"},
		"container":    map[string]any{"type": "message", "message_ts": messageTS, "channel_id": channel, "is_ephemeral": ephemeral, "thread_ts": threadTS},
		"channel":      map[string]any{"id": channel, "name": "incidents"},
		"message":      map[string]any{"type": "message", "ts": messageTS, "thread_ts": threadTS, "bot_id": slacktest.BotID, "text": "report"},
		"response_url": responseURL,
		"actions": []map[string]any{{
			"action_id": actionID, "block_id": blockID, "value": value, "type": "button",
			"action_ts": fmt.Sprintf("1700000100.%06d", h.seq),
		}},
	})
	if err != nil {
		panic(err)
	}
	return b
}
