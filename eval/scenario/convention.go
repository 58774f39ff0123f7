package scenario

import (
	"encoding/json"
	"strconv"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// message is one entry of a model conversation.
type message struct {
	Role    string
	Content string
	Calls   []toolCall
	CallID  string // for tool results
}

type toolCall struct {
	ID   string
	Name string
	Args string // JSON
}

// renderInput writes the messages of a model call as the convention
// records them: OpenInference's input.value holds the request's messages,
// GenAI's gen_ai.input.messages holds role/parts objects (the system prompt
// goes to gen_ai.system_instructions).
func renderInput(msgs []message, genAI bool) string {
	if !genAI {
		type fn struct {
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
		}
		type call struct {
			ID       string `json:"id"`
			Type     string `json:"type"`
			Function fn     `json:"function"`
		}
		type msg struct {
			Role       string `json:"role"`
			Content    string `json:"content,omitempty"`
			ToolCalls  []call `json:"tool_calls,omitempty"`
			ToolCallID string `json:"tool_call_id,omitempty"`
		}
		out := struct {
			Messages []msg `json:"messages"`
		}{}
		for _, m := range msgs {
			x := msg{Role: m.Role, Content: m.Content, ToolCallID: m.CallID}
			for _, c := range m.Calls {
				x.ToolCalls = append(x.ToolCalls, call{ID: c.ID, Type: "function", Function: fn{c.Name, c.Args}})
			}
			out.Messages = append(out.Messages, x)
		}
		return js(out)
	}
	var out []map[string]any
	for _, m := range msgs {
		if m.Role == "system" {
			continue
		}
		out = append(out, genAIMessage(m))
	}
	return js(out)
}

func genAIMessage(m message) map[string]any {
	var parts []map[string]any
	if m.Role == "tool" {
		parts = append(parts, map[string]any{"type": "tool_call_response", "id": m.CallID, "response": m.Content})
	} else if m.Content != "" {
		parts = append(parts, map[string]any{"type": "text", "content": m.Content})
	}
	for _, c := range m.Calls {
		parts = append(parts, map[string]any{"type": "tool_call", "id": c.ID, "name": c.Name, "arguments": json.RawMessage(c.Args)})
	}
	return map[string]any{"role": m.Role, "parts": parts}
}

// renderOutput writes a model answer: OpenInference records the assistant
// message (text, or the tool calls as JSON), GenAI an output message list.
func renderOutput(m message, finish string, genAI bool) string {
	if genAI {
		out := genAIMessage(m)
		out["finish_reason"] = finish
		return js([]map[string]any{out})
	}
	if len(m.Calls) == 0 {
		return m.Content
	}
	var calls []map[string]any
	for _, c := range m.Calls {
		calls = append(calls, map[string]any{"id": c.ID, "type": "function", "function": map[string]any{"name": c.Name, "arguments": c.Args}})
	}
	return js(map[string]any{"role": "assistant", "tool_calls": calls})
}

// wireSpan is span s as its instrumentation writes it. OpenInference spans
// keep their canonical fields, which the OTLP encoder writes under
// OpenInference keys. GenAI spans move them to gen_ai.* attributes, so the
// files exercise both spellings.
func wireSpan(s oncall.Span, genAI bool) oncall.Span {
	w := s
	w.Attributes = make(map[string]string, len(s.Attributes)+8)
	for k, v := range s.Attributes {
		w.Attributes[k] = v
	}
	if len(s.Events) > 0 {
		w.Events = append([]oncall.SpanEvent(nil), s.Events...)
	}
	if !genAI {
		return w
	}
	set := func(k, v string) {
		if v != "" {
			w.Attributes[k] = v
		}
	}
	count := func(n int64) string {
		if n == 0 {
			return ""
		}
		return strconv.FormatInt(n, 10)
	}
	set("gen_ai.request.model", s.Model)
	if s.Provider != "" {
		if _, legacy := s.Attributes["gen_ai.system"]; !legacy {
			set("gen_ai.provider.name", s.Provider)
		}
	}
	set("gen_ai.usage.input_tokens", count(s.InputTokens))
	set("gen_ai.usage.output_tokens", count(s.OutputTokens))
	if s.Cost > 0 {
		set("gen_ai.usage.cost", strconv.FormatFloat(s.Cost, 'g', -1, 64))
	}
	set("gen_ai.tool.name", s.ToolName)
	switch s.Kind {
	case oncall.KindLLM, oncall.KindAgent:
		set("gen_ai.input.messages", s.Input)
		set("gen_ai.output.messages", s.Output)
		w.Input, w.Output = "", ""
	case oncall.KindTool:
		set("gen_ai.tool.call.result", s.Output)
		w.Input, w.Output = "", ""
	}
	w.Model, w.Provider, w.ToolName = "", "", ""
	w.InputTokens, w.OutputTokens, w.TotalTokens, w.Cost = 0, 0, 0, 0
	return w
}
