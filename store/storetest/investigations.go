package storetest

import (
	"errors"
	"reflect"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

func testInvestigation(t *testing.T, s Store, c *Clock) {
	ctx := ctxFor(t)
	if _, err := s.GetInvestigation(ctx, "nope"); !errors.Is(err, oncall.ErrNotFound) {
		t.Fatalf("GetInvestigation(absent) = %v, want ErrNotFound", err)
	}
	if err := s.PutInvestigation(ctx, "", oncall.Investigation{}); err == nil {
		t.Fatal("PutInvestigation with an empty key succeeded")
	}
	now := c.Now().UTC()
	first := oncall.Investigation{
		TriagedAt: now,
		Search:    oncall.TraceSearch{Source: "jsonl", WindowStart: now.Add(-30 * time.Minute), WindowEnd: now, MaxTraces: 500, Read: 2},
		Onset:     oncall.Onset{Start: now.Add(-90 * time.Minute), Step: time.Minute, Runs: []int{1, 2}, Failing: []int{0, 1}, Clusters: []oncall.OnsetSeries{{Signature: "tool search: timeout", Counts: []int{0, 1}}}},
		Traces: []oncall.Trace{{TraceID: "t1", Start: now.Add(-time.Minute), End: now, Spans: []oncall.Span{
			{TraceID: "t1", SpanID: "s1", Name: "search", Kind: oncall.KindTool, Start: now.Add(-time.Minute), End: now, Status: oncall.StatusError, StatusMessage: "timeout"},
		}}},
		Healthy: "t2",
	}
	if err := s.PutInvestigation(ctx, "inc-1", first); err != nil {
		t.Fatalf("PutInvestigation: %v", err)
	}
	got, err := s.GetInvestigation(ctx, "inc-1")
	if err != nil {
		t.Fatalf("GetInvestigation: %v", err)
	}
	want := first
	want.IncidentKey = "inc-1"
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("GetInvestigation =\n%+v\nwant\n%+v", got, want)
	}
	second := oncall.Investigation{TriagedAt: now.Add(time.Hour), Search: oncall.TraceSearch{Source: "phoenix"}}
	if err := s.PutInvestigation(ctx, "inc-1", second); err != nil {
		t.Fatalf("PutInvestigation again: %v", err)
	}
	got, err = s.GetInvestigation(ctx, "inc-1")
	if err != nil || got.Search.Source != "phoenix" || len(got.Traces) != 0 {
		t.Fatalf("after a second put: %+v, %v; want the second investigation only", got, err)
	}
	if _, err := s.GetInvestigation(ctx, "inc-2"); !errors.Is(err, oncall.ErrNotFound) {
		t.Fatalf("GetInvestigation(other key) = %v, want ErrNotFound", err)
	}
}
