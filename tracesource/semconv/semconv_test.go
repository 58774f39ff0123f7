package semconv

import (
	"reflect"
	"testing"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

func TestApply(t *testing.T) {
	tests := []struct {
		name  string
		span  oncall.Span // before Apply
		attrs map[string]string
		want  oncall.Span
	}{
		{
			name:  "nothing known",
			attrs: map[string]string{"foo": "bar"},
			want:  oncall.Span{Kind: oncall.KindSpan},
		},
		{
			name: "openinference llm",
			attrs: map[string]string{
				"openinference.span.kind": "LLM", "llm.model_name": "claude-sonnet", "llm.provider": "anthropic",
				"llm.token_count.prompt": "1200", "llm.token_count.completion": "80", "llm.token_count.total": "1280",
				"llm.cost.total": "0.0042", "input.value": "question", "output.value": "answer",
			},
			want: oncall.Span{Kind: oncall.KindLLM, Model: "claude-sonnet", Provider: "anthropic", InputTokens: 1200, OutputTokens: 80, TotalTokens: 1280, Cost: 0.0042, Input: "question", Output: "answer"},
		},
		{
			name: "genai chat with older token names and system",
			attrs: map[string]string{
				"gen_ai.operation.name": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "gpt-4o-2024-08-06",
				"gen_ai.usage.prompt_tokens": "10", "gen_ai.usage.completion_tokens": "5.0",
				"gen_ai.prompt": "hi", "gen_ai.completion": "hello",
			},
			want: oncall.Span{Kind: oncall.KindLLM, Model: "gpt-4o", Provider: "openai", InputTokens: 10, OutputTokens: 5, TotalTokens: 15, Input: "hi", Output: "hello"},
		},
		{
			name: "genai provider name wins over deprecated system",
			attrs: map[string]string{
				"gen_ai.operation.name": "generate_content", "gen_ai.provider.name": "gcp.gemini", "gen_ai.system": "vertex_ai",
				"gen_ai.response.model": "gemini-2.5-flash", "gen_ai.input.messages": `[{"role":"user"}]`, "gen_ai.output.messages": `[{"role":"assistant"}]`,
			},
			want: oncall.Span{Kind: oncall.KindLLM, Model: "gemini-2.5-flash", Provider: "gcp.gemini", Input: `[{"role":"user"}]`, Output: `[{"role":"assistant"}]`},
		},
		{
			name: "genai tool call with error type",
			span: oncall.Span{Name: "execute_tool search"},
			attrs: map[string]string{
				"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search", "gen_ai.tool.call.arguments": `{"q":"x"}`,
				"gen_ai.tool.call.result": "no results", "error.type": "timeout",
			},
			want: oncall.Span{Name: "execute_tool search", Kind: oncall.KindTool, ToolName: "search", ToolArgs: `{"q":"x"}`, Output: "no results", Status: oncall.StatusError, StatusMessage: "timeout"},
		},
		{
			name:  "openinference tool takes args from input and name from span",
			span:  oncall.Span{Name: "get_weather"},
			attrs: map[string]string{"openinference.span.kind": "TOOL", "input.value": `{"city":"Oslo"}`, "tool.parameters": `{"type":"object"}`},
			want:  oncall.Span{Name: "get_weather", Kind: oncall.KindTool, ToolName: "get_weather", ToolArgs: `{"city":"Oslo"}`, Input: `{"city":"Oslo"}`},
		},
		{
			name:  "tool parameters as the last resort for args",
			attrs: map[string]string{"openinference.span.kind": "tool", "tool.name": "lookup", "tool.parameters": `{"id":1}`},
			want:  oncall.Span{Kind: oncall.KindTool, ToolName: "lookup", ToolArgs: `{"id":1}`},
		},
		{
			name:  "invoke agent",
			attrs: map[string]string{"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner"},
			want:  oncall.Span{Kind: oncall.KindAgent},
		},
		{
			name:  "embeddings",
			attrs: map[string]string{"gen_ai.operation.name": "embeddings", "gen_ai.request.model": "text-embedding-3-small", "gen_ai.usage.input_tokens": "7"},
			want:  oncall.Span{Kind: oncall.KindEmbedding, Model: "text-embedding-3-small", InputTokens: 7, TotalTokens: 7},
		},
		{
			name:  "openinference beats genai operation",
			attrs: map[string]string{"openinference.span.kind": "CHAIN", "gen_ai.operation.name": "chat"},
			want:  oncall.Span{Kind: oncall.KindChain},
		},
		{
			name:  "langfuse observation type and level",
			attrs: map[string]string{"langfuse.observation.type": "generation", "langfuse.observation.level": "WARNING", "langfuse.observation.status_message": "slow", "langfuse.observation.model.name": "mistral-large"},
			want:  oncall.Span{Kind: oncall.KindLLM, Model: "mistral-large", Status: oncall.StatusWarning, StatusMessage: "slow"},
		},
		{
			name: "langfuse usage and cost details",
			attrs: map[string]string{
				"langfuse.observation.type":          "generation",
				"langfuse.observation.usage_details": `{"input":30,"output":12}`,
				"langfuse.observation.cost_details":  `{"input":0.001,"output":0.002}`,
			},
			want: oncall.Span{Kind: oncall.KindLLM, InputTokens: 30, OutputTokens: 12, TotalTokens: 42, Cost: 0.003},
		},
		{
			name:  "generic langfuse span yields to genai",
			attrs: map[string]string{"langfuse.observation.type": "span", "gen_ai.operation.name": "chat"},
			want:  oncall.Span{Kind: oncall.KindLLM},
		},
		{
			name:  "langfuse event",
			attrs: map[string]string{"langfuse.observation.type": "event"},
			want:  oncall.Span{Kind: oncall.KindEvent},
		},
		{
			name:  "http 503 client span",
			attrs: map[string]string{"http.request.method": "POST", "http.response.status_code": "503", "url.full": "https://api.example.com/v1"},
			want:  oncall.Span{Kind: oncall.KindHTTP, Status: oncall.StatusError, StatusMessage: "HTTP 503"},
		},
		{
			name:  "old http attributes, 404 is no failure hint",
			attrs: map[string]string{"http.method": "GET", "http.status_code": "404"},
			want:  oncall.Span{Kind: oncall.KindHTTP},
		},
		{
			name:  "explicit ok survives failure hints",
			span:  oncall.Span{Status: oncall.StatusOK},
			attrs: map[string]string{"http.method": "GET", "http.status_code": "502", "error.type": "x"},
			want:  oncall.Span{Kind: oncall.KindHTTP, Status: oncall.StatusOK},
		},
		{
			name: "error message from exception event",
			span: oncall.Span{Status: oncall.StatusError, Events: []oncall.SpanEvent{{Name: "exception", Attributes: map[string]string{"exception.type": "ValueError", "exception.message": "bad input"}}}},
			want: oncall.Span{Kind: oncall.KindSpan, Status: oncall.StatusError, StatusMessage: "ValueError: bad input", Events: []oncall.SpanEvent{{Name: "exception", Attributes: map[string]string{"exception.type": "ValueError", "exception.message": "bad input"}}}},
		},
		{
			name: "openinference request and response model names",
			attrs: map[string]string{
				"openinference.span.kind": "LLM", "llm.request.model_name": "gpt-4.1", "llm.response.model_name": "gpt-4.1-2025-04-14",
				"llm.token_count.prompt": "12", "llm.token_count.completion": "3",
			},
			want: oncall.Span{Kind: oncall.KindLLM, Model: "gpt-4.1", InputTokens: 12, OutputTokens: 3, TotalTokens: 15},
		},
		{
			name:  "openinference response model name alone",
			attrs: map[string]string{"llm.response.model_name": "claude-haiku-4-5"},
			want:  oncall.Span{Kind: oncall.KindLLM, Model: "claude-haiku-4-5"},
		},
		{
			name:  "openinference embedding model name",
			attrs: map[string]string{"embedding.model_name": "text-embedding-3-large", "llm.token_count.prompt": "40"},
			want:  oncall.Span{Kind: oncall.KindEmbedding, Model: "text-embedding-3-large", InputTokens: 40, TotalTokens: 40},
		},
		{
			name:  "openinference prompt span is a step",
			attrs: map[string]string{"openinference.span.kind": "PROMPT", "llm.prompt_template.template": "Answer {q}"},
			want:  oncall.Span{Kind: oncall.KindChain},
		},
		{
			name: "current genai names: provider, input and output tokens, system instructions",
			attrs: map[string]string{
				"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
				"gen_ai.usage.input_tokens": "21", "gen_ai.usage.output_tokens": "4",
				"gen_ai.system_instructions": `[{"type":"text","content":"be brief"}]`,
			},
			want: oncall.Span{Kind: oncall.KindLLM, Model: "gpt-4o-mini", Provider: "openai", InputTokens: 21, OutputTokens: 4, TotalTokens: 25, Input: `[{"type":"text","content":"be brief"}]`},
		},
		{
			name: "genai content in the inference details event",
			span: oncall.Span{Events: []oncall.SpanEvent{{Name: "gen_ai.client.inference.operation.details", Attributes: map[string]string{
				"gen_ai.input.messages": `[{"role":"user"}]`, "gen_ai.output.messages": `[{"role":"assistant"}]`,
			}}}},
			attrs: map[string]string{"gen_ai.operation.name": "chat"},
			want: oncall.Span{Kind: oncall.KindLLM, Input: `[{"role":"user"}]`, Output: `[{"role":"assistant"}]`, Events: []oncall.SpanEvent{{Name: "gen_ai.client.inference.operation.details", Attributes: map[string]string{
				"gen_ai.input.messages": `[{"role":"user"}]`, "gen_ai.output.messages": `[{"role":"assistant"}]`,
			}}}},
		},
		{
			name: "genai content in the older prompt and completion events",
			span: oncall.Span{Events: []oncall.SpanEvent{
				{Name: "gen_ai.content.prompt", Attributes: map[string]string{"gen_ai.prompt": "hi"}},
				{Name: "gen_ai.content.completion", Attributes: map[string]string{"gen_ai.completion": "hello"}},
			}},
			attrs: map[string]string{"gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o"},
			want: oncall.Span{Kind: oncall.KindLLM, Model: "gpt-4o", Provider: "openai", Input: "hi", Output: "hello", Events: []oncall.SpanEvent{
				{Name: "gen_ai.content.prompt", Attributes: map[string]string{"gen_ai.prompt": "hi"}},
				{Name: "gen_ai.content.completion", Attributes: map[string]string{"gen_ai.completion": "hello"}},
			}},
		},
		{
			name:  "langchain names the provider only in its metadata",
			attrs: map[string]string{"openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-mini", "metadata": `{"ls_provider":"openai","ls_model_name":"gpt-4o-mini","ls_temperature":0}`},
			want:  oncall.Span{Kind: oncall.KindLLM, Model: "gpt-4o-mini", Provider: "openai"},
		},
		{
			name:  "metadata of a chain names no provider",
			attrs: map[string]string{"openinference.span.kind": "CHAIN", "metadata": `{"ls_provider":"openai"}`},
			want:  oncall.Span{Kind: oncall.KindChain},
		},
		{
			name:  "fields already set are kept",
			span:  oncall.Span{Kind: oncall.KindLLM, Model: "from-wire", InputTokens: 3, Cost: 0.5},
			attrs: map[string]string{"openinference.span.kind": "CHAIN", "llm.model_name": "from-attrs", "llm.token_count.prompt": "99", "llm.cost.total": "9"},
			want:  oncall.Span{Kind: oncall.KindLLM, Model: "from-wire", InputTokens: 3, TotalTokens: 3, Cost: 0.5},
		},
		{
			name:  "generic kind from the wire is refined",
			span:  oncall.Span{Kind: oncall.KindSpan},
			attrs: map[string]string{"openinference.span.kind": "RETRIEVER"},
			want:  oncall.Span{Kind: oncall.KindRetriever},
		},
		{
			name:  "agent span keeps the sum of its calls out of the token fields",
			attrs: map[string]string{"gen_ai.operation.name": "invoke_agent", "gen_ai.request.model": "m", "gen_ai.usage.input_tokens": "500", "gen_ai.usage.output_tokens": "50", "llm.cost.total": "0.2"},
			want:  oncall.Span{Kind: oncall.KindAgent, Model: "m"},
		},
		{
			name:  "unclassified span naming a model is an llm call",
			attrs: map[string]string{"gen_ai.system": "openai", "gen_ai.request.model": "gpt-5", "gen_ai.usage.input_tokens": "62", "gen_ai.usage.output_tokens": "85"},
			want:  oncall.Span{Kind: oncall.KindLLM, Model: "gpt-5", Provider: "openai", InputTokens: 62, OutputTokens: 85, TotalTokens: 147},
		},
		{
			name:  "unclassified span naming a tool is a tool call",
			attrs: map[string]string{"gen_ai.tool.name": "lookup"},
			want:  oncall.Span{Kind: oncall.KindTool, ToolName: "lookup"},
		},
		{
			name:  "explicit generic langfuse span beats the model heuristic",
			attrs: map[string]string{"langfuse.observation.type": "span", "llm.model_name": "m"},
			want:  oncall.Span{Kind: oncall.KindSpan, Model: "m"},
		},
		{
			name:  "garbage numbers are ignored",
			attrs: map[string]string{"llm.token_count.prompt": "many", "gen_ai.usage.input_tokens": "-4", "llm.cost.total": "NaN-ish"},
			want:  oncall.Span{Kind: oncall.KindSpan},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.span
			Apply(&got, tt.attrs)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Apply:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestKindMappings(t *testing.T) {
	for _, k := range []oncall.SpanKind{oncall.KindAgent, oncall.KindLLM, oncall.KindTool, oncall.KindChain, oncall.KindRetriever, oncall.KindEmbedding, oncall.KindReranker, oncall.KindGuardrail, oncall.KindEvaluator} {
		t.Run(string(k), func(t *testing.T) {
			oi := OpenInferenceKind(k)
			if got := KindFromOpenInference(oi); got != k {
				t.Errorf("KindFromOpenInference(%q) = %q, want %q", oi, got, k)
			}
			if got := KindFromLangfuse(oi); got != k {
				t.Errorf("KindFromLangfuse(%q) = %q, want %q", oi, got, k)
			}
			if op := OperationFor(k); op != "" && KindFromOperation(op) != k {
				t.Errorf("KindFromOperation(OperationFor(%q)) = %q", k, KindFromOperation(op))
			}
		})
	}
	if OpenInferenceKind(oncall.KindHTTP) != "" || KindFromLangfuse("GENERATION") != oncall.KindLLM || KindFromLangfuse("nonsense") != "" {
		t.Error("unexpected mapping for http, GENERATION or an unknown type")
	}
}

func TestLevelStatus(t *testing.T) {
	for in, want := range map[string]oncall.SpanStatus{
		"ERROR": oncall.StatusError, "fatal": oncall.StatusError, "WARNING": oncall.StatusWarning, "warn": oncall.StatusWarning,
		"DEFAULT": oncall.StatusUnset, "DEBUG": oncall.StatusUnset, "": oncall.StatusUnset,
	} {
		if got := LevelStatus(in); got != want {
			t.Errorf("LevelStatus(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUsageFromMap(t *testing.T) {
	tests := []struct {
		name           string
		m              map[string]float64
		in, out, total int64
	}{
		{"langfuse", map[string]float64{"input": 10, "output": 2, "total": 12}, 10, 2, 12},
		{"openai", map[string]float64{"prompt_tokens": 10, "completion_tokens": 3}, 10, 3, 13},
		{"camel", map[string]float64{"promptTokens": 4, "completionTokens": 1, "totalTokens": 6}, 4, 1, 6},
		{"empty", nil, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, out, total := UsageFromMap(tt.m)
			if in != tt.in || out != tt.out || total != tt.total {
				t.Errorf("got %d/%d/%d, want %d/%d/%d", in, out, total, tt.in, tt.out, tt.total)
			}
		})
	}
	if got := CostFromMap(map[string]float64{"input": 1, "output": 2, "total": 2.5}); got != 2.5 {
		t.Errorf("CostFromMap with total = %v", got)
	}
}

func TestIsTraceLevel(t *testing.T) {
	for key, want := range map[string]bool{
		"service.name": true, "deployment.environment.name": true, "gen_ai.agent.name": true, "session.id": true,
		"user.id": true, "langfuse.trace.tags": true, "langfuse.release": true,
		"input.value": false, "llm.model_name": false, "gen_ai.tool.name": false,
	} {
		if got := IsTraceLevel(key); got != want {
			t.Errorf("IsTraceLevel(%q) = %v, want %v", key, got, want)
		}
	}
	if !IsResource("k8s.pod.name") || IsResource("gen_ai.agent.name") {
		t.Error("IsResource misclassifies k8s.pod.name or gen_ai.agent.name")
	}
}
