package llmtest

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

func post(t *testing.T, url, body string, header map[string]string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/chat/completions", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("response is not JSON: %v\n%s", err, b)
	}
	return resp, out
}

func TestServerScript(t *testing.T) {
	srv := NewServer(t)
	srv.Enqueue(
		Status(http.StatusTooManyRequests, "2", "slow down"),
		JSON(map[string]string{"summary": "ok"}),
		Tools(oncall.ToolCall{Name: "get_trace", Arguments: `{"id":"abc"}`}),
	)
	body := `{"model":"m1","messages":[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"hi "},{"type":"text","text":"there"}]}],` +
		`"response_format":{"type":"json_schema","json_schema":{"name":"d","schema":{"type":"object"},"strict":true}}}`

	resp, out := post(t, srv.URL, body, nil)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "2" {
		t.Fatalf("first reply: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if e := out["error"].(map[string]any); e["type"] != "rate_limit_error" || e["message"] != "slow down" {
		t.Errorf("error body = %v", e)
	}

	_, out = post(t, srv.URL, body, nil)
	choice := out["choices"].([]any)[0].(map[string]any)
	msg := choice["message"].(map[string]any)
	if msg["content"] != `{"summary":"ok"}` || choice["finish_reason"] != "stop" || out["model"] != "m1" {
		t.Errorf("second reply = %v", out)
	}
	if _, ok := msg["tool_calls"]; ok {
		t.Errorf("tool_calls present without calls: %v", msg)
	}
	if u := out["usage"].(map[string]any); u["prompt_tokens"].(float64) < 1 {
		t.Errorf("usage = %v", u)
	}

	_, out = post(t, srv.URL, body, nil)
	choice = out["choices"].([]any)[0].(map[string]any)
	msg = choice["message"].(map[string]any)
	calls := msg["tool_calls"].([]any)
	fn := calls[0].(map[string]any)["function"].(map[string]any)
	if choice["finish_reason"] != "tool_calls" || msg["content"] != nil || fn["name"] != "get_trace" || calls[0].(map[string]any)["id"] != "call_1" {
		t.Errorf("third reply = %v", out)
	}

	reqs := srv.Requests()
	if len(reqs) != 3 {
		t.Fatalf("recorded %d requests, want 3", len(reqs))
	}
	r := reqs[0]
	if r.Model != "m1" || len(r.Messages) != 2 || r.Messages[1].Content != "hi there" {
		t.Errorf("decoded request = %+v", r)
	}
	if r.ResponseFormat == nil || r.ResponseFormat.Type != "json_schema" || !r.ResponseFormat.JSONSchema.Strict {
		t.Errorf("response_format = %+v", r.ResponseFormat)
	}
}

func TestServerHandlerAndAPIKey(t *testing.T) {
	srv := NewServer(t)
	srv.RequireAPIKey("k1")
	srv.Handle(func(r Request) Reply { return Text("echo " + r.Messages[0].Content) })
	body := `{"model":"m","messages":[{"role":"user","content":"x"}]}`
	if resp, _ := post(t, srv.URL, body, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without key: HTTP %d, want 401", resp.StatusCode)
	}
	_, out := post(t, srv.URL, body, map[string]string{"Authorization": "Bearer k1"})
	msg := out["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)
	if msg["content"] != "echo x" {
		t.Errorf("handler reply = %v", msg)
	}
	if got := srv.Requests()[1].Header.Get("Authorization"); got != "Bearer k1" {
		t.Errorf("recorded header = %q", got)
	}
}
