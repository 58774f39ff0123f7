package oncall

import "encoding/json"

// ChatRole is who speaks a chat message.
type ChatRole string

// Chat roles, as in OpenAI-compatible APIs.
const (
	RoleSystem    ChatRole = "system"
	RoleUser      ChatRole = "user"
	RoleAssistant ChatRole = "assistant"
	RoleTool      ChatRole = "tool"
)

// ChatMessage is one message of a model conversation.
type ChatMessage struct {
	Role       ChatRole   `json:"role"`
	Content    string     `json:"content"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`   // assistant messages
	ToolCallID string     `json:"tool_call_id,omitempty"` // tool messages
}

// ToolCall is the model asking to run a tool.
type ToolCall struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Arguments string `json:"arguments"` // JSON
}

// ToolSpec describes a tool the model may call.
type ToolSpec struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Parameters  json.RawMessage `json:"parameters"` // JSON schema
}

// ChatRequest is one model call.
type ChatRequest struct {
	Messages []ChatMessage
	Tools    []ToolSpec
	// Schema, when set, asks for a JSON answer matching it (structured
	// output), under SchemaName.
	Schema     json.RawMessage
	SchemaName string
	MaxTokens  int
}

// ChatResponse is a model's answer.
type ChatResponse struct {
	Content   string
	ToolCalls []ToolCall
	Model     string
	Usage     Usage
}
