package alerts

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// onceStore is a queue and deduper that can also do both in one step, as
// store/redisdb does; it counts the calls of each kind.
type onceStore struct {
	mu                    sync.Mutex
	keys                  map[string]bool
	jobs                  []oncall.Job
	onceCalls, enqueueOne int
}

func (s *onceStore) Enqueue(_ context.Context, job oncall.Job) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.enqueueOne++
	s.jobs = append(s.jobs, job)
	return nil
}

func (s *onceStore) Once(_ context.Context, key string, _ time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onceCalls++
	first := !s.keys[key]
	s.keys[key] = true
	return first, nil
}

func (s *onceStore) Forget(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.keys, key)
	return nil
}

func (s *onceStore) EnqueueOnce(_ context.Context, key string, _ time.Duration, jobs []oncall.Job) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys[key] {
		return false, nil
	}
	s.keys[key] = true
	s.jobs = append(s.jobs, jobs...)
	return true, nil
}

func TestDeliveryWithIDQueuedInOneStep(t *testing.T) {
	body, err := os.ReadFile("testdata/pagerduty-triggered.json")
	if err != nil {
		t.Fatal(err)
	}
	store := &onceStore{keys: map[string]bool{}}
	h, err := NewHandler(Options{Queue: store, Deduper: store, Router: DefaultRoute{Channel: "C1"}, Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	send := func() *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/webhooks/pagerduty", bytes.NewReader(body))
		r.Header.Set("Authorization", "Bearer t")
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		return w
	}
	if w := send(); w.Code != http.StatusAccepted {
		t.Fatalf("first delivery: %d %s", w.Code, w.Body)
	}
	if w := send(); w.Code != http.StatusOK || !bytes.Contains(w.Body.Bytes(), []byte("duplicate")) {
		t.Fatalf("replay: %d %s, want a duplicate", w.Code, w.Body)
	}
	if len(store.jobs) != 1 || store.onceCalls != 0 || store.enqueueOne != 0 {
		t.Errorf("%d jobs, %d Once and %d Enqueue calls; want one job queued by EnqueueOnce alone", len(store.jobs), store.onceCalls, store.enqueueOne)
	}
}
