package jsonl

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// SearchWindows answers each window exactly as Search does, evicted and
// re-read traces included.
func TestSearchWindowsAnswersAsSearch(t *testing.T) {
	dir := t.TempDir()
	var traces []oncall.Trace
	for i := range 120 {
		svc := "busy"
		if i%7 == 0 {
			svc = "rare"
		}
		traces = append(traces, genTrace(i, t0.Add(time.Duration(i)*time.Second), svc, "agent", i%5 == 0))
	}
	writeJSONL(t, filepath.Join(dir, "a.jsonl"), traces[:70])
	writeJSONL(t, filepath.Join(dir, "b.jsonl"), traces[70:])
	src := newSource(t, dir)
	qs := []oncall.TraceQuery{
		{Start: t0.Add(60 * time.Second), End: t0.Add(120 * time.Second), Limit: 4},
		{Start: t0, End: t0.Add(60 * time.Second), Limit: 3, Filters: map[string]string{"service.name": "rare"}},
		{Start: t0.Add(30 * time.Second), End: t0.Add(90 * time.Second)},
	}
	got, err := src.SearchWindows(context.Background(), qs)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(qs) {
		t.Fatalf("%d results for %d queries", len(got), len(qs))
	}
	for i, q := range qs {
		want, err := src.Search(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got[i], want) {
			t.Errorf("query %d: SearchWindows found %v (matched %d), Search %v (matched %d)", i, ids(got[i].Traces), got[i].Matched, ids(want.Traces), want.Matched)
		}
	}
}
