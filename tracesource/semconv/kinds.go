package semconv

import (
	"strings"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// KindOf classifies a span from its attributes alone, or returns "" when
// no convention names a kind. OpenInference wins over Langfuse's
// observation type, which wins over the GenAI operation name, which wins
// over an explicit generic Langfuse "span". Without any of those a span
// naming a model is an LLM call, one naming a tool a tool call, one with an
// HTTP method an HTTP call.
func KindOf(attrs map[string]string) oncall.SpanKind {
	v := newView(attrs)
	return kindOf(&v)
}

func kindOf(attrs *view) oncall.SpanKind {
	if k := KindFromOpenInference(attrs.get(KeySpanKind)); k != "" {
		return k
	}
	lf := KindFromLangfuse(attrs.get(KeyObservationType))
	if lf != "" && lf != oncall.KindSpan {
		return lf
	}
	if k := KindFromOperation(attrs.get(KeyOperation)); k != "" {
		return k
	}
	switch {
	case lf != "":
		return lf
	case attrs.get("embedding.model_name") != "":
		return oncall.KindEmbedding
	case attrs.get("reranker.model_name") != "":
		return oncall.KindReranker
	case firstNonEmpty(attrs, KeyModel, "llm.request.model_name", "llm.response.model_name", "gen_ai.request.model", "gen_ai.response.model") != "":
		return oncall.KindLLM
	case firstNonEmpty(attrs, KeyToolName, "gen_ai.tool.name") != "":
		return oncall.KindTool
	case attrs.get("http.request.method") != "" || attrs.get("http.method") != "":
		return oncall.KindHTTP
	}
	return ""
}

// SpendsTokens reports whether spans of kind are the ones whose token
// counts and cost are their own (model and embedding calls) rather than
// sums over their children.
func SpendsTokens(kind oncall.SpanKind) bool {
	return kind == oncall.KindLLM || kind == oncall.KindEmbedding
}

// KindFromOpenInference maps an openinference.span.kind value (AGENT, LLM,
// TOOL, ...), case-insensitively, or returns "" for unknown values. PROMPT
// (the rendering of a prompt template) and DECISION (a call to a decision
// model) are steps between the others, so they map to chain.
func KindFromOpenInference(v string) oncall.SpanKind {
	switch strings.ToUpper(strings.TrimSpace(v)) {
	case "AGENT":
		return oncall.KindAgent
	case "LLM":
		return oncall.KindLLM
	case "TOOL":
		return oncall.KindTool
	case "CHAIN":
		return oncall.KindChain
	case "RETRIEVER":
		return oncall.KindRetriever
	case "EMBEDDING":
		return oncall.KindEmbedding
	case "RERANKER":
		return oncall.KindReranker
	case "GUARDRAIL":
		return oncall.KindGuardrail
	case "EVALUATOR":
		return oncall.KindEvaluator
	case "PROMPT", "DECISION":
		return oncall.KindChain
	}
	return ""
}

// KindFromLangfuse maps a Langfuse observation type (SPAN, GENERATION,
// EVENT, AGENT, TOOL, ...), case-insensitively, or returns "" when v is
// empty or unknown.
func KindFromLangfuse(v string) oncall.SpanKind {
	switch strings.ToUpper(strings.TrimSpace(v)) {
	case "GENERATION":
		return oncall.KindLLM
	case "EVENT":
		return oncall.KindEvent
	case "SPAN":
		return oncall.KindSpan
	}
	return KindFromOpenInference(v)
}

// KindFromOperation maps a gen_ai.operation.name value, or returns "".
func KindFromOperation(v string) oncall.SpanKind {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "chat", "text_completion", "generate_content", "completion":
		return oncall.KindLLM
	case "embeddings", "embedding":
		return oncall.KindEmbedding
	case "execute_tool":
		return oncall.KindTool
	case "invoke_agent", "create_agent":
		return oncall.KindAgent
	}
	return ""
}

// OperationFor is the gen_ai.operation.name that describes kind, or "".
func OperationFor(kind oncall.SpanKind) string {
	switch kind {
	case oncall.KindLLM:
		return "chat"
	case oncall.KindEmbedding:
		return "embeddings"
	case oncall.KindTool:
		return "execute_tool"
	case oncall.KindAgent:
		return "invoke_agent"
	}
	return ""
}

// OpenInferenceKind is the openinference.span.kind value for kind, or ""
// when OpenInference has no such kind.
func OpenInferenceKind(kind oncall.SpanKind) string {
	switch kind {
	case oncall.KindAgent, oncall.KindLLM, oncall.KindTool, oncall.KindChain, oncall.KindRetriever,
		oncall.KindEmbedding, oncall.KindReranker, oncall.KindGuardrail, oncall.KindEvaluator:
		return strings.ToUpper(string(kind))
	}
	return ""
}

// LevelStatus maps a Langfuse level (or a log-level alias) to a status:
// ERROR, FATAL and CRITICAL are errors, WARNING and WARN warnings, anything
// else unset.
func LevelStatus(level string) oncall.SpanStatus {
	switch strings.ToUpper(strings.TrimSpace(level)) {
	case "ERROR", "FATAL", "CRITICAL":
		return oncall.StatusError
	case "WARNING", "WARN":
		return oncall.StatusWarning
	}
	return oncall.StatusUnset
}
