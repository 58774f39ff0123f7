package llm

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/llm/llmtest"
	"github.com/oncall-copilot/oncall-copilot/retry"
)

const testKey = "sk-test-0123456789abcdefghijklmnopqrstuv"

// newClient returns a client of srv whose retries sleep instantly and
// record the delays asked for.
func newClient(t *testing.T, baseURL string, opts Options) (*Client, *[]time.Duration) {
	t.Helper()
	var slept []time.Duration
	opts.BaseURL = baseURL
	if opts.APIKey == "" {
		opts.APIKey = testKey
	}
	if opts.Model == "" {
		opts.Model = "gpt-4o-mini"
	}
	if opts.Retry.Attempts == 0 {
		opts.Retry = retry.Policy{Attempts: 3, Initial: time.Millisecond, Max: time.Second}
	}
	opts.Retry.Sleep = func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }
	c, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c, &slept
}

var schema = json.RawMessage(`{"type":"object","properties":{"summary":{"type":"string"}},"required":["summary"],"additionalProperties":false}`)

func TestChatMapsRequestAndResponse(t *testing.T) {
	srv := llmtest.NewServer(t)
	srv.RequireAPIKey(testKey)
	srv.Enqueue(llmtest.Reply{
		Content:      `{"summary":"tool timeouts"}`,
		ToolCalls:    []oncall.ToolCall{{ID: "call_9", Name: "get_span", Arguments: `{"span_id":"00f067aa0ba902b7"}`}},
		Model:        "gpt-4o-mini-2024-07-18",
		PromptTokens: 1_000_000, CompletionTokens: 500_000,
	})
	c, _ := newClient(t, srv.URL, Options{Prices: map[string]Price{"gpt-4o-mini": {Input: 1, Output: 4}}})

	resp, err := c.Chat(context.Background(), oncall.ChatRequest{
		Messages: []oncall.ChatMessage{
			{Role: oncall.RoleSystem, Content: "You are an SRE assistant."},
			{Role: oncall.RoleUser, Content: "Why?"},
			{Role: oncall.RoleAssistant, ToolCalls: []oncall.ToolCall{{ID: "call_1", Name: "get_trace", Arguments: `{"id":"x"}`}}},
			{Role: oncall.RoleTool, ToolCallID: "call_1", Content: `{"spans":[]}`},
		},
		Tools: []oncall.ToolSpec{
			{Name: "get_trace", Description: "Fetch a trace", Parameters: json.RawMessage(`{"type":"object","properties":{"id":{"type":"string"}}}`)},
			{Name: "list_alerts", Description: "No arguments"},
		},
		Schema:     schema,
		SchemaName: "diagnosis",
		MaxTokens:  800,
	})
	if err != nil {
		t.Fatalf("Chat: %v", err)
	}

	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Model != "gpt-4o-mini" || r.MaxTokens != 800 || r.MaxCompletionTokens != 0 {
		t.Errorf("model/max tokens = %q/%d/%d", r.Model, r.MaxTokens, r.MaxCompletionTokens)
	}
	if len(r.Messages) != 4 || r.Messages[0].Role != "system" || r.Messages[1].Content != "Why?" {
		t.Fatalf("messages = %+v", r.Messages)
	}
	if tc := r.Messages[2].ToolCalls; len(tc) != 1 || tc[0].ID != "call_1" || tc[0].Type != "function" || tc[0].Function.Name != "get_trace" || tc[0].Function.Arguments != `{"id":"x"}` {
		t.Errorf("assistant tool calls = %+v", tc)
	}
	if r.Messages[3].Role != "tool" || r.Messages[3].ToolCallID != "call_1" {
		t.Errorf("tool message = %+v", r.Messages[3])
	}
	if len(r.Tools) != 2 || r.Tools[0].Type != "function" || r.Tools[0].Function.Name != "get_trace" ||
		!strings.Contains(string(r.Tools[0].Function.Parameters), `"id"`) ||
		string(r.Tools[1].Function.Parameters) != emptyParameters {
		t.Errorf("tools = %+v", r.Tools)
	}
	rf := r.ResponseFormat
	if rf == nil || rf.Type != "json_schema" || rf.JSONSchema == nil || rf.JSONSchema.Name != "diagnosis" || !rf.JSONSchema.Strict {
		t.Fatalf("response_format = %+v", rf)
	}
	var gotSchema, wantSchema any
	_ = json.Unmarshal(rf.JSONSchema.Schema, &gotSchema)
	_ = json.Unmarshal(schema, &wantSchema)
	if !jsonEqual(gotSchema, wantSchema) {
		t.Errorf("schema = %s", rf.JSONSchema.Schema)
	}

	if resp.Content != `{"summary":"tool timeouts"}` || resp.Model != "gpt-4o-mini-2024-07-18" {
		t.Errorf("response = %+v", resp)
	}
	if len(resp.ToolCalls) != 1 || resp.ToolCalls[0] != (oncall.ToolCall{ID: "call_9", Name: "get_span", Arguments: `{"span_id":"00f067aa0ba902b7"}`}) {
		t.Errorf("tool calls = %+v", resp.ToolCalls)
	}
	want := oncall.Usage{PromptTokens: 1_000_000, CompletionTokens: 500_000, Cost: 3, Calls: 1}
	if resp.Usage != want {
		t.Errorf("usage = %+v, want %+v", resp.Usage, want)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestChatRetries(t *testing.T) {
	tests := []struct {
		name      string
		replies   []llmtest.Reply
		wantCalls int
		wantErr   bool
		minSleep  time.Duration
	}{
		{"429 with Retry-After then 200", []llmtest.Reply{llmtest.Status(429, "7", "Rate limit reached"), llmtest.Text("ok")}, 2, false, 7 * time.Second},
		{"500 then 200", []llmtest.Reply{llmtest.Status(500, "", "internal"), llmtest.Text("ok")}, 2, false, 0},
		{"503 until attempts run out", []llmtest.Reply{llmtest.Status(503, "", "overloaded"), llmtest.Status(503, "", "overloaded"), llmtest.Status(503, "", "overloaded")}, 3, true, 0},
		{"400 is permanent", []llmtest.Reply{llmtest.Status(400, "", "messages: too long")}, 1, true, 0},
		{"404 model is permanent", []llmtest.Reply{llmtest.Status(404, "", "The model does not exist")}, 1, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := llmtest.NewServer(t)
			srv.Enqueue(tt.replies...)
			c, slept := newClient(t, srv.URL, Options{})
			resp, err := c.Chat(context.Background(), oncall.ChatRequest{Messages: []oncall.ChatMessage{{Role: oncall.RoleUser, Content: "hi"}}})
			if n := len(srv.Requests()); n != tt.wantCalls {
				t.Errorf("%d requests, want %d", n, tt.wantCalls)
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && resp.Content != "ok" {
				t.Errorf("content = %q", resp.Content)
			}
			if tt.minSleep > 0 && (len(*slept) == 0 || (*slept)[0] < tt.minSleep) {
				t.Errorf("slept %v, want at least %v first", *slept, tt.minSleep)
			}
			if err != nil {
				var herr *retry.HTTPError
				if !errors.As(err, &herr) || herr.Endpoint != "POST "+srv.URL+"/chat/completions" {
					t.Errorf("err = %#v, want *retry.HTTPError naming the endpoint", err)
				}
			}
		})
	}
}

func TestChatUnauthorized(t *testing.T) {
	srv := llmtest.NewServer(t)
	srv.Enqueue(llmtest.Status(http.StatusUnauthorized, "", "Incorrect API key provided: "+testKey+". You can find your API key at https://platform.openai.com/account/api-keys."))
	c, _ := newClient(t, srv.URL, Options{})
	_, err := c.Chat(context.Background(), oncall.ChatRequest{Messages: []oncall.ChatMessage{{Role: oncall.RoleUser, Content: "hi"}}})
	if err == nil {
		t.Fatal("no error")
	}
	if len(srv.Requests()) != 1 {
		t.Errorf("%d requests; 401 must not be retried", len(srv.Requests()))
	}
	if !strings.Contains(err.Error(), "credentials rejected") {
		t.Errorf("error %q does not say the credentials were rejected", err)
	}
	var herr *retry.HTTPError
	if !errors.As(err, &herr) || herr.StatusCode != http.StatusUnauthorized {
		t.Fatalf("err = %#v, want *retry.HTTPError 401", err)
	}
	if strings.Contains(err.Error(), testKey) || strings.Contains(herr.Body, testKey) {
		t.Errorf("the API key leaked: %q / %q", err, herr.Body)
	}
	if !strings.Contains(herr.Body, "Incorrect API key") {
		t.Errorf("body excerpt %q lost the server's reason", herr.Body)
	}
}

func TestChatFallsBackToJSONObject(t *testing.T) {
	srv := llmtest.NewServer(t)
	srv.Enqueue(
		llmtest.Status(400, "", "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model."),
		llmtest.Text(`{"summary":"a"}`),
		llmtest.Text(`{"summary":"b"}`),
	)
	c, _ := newClient(t, srv.URL, Options{Model: "local-llama"})
	req := oncall.ChatRequest{
		Messages: []oncall.ChatMessage{{Role: oncall.RoleSystem, Content: "Diagnose."}, {Role: oncall.RoleUser, Content: "data"}},
		Schema:   schema,
	}
	resp, err := c.Chat(context.Background(), req)
	if err != nil || resp.Content != `{"summary":"a"}` {
		t.Fatalf("Chat = %+v, %v", resp, err)
	}
	if !c.JSONMode() {
		t.Error("client did not remember the fallback")
	}
	if _, err := c.Chat(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3 (rejected, fallback, remembered)", len(reqs))
	}
	if reqs[0].ResponseFormat.Type != "json_schema" {
		t.Errorf("first request asked for %q", reqs[0].ResponseFormat.Type)
	}
	for i, r := range reqs[1:] {
		if r.ResponseFormat == nil || r.ResponseFormat.Type != "json_object" || r.ResponseFormat.JSONSchema != nil {
			t.Errorf("request %d response_format = %+v, want json_object", i+2, r.ResponseFormat)
		}
		if !strings.Contains(r.Messages[0].Content, "Diagnose.") || !strings.Contains(r.Messages[0].Content, `"summary"`) {
			t.Errorf("request %d system message lacks the schema: %q", i+2, r.Messages[0].Content)
		}
		if len(r.Messages) != 2 {
			t.Errorf("request %d has %d messages", i+2, len(r.Messages))
		}
	}
}

func TestChatTimeoutIsRetried(t *testing.T) {
	srv := llmtest.NewServer(t)
	srv.Enqueue(llmtest.Reply{Hang: true}, llmtest.Text("ok"))
	c, _ := newClient(t, srv.URL, Options{Timeout: 50 * time.Millisecond})
	resp, err := c.Chat(context.Background(), oncall.ChatRequest{Messages: []oncall.ChatMessage{{Role: oncall.RoleUser, Content: "hi"}}})
	if err != nil || resp.Content != "ok" {
		t.Fatalf("Chat = %+v, %v", resp, err)
	}
	if len(srv.Requests()) != 2 {
		t.Errorf("%d requests, want 2", len(srv.Requests()))
	}
}

func TestChatStopsOnCancel(t *testing.T) {
	srv := llmtest.NewServer(t)
	srv.Enqueue(llmtest.Status(500, "", "x"), llmtest.Text("never"))
	ctx, cancel := context.WithCancel(context.Background())
	c, err := New(Options{BaseURL: srv.URL, Model: "m", Retry: retry.Policy{Attempts: 3, Sleep: func(context.Context, time.Duration) error {
		cancel()
		return context.Canceled
	}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Chat(ctx, oncall.ChatRequest{Messages: []oncall.ChatMessage{{Role: oncall.RoleUser, Content: "hi"}}}); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if len(srv.Requests()) != 1 {
		t.Errorf("%d requests after cancel, want 1", len(srv.Requests()))
	}
}

func TestErrorsHideURLCredentials(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	base := strings.Replace(dead.URL, "http://", "http://admin:hunter2pw@", 1) + "/v1?api-key=querysecret"
	c, _ := newClient(t, base, Options{Retry: retry.Policy{Attempts: 2}})
	_, err := c.Chat(context.Background(), oncall.ChatRequest{Messages: []oncall.ChatMessage{{Role: oncall.RoleUser, Content: "hi"}}})
	if err == nil {
		t.Fatal("no error from a closed server")
	}
	for _, secret := range []string{"hunter2pw", "querysecret", testKey} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error leaks %q: %v", secret, err)
		}
	}
	if !strings.Contains(err.Error(), strings.TrimPrefix(dead.URL, "http://")) {
		t.Errorf("error %q does not name the endpoint", err)
	}
}

func TestReasoningModelsUseMaxCompletionTokens(t *testing.T) {
	srv := llmtest.NewServer(t)
	srv.Enqueue(llmtest.Text("ok"))
	c, _ := newClient(t, srv.URL, Options{Model: "o4-mini"})
	if _, err := c.Chat(context.Background(), oncall.ChatRequest{Messages: []oncall.ChatMessage{{Role: oncall.RoleUser, Content: "hi"}}, MaxTokens: 300}); err != nil {
		t.Fatal(err)
	}
	if r := srv.Requests()[0]; r.MaxCompletionTokens != 300 || r.MaxTokens != 0 {
		t.Errorf("max_tokens %d, max_completion_tokens %d", r.MaxTokens, r.MaxCompletionTokens)
	}
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want []string
	}{
		{"no model", Options{}, []string{"model is required"}},
		{"relative url", Options{Model: "m", BaseURL: "api.example.com/v1"}, []string{"base URL"}},
		{"everything wrong", Options{BaseURL: "ftp://x", Timeout: -1, Prices: map[string]Price{"m": {Input: -1}}},
			[]string{"model is required", "base URL", "timeout", "price of m"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts)
			if err == nil {
				t.Fatal("New accepted bad options")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	if _, err := New(Options{Model: "m"}); err != nil {
		t.Errorf("minimal options rejected: %v", err)
	}
}

func TestCost(t *testing.T) {
	c, err := New(Options{Model: "custom-model", Prices: map[string]Price{"custom-model": {Input: 2, Output: 6}, "GPT-4O": {Input: 5, Output: 5}}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		model string
		want  float64
	}{
		{"gpt-4o-mini", 0.15 + 0.60},           // built-in
		{"gpt-4o-mini-2024-07-18", 0.15 + 0.6}, // longest prefix beats gpt-4o
		{"gpt-4o-2024-08-06", 10},              // custom override, case-insensitive
		{"openai/gpt-4.1-nano", 0.5},           // provider prefix
		{"unknown-deployment", 8},              // falls back to the configured model
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			got := c.cost(tt.model, 1_000_000, 1_000_000)
			if diff := got - tt.want; diff > 1e-9 || diff < -1e-9 {
				t.Errorf("cost = %v, want %v", got, tt.want)
			}
		})
	}
}
