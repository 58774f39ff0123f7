package langfuse

import (
	"context"
	"encoding/json"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/tracesource/semconv"
)

// frameworkTraces holds real Langfuse exports of agent runs, one per
// framework (MIT, see its SOURCE.md and LICENSE).
const frameworkTraces = "testdata/framework-traces"

// TestClientLoadsFrameworkTraces serves the real exports through the API
// endpoints (trace list in pages, v2 observations in cursor pages) and
// checks that the client turns each into a well-formed span tree with
// kinds, models, tokens and costs carried over.
func TestClientLoadsFrameworkTraces(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(frameworkTraces, "*.json"))
	if len(files) == 0 {
		t.Fatalf("no Langfuse exports in %s", frameworkTraces)
	}
	fake := &fakeLangfuse{t: t, obs: map[string][]map[string]any{}, obsPage: 5}
	names := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var ex struct {
			Trace        map[string]any   `json:"trace"`
			Observations []map[string]any `json:"observations"`
		}
		if err := json.Unmarshal(b, &ex); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		id := str(ex.Trace["id"])
		// The list sends observation ids, not the observations.
		var obsIDs []any
		for _, o := range ex.Observations {
			obsIDs = append(obsIDs, o["id"])
		}
		ex.Trace["observations"] = obsIDs
		fake.traces = append(fake.traces, ex.Trace)
		fake.obs[id] = ex.Observations
		names[id] = strings.TrimSuffix(filepath.Base(f), ".trace.json")
	}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	c := newTestClient(t, srv.URL, Options{PageSize: 7})
	res, err := c.Search(context.Background(), oncall.TraceQuery{
		Start: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		End:   time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
		Limit: len(files),
	})
	if err != nil {
		t.Fatal(err)
	}
	// Two exports hold the same trace (its id twice): one run.
	if len(res.Traces) != len(names) || res.Matched < len(names) {
		t.Fatalf("got %d traces, matched %d; want the %d distinct runs of %d exports", len(res.Traces), res.Matched, len(names), len(files))
	}
	if pages := len(fake.seen(pathTraces)); pages != (len(files)+6)/7 {
		t.Errorf("%d list pages, want %d", pages, (len(files)+6)/7)
	}
	if countCursors(fake.seen(pathObservationsV2)) == 0 {
		t.Error("no observation list needed a second page; the cursor paging went untested")
	}
	for _, tr := range res.Traces {
		t.Run(names[tr.TraceID], func(t *testing.T) {
			checkFrameworkTrace(t, tr, fake.obs[tr.TraceID])
		})
	}
}

func checkFrameworkTrace(t *testing.T, tr oncall.Trace, obs []map[string]any) {
	assertTree(t, &tr)
	if len(tr.Spans) != len(obs)+1 {
		t.Errorf("%d spans, want the trace root and %d observations", len(tr.Spans), len(obs))
	}
	if tr.Start.IsZero() || tr.Source != Name {
		t.Errorf("start %v, source %q", tr.Start, tr.Source)
	}
	for _, o := range obs {
		id := str(o["id"])
		s := tr.Span(id)
		if s == nil {
			t.Errorf("observation %s has no span", id)
			continue
		}
		typ := str(o["type"])
		if want := kindFor(typ); want != "" && s.Kind != want {
			t.Errorf("%s observation %s became kind %q, want %q", typ, id, s.Kind, want)
		}
		if s.Kind == "" {
			t.Errorf("span %s has no kind", id)
		}
		if !s.Start.Equal(parseAPITime(t, o["startTime"])) {
			t.Errorf("observation %s starts %v", id, s.Start)
		}
		if m := firstOf(str(o["model"]), str(o["providedModelName"])); m != "" && s.Model == "" {
			t.Errorf("observation %s lost its model %q", id, m)
		}
		if !semconv.SpendsTokens(s.Kind) {
			continue // agent and chain spans keep their children's sum out
		}
		usage, _ := o["usageDetails"].(map[string]any)
		if total, ok := usage["total"].(float64); ok && total > 0 && s.TotalTokens != int64(total) {
			t.Errorf("observation %s: %d tokens, want %v", id, s.TotalTokens, total)
		}
		costs, _ := o["costDetails"].(map[string]any)
		if total, ok := costs["total"].(float64); ok && total > 0 && math.Abs(s.Cost-total) > 1e-12 {
			t.Errorf("observation %s: cost %v, want %v", id, s.Cost, total)
		}
	}
}

// kindFor is the span kind a Langfuse observation type must map to, or ""
// for SPAN, which OTel attributes may refine.
func kindFor(typ string) oncall.SpanKind {
	switch typ {
	case "GENERATION":
		return oncall.KindLLM
	case "AGENT":
		return oncall.KindAgent
	case "TOOL":
		return oncall.KindTool
	case "CHAIN":
		return oncall.KindChain
	case "EVENT":
		return oncall.KindEvent
	case "RETRIEVER":
		return oncall.KindRetriever
	case "EMBEDDING":
		return oncall.KindEmbedding
	}
	return ""
}

func parseAPITime(t *testing.T, v any) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, str(v))
	if err != nil {
		t.Errorf("fixture time %v: %v", v, err)
	}
	return ts
}
