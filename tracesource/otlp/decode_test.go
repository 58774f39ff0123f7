package otlp

import (
	"os"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

func TestDecodeRequest(t *testing.T) {
	data, err := os.ReadFile("testdata/request.json")
	if err != nil {
		t.Fatal(err)
	}
	spans, err := Decode(data)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if len(spans) != 4 {
		t.Fatalf("got %d spans, want 4", len(spans))
	}
	const traceID = "5b8efff798038103d269b633813fc60c"
	for _, s := range spans {
		if s.TraceID != traceID {
			t.Errorf("span %s: trace id %q, want %q", s.Name, s.TraceID, traceID)
		}
	}
	root, llm, tool, http := spans[0], spans[1], spans[2], spans[3]

	t.Run("root", func(t *testing.T) {
		if root.SpanID != "eee19b7ec3c1b174" || root.ParentID != "" {
			t.Errorf("ids = %q parent %q", root.SpanID, root.ParentID)
		}
		if root.Kind != oncall.KindAgent || root.Service != "support-agent" {
			t.Errorf("kind %q service %q", root.Kind, root.Service)
		}
		if want := time.Unix(1544712660, 0).UTC(); !root.Start.Equal(want) {
			t.Errorf("start = %v, want %v", root.Start, want)
		}
		if root.Duration() != 5*time.Second {
			t.Errorf("duration = %v", root.Duration())
		}
		if root.Input != "where is my order?" {
			t.Errorf("input = %q", root.Input)
		}
		want := map[string]string{
			"tag.tags":                    `["a",2]`,
			"metadata":                    `{"tier":"gold"}`,
			"deployment.environment.name": "canary", // the span's own value wins over the resource's
			"service.version":             "1.4.2",  // copied from the resource
			"service.name":                "support-agent",
		}
		for k, v := range want {
			if got := root.Attributes[k]; got != v {
				t.Errorf("attribute %s = %q, want %q", k, got, v)
			}
		}
		if root.Status != oncall.StatusUnset {
			t.Errorf("status = %q", root.Status)
		}
	})
	t.Run("llm", func(t *testing.T) {
		if llm.Kind != oncall.KindLLM || llm.Model != "gpt-4o" || llm.Provider != "openai" {
			t.Errorf("kind %q model %q provider %q", llm.Kind, llm.Model, llm.Provider)
		}
		if llm.InputTokens != 120 || llm.OutputTokens != 30 || llm.TotalTokens != 150 {
			t.Errorf("tokens %d/%d/%d", llm.InputTokens, llm.OutputTokens, llm.TotalTokens)
		}
		if llm.Cost != 0.0025 {
			t.Errorf("cost = %v", llm.Cost)
		}
		if llm.Status != oncall.StatusOK {
			t.Errorf("status = %q", llm.Status)
		}
		for k, v := range map[string]string{"gen_ai.request.temperature": "NaN", "gen_ai.request.stream": "false", "raw": "aGVsbG8=", "gen_ai.usage.output_tokens": "30"} {
			if got := llm.Attributes[k]; got != v {
				t.Errorf("attribute %s = %q, want %q", k, got, v)
			}
		}
	})
	t.Run("tool", func(t *testing.T) {
		if tool.Kind != oncall.KindTool || tool.ToolName != "lookup_order" || tool.ToolArgs != `{"id":42}` {
			t.Errorf("kind %q tool %q args %q", tool.Kind, tool.ToolName, tool.ToolArgs)
		}
		if !tool.Failed() || tool.StatusMessage != "tool call timed out" {
			t.Errorf("status %q message %q", tool.Status, tool.StatusMessage)
		}
		ex := tool.Exceptions()
		if len(ex) != 1 || ex[0].Attributes["exception.type"] != "TimeoutError" || ex[0].Time.IsZero() {
			t.Errorf("exceptions = %+v", ex)
		}
	})
	t.Run("http from base64 ids and old field names", func(t *testing.T) {
		if http.SpanID != "3333333333333333" || http.ParentID != "2222222222222222" {
			t.Errorf("ids %q parent %q", http.SpanID, http.ParentID)
		}
		if http.Kind != oncall.KindHTTP || http.Service != "orders-api" {
			t.Errorf("kind %q service %q", http.Kind, http.Service)
		}
		if !http.Failed() || http.StatusMessage != "HTTP 503" {
			t.Errorf("status %q message %q", http.Status, http.StatusMessage)
		}
	})

	t.Run("group", func(t *testing.T) {
		traces := GroupTraces(spans)
		if len(traces) != 1 {
			t.Fatalf("got %d traces", len(traces))
		}
		tr := traces[0]
		if tr.Name != "agent run" || tr.Service != "support-agent" || len(tr.Spans) != 4 {
			t.Errorf("trace name %q service %q spans %d", tr.Name, tr.Service, len(tr.Spans))
		}
		if !tr.Failed() {
			t.Error("trace with a failed tool span is not failed")
		}
		for k, v := range map[string]string{"gen_ai.agent.name": "triager", "session.id": "sess-1", "deployment.environment.name": "canary", "service.version": "1.4.2"} {
			if got := tr.Attributes[k]; got != v {
				t.Errorf("trace attribute %s = %q, want %q", k, got, v)
			}
		}
		if _, ok := tr.Attributes["input.value"]; ok {
			t.Error("span-level input.value became a trace attribute")
		}
	})
}

func TestDecodeWrappers(t *testing.T) {
	tests := []struct {
		name  string
		input string
		spans int
		err   bool
	}{
		{"empty object", `{}`, 0, false},
		{"tempo batches", `{"batches":[{"resource":{},"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","name":"x"}]}]}]}`, 1, false},
		{"status code by name", `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"01","spanId":"02","status":{"code":"STATUS_CODE_ERROR"}}]}]}]}`, 1, false},
		{"no span id", `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"01"}]}]}]}`, 0, true},
		{"not json", `{"resourceSpans":`, 0, true},
		{"bad timestamp", `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"01","spanId":"02","startTimeUnixNano":"soon"}]}]}]}`, 0, true},
		{"unknown enum", `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"01","spanId":"02","kind":"SIDEWAYS"}]}]}]}`, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spans, err := Decode([]byte(tt.input))
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			if len(spans) != tt.spans {
				t.Errorf("got %d spans, want %d", len(spans), tt.spans)
			}
		})
	}
}

func TestNormalizeID(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"5B8EFFF798038103D269B633813FC60C", "5b8efff798038103d269b633813fc60c"},
		{"eee19b7ec3c1b174", "eee19b7ec3c1b174"},
		{"W47/95gDgQPSabYzgT/GDA==", "5b8efff798038103d269b633813fc60c"},
		{"MzMzMzMzMzM=", "3333333333333333"},
		{"trace-7f3a", "trace-7f3a"},
		{"aGVsbG8=", "aGVsbG8="}, // base64 of 5 bytes is no OTel id
		{"0f1e2d3c-aaaa-bbbb-cccc-000011112222", "0f1e2d3c-aaaa-bbbb-cccc-000011112222"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := NormalizeID(tt.in); got != tt.want {
				t.Errorf("NormalizeID(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// A Tempo v2 trace body saved to a file, {"trace": {...}}, holds the same
// spans as the request inside it.
func TestDecodeTempoTraceBody(t *testing.T) {
	data, err := os.ReadFile("testdata/request.json")
	if err != nil {
		t.Fatal(err)
	}
	want, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	body := append(append([]byte(`{"trace": `), data...), []byte(`, "status": "COMPLETE", "message": ""}`)...)
	got, err := Decode(body)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if len(got) != len(want) || len(got) == 0 {
		t.Fatalf("got %d spans from the Tempo body, want %d", len(got), len(want))
	}
}

// intValue is a string in protojson and in the OTLP specification's
// examples, a JSON number in what the OpenTelemetry JS SDK sends; both,
// and a float-spelled integer, read the same.
func TestIntValueSpellings(t *testing.T) {
	for _, v := range []string{`"162"`, `162`, `162.0`} {
		doc := `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","name":"ChatOpenAI","kind":1,
			"attributes":[{"key":"openinference.span.kind","value":{"stringValue":"LLM"}},{"key":"llm.token_count.prompt","value":{"intValue":` + v + `}}]}]}]}]}`
		spans, err := Decode([]byte(doc))
		if err != nil {
			t.Fatalf("intValue %s: %v", v, err)
		}
		if got := spans[0].InputTokens; got != 162 || spans[0].Attributes["llm.token_count.prompt"] != "162" {
			t.Errorf("intValue %s: input tokens %d, attribute %q", v, got, spans[0].Attributes["llm.token_count.prompt"])
		}
	}
}
