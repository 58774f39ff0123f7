package langfuse

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// fixtureDir holds real Langfuse exports of agent runs, one per framework
// (MIT, see its SOURCE.md and LICENSE).
const fixtureDir = "testdata/framework-traces"

func TestDecodeExportFixtures(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(fixtureDir, "*.json"))
	if len(files) == 0 {
		t.Fatalf("no Langfuse fixtures in %s", fixtureDir)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".trace.json"), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			raw := fixtureFacts(t, data)
			tr, err := DecodeExport(data)
			if err != nil {
				t.Fatalf("DecodeExport: %v", err)
			}
			checkTree(t, &tr)
			if len(tr.Spans) != raw.observations+1 {
				t.Errorf("got %d spans, want %d observations plus the trace root", len(tr.Spans), raw.observations)
			}
			if tr.Name != raw.name || tr.TraceID != raw.id || tr.Start.IsZero() {
				t.Errorf("trace %q %q start %v, want %q %q", tr.TraceID, tr.Name, tr.Start, raw.id, raw.name)
			}
			var llm int
			var tokens int64
			var cost float64
			models := map[string]bool{}
			for _, s := range tr.Spans {
				if s.Kind == oncall.KindLLM {
					llm++
				}
				tokens += s.TotalTokens
				cost += s.Cost
				if s.Model != "" {
					models[s.Model] = true
				}
				if s.Kind == "" {
					t.Errorf("span %s has no kind", s.SpanID)
				}
			}
			if raw.generations > 0 && llm < raw.generations {
				t.Errorf("%d llm spans for %d generations", llm, raw.generations)
			}
			if tokens < raw.totalTokens {
				t.Errorf("carried %d tokens, the export has %d", tokens, raw.totalTokens)
			}
			if cost+1e-12 < raw.totalCost {
				t.Errorf("carried cost %v, the export has %v", cost, raw.totalCost)
			}
			for m := range raw.models {
				if !models[m] {
					t.Errorf("model %q lost", m)
				}
			}
		})
	}
}

// checkTree asserts a well-formed span tree: unique ids, one root (the
// trace itself), every parent inside the trace, no cycles.
func checkTree(t *testing.T, tr *oncall.Trace) {
	t.Helper()
	ids := make(map[string]*oncall.Span, len(tr.Spans))
	for i := range tr.Spans {
		s := &tr.Spans[i]
		if s.TraceID != tr.TraceID {
			t.Errorf("span %s has trace id %q", s.SpanID, s.TraceID)
		}
		if ids[s.SpanID] != nil {
			t.Errorf("duplicate span id %s", s.SpanID)
		}
		ids[s.SpanID] = s
	}
	var roots int
	for i := range tr.Spans {
		s := &tr.Spans[i]
		if s.ParentID == "" {
			roots++
			continue
		}
		if ids[s.ParentID] == nil {
			t.Errorf("span %s: parent %s not in trace", s.SpanID, s.ParentID)
		}
		seen := map[string]bool{}
		for p := s; p != nil && p.ParentID != ""; p = ids[p.ParentID] {
			if seen[p.SpanID] {
				t.Fatalf("cycle through span %s", p.SpanID)
			}
			seen[p.SpanID] = true
		}
	}
	if roots != 1 {
		t.Errorf("got %d roots, want 1", roots)
	}
	if r := tr.Root(); r == nil || !strings.HasPrefix(r.SpanID, tr.TraceID) || r.Name != tr.Name {
		t.Errorf("root is %+v, want the trace itself", r)
	}
}

func TestTraceFromAPI(t *testing.T) {
	t0 := time.Date(2026, 2, 3, 10, 0, 0, 0, time.UTC)
	data := `{
	  "trace": {
	    "id": "tr-1", "name": "support run", "timestamp": "2026-02-03T10:00:00Z", "environment": "production",
	    "tags": ["beta", "eu"], "release": "v42", "version": "7", "userId": "u-9", "sessionId": "s-3",
	    "input": {"question": "refund?"}, "output": "\"done\"", "latency": 4.5,
	    "metadata": "{\"attributes\":{\"gen_ai.agent.name\":\"support\",\"llm.token_count.total\":999},\"resourceAttributes\":{\"service.name\":\"support-svc\"},\"team\":\"payments\"}",
	    "observations": ["ignored-id"]
	  },
	  "observations": [
	    {"id": "o1", "type": "AGENT", "name": "agent", "startTime": "2026-02-03T10:00:00.100Z", "endTime": "2026-02-03T10:00:04Z", "parentObservationId": null, "level": "DEFAULT"},
	    {"id": "o2", "type": "GENERATION", "name": "llm call", "parentObservationId": "o1", "startTime": "2026-02-03T10:00:01Z", "endTime": "2026-02-03T10:00:02Z",
	     "model": null, "providedModelName": "gpt-4.1", "usage": {"input": 100, "output": 20, "total": 120, "unit": "TOKENS"},
	     "calculatedTotalCost": 0.0031, "promptName": "support-v2", "promptVersion": 3, "level": "WARNING", "statusMessage": "retried once",
	     "completionStartTime": "2026-02-03T10:00:01.400Z", "modelParameters": {"temperature": 0.2},
	     "metadata": {"attributes": {"gen_ai.system": "openai"}}},
	    {"id": "o3", "type": "SPAN", "name": "lookup_order", "parentObservationId": "o1", "startTime": "2026-02-03T10:00:02Z", "endTime": "2026-02-03T10:00:03Z",
	     "input": {"order": 42}, "output": null, "level": "ERROR", "statusMessage": "Timeout after 30s",
	     "metadata": "{\"attributes\":{\"openinference.span.kind\":\"TOOL\"},\"scope\":{\"name\":\"sdk\",\"attributes\":{\"public_key\":\"pk-lf-1\"}}}"},
	    {"id": "o4", "type": "EMBEDDING", "name": "embed", "parentObservationId": "missing-parent", "startTime": "2026-02-03T09:59:59Z",
	     "promptTokens": 5, "completionTokens": 1, "metadata": "plain text note"},
	    {"id": "o6", "type": "EVENT", "name": "feedback", "parentObservationId": "o1", "startTime": "2026-02-03T10:00:03.5Z"},
	    {"id": "o7", "type": "AGENT", "name": "sub agent", "parentObservationId": "o1", "startTime": "2026-02-03T10:00:03Z",
	     "usageDetails": {"input": 44, "output": 180, "total": 224}, "costDetails": {"total": 0.000371}},
	    {"id": "o5", "type": "GENERATION", "name": "summarise", "parentObservationId": "o1", "startTime": "2026-02-03T10:00:03Z",
	     "model": "claude-haiku", "usageDetails": {"prompt_tokens": 50, "completion_tokens": 10}, "costDetails": {"input": 0.001, "output": 0.0005}}
	  ]
	}`
	tr, err := DecodeExport([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	checkTree(t, &tr)
	spans := map[string]*oncall.Span{}
	for i := range tr.Spans {
		spans[tr.Spans[i].SpanID] = &tr.Spans[i]
	}
	t.Run("trace", func(t *testing.T) {
		if tr.Name != "support run" || tr.Service != "support-svc" || tr.Source != "langfuse" {
			t.Errorf("name %q service %q source %q", tr.Name, tr.Service, tr.Source)
		}
		if want := t0.Add(-time.Second); !tr.Start.Equal(want) {
			t.Errorf("start %v, want the earliest observation %v", tr.Start, want)
		}
		if want := t0.Add(4500 * time.Millisecond); !tr.End.Equal(want) {
			t.Errorf("end %v, want timestamp plus latency %v", tr.End, want)
		}
		for k, v := range map[string]string{
			"langfuse.release": "v42", "langfuse.version": "7", "langfuse.environment": "production", "user.id": "u-9",
			"session.id": "s-3", "langfuse.trace.tags": `["beta","eu"]`, "gen_ai.agent.name": "support",
			"service.name": "support-svc", "langfuse.trace.metadata.team": "payments",
		} {
			if got := tr.Attributes[k]; got != v {
				t.Errorf("trace attribute %s = %q, want %q", k, got, v)
			}
		}
		root := spans["tr-1"]
		if root.Input != `{"question":"refund?"}` || root.Output != "done" {
			t.Errorf("root input %q output %q", root.Input, root.Output)
		}
		if root.TotalTokens != 0 || root.Attributes["llm.token_count.total"] != "" {
			t.Error("span-level attributes of the trace metadata leaked onto the root")
		}
	})
	t.Run("generation with legacy usage", func(t *testing.T) {
		s := spans["o2"]
		if s.Kind != oncall.KindLLM || s.Model != "gpt-4.1" || s.Provider != "openai" {
			t.Errorf("kind %q model %q provider %q", s.Kind, s.Model, s.Provider)
		}
		if s.InputTokens != 100 || s.OutputTokens != 20 || s.TotalTokens != 120 || s.Cost != 0.0031 {
			t.Errorf("usage %d/%d/%d cost %v", s.InputTokens, s.OutputTokens, s.TotalTokens, s.Cost)
		}
		if s.Status != oncall.StatusWarning || s.StatusMessage != "retried once" {
			t.Errorf("status %q %q", s.Status, s.StatusMessage)
		}
		for k, v := range map[string]string{
			"langfuse.observation.prompt.name": "support-v2", "langfuse.observation.prompt.version": "3",
			"langfuse.observation.model.parameters": `{"temperature":0.2}`, "langfuse.observation.completion_start_time": "2026-02-03T10:00:01.4Z",
		} {
			if got := s.Attributes[k]; got != v {
				t.Errorf("attribute %s = %q, want %q", k, got, v)
			}
		}
	})
	t.Run("span refined to a failed tool", func(t *testing.T) {
		s := spans["o3"]
		if s.Kind != oncall.KindTool || s.ToolName != "lookup_order" || s.ToolArgs != `{"order":42}` {
			t.Errorf("kind %q tool %q args %q", s.Kind, s.ToolName, s.ToolArgs)
		}
		if !s.Failed() || s.StatusMessage != "Timeout after 30s" || s.ParentID != "o1" {
			t.Errorf("status %q %q parent %q", s.Status, s.StatusMessage, s.ParentID)
		}
		for k, v := range s.Attributes {
			if strings.Contains(v, "pk-lf") {
				t.Errorf("scope attribute %s copied: %q", k, v)
			}
		}
	})
	t.Run("event", func(t *testing.T) {
		if s := spans["o6"]; s.Kind != oncall.KindEvent || s.ParentID != "o1" {
			t.Errorf("kind %q parent %q", s.Kind, s.ParentID)
		}
	})
	t.Run("usage of an agent stays out of the token fields", func(t *testing.T) {
		s := spans["o7"]
		if s.Kind != oncall.KindAgent || s.TotalTokens != 0 || s.Cost != 0 {
			t.Errorf("kind %q tokens %d cost %v", s.Kind, s.TotalTokens, s.Cost)
		}
		if s.Attributes["langfuse.observation.usage_details"] != `{"input":44,"output":180,"total":224}` || s.Attributes["langfuse.observation.cost_details"] != `{"total":0.000371}` {
			t.Errorf("attributes %v", s.Attributes)
		}
	})
	t.Run("embedding under an unknown parent hangs under the root", func(t *testing.T) {
		s := spans["o4"]
		if s.Kind != oncall.KindEmbedding || s.ParentID != "tr-1" {
			t.Errorf("kind %q parent %q", s.Kind, s.ParentID)
		}
		if s.InputTokens != 5 || s.TotalTokens != 6 {
			t.Errorf("flat usage %d/%d", s.InputTokens, s.TotalTokens)
		}
		if s.Attributes["langfuse.observation.metadata.metadata"] != "plain text note" {
			t.Errorf("attributes %v", s.Attributes)
		}
	})
	t.Run("usage details with provider spellings and summed cost", func(t *testing.T) {
		s := spans["o5"]
		if s.InputTokens != 50 || s.OutputTokens != 10 || s.TotalTokens != 60 || s.Cost != 0.0015 {
			t.Errorf("usage %d/%d/%d cost %v", s.InputTokens, s.OutputTokens, s.TotalTokens, s.Cost)
		}
		if !s.End.IsZero() {
			t.Errorf("unfinished observation got end %v", s.End)
		}
	})
	if !tr.Failed() {
		t.Error("trace with an ERROR observation is not failed")
	}
}

func TestDecodeExportShapes(t *testing.T) {
	tests := []struct {
		name  string
		input string
		spans int
		err   error
	}{
		{"trace with embedded observations", `{"id":"t","name":"n","timestamp":"2026-01-01T00:00:00Z","observations":[{"id":"a","type":"SPAN","startTime":"2026-01-01T00:00:01Z"}]}`, 2, nil},
		{"export without observations", `{"trace":{"id":"t","timestamp":"2026-01-01T00:00:00Z"}}`, 1, nil},
		{"observation reusing the trace id", `{"trace":{"id":"t"},"observations":[{"id":"t","type":"SPAN"},{"id":"c","parentObservationId":"t","type":"TOOL"}]}`, 3, nil},
		{"observation without id", `{"trace":{"id":"t"},"observations":[{"type":"SPAN"},{"id":"a","type":"SPAN"}]}`, 2, nil},
		{"no trace id", `{"trace":{"name":"x"}}`, 0, ErrNoTrace},
		{"not json", `{"trace":`, 0, errors.New("any")},
		{"bad time", `{"trace":{"id":"t","timestamp":"yesterday"}}`, 0, errors.New("any")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := DecodeExport([]byte(tt.input))
			if (err != nil) != (tt.err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if tt.err == ErrNoTrace && !errors.Is(err, ErrNoTrace) {
				t.Errorf("err = %v, want ErrNoTrace", err)
			}
			if err != nil {
				return
			}
			if len(tr.Spans) != tt.spans {
				t.Errorf("got %d spans, want %d", len(tr.Spans), tt.spans)
			}
			checkTree(t, &tr)
		})
	}
}

// facts are what a fixture says about itself, read independently of the
// decoder under test.
type facts struct {
	id, name     string
	observations int
	generations  int
	totalTokens  int64
	totalCost    float64
	models       map[string]bool
}

func fixtureFacts(t *testing.T, data []byte) facts {
	t.Helper()
	var raw struct {
		Trace struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"trace"`
		Observations []map[string]any `json:"observations"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	f := facts{id: raw.Trace.ID, name: raw.Trace.Name, observations: len(raw.Observations), models: map[string]bool{}}
	for _, o := range raw.Observations {
		if o["type"] != "GENERATION" {
			continue
		}
		f.generations++
		if u, ok := o["usageDetails"].(map[string]any); ok {
			if v, ok := u["total"].(float64); ok {
				f.totalTokens += int64(v)
			}
		}
		if c, ok := o["totalCost"].(float64); ok {
			f.totalCost += c
		}
		if m, ok := o["model"].(string); ok && m != "" {
			f.models[m] = true
		}
	}
	return f
}
