// Package semconv maps span attributes written under the OpenInference and
// OpenTelemetry GenAI semantic conventions (plus HTTP client attributes and
// Langfuse's own OTel attributes) onto the canonical fields of oncall.Span.
//
// Every trace source decodes its wire format into flat string attributes and
// then calls Apply, so the analysis reads one vocabulary whatever framework
// produced the trace. The functions are pure and safe for concurrent use.
package semconv

import (
	"encoding/json"
	"strconv"
	"strings"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// Attribute keys the encoder in tracesource/otlp writes canonical fields
// under. Apply reads each of them before any other spelling, so a span
// written with these keys decodes back to the same fields.
const (
	KeySpanKind     = "openinference.span.kind"
	KeyModel        = "llm.model_name"
	KeyProvider     = "llm.provider"
	KeyInputTokens  = "llm.token_count.prompt"
	KeyOutputTokens = "llm.token_count.completion"
	KeyTotalTokens  = "llm.token_count.total"
	KeyCost         = "llm.cost.total"
	KeyToolName     = "tool.name"
	KeyToolArgs     = "gen_ai.tool.call.arguments"
	KeyInput        = "input.value"
	KeyOutput       = "output.value"
	// KeyObservationType is Langfuse's observation type (span, generation,
	// event, agent, tool, ...).
	KeyObservationType = "langfuse.observation.type"
	// KeyObservationLevel carries Langfuse's level (DEBUG, DEFAULT,
	// WARNING, ERROR); OTLP itself has no warning status.
	KeyObservationLevel = "langfuse.observation.level"
	// KeyOperation is the GenAI operation name (chat, execute_tool, ...).
	KeyOperation = "gen_ai.operation.name"
)

// Apply fills the canonical fields of s from attrs. Fields that are already
// set are kept, so a caller can first set what its wire format carries
// explicitly (a Langfuse model field, an OTLP status code) and let Apply
// fill the rest. Kind is always set: spans nobody classified become
// oncall.KindSpan. Token counts and cost are read only for the kinds that
// spend them (see SpendsTokens): agent and chain spans often repeat the sum
// of their model calls, which would be counted twice. Apply does not
// modify attrs or s.Attributes.
func Apply(s *oncall.Span, attrs map[string]string) {
	v := newView(attrs)
	apply(s, &v)
}

func apply(s *oncall.Span, attrs *view) {
	if s.Kind == "" || s.Kind == oncall.KindSpan {
		if k := kindOf(attrs); k != "" {
			s.Kind = k
		}
		if s.Kind == "" {
			s.Kind = oncall.KindSpan
		}
	}
	setString(&s.Model, attrs, modelKeys...)
	setString(&s.Provider, attrs, KeyProvider, "gen_ai.provider.name", "gen_ai.system", "llm.system")
	if s.Provider == "" && SpendsTokens(s.Kind) {
		s.Provider = metadataString(attrs.get("metadata"), "ls_provider")
	}
	if SpendsTokens(s.Kind) {
		setInt(&s.InputTokens, attrs, KeyInputTokens, "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.usage.prompt_tokens")
		setInt(&s.OutputTokens, attrs, KeyOutputTokens, "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.usage.completion_tokens")
		setInt(&s.TotalTokens, attrs, KeyTotalTokens, "gen_ai.usage.total_tokens", "llm.usage.total_tokens")
		setFloat(&s.Cost, attrs, KeyCost, "gen_ai.usage.cost")
		if v := attrs.get("langfuse.observation.usage_details"); v != "" {
			in, out, total := UsageFromMap(numberMap(v))
			fillInt(&s.InputTokens, in)
			fillInt(&s.OutputTokens, out)
			fillInt(&s.TotalTokens, total)
		}
		if v := attrs.get("langfuse.observation.cost_details"); v != "" && s.Cost == 0 {
			s.Cost = CostFromMap(numberMap(v))
		}
	}
	if s.TotalTokens == 0 && s.InputTokens+s.OutputTokens > 0 {
		s.TotalTokens = s.InputTokens + s.OutputTokens
	}
	setString(&s.ToolName, attrs, KeyToolName, "gen_ai.tool.name")
	if s.ToolName == "" && s.Kind == oncall.KindTool {
		s.ToolName = strings.TrimSpace(strings.TrimPrefix(s.Name, "execute_tool"))
	}
	setString(&s.ToolArgs, attrs, KeyToolArgs, "tool_call.function.arguments")
	if s.ToolArgs == "" && s.Kind == oncall.KindTool {
		setString(&s.ToolArgs, attrs, KeyInput, "langfuse.observation.input")
	}
	setString(&s.ToolArgs, attrs, "tool.parameters")
	setString(&s.Input, attrs, KeyInput, "langfuse.observation.input", "gen_ai.input.messages", "gen_ai.prompt", "gen_ai.prompt.0.content")
	setString(&s.Output, attrs, KeyOutput, "langfuse.observation.output", "gen_ai.output.messages", "gen_ai.completion", "gen_ai.tool.call.result", "gen_ai.completion.0.content")
	applyContentEvents(s)
	setString(&s.Input, attrs, "gen_ai.system_instructions")
	applyStatus(s, attrs)
}

// modelKeys are the attributes that name a span's model, best first:
// OpenInference (llm.model_name, and the request and response names of
// its newer releases, embedding.model_name, reranker.model_name),
// Langfuse, the OTel GenAI conventions, and the older llm.* spellings of
// OpenLLMetry.
var modelKeys = []string{
	KeyModel, "llm.request.model_name", "llm.response.model_name", "embedding.model_name", "reranker.model_name",
	"langfuse.observation.model.name", "gen_ai.request.model", "gen_ai.response.model", "llm.request.model", "llm.response.model",
}

// applyContentEvents fills Input and Output from the span events that
// carry a model call's content when the span's attributes do not: the
// GenAI conventions' gen_ai.client.inference.operation.details event
// (gen_ai.input.messages, gen_ai.output.messages,
// gen_ai.system_instructions) and the older gen_ai.content.prompt and
// gen_ai.content.completion events.
func applyContentEvents(s *oncall.Span) {
	if s.Input != "" && s.Output != "" {
		return
	}
	for i := range s.Events {
		e := &s.Events[i]
		switch e.Name {
		case "gen_ai.client.inference.operation.details":
			fillString(&s.Input, e.Attributes["gen_ai.input.messages"])
			fillString(&s.Input, e.Attributes["gen_ai.system_instructions"])
			fillString(&s.Output, e.Attributes["gen_ai.output.messages"])
		case "gen_ai.content.prompt":
			fillString(&s.Input, e.Attributes["gen_ai.prompt"])
		case "gen_ai.content.completion":
			fillString(&s.Output, e.Attributes["gen_ai.completion"])
		}
	}
}

func fillString(dst *string, v string) {
	if *dst == "" {
		*dst = v
	}
}

// applyStatus turns failure hints into a status when the wire format gave
// none: a Langfuse level, a GenAI error.type, an HTTP 5xx response. An
// explicit status is never overridden.
func applyStatus(s *oncall.Span, attrs *view) {
	if s.Status == oncall.StatusUnset {
		s.Status = LevelStatus(attrs.get(KeyObservationLevel))
	}
	if s.Status == oncall.StatusUnset && attrs.get("error.type") != "" {
		s.Status = oncall.StatusError
	}
	code := firstNonEmpty(attrs, "http.response.status_code", "http.status_code")
	if n, err := strconv.Atoi(code); err == nil && n >= 500 && s.Status == oncall.StatusUnset {
		s.Status = oncall.StatusError
		if s.StatusMessage == "" {
			s.StatusMessage = "HTTP " + code
		}
	}
	if s.StatusMessage == "" {
		s.StatusMessage = attrs.get("langfuse.observation.status_message")
	}
	if s.Status != oncall.StatusError || s.StatusMessage != "" {
		return
	}
	for _, e := range s.Exceptions() {
		if m := exceptionMessage(e.Attributes["exception.type"], e.Attributes["exception.message"]); m != "" {
			s.StatusMessage = m
			return
		}
	}
	if m := exceptionMessage(attrs.get("exception.type"), attrs.get("exception.message")); m != "" {
		s.StatusMessage = m
		return
	}
	s.StatusMessage = attrs.get("error.type")
}

// exceptionMessage renders exception.type and exception.message as
// "type: message".
func exceptionMessage(typ, msg string) string {
	switch {
	case typ != "" && msg != "":
		return typ + ": " + msg
	case msg != "":
		return msg
	}
	return typ
}

// UsageFromMap reads input, output and total token counts from a usage
// object in any of the spellings Langfuse and the provider SDKs use
// (input/prompt_tokens/promptTokens/input_tokens, ...). Missing counts are
// zero; total falls back to input plus output.
func UsageFromMap(m map[string]float64) (input, output, total int64) {
	pick := func(keys ...string) int64 {
		for _, k := range keys {
			if v, ok := m[k]; ok {
				return int64(v)
			}
		}
		return 0
	}
	input = pick("input", "prompt_tokens", "promptTokens", "input_tokens", "inputTokens", "prompt")
	output = pick("output", "completion_tokens", "completionTokens", "output_tokens", "outputTokens", "completion")
	total = pick("total", "total_tokens", "totalTokens")
	if total == 0 {
		total = input + output
	}
	return input, output, total
}

// CostFromMap reads a total cost in USD from a cost object: its "total"
// entry, or else the sum of its entries.
func CostFromMap(m map[string]float64) float64 {
	if v, ok := m["total"]; ok {
		return v
	}
	var sum float64
	for _, v := range m {
		sum += v
	}
	return sum
}

// metadataString reads one string entry of a JSON metadata object, such as
// the ls_provider LangChain records in the metadata OpenInference copies
// onto its spans (the only place a LangChain.js model call names its
// provider).
func metadataString(metadata, key string) string {
	if metadata == "" || !strings.Contains(metadata, key) {
		return ""
	}
	var m map[string]any
	if json.Unmarshal([]byte(metadata), &m) != nil {
		return ""
	}
	v, _ := m[key].(string)
	return v
}

// numberMap decodes a JSON object of numbers, ignoring anything else.
func numberMap(s string) map[string]float64 {
	var raw map[string]any
	if json.Unmarshal([]byte(s), &raw) != nil {
		return nil
	}
	out := make(map[string]float64, len(raw))
	for k, v := range raw {
		if f, ok := v.(float64); ok {
			out[k] = f
		}
	}
	return out
}

// IsTraceLevel reports whether an attribute describes the whole trace (the
// resource, the deployment, the agent, the user or session) rather than one
// span. Sources copy such attributes onto oncall.Trace.Attributes.
func IsTraceLevel(key string) bool {
	switch key {
	case "service.name", "service.version", "service.namespace", "service.instance.id",
		"deployment.environment", "deployment.environment.name",
		"gen_ai.agent.name", "gen_ai.agent.id", "gen_ai.conversation.id",
		"session.id", "user.id", "tag.tags", "metadata":
		return true
	}
	return strings.HasPrefix(key, "langfuse.trace.") ||
		strings.HasPrefix(key, "langfuse.release") ||
		strings.HasPrefix(key, "langfuse.version") ||
		strings.HasPrefix(key, "langfuse.environment") ||
		strings.HasPrefix(key, "langfuse.user.") ||
		strings.HasPrefix(key, "langfuse.session.")
}

// IsResource reports whether an attribute key belongs to the OTel resource
// (who emitted the span) rather than to the span itself.
func IsResource(key string) bool {
	for _, p := range []string{"service.", "deployment.", "telemetry.", "host.", "os.", "process.", "container.", "k8s.", "cloud.", "faas.", "device.", "webengine."} {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

func firstNonEmpty(attrs *view, keys ...string) string {
	for _, k := range keys {
		if v := attrs.get(k); v != "" {
			return v
		}
	}
	return ""
}

func setString(dst *string, attrs *view, keys ...string) {
	if *dst == "" {
		*dst = firstNonEmpty(attrs, keys...)
	}
}

func setInt(dst *int64, attrs *view, keys ...string) {
	if *dst != 0 {
		return
	}
	for _, k := range keys {
		if n, ok := ParseCount(attrs.get(k)); ok {
			*dst = n
			return
		}
	}
}

func fillInt(dst *int64, v int64) {
	if *dst == 0 {
		*dst = v
	}
}

func setFloat(dst *float64, attrs *view, keys ...string) {
	if *dst != 0 {
		return
	}
	for _, k := range keys {
		if f, err := strconv.ParseFloat(attrs.get(k), 64); err == nil && f > 0 {
			*dst = f
			return
		}
	}
}

// ParseCount parses a token count written as an integer or a float
// ("12", "12.0"); negative or unparsable values report false.
func ParseCount(v string) (int64, bool) {
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return n, n >= 0
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > 1<<62 {
		return 0, false
	}
	return int64(f), true
}
