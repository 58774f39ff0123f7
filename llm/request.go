package llm

import (
	"encoding/json"
	"strings"

	oncall "github.com/oncall-copilot/oncall-copilot"
	openai "github.com/sashabaranov/go-openai"
)

// emptyParameters is the schema of a tool without arguments; the API
// rejects a function whose parameters are missing in strict mode.
const emptyParameters = `{"type":"object","properties":{}}`

// request maps a domain chat request onto the API. In jsonMode a schema is
// asked for as a plain JSON object, with the schema spelled out in the
// system message so the model still knows the shape.
func (c *Client) request(req oncall.ChatRequest, jsonMode bool) openai.ChatCompletionRequest {
	out := openai.ChatCompletionRequest{Model: c.model}
	for _, m := range req.Messages {
		msg := openai.ChatCompletionMessage{Role: string(m.Role), Content: m.Content, ToolCallID: m.ToolCallID}
		for _, tc := range m.ToolCalls {
			msg.ToolCalls = append(msg.ToolCalls, openai.ToolCall{
				ID:       tc.ID,
				Type:     openai.ToolTypeFunction,
				Function: openai.FunctionCall{Name: tc.Name, Arguments: tc.Arguments},
			})
		}
		out.Messages = append(out.Messages, msg)
	}
	for _, t := range req.Tools {
		params := t.Parameters
		if len(params) == 0 {
			params = json.RawMessage(emptyParameters)
		}
		out.Tools = append(out.Tools, openai.Tool{
			Type:     openai.ToolTypeFunction,
			Function: &openai.FunctionDefinition{Name: t.Name, Description: t.Description, Parameters: params},
		})
	}
	if len(req.Schema) > 0 {
		name := req.SchemaName
		if name == "" {
			name = "answer"
		}
		if jsonMode {
			out.ResponseFormat = &openai.ChatCompletionResponseFormat{Type: openai.ChatCompletionResponseFormatTypeJSONObject}
			out.Messages = withSchemaInstruction(out.Messages, req.Schema)
		} else {
			out.ResponseFormat = &openai.ChatCompletionResponseFormat{
				Type: openai.ChatCompletionResponseFormatTypeJSONSchema,
				JSONSchema: &openai.ChatCompletionResponseFormatJSONSchema{
					Name:   name,
					Schema: req.Schema,
					Strict: true,
				},
			}
		}
	}
	if req.MaxTokens > 0 {
		if reasoningModel(c.model) {
			out.MaxCompletionTokens = req.MaxTokens
		} else {
			out.MaxTokens = req.MaxTokens
		}
	}
	return out
}

// withSchemaInstruction adds the schema to the first system message, or
// a system message holding it when there is none. JSON mode also needs
// the word JSON in the conversation, which this provides.
func withSchemaInstruction(msgs []openai.ChatCompletionMessage, schema json.RawMessage) []openai.ChatCompletionMessage {
	note := "Answer with one JSON object, and nothing else, that matches this JSON schema:\n" + string(schema)
	out := append([]openai.ChatCompletionMessage(nil), msgs...)
	for i := range out {
		if out[i].Role == openai.ChatMessageRoleSystem {
			out[i].Content += "\n\n" + note
			return out
		}
	}
	return append([]openai.ChatCompletionMessage{{Role: openai.ChatMessageRoleSystem, Content: note}}, out...)
}

// reasoningModel reports whether the model takes max_completion_tokens
// and refuses max_tokens (OpenAI's o-series and gpt-5 families).
func reasoningModel(model string) bool {
	m := model
	if i := strings.LastIndexByte(m, '/'); i >= 0 {
		m = m[i+1:]
	}
	for _, p := range []string{"o1", "o3", "o4", "gpt-5", "gpt-6"} {
		if strings.HasPrefix(m, p) {
			return true
		}
	}
	return false
}
