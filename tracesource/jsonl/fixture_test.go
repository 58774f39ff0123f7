package jsonl

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// The real Langfuse exports of twenty agent frameworks load through the
// JSONL source (one pretty-printed export object per file) into
// well-formed span trees.
func TestLangfuseFrameworkExports(t *testing.T) {
	dir := "../langfuse/testdata/framework-traces"
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) == 0 {
		t.Fatalf("the Langfuse framework exports are missing from %s", dir)
	}
	src, err := New(Options{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	res, err := src.Search(context.Background(), oncall.TraceQuery{
		Start: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), Limit: 1000,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Two of the exports are the same run (one trace id), which the
	// source keeps once.
	want := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			Trace struct {
				ID string `json:"id"`
			} `json:"trace"`
		}
		if err := json.Unmarshal(b, &e); err != nil || e.Trace.ID == "" {
			t.Fatalf("%s: %v", f, err)
		}
		want[e.Trace.ID] = true
	}
	if len(res.Traces) != len(want) || src.Skipped() != 0 {
		t.Fatalf("loaded %d traces from %d exports of %d runs (skipped %d records)", len(res.Traces), len(files), len(want), src.Skipped())
	}
	withLLM := 0
	for _, tr := range res.Traces {
		ids := map[string]bool{}
		for _, s := range tr.Spans {
			ids[s.SpanID] = true
		}
		roots := 0
		for _, s := range tr.Spans {
			if s.ParentID == "" {
				roots++
			} else if !ids[s.ParentID] {
				t.Errorf("trace %s: span %s has an unknown parent %s", tr.TraceID, s.SpanID, s.ParentID)
			}
			if s.Kind == "" {
				t.Errorf("trace %s: span %s has no kind", tr.TraceID, s.SpanID)
			}
		}
		if roots != 1 {
			t.Errorf("trace %s: %d roots", tr.TraceID, roots)
		}
		for _, s := range tr.Spans {
			if s.Kind == oncall.KindLLM && s.Model != "" {
				withLLM++
				break
			}
		}
		got, err := src.Get(context.Background(), tr.TraceID)
		if err != nil || len(got.Spans) != len(tr.Spans) {
			t.Errorf("Get(%s): %d spans, %v", tr.TraceID, len(got.Spans), err)
		}
	}
	if withLLM < len(files)/2 {
		t.Errorf("only %d of %d traces have an LLM span with a model", withLLM, len(files))
	}
}
