package redisdb_test

import (
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/store/redisdb"
)

func TestEnqueueOnce(t *testing.T) {
	rdb := server(t)
	s := open(t, redisdb.Options{Prefix: prefix(t, rdb)})
	ctx := t.Context()
	jobs := []oncall.Job{{ID: "a", Kind: oncall.JobAlert, GroupKey: "g", Route: "r1"}, {ID: "b", Kind: oncall.JobAlert, GroupKey: "g", Route: "r2"}}

	queued, err := s.EnqueueOnce(ctx, "webhook:pagerduty:1", time.Minute, jobs)
	if err != nil || !queued {
		t.Fatalf("first delivery: queued %v, err %v", queued, err)
	}
	again, err := s.EnqueueOnce(ctx, "webhook:pagerduty:1", time.Minute, jobs)
	if err != nil || again {
		t.Fatalf("replay: queued %v, err %v; want it refused", again, err)
	}
	// The key is the one Once records.
	if first, err := s.Once(ctx, "webhook:pagerduty:1", time.Minute); err != nil || first {
		t.Errorf("Once after EnqueueOnce = %v, %v; want the key recorded", first, err)
	}
	var got []string
	for range 3 {
		d, err := s.Dequeue(ctx, "w1", 10*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if d == nil {
			break
		}
		got = append(got, d.Job.ID)
	}
	if len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("dequeued %v, want the two jobs once each", got)
	}
	if _, err := s.EnqueueOnce(ctx, "", time.Minute, jobs); err == nil {
		t.Error("empty key accepted")
	}
}

func TestEnqueueAll(t *testing.T) {
	rdb := server(t)
	s := open(t, redisdb.Options{Prefix: prefix(t, rdb)})
	ctx := t.Context()
	jobs := []oncall.Job{{ID: "a", Kind: oncall.JobAlert, GroupKey: "g", Route: "r1"}, {Kind: oncall.JobAlert, GroupKey: "g", Route: "r2"}}
	if err := s.EnqueueAll(ctx, jobs); err != nil {
		t.Fatal(err)
	}
	var got []oncall.Job
	for range 3 {
		d, err := s.Dequeue(ctx, "w1", 10*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if d == nil {
			break
		}
		got = append(got, d.Job)
	}
	if len(got) != 2 || got[0].ID != "a" || got[0].Route != "r1" || got[1].Route != "r2" || got[1].ID == "" || got[1].EnqueuedAt.IsZero() {
		t.Errorf("dequeued %+v, want both jobs in order, the second given an id and a time", got)
	}
}
