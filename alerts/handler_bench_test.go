package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/redact"
)

// encodingQueue stands for a queue that stores jobs as JSON, as the Redis
// and bbolt stores do, without the network.
type encodingQueue struct{ n int }

func (q *encodingQueue) Enqueue(_ context.Context, job oncall.Job) error {
	b, err := json.Marshal(job)
	q.n += len(b)
	return err
}

// BenchmarkWebhook is the handler's own cost for one Alertmanager
// webhook, with JSON logs at info through the redacting handler as serve
// writes them and a queue that
// only encodes the job: what the intake adds to an HTTP server and a
// Redis write.
func BenchmarkWebhook(b *testing.B) {
	body, err := os.ReadFile("testdata/alertmanager-firing.json")
	if err != nil {
		b.Fatal(err)
	}
	red, err := redact.New(redact.Options{})
	if err != nil {
		b.Fatal(err)
	}
	h, err := NewHandler(Options{Queue: &encodingQueue{}, Router: DefaultRoute{Channel: "C0BENCH"}, Token: "t",
		Logger: slog.New(redact.LogHandler(slog.NewJSONHandler(io.Discard, nil), red))})
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/webhooks/alertmanager", bytes.NewReader(body))
		r.Header.Set("Authorization", "Bearer t")
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		if w.Code != http.StatusAccepted {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkDecodeAlertmanagerPayload compares the one-pass reader with
// encoding/json on the same payload.
func BenchmarkDecodeAlertmanagerPayload(b *testing.B) {
	body, err := os.ReadFile("testdata/alertmanager-firing.json")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("scan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var p amPayload
			if !scanAMPayload(body, &p) {
				b.Fatal("scanner gave up")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var p amPayload
			if err := json.Unmarshal(body, &p); err != nil {
				b.Fatal(err)
			}
		}
	})
}
