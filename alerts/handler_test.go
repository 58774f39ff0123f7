package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/redact"
	"github.com/oncall-copilot/oncall-copilot/store/boltdb"
)

const token = "test-webhook-token"

func newTestHandler(t *testing.T) (*Handler, *boltdb.Store) {
	t.Helper()
	store, err := boltdb.Open(boltdb.Options{Path: filepath.Join(t.TempDir(), "oncall.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	h, err := NewHandler(Options{
		Queue:  store,
		Router: DefaultRoute{Channel: "C123"},
		Token:  token,
		Now:    func() time.Time { return time.Date(2026, 11, 23, 10, 1, 0, 0, time.UTC) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return h, store
}

func post(t *testing.T, h *Handler, source, body string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	mux := http.NewServeMux()
	h.Register(mux)
	req := httptest.NewRequest(http.MethodPost, "/webhooks/"+source, strings.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	return rec
}

func goodHeader() http.Header {
	return http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + token}}
}

func queued(t *testing.T, s *boltdb.Store) int {
	t.Helper()
	st, err := s.QueueStats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.Ready + st.Delayed + st.InFlight
}

func TestAlertmanagerWebhookIsQueued(t *testing.T) {
	h, store := newTestHandler(t)
	body, err := os.ReadFile("testdata/alertmanager-firing.json")
	if err != nil {
		t.Fatal(err)
	}
	rec := post(t, h, "alertmanager", string(body), goodHeader())
	if rec.Code != http.StatusAccepted {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	d, err := store.Dequeue(context.Background(), "test", time.Second)
	if err != nil || d == nil {
		t.Fatalf("dequeue: %v %v", d, err)
	}
	job := d.Job
	if job.Kind != oncall.JobAlert || job.Channel != "C123" || job.Route != "default" || len(job.Alerts) != 1 {
		t.Fatalf("job = %+v", job)
	}
	a := job.Alerts[0]
	if a.Name != "AgentErrorRateHigh" || a.Severity != "critical" || a.Fingerprint != "c4f1a8d2e9b07f31" || a.GroupKey != job.GroupKey {
		t.Errorf("alert = %+v", a)
	}
	if !a.EndsAt.IsZero() {
		t.Errorf("Alertmanager's zero endsAt should decode as no end, got %v", a.EndsAt)
	}
	if len(a.TraceIDs) != 1 || a.TraceIDs[0] != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("trace ids from annotations = %v", a.TraceIDs)
	}
	if a.SourceURL != "http://alertmanager.example:9093" || a.Labels["environment"] != "prod" {
		t.Errorf("source url / labels: %+v", a)
	}
}

func TestBadWebhooksAreRejectedAndNothingQueued(t *testing.T) {
	good, _ := os.ReadFile("testdata/alertmanager-firing.json")
	noAuth := goodHeader()
	noAuth.Del("Authorization")
	wrongAuth := goodHeader()
	wrongAuth.Set("Authorization", "Bearer nope")
	textType := goodHeader()
	textType.Set("Content-Type", "text/plain")
	tests := []struct {
		name      string
		source    string
		body      string
		header    http.Header
		wantCode  int
		wantField string
		wantText  string
	}{
		{"missing token", "alertmanager", string(good), noAuth, 401, "", "bearer token"},
		{"wrong token", "alertmanager", string(good), wrongAuth, 401, "", "bearer token"},
		{"wrong content type", "alertmanager", string(good), textType, 415, "", "application/json"},
		{"malformed JSON", "alertmanager", `{"status": "firing", "alerts": [`, goodHeader(), 400, "", "malformed JSON"},
		{"wrong type", "alertmanager", `{"status": "firing", "alerts": {}}`, goodHeader(), 400, "alerts", "must be"},
		{"no alerts", "alertmanager", `{"version":"4","status":"firing","alerts":[]}`, goodHeader(), 400, "alerts", "at least one"},
		{"bad status", "alertmanager", `{"version":"4","status":"burning","alerts":[{"status":"firing","labels":{"a":"b"},"startsAt":"2026-11-23T10:00:00Z"}]}`, goodHeader(), 400, "status", "firing or resolved"},
		{"missing startsAt", "alertmanager", `{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"a":"b"}}]}`, goodHeader(), 400, "alerts[0].startsAt", "RFC 3339"},
		{"bad endsAt of the second alert", "alertmanager", `{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"a":"b"},"startsAt":"2026-11-23T10:00:00Z"},{"status":"firing","labels":{"a":"c"},"startsAt":"2026-11-23T10:00:00Z","endsAt":"later"}]}`, goodHeader(), 400, "alerts[1].endsAt", "RFC 3339"},
		{"bad status of the second alert", "alertmanager", `{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"a":"b"},"startsAt":"2026-11-23T10:00:00Z"},{"status":"pending","labels":{"a":"c"},"startsAt":"2026-11-23T10:00:00Z"}]}`, goodHeader(), 400, "alerts[1].status", "firing or resolved"},
		{"empty labels", "alertmanager", `{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{},"startsAt":"2026-11-23T10:00:00Z"}]}`, goodHeader(), 400, "alerts[0].labels", "empty"},
		{"wrong version", "alertmanager", `{"version":"3","status":"firing","alerts":[{"status":"firing","labels":{"a":"b"},"startsAt":"2026-11-23T10:00:00Z"}]}`, goodHeader(), 400, "version", "unsupported"},
		{"too large", "alertmanager", `{"x":"` + strings.Repeat("a", MaxBody) + `"}`, goodHeader(), 413, "", "larger than"},
		{"unknown source", "nagios", string(good), goodHeader(), 404, "", "unknown alert source"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, store := newTestHandler(t)
			rec := post(t, h, tt.source, tt.body, tt.header)
			if rec.Code != tt.wantCode {
				t.Fatalf("status = %d, want %d: %s", rec.Code, tt.wantCode, rec.Body)
			}
			var e apiError
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
				t.Fatalf("error body is not JSON: %s", rec.Body)
			}
			if e.Field != tt.wantField || !strings.Contains(e.Error, tt.wantText) {
				t.Errorf("error = %+v, want field %q and text %q", e, tt.wantField, tt.wantText)
			}
			if n := queued(t, store); n != 0 {
				t.Errorf("%d jobs queued for a rejected webhook", n)
			}
		})
	}
}

func TestMissingFingerprintIsDerivedStably(t *testing.T) {
	body := `{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"X","agent":"a"},"startsAt":"2026-11-23T10:00:00Z"}]}`
	n1, err := DecodeAlertmanager([]byte(body), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	n2, _ := DecodeAlertmanager([]byte(body), time.Now())
	if n1.Alerts[0].Fingerprint == "" || n1.Alerts[0].Fingerprint != n2.Alerts[0].Fingerprint {
		t.Fatalf("fingerprints %q %q", n1.Alerts[0].Fingerprint, n2.Alerts[0].Fingerprint)
	}
	if n1.GroupKey == "" || n1.GroupKey != n2.GroupKey {
		t.Fatalf("group keys %q %q", n1.GroupKey, n2.GroupKey)
	}
}

func TestNoTokenRefusedUnlessAllowed(t *testing.T) {
	store, err := boltdb.Open(boltdb.Options{Path: filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := NewHandler(Options{Queue: store, Router: DefaultRoute{}}); err == nil {
		t.Fatal("a handler without a token must be refused")
	}
	h, err := NewHandler(Options{Queue: store, Router: DefaultRoute{}, AllowNoAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := os.ReadFile("testdata/alertmanager-firing.json")
	hdr := goodHeader()
	hdr.Del("Authorization")
	if rec := post(t, h, "alertmanager", string(body), hdr); rec.Code != http.StatusAccepted {
		t.Fatalf("status %d", rec.Code)
	}
}

// The accepted line, logged through the redacting handler as serve logs,
// names the job the answer names, its route and the status: values the
// product made, which the redactor is spared.
func TestAcceptedLogLine(t *testing.T) {
	store, err := boltdb.Open(boltdb.Options{Path: filepath.Join(t.TempDir(), "oncall.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	red, err := redact.New(redact.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	h, err := NewHandler(Options{Queue: store, Router: DefaultRoute{Channel: "C123"}, Token: token,
		Logger: slog.New(redact.LogHandler(slog.NewJSONHandler(&logs, nil), red))})
	if err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile("testdata/alertmanager-firing.json")
	if err != nil {
		t.Fatal(err)
	}
	rec := post(t, h, "alertmanager", string(body), goodHeader())
	var answer struct {
		JobID string `json:"job_id"`
	}
	if rec.Code != http.StatusAccepted || json.Unmarshal(rec.Body.Bytes(), &answer) != nil {
		t.Fatalf("answer %d %s", rec.Code, rec.Body)
	}
	var line struct {
		Msg, Job, Route, Status string
		Alerts                  int
	}
	if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
		t.Fatalf("log %s: %v", logs.String(), err)
	}
	if line.Msg != "alert accepted" || line.Job != answer.JobID || line.Route != DefaultRouteName || line.Status != "firing" || line.Alerts < 1 {
		t.Errorf("accepted line %+v for job %s: %s", line, answer.JobID, logs.String())
	}
}
