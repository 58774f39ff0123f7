// Package llmtest is a fake OpenAI-compatible model server for tests. It
// speaks the chat completions wire format (POST /v1/chat/completions),
// records every request it decodes, and answers from a script: a queue of
// canned replies, or a function of the request.
//
//	srv := llmtest.NewServer(t)
//	srv.Enqueue(llmtest.Status(429, "1", "slow down"), llmtest.JSON(diagnosis))
//	client, _ := llm.New(llm.Options{BaseURL: srv.URL, APIKey: "test", Model: "gpt-4o-mini"})
//	...
//	req := srv.Requests()[0] // model, messages, tools, response_format
//
// A request that finds the script empty fails the test and gets a 500.
package llmtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// Request is a decoded chat completions request body.
type Request struct {
	Model               string          `json:"model"`
	Messages            []Message       `json:"messages"`
	Tools               []Tool          `json:"tools,omitempty"`
	ToolChoice          json.RawMessage `json:"tool_choice,omitempty"`
	ResponseFormat      *ResponseFormat `json:"response_format,omitempty"`
	MaxTokens           int             `json:"max_tokens,omitempty"`
	MaxCompletionTokens int             `json:"max_completion_tokens,omitempty"`
	Temperature         *float64        `json:"temperature,omitempty"`
	Stream              bool            `json:"stream,omitempty"`

	Header http.Header `json:"-"` // the HTTP request headers
	Raw    []byte      `json:"-"` // the body as received
}

// Message is one chat message. Content parts sent as an array are joined.
type Message struct {
	Role       string     `json:"role"`
	Content    string     `json:"content"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
}

// UnmarshalJSON accepts content as a string, null, or an array of parts.
func (m *Message) UnmarshalJSON(b []byte) error {
	var raw struct {
		Role       string          `json:"role"`
		Content    json.RawMessage `json:"content"`
		ToolCalls  []ToolCall      `json:"tool_calls"`
		ToolCallID string          `json:"tool_call_id"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*m = Message{Role: raw.Role, ToolCalls: raw.ToolCalls, ToolCallID: raw.ToolCallID}
	if len(raw.Content) == 0 || string(raw.Content) == "null" {
		return nil
	}
	if raw.Content[0] == '"' {
		return json.Unmarshal(raw.Content, &m.Content)
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw.Content, &parts); err != nil {
		return fmt.Errorf("message content: %w", err)
	}
	for _, p := range parts {
		m.Content += p.Text
	}
	return nil
}

// ToolCall is a function call in an assistant message.
type ToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// Tool is a function the model may call.
type Tool struct {
	Type     string `json:"type"`
	Function struct {
		Name        string          `json:"name"`
		Description string          `json:"description,omitempty"`
		Parameters  json.RawMessage `json:"parameters,omitempty"`
		Strict      bool            `json:"strict,omitempty"`
	} `json:"function"`
}

// ResponseFormat is the requested answer format: "text", "json_object" or
// "json_schema" with the schema.
type ResponseFormat struct {
	Type       string `json:"type"`
	JSONSchema *struct {
		Name   string          `json:"name"`
		Schema json.RawMessage `json:"schema"`
		Strict bool            `json:"strict"`
	} `json:"json_schema,omitempty"`
}

// Reply is one scripted answer.
type Reply struct {
	Status     int    // HTTP status; zero means 200
	RetryAfter string // Retry-After header, for 429 and 503 replies
	Error      string // the error message of a non-2xx reply
	// Hang answers nothing until the client gives up, to test timeouts.
	Hang bool

	Content      string
	ToolCalls    []oncall.ToolCall
	Model        string // defaults to the request's model
	FinishReason string // defaults to "stop", or "tool_calls" when there are calls
	// PromptTokens and CompletionTokens are the reported usage; when both
	// are zero they are estimated from the text (four bytes a token).
	PromptTokens, CompletionTokens int
}

// Text answers with plain content.
func Text(s string) Reply { return Reply{Content: s} }

// JSON answers with v marshalled as the message content. It panics if v
// does not marshal, which is a bug in the test.
func JSON(v any) Reply {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("llmtest.JSON: %v", err))
	}
	return Reply{Content: string(b)}
}

// Tools answers with tool calls. Calls without an id get call_1, call_2...
func Tools(calls ...oncall.ToolCall) Reply {
	for i := range calls {
		if calls[i].ID == "" {
			calls[i].ID = fmt.Sprintf("call_%d", i+1)
		}
	}
	return Reply{ToolCalls: calls}
}

// Status answers with an HTTP error in the OpenAI error shape.
func Status(code int, retryAfter, message string) Reply {
	return Reply{Status: code, RetryAfter: retryAfter, Error: message}
}

// Server is a fake chat completions endpoint. It is safe for concurrent
// use by the code under test.
type Server struct {
	// URL is the base URL to configure clients with; it ends in /v1.
	URL string

	t       testing.TB
	mu      sync.Mutex
	script  []Reply
	handler func(Request) Reply
	reqs    []Request
	apiKey  string
}

// NewServer starts a server that is closed when the test ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t}
	hs := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(hs.Close)
	s.URL = hs.URL + "/v1"
	return s
}

// Enqueue adds replies to the script; each request takes the next one.
func (s *Server) Enqueue(replies ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = append(s.script, replies...)
}

// Handle answers every request the queue does not answer with fn.
func (s *Server) Handle(fn func(Request) Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handler = fn
}

// RequireAPIKey makes the server answer 401, as OpenAI does, to requests
// without "Authorization: Bearer key".
func (s *Server) RequireAPIKey(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apiKey = key
}

// Requests returns the requests received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/chat/completions") {
		s.t.Errorf("llmtest: unexpected %s %s", r.Method, r.URL.Path)
		writeError(w, Status(http.StatusNotFound, "", "unknown endpoint"))
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, Status(http.StatusBadRequest, "", "read body: "+err.Error()))
		return
	}
	var req Request
	if err := json.Unmarshal(body, &req); err != nil {
		s.t.Errorf("llmtest: decode chat completions request: %v\n%s", err, body)
		writeError(w, Status(http.StatusBadRequest, "", "invalid JSON body"))
		return
	}
	req.Header, req.Raw = r.Header.Clone(), body

	s.mu.Lock()
	s.reqs = append(s.reqs, req)
	key := s.apiKey
	var reply Reply
	var ok bool
	switch {
	case key != "" && r.Header.Get("Authorization") != "Bearer "+key:
		reply, ok = Status(http.StatusUnauthorized, "", "Incorrect API key provided."), true
	case len(s.script) > 0:
		reply, s.script, ok = s.script[0], s.script[1:], true
	case s.handler != nil:
		h := s.handler
		s.mu.Unlock()
		reply, ok = h(req), true
		s.mu.Lock()
	}
	s.mu.Unlock()
	if !ok {
		s.t.Errorf("llmtest: no scripted reply for request %d", len(s.Requests()))
		writeError(w, Status(http.StatusInternalServerError, "", "llmtest: script exhausted"))
		return
	}
	if reply.Hang {
		<-r.Context().Done()
		return
	}
	if reply.Status != 0 && reply.Status != http.StatusOK {
		writeError(w, reply)
		return
	}
	writeCompletion(w, req, reply, len(s.Requests()))
}

func writeError(w http.ResponseWriter, r Reply) {
	typ := "invalid_request_error"
	switch {
	case r.Status == http.StatusUnauthorized:
		typ = "authentication_error"
	case r.Status == http.StatusTooManyRequests:
		typ = "rate_limit_error"
	case r.Status >= 500:
		typ = "server_error"
	}
	if r.RetryAfter != "" {
		w.Header().Set("Retry-After", r.RetryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(r.Status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"error": map[string]any{"message": r.Error, "type": typ, "param": nil, "code": nil},
	})
}

func writeCompletion(w http.ResponseWriter, req Request, r Reply, n int) {
	type call struct {
		ID       string `json:"id"`
		Type     string `json:"type"`
		Function struct {
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
		} `json:"function"`
	}
	var calls []call
	for _, c := range r.ToolCalls {
		cc := call{ID: c.ID, Type: "function"}
		cc.Function.Name, cc.Function.Arguments = c.Name, c.Arguments
		calls = append(calls, cc)
	}
	var content *string
	if r.Content != "" || len(calls) == 0 {
		content = &r.Content
	}
	finish := r.FinishReason
	if finish == "" {
		finish = "stop"
		if len(calls) > 0 {
			finish = "tool_calls"
		}
	}
	model := r.Model
	if model == "" {
		model = req.Model
	}
	prompt, completion := r.PromptTokens, r.CompletionTokens
	if prompt == 0 && completion == 0 {
		for _, m := range req.Messages {
			prompt += len(m.Content)
		}
		completion = len(r.Content)
		for _, c := range r.ToolCalls {
			completion += len(c.Name) + len(c.Arguments)
		}
		prompt, completion = prompt/4+1, completion/4+1
	}
	msg := map[string]any{"role": "assistant", "content": content}
	if len(calls) > 0 {
		msg["tool_calls"] = calls
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"id":      fmt.Sprintf("chatcmpl-llmtest-%d", n),
		"object":  "chat.completion",
		"created": 1700000000 + n,
		"model":   model,
		"choices": []map[string]any{{
			"index":         0,
			"message":       msg,
			"finish_reason": finish,
		}},
		"usage": map[string]int{
			"prompt_tokens":     prompt,
			"completion_tokens": completion,
			"total_tokens":      prompt + completion,
		},
	})
}
