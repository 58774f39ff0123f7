package selftrace_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/llm"
	"github.com/oncall-copilot/oncall-copilot/llm/llmtest"
	"github.com/oncall-copilot/oncall-copilot/retry"
	"github.com/oncall-copilot/oncall-copilot/selftrace"
)

type fakeModel struct{}

func (fakeModel) Chat(context.Context, oncall.ChatRequest) (oncall.ChatResponse, error) {
	return oncall.ChatResponse{}, nil
}

// fakeSource answers searches with n traces and knows one trace id.
type fakeSource struct {
	n   int
	err error
}

func (f fakeSource) Search(context.Context, oncall.TraceQuery) (oncall.TraceSearchResult, error) {
	if f.err != nil {
		return oncall.TraceSearchResult{}, f.err
	}
	return oncall.TraceSearchResult{Traces: make([]oncall.Trace, f.n), Matched: f.n + 1}, nil
}

func (f fakeSource) Get(_ context.Context, id string) (oncall.Trace, error) {
	if id != "known" {
		return oncall.Trace{}, fmt.Errorf("get %s: %w", id, oncall.ErrNotFound)
	}
	return oncall.Trace{TraceID: id, Spans: make([]oncall.Span, 3)}, nil
}

func TestModelCallsBecomeLLMSpans(t *testing.T) {
	srv := llmtest.NewServer(t)
	srv.Enqueue(
		llmtest.Reply{Content: `{"summary":"ok"}`, PromptTokens: 1200, CompletionTokens: 300},
		llmtest.Tools(oncall.ToolCall{Name: "search_traces", Arguments: `{}`}),
		llmtest.Status(400, "", "This model's maximum context length is 128000 tokens"),
	)
	client, err := llm.New(llm.Options{BaseURL: srv.URL, APIKey: "sk-test-key-never-shown", Model: "gpt-4o-mini", Retry: retry.Policy{Attempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	tr := newTracer(t, sink, selftrace.Options{})
	model := tr.Model(client, "gpt-4o-mini", "openai")

	ctx, root := tr.Start(t.Context(), "triage", oncall.KindAgent)
	req := oncall.ChatRequest{Messages: []oncall.ChatMessage{{Role: oncall.RoleSystem, Content: "s"}, {Role: oncall.RoleUser, Content: "secret prompt text"}}, SchemaName: "diagnosis", MaxTokens: 900}
	if _, err := model.Chat(ctx, req); err != nil {
		t.Fatalf("first call: %v", err)
	}
	if _, err := model.Chat(ctx, oncall.ChatRequest{Messages: req.Messages, Tools: []oncall.ToolSpec{{Name: "search_traces"}}}); err != nil {
		t.Fatalf("second call: %v", err)
	}
	if _, err := model.Chat(ctx, req); err == nil {
		t.Fatal("third call succeeded against a 400")
	}
	root.End()
	if err := tr.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	traces := sink.Traces()
	if len(traces) != 1 || len(traces[0].Spans) != 4 {
		t.Fatalf("exported %+v", traces)
	}
	var llmSpans []oncall.Span
	for _, s := range traces[0].Spans {
		if s.Kind == oncall.KindLLM {
			llmSpans = append(llmSpans, s)
		}
		for k, v := range s.Attributes {
			if strings.Contains(v, "secret prompt") || strings.Contains(v, "sk-test-key") {
				t.Errorf("span %s attribute %s carries prompt or key: %q", s.Name, k, v)
			}
		}
		if strings.Contains(s.StatusMessage, "sk-test-key") {
			t.Errorf("span %s status carries the key", s.Name)
		}
	}
	if len(llmSpans) != 3 {
		t.Fatalf("%d LLM spans, want 3", len(llmSpans))
	}
	ok, tools, failed := llmSpans[0], llmSpans[1], llmSpans[2]
	if ok.Name != "chat gpt-4o-mini" || ok.Model != "gpt-4o-mini" || ok.Provider != "openai" || ok.InputTokens != 1200 || ok.OutputTokens != 300 || ok.TotalTokens != 1500 || ok.Cost <= 0 || ok.Status != oncall.StatusOK {
		t.Errorf("successful call span = %+v", ok)
	}
	if ok.Attributes["gen_ai.request.max_tokens"] != "900" || ok.Attributes["llm.input_messages.count"] != "2" || ok.Attributes["llm.response_schema"] != "diagnosis" {
		t.Errorf("successful call attributes = %v", ok.Attributes)
	}
	if tools.Attributes["gen_ai.response.tool_calls"] != "search_traces" || tools.Attributes["llm.tools.count"] != "1" {
		t.Errorf("tool-calling span attributes = %v", tools.Attributes)
	}
	if failed.Status != oncall.StatusError || !strings.Contains(failed.StatusMessage, "maximum context length") || len(failed.Exceptions()) != 1 {
		t.Errorf("failed call span = %+v", failed)
	}
}

func TestTraceStoreCallsBecomeToolSpans(t *testing.T) {
	for _, tc := range []struct {
		name       string
		src        fakeSource
		call       func(ctx context.Context, s selftrace.TraceReader) error
		wantName   string
		wantStatus oncall.SpanStatus
		wantAttr   [2]string
	}{
		{"search", fakeSource{n: 7}, func(ctx context.Context, s selftrace.TraceReader) error {
			_, err := s.Search(ctx, oncall.TraceQuery{Start: t0, End: t0.Add(time.Hour), Limit: 500, Filters: map[string]string{"service.name": "private-value"}})
			return err
		}, "search_traces", oncall.StatusOK, [2]string{"trace_store.traces", "7"}},
		{"search fails", fakeSource{err: errors.New("jsonl: search /x: permission denied")}, func(ctx context.Context, s selftrace.TraceReader) error {
			_, err := s.Search(ctx, oncall.TraceQuery{})
			return err
		}, "search_traces", oncall.StatusError, [2]string{"trace_store.source", "jsonl"}},
		{"get", fakeSource{}, func(ctx context.Context, s selftrace.TraceReader) error {
			_, err := s.Get(ctx, "known")
			return err
		}, "get_trace", oncall.StatusOK, [2]string{"trace_store.spans", "3"}},
		{"get unknown id is not a failure", fakeSource{}, func(ctx context.Context, s selftrace.TraceReader) error {
			_, err := s.Get(ctx, "nope")
			if errors.Is(err, oncall.ErrNotFound) {
				return nil
			}
			return err
		}, "get_trace", oncall.StatusOK, [2]string{"trace_store.found", "false"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := &memSink{}
			tr := newTracer(t, sink, selftrace.Options{})
			ctx, root := tr.Start(t.Context(), "triage", oncall.KindAgent)
			err := tc.call(ctx, tr.TraceSource("jsonl", tc.src))
			if (err != nil) != (tc.wantStatus == oncall.StatusError) {
				t.Fatalf("call error %v", err)
			}
			root.End()
			_ = tr.Flush(t.Context())
			spans := sink.Traces()[0].Spans
			var sp oncall.Span
			for _, s := range spans {
				if s.Kind == oncall.KindTool {
					sp = s
				}
			}
			if sp.Name != tc.wantName || sp.ToolName != tc.wantName || sp.Status != tc.wantStatus || sp.Attributes[tc.wantAttr[0]] != tc.wantAttr[1] {
				t.Errorf("tool span = %+v", sp)
			}
			if strings.Contains(sp.ToolArgs, "private-value") {
				t.Errorf("tool arguments carry a filter value: %s", sp.ToolArgs)
			}
		})
	}
}
