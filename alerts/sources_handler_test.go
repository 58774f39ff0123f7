package alerts

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/store/boltdb"
)

var handlerNow = time.Date(2026, 11, 23, 10, 1, 0, 0, time.UTC)

func openStore(t *testing.T) *boltdb.Store {
	t.Helper()
	s, err := boltdb.Open(boltdb.Options{Path: filepath.Join(t.TempDir(), "oncall.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newHandlerWith builds a handler on a real store, with the test token for
// every source, then lets the test adjust the options.
func newHandlerWith(t *testing.T, adjust func(*Options)) (*Handler, *boltdb.Store) {
	t.Helper()
	store := openStore(t)
	opts := Options{
		Queue:  store,
		Router: DefaultRoute{Channel: "C123"},
		Token:  token,
		Now:    func() time.Time { return handlerNow },
	}
	if adjust != nil {
		adjust(&opts)
	}
	h, err := NewHandler(opts)
	if err != nil {
		t.Fatal(err)
	}
	return h, store
}

func drain(t *testing.T, s *boltdb.Store) []oncall.Job {
	t.Helper()
	var jobs []oncall.Job
	for {
		d, err := s.Dequeue(context.Background(), "test", time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if d == nil {
			return jobs
		}
		jobs = append(jobs, d.Job)
	}
}

func sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

func TestEverySourceIsQueued(t *testing.T) {
	tests := []struct {
		source, file string
		wantCode     int
		wantJobs     int
		wantStatus   oncall.AlertStatus
	}{
		{"grafana", "grafana-firing.json", 202, 1, oncall.AlertFiring},
		{"grafana", "grafana-resolved.json", 202, 1, oncall.AlertResolved},
		{"pagerduty", "pagerduty-triggered.json", 202, 1, oncall.AlertFiring},
		{"pagerduty", "pagerduty-resolved.json", 202, 1, oncall.AlertResolved},
		{"pagerduty", "pagerduty-annotated.json", 200, 0, ""},
		{"pagerduty", "pagerduty-ping.json", 200, 0, ""},
		{"langsmith", "langsmith-latency.json", 202, 1, oncall.AlertFiring},
		{"generic", "generic-datadog.json", 202, 1, oncall.AlertFiring},
		{"generic", "generic-newrelic-workflow-closed.json", 202, 1, oncall.AlertResolved},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			h, store := newHandlerWith(t, nil)
			rec := post(t, h, tt.source, string(readTestdata(t, tt.file)), goodHeader())
			if rec.Code != tt.wantCode {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			jobs := drain(t, store)
			if len(jobs) != tt.wantJobs {
				t.Fatalf("%d jobs, want %d", len(jobs), tt.wantJobs)
			}
			if tt.wantJobs == 0 {
				if !strings.Contains(rec.Body.String(), `"ignored"`) {
					t.Errorf("body %s does not say ignored", rec.Body)
				}
				return
			}
			j := jobs[0]
			a := j.Alerts[0]
			if a.Source != tt.source || a.Status != tt.wantStatus || j.GroupKey == "" || a.GroupKey != j.GroupKey || j.Route != "default" || j.Channel != "C123" {
				t.Errorf("job %+v", j)
			}
			var resp struct {
				JobID  string   `json:"job_id"`
				JobIDs []string `json:"job_ids"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || resp.JobID != j.ID || len(resp.JobIDs) != 1 {
				t.Errorf("response %s for job %s", rec.Body, j.ID)
			}
		})
	}
}

func TestBadSourceWebhooksAreRejected(t *testing.T) {
	tests := []struct {
		source, body, wantField string
	}{
		{"grafana", `{"status":"firing","alerts":[{"status":"firing","labels":{"a":"b"},"startsAt":"noon"}]}`, "alerts[0].startsAt"},
		{"pagerduty", `{"event":{"id":"E1","event_type":"incident.triggered","data":{"type":"incident"}}}`, "event.data.id"},
		{"langsmith", `{"project_name":"p"}`, "alert_rule_id"},
		{"generic", `{"title":"x","state":"smouldering"}`, "state"},
		{"generic", `{"title":`, ""},
		{"generic", `{}`, "title"},
		{"generic", `{"title":"x"}`, "status"},
		{"generic", `{"title":["x"],"status":"firing"}`, "title"},
		{"generic", `{"title":"x","status":"firing","labels":"env:prod","tags":true}`, "tags"},
	}
	for _, tt := range tests {
		t.Run(tt.source+" "+tt.wantField, func(t *testing.T) {
			h, store := newHandlerWith(t, nil)
			rec := post(t, h, tt.source, tt.body, goodHeader())
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			var e apiError
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Field != tt.wantField || e.Error == "" {
				t.Errorf("error body %s, want field %q", rec.Body, tt.wantField)
			}
			if n := queued(t, store); n != 0 {
				t.Errorf("%d jobs queued", n)
			}
		})
	}
}

func pdHeader(sig string) http.Header {
	h := http.Header{"Content-Type": {"application/json"}}
	if sig != "" {
		h.Set("X-PagerDuty-Signature", sig)
	}
	return h
}

func TestPagerDutySignature(t *testing.T) {
	body := readTestdata(t, "pagerduty-triggered.json")
	tampered := strings.Replace(string(body), "Agent run failures", "Agent run successes", 1)
	tests := []struct {
		name     string
		body     string
		header   http.Header
		wantCode int
	}{
		{"current secret", string(body), pdHeader("v1=" + sign("new-secret", body)), 202},
		{"rotation: several signatures, one valid", string(body), pdHeader("v1=" + sign("retired", body) + ",v1=" + sign("old-secret", body)), 202},
		{"rotation: spaces after commas", string(body), pdHeader("v1=" + sign("retired", body) + ", v1=" + sign("new-secret", body)), 202},
		{"upper-case hex", string(body), pdHeader("v1=" + strings.ToUpper(sign("new-secret", body))), 202},
		{"unknown secret", string(body), pdHeader("v1=" + sign("retired", body)), 401},
		{"tampered body", tampered, pdHeader("v1=" + sign("new-secret", body)), 401},
		{"no signature", string(body), pdHeader(""), 401},
		{"garbage signature", string(body), pdHeader("v1=zz,v1="), 401},
		{"bearer token instead of signature", string(body), func() http.Header { h := pdHeader(""); h.Set("Authorization", "Bearer "+token); return h }(), 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, store := newHandlerWith(t, func(o *Options) {
				o.Sources = map[string]SourceAuth{"pagerduty": {HMACSecrets: []string{"old-secret", "new-secret"}}}
			})
			rec := post(t, h, "pagerduty", tt.body, tt.header)
			if rec.Code != tt.wantCode {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.wantCode, rec.Body)
			}
			wantJobs := 0
			if tt.wantCode == 202 {
				wantJobs = 1
			} else if !strings.Contains(rec.Body.String(), "X-PagerDuty-Signature") {
				t.Errorf("401 body does not name the signature header: %s", rec.Body)
			}
			if n := queued(t, store); n != wantJobs {
				t.Errorf("%d jobs queued, want %d", n, wantJobs)
			}
		})
	}
}

func TestGrafanaTimestampedSignature(t *testing.T) {
	body := readTestdata(t, "grafana-firing.json")
	signed := func(ts int64) http.Header {
		stamp := strconv.FormatInt(ts, 10)
		msg := append([]byte(stamp+":"), body...)
		return http.Header{
			"Content-Type":                           {"application/json"},
			"X-Grafana-Alerting-Signature":           {sign("g-secret", msg)},
			"X-Grafana-Alerting-Signature-Timestamp": {stamp},
		}
	}
	tests := []struct {
		name     string
		header   http.Header
		wantCode int
	}{
		{"fresh", signed(handlerNow.Unix() - 10), 202},
		{"older than the limit", signed(handlerNow.Add(-MaxSignatureAge - time.Second).Unix()), 401},
		{"from the future", signed(handlerNow.Add(MaxSignatureAge + time.Second).Unix()), 401},
		{"body-only signature", http.Header{"Content-Type": {"application/json"}, "X-Grafana-Alerting-Signature": {sign("g-secret", body)}}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, store := newHandlerWith(t, func(o *Options) {
				o.Sources = map[string]SourceAuth{"grafana": {HMACSecrets: []string{"g-secret"}, HMACTimestampHeader: "X-Grafana-Alerting-Signature-Timestamp"}}
			})
			rec := post(t, h, "grafana", string(body), tt.header)
			if rec.Code != tt.wantCode {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.wantCode, rec.Body)
			}
			if tt.wantCode != 202 && queued(t, store) != 0 {
				t.Error("a rejected webhook was queued")
			}
		})
	}
}

func TestPerSourceToken(t *testing.T) {
	h, store := newHandlerWith(t, func(o *Options) {
		o.Sources = map[string]SourceAuth{"langsmith": {Token: "ls-token"}}
	})
	body := string(readTestdata(t, "langsmith-latency.json"))
	if rec := post(t, h, "langsmith", body, goodHeader()); rec.Code != http.StatusUnauthorized {
		t.Errorf("global token on langsmith: status %d", rec.Code)
	}
	own := goodHeader()
	own.Set("Authorization", "Bearer ls-token")
	if rec := post(t, h, "langsmith", body, own); rec.Code != http.StatusAccepted {
		t.Errorf("langsmith token: status %d %s", rec.Code, rec.Body)
	}
	if rec := post(t, h, "generic", string(readTestdata(t, "generic-datadog.json")), goodHeader()); rec.Code != http.StatusAccepted {
		t.Errorf("global token on generic: status %d", rec.Code)
	}
	if n := queued(t, store); n != 2 {
		t.Errorf("%d jobs queued, want 2", n)
	}
}

func TestPagerDutyReplayIsIdempotent(t *testing.T) {
	dedupe := openStore(t)
	h, store := newHandlerWith(t, func(o *Options) { o.Deduper = dedupe })
	triggered := string(readTestdata(t, "pagerduty-triggered.json"))

	first := post(t, h, "pagerduty", triggered, goodHeader())
	if first.Code != http.StatusAccepted {
		t.Fatalf("first delivery: %d %s", first.Code, first.Body)
	}
	replay := post(t, h, "pagerduty", triggered, goodHeader())
	if replay.Code != http.StatusOK || !strings.Contains(replay.Body.String(), `"duplicate"`) {
		t.Fatalf("replay: %d %s", replay.Code, replay.Body)
	}
	// A new event about the same incident is not a replay.
	ack := post(t, h, "pagerduty", string(readTestdata(t, "pagerduty-acknowledged.json")), goodHeader())
	if ack.Code != http.StatusAccepted {
		t.Fatalf("acknowledged event: %d %s", ack.Code, ack.Body)
	}
	jobs := drain(t, store)
	if len(jobs) != 2 {
		t.Fatalf("%d jobs, want 2 (triggered, acknowledged)", len(jobs))
	}
	if jobs[1].Alerts[0].Labels["pagerduty_status"] != "acknowledged" || jobs[0].GroupKey != jobs[1].GroupKey {
		t.Errorf("jobs %+v", jobs)
	}
}

func TestReplayAfterFailedEnqueueIsProcessed(t *testing.T) {
	dedupe := openStore(t)
	broken, err := boltdb.Open(boltdb.Options{Path: filepath.Join(t.TempDir(), "broken.db")})
	if err != nil {
		t.Fatal(err)
	}
	broken.Close() // every enqueue now fails
	body := string(readTestdata(t, "pagerduty-triggered.json"))

	h1, _ := newHandlerWith(t, func(o *Options) { o.Queue = broken; o.Deduper = dedupe })
	rec := post(t, h1, "pagerduty", body, goodHeader())
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("failed enqueue: %d %s", rec.Code, rec.Body)
	}

	// PagerDuty retries the same event once the queue is back.
	h2, store := newHandlerWith(t, func(o *Options) { o.Deduper = dedupe })
	rec = post(t, h2, "pagerduty", body, goodHeader())
	if rec.Code != http.StatusAccepted {
		t.Fatalf("retry after failure: %d %s (the dedupe key was not forgotten)", rec.Code, rec.Body)
	}
	if n := queued(t, store); n != 1 {
		t.Errorf("%d jobs queued, want 1", n)
	}
}

func TestNotificationIsEnqueuedOncePerMatchingRoute(t *testing.T) {
	table, err := NewRouteTable(Routes{
		{Name: "audit", Matchers: []string{`service="support-agent"`}, Continue: true, Channel: "C-audit", Model: boolPtr(false)},
		{Name: "agents", Matchers: []string{`severity=~"warning|critical"`}, Channel: "C-agents", TraceSource: "phoenix", Window: 10 * time.Minute},
	}, "C-default")
	if err != nil {
		t.Fatal(err)
	}
	h, store := newHandlerWith(t, func(o *Options) { o.Router = table })
	rec := post(t, h, "grafana", string(readTestdata(t, "grafana-firing.json")), goodHeader())
	if rec.Code != http.StatusAccepted {
		t.Fatalf("status %d %s", rec.Code, rec.Body)
	}
	jobs := drain(t, store)
	if len(jobs) != 2 {
		t.Fatalf("%d jobs, want one per matching route", len(jobs))
	}
	got := map[string]oncall.Job{}
	for _, j := range jobs {
		got[j.Route] = j
	}
	audit, agents := got["audit"], got["agents"]
	if audit.Channel != "C-audit" || string(audit.Payload) != `{"model":false}` {
		t.Errorf("audit job: channel %q payload %s", audit.Channel, audit.Payload)
	}
	if agents.Channel != "C-agents" || string(agents.Payload) != `{"trace_source":"phoenix","window_ns":600000000000}` {
		t.Errorf("agents job: channel %q payload %s", agents.Channel, agents.Payload)
	}
	if audit.GroupKey != agents.GroupKey || audit.ID == agents.ID {
		t.Errorf("jobs share a group but not an id: %q %q / %q %q", audit.GroupKey, agents.GroupKey, audit.ID, agents.ID)
	}
	if oncall.IncidentKey(audit.Route, audit.GroupKey) == oncall.IncidentKey(agents.Route, agents.GroupKey) {
		t.Error("two routes must make two incidents")
	}
}

type dropAll struct{}

func (dropAll) Route(oncall.Alert) []Destination { return nil }

func TestNoDestinationIsAcknowledgedWithoutJob(t *testing.T) {
	h, store := newHandlerWith(t, func(o *Options) { o.Router = dropAll{} })
	rec := post(t, h, "grafana", string(readTestdata(t, "grafana-firing.json")), goodHeader())
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "no route") {
		t.Fatalf("status %d %s", rec.Code, rec.Body)
	}
	if n := queued(t, store); n != 0 {
		t.Errorf("%d jobs queued", n)
	}
}

func TestNewHandlerChecksSourceAuth(t *testing.T) {
	store := openStore(t)
	base := func() Options { return Options{Queue: store, Router: DefaultRoute{}} }
	onlyPagerDuty := map[string]SourceAuth{"pagerduty": {HMACSecrets: []string{"s"}}}
	for _, name := range []string{"alertmanager", "grafana", "langsmith", "generic"} {
		onlyPagerDuty[name] = SourceAuth{Disabled: true}
	}
	tests := []struct {
		name    string
		opts    func() Options
		wantErr string
	}{
		{"no auth anywhere", base, "no authentication for alertmanager, grafana, pagerduty, langsmith, generic"},
		{"hmac on one source leaves the others open", func() Options {
			o := base()
			o.Sources = map[string]SourceAuth{"pagerduty": {HMACSecrets: []string{"s"}}}
			return o
		}, "no authentication for alertmanager, grafana, langsmith, generic"},
		{"only pagerduty served", func() Options { o := base(); o.Sources = onlyPagerDuty; return o }, ""},
		{"unknown source", func() Options {
			o := base()
			o.Token = "t"
			o.Sources = map[string]SourceAuth{"pagerdooty": {Token: "x"}}
			return o
		}, `unknown source "pagerdooty"`},
		{"empty secret", func() Options {
			o := base()
			o.Token = "t"
			o.Sources = map[string]SourceAuth{"pagerduty": {HMACSecrets: []string{"a", ""}}}
			return o
		}, "HMAC secret 1 is empty"},
		{"bad generic mapping", func() Options {
			o := base()
			o.Token = "t"
			o.Generic = &GenericMapping{Title: Paths{"a..b"}}
			return o
		}, "generic mapping title[0]"},
		{"no auth allowed explicitly", func() Options { o := base(); o.AllowNoAuth = true; return o }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewHandler(tt.opts())
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}

	h, err := NewHandler(Options{Queue: store, Router: DefaultRoute{}, Sources: onlyPagerDuty})
	if err != nil {
		t.Fatal(err)
	}
	if rec := post(t, h, "alertmanager", string(readTestdata(t, "alertmanager-firing.json")), goodHeader()); rec.Code != http.StatusNotFound {
		t.Errorf("disabled source answered %d", rec.Code)
	}
}

func TestSourceAuthNeverPrintsSecrets(t *testing.T) {
	a := SourceAuth{Token: "tok-123", HMACSecrets: []string{"sec-456"}}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(format, a)
		if strings.Contains(out, "tok-123") || strings.Contains(out, "sec-456") {
			t.Errorf("%s printed a secret: %s", format, out)
		}
	}
	m := map[string]SourceAuth{"pagerduty": a}
	if out := fmt.Sprintf("%+v", m); strings.Contains(out, "sec-456") {
		t.Errorf("map printed a secret: %s", out)
	}
}

// batchQueue queues a delivery's jobs in one call, as store/redisdb does,
// or fails every call when broken; Enqueue of a single job is refused so
// that a test sees which path the handler took.
type batchQueue struct {
	calls  [][]oncall.Job
	broken bool
}

func (q *batchQueue) Enqueue(context.Context, oncall.Job) error {
	return errors.New("batch queue: use EnqueueAll for several jobs")
}

func (q *batchQueue) EnqueueAll(_ context.Context, jobs []oncall.Job) error {
	if q.broken {
		return errors.New("connection refused")
	}
	q.calls = append(q.calls, jobs)
	return nil
}

func TestSeveralRoutesAreQueuedInOneStep(t *testing.T) {
	table, err := NewRouteTable(Routes{
		{Name: "audit", Matchers: []string{`service="support-agent"`}, Continue: true, Channel: "C-audit"},
		{Name: "agents", Matchers: []string{`severity=~"warning|critical"`}, Channel: "C-agents"},
	}, "C-default")
	if err != nil {
		t.Fatal(err)
	}
	body := string(readTestdata(t, "grafana-firing.json"))
	q := &batchQueue{}
	h, _ := newHandlerWith(t, func(o *Options) { o.Router = table; o.Queue = q })
	rec := post(t, h, "grafana", body, goodHeader())
	if rec.Code != http.StatusAccepted || len(q.calls) != 1 || len(q.calls[0]) != 2 {
		t.Fatalf("status %d %s; EnqueueAll calls %v, want one of two jobs", rec.Code, rec.Body, q.calls)
	}
	for _, j := range q.calls[0] {
		if !strings.Contains(rec.Body.String(), j.ID) {
			t.Errorf("answer %s does not name job %s", rec.Body, j.ID)
		}
	}

	broken := &batchQueue{broken: true}
	h, _ = newHandlerWith(t, func(o *Options) { o.Router = table; o.Queue = broken })
	if rec := post(t, h, "grafana", body, goodHeader()); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("a failed EnqueueAll answered %d %s, want 503", rec.Code, rec.Body)
	}
}
