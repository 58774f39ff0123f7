package semconv

// view holds the values of the attributes Apply reads, found in one pass
// over the attribute map instead of one lookup per spelling.
type view struct {
	vals [numKeys]string
}

func newView(attrs map[string]string) view {
	var v view
	for k, val := range attrs {
		if i := keyIndex(k); i >= 0 {
			v.vals[i] = val
		}
	}
	return v
}

func (v *view) get(key string) string {
	if i := keyIndex(key); i >= 0 {
		return v.vals[i]
	}
	return ""
}

const numKeys = 59

// keyIndex numbers the attribute keys Apply reads, or returns -1.
func keyIndex(key string) int {
	switch key {
	case "langfuse.observation.model.name":
		return 0
	case "gen_ai.request.model":
		return 1
	case "gen_ai.response.model":
		return 2
	case "llm.request.model":
		return 3
	case "llm.response.model":
		return 4
	case "llm.model_name":
		return 5
	case "gen_ai.provider.name":
		return 6
	case "gen_ai.system":
		return 7
	case "llm.system":
		return 8
	case "llm.provider":
		return 9
	case "gen_ai.usage.input_tokens":
		return 10
	case "gen_ai.usage.prompt_tokens":
		return 11
	case "llm.usage.prompt_tokens":
		return 12
	case "llm.token_count.prompt":
		return 13
	case "gen_ai.usage.output_tokens":
		return 14
	case "gen_ai.usage.completion_tokens":
		return 15
	case "llm.usage.completion_tokens":
		return 16
	case "llm.token_count.completion":
		return 17
	case "gen_ai.usage.total_tokens":
		return 18
	case "llm.usage.total_tokens":
		return 19
	case "llm.token_count.total":
		return 20
	case "gen_ai.usage.cost":
		return 21
	case "llm.cost.total":
		return 22
	case "langfuse.observation.usage_details":
		return 23
	case "langfuse.observation.cost_details":
		return 24
	case "gen_ai.tool.name":
		return 25
	case "tool.name":
		return 26
	case "tool_call.function.arguments":
		return 27
	case "gen_ai.tool.call.arguments":
		return 28
	case "langfuse.observation.input":
		return 29
	case "input.value":
		return 30
	case "tool.parameters":
		return 31
	case "gen_ai.input.messages":
		return 32
	case "gen_ai.prompt":
		return 33
	case "gen_ai.prompt.0.content":
		return 34
	case "langfuse.observation.output":
		return 35
	case "gen_ai.output.messages":
		return 36
	case "gen_ai.completion":
		return 37
	case "gen_ai.tool.call.result":
		return 38
	case "gen_ai.completion.0.content":
		return 39
	case "output.value":
		return 40
	case "openinference.span.kind":
		return 41
	case "langfuse.observation.type":
		return 42
	case "gen_ai.operation.name":
		return 43
	case "http.request.method":
		return 44
	case "http.method":
		return 45
	case "langfuse.observation.level":
		return 46
	case "error.type":
		return 47
	case "http.response.status_code":
		return 48
	case "http.status_code":
		return 49
	case "langfuse.observation.status_message":
		return 50
	case "exception.type":
		return 51
	case "exception.message":
		return 52
	case "llm.request.model_name":
		return 53
	case "llm.response.model_name":
		return 54
	case "embedding.model_name":
		return 55
	case "reranker.model_name":
		return 56
	case "gen_ai.system_instructions":
		return 57
	case "metadata":
		return 58
	}
	return -1
}
