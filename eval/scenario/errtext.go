package scenario

import (
	"fmt"
	"net/url"
	"strings"
)

// failure is an error as one layer of an agent run records it: the
// exception, the phrase an analysis should find in it, and a stack trace.
type failure struct {
	Exc    exc
	Phrase string // a stable substring of Exc that identifies the failure
	Stack  string
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Host
}

func statusText(code int) string {
	switch code {
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 422:
		return "Unprocessable Entity"
	case 429:
		return "Too Many Requests"
	case 500:
		return "Internal Server Error"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Gateway Timeout"
	}
	return "Error"
}

// timeoutFailure is a tool's HTTP call that got no answer within secs.
func timeoutFailure(r *rng, lang, method, rawURL string, secs int) failure {
	switch lang {
	case "python":
		if r.percent(50) {
			return failure{Exc: exc{"httpx.ReadTimeout", "The read operation timed out"}, Phrase: "timed out"}
		}
		pool, host, port := "HTTPSConnectionPool", hostOf(rawURL), "443"
		if u, err := url.Parse(rawURL); err == nil {
			host = u.Hostname()
			if u.Scheme == "http" {
				pool, port = "HTTPConnectionPool", "80"
			}
			if u.Port() != "" {
				port = u.Port()
			}
		}
		return failure{Exc: exc{"requests.exceptions.ReadTimeout", fmt.Sprintf("%s(host='%s', port=%s): Read timed out. (read timeout=%d)", pool, host, port, secs)}, Phrase: "timed out"}
	case "typescript":
		return failure{Exc: exc{"TimeoutError", "The operation was aborted due to timeout"}, Phrase: "aborted due to timeout"}
	case "go":
		return failure{Exc: exc{"*url.Error", fmt.Sprintf("%s %q: context deadline exceeded (Client.Timeout exceeded while awaiting headers)", titleMethod(method), rawURL)}, Phrase: "deadline exceeded"}
	}
	return failure{Exc: exc{"System.Threading.Tasks.TaskCanceledException", fmt.Sprintf("The request was canceled due to the configured HttpClient.Timeout of %d seconds elapsing.", secs)}, Phrase: "HttpClient.Timeout"}
}

// statementTimeout is a database query cancelled by the server.
func statementTimeout(lang string) failure {
	msg := "canceling statement due to statement timeout"
	switch lang {
	case "python":
		return failure{Exc: exc{"psycopg.errors.QueryCanceled", msg}, Phrase: "statement timeout"}
	case "go":
		return failure{Exc: exc{"*pgconn.PgError", "ERROR: " + msg + " (SQLSTATE 57014)"}, Phrase: "statement timeout"}
	case "typescript":
		return failure{Exc: exc{"DatabaseError", msg}, Phrase: "statement timeout"}
	}
	return failure{Exc: exc{"Npgsql.PostgresException", "57014: " + msg}, Phrase: "statement timeout"}
}

// statusFailure is a tool's HTTP call answered with an error status. body
// is the upstream's response body, quoted by some clients.
func statusFailure(r *rng, lang, method, rawURL string, code int, body string) failure {
	phrase := fmt.Sprint(code)
	kind := "Server"
	if code < 500 {
		kind = "Client"
	}
	switch lang {
	case "python":
		if r.percent(50) {
			return failure{Exc: exc{"httpx.HTTPStatusError", fmt.Sprintf("%s error '%d %s' for url '%s'\nFor more information check: https://developer.mozilla.org/en-US/docs/Web/HTTP/Status/%d", kind, code, statusText(code), rawURL, code)}, Phrase: phrase}
		}
		return failure{Exc: exc{"requests.exceptions.HTTPError", fmt.Sprintf("%d %s Error: %s for url: %s", code, kind, statusText(code), rawURL)}, Phrase: phrase}
	case "typescript":
		m := fmt.Sprintf("Request failed with status code %d", code)
		if body != "" {
			m += ": " + body
		}
		return failure{Exc: exc{"AxiosError", m}, Phrase: phrase}
	case "go":
		m := fmt.Sprintf("%s %s: unexpected status %d %s", method, rawURL, code, statusText(code))
		if body != "" {
			m += ": " + body
		}
		return failure{Exc: exc{"*tools.StatusError", m}, Phrase: phrase}
	}
	return failure{Exc: exc{"System.Net.Http.HttpRequestException", fmt.Sprintf("Response status code does not indicate success: %d (%s).", code, statusText(code))}, Phrase: phrase}
}

// upstreamBody is what a failing dependency or its proxy answers.
func upstreamBody(r *rng, code int) string {
	switch code {
	case 503:
		return pick(r, []string{
			"upstream connect error or disconnect/reset before headers. reset reason: connection failure",
			`{"error":"service_unavailable","message":"no healthy upstream"}`,
			`{"error":"overloaded","retry_after":30}`,
		})
	case 502:
		return "<html><body><h1>502 Bad Gateway</h1></body></html>"
	case 504:
		return "upstream request timeout"
	case 500:
		return `{"error":"internal","message":"unexpected error, request id ` + r.hex(8) + `"}`
	}
	return ""
}

// connectFailure is a call to a service with nothing listening.
func connectFailure(lang, method, rawURL string) failure {
	switch lang {
	case "python":
		return failure{Exc: exc{"httpx.ConnectError", "[Errno 111] Connection refused"}, Phrase: "Connection refused"}
	case "typescript":
		return failure{Exc: exc{"TypeError", "fetch failed: connect ECONNREFUSED " + hostOf(rawURL)}, Phrase: "ECONNREFUSED"}
	case "go":
		return failure{Exc: exc{"*url.Error", fmt.Sprintf("%s %q: dial tcp %s: connect: connection refused", titleMethod(method), rawURL, hostOf(rawURL))}, Phrase: "connection refused"}
	}
	return failure{Exc: exc{"System.Net.Http.HttpRequestException", fmt.Sprintf("Connection refused (%s)", hostOf(rawURL))}, Phrase: "Connection refused"}
}

func sdkType(lang, family, name string) string {
	switch lang {
	case "python":
		pkg := map[string]string{"openai": "openai", "anthropic": "anthropic", "gemini": "google.genai.errors", "llama": "groq", "mistral": "mistralai.models"}[family]
		return pkg + "." + name
	case "go":
		return "*" + family + ".Error"
	case "dotnet":
		return "System.ClientModel.ClientResultException"
	}
	return name
}

// kv is one entry of an ordered JSON object, so provider error bodies
// print their keys in the order the providers use.
type kv struct {
	K string
	V any // string, int, nil or []kv
}

func renderJSON(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case int:
		return fmt.Sprint(x)
	case string:
		return js(x)
	case []kv:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = js(e.K) + ":" + renderJSON(e.V)
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	return ""
}

// renderPython prints v the way Python prints a dict.
func renderPython(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case int:
		return fmt.Sprint(x)
	case string:
		if strings.Contains(x, "'") && !strings.Contains(x, `"`) {
			return `"` + x + `"`
		}
		return "'" + strings.ReplaceAll(x, "'", `\'`) + "'"
	case []kv:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = renderPython(e.K) + ": " + renderPython(e.V)
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return ""
}

func providerURL(m model) string {
	switch m.Family {
	case "anthropic":
		return "https://api.anthropic.com/v1/messages"
	case "gemini":
		return "https://generativelanguage.googleapis.com/v1beta/models/" + m.Response + ":generateContent"
	case "llama":
		return "https://api.groq.com/openai/v1/chat/completions"
	case "mistral":
		return "https://api.mistral.ai/v1/chat/completions"
	}
	return "https://api.openai.com/v1/chat/completions"
}

// providerFailure is an error answer of a model provider's API, rendered
// the way the provider's SDK in the framework's language reports it.
// errType and code are the provider's error type and code; msg is its
// human message.
func providerFailure(lang string, m model, status int, typeName, errType, code, msg, phrase string) failure {
	var body []kv
	switch m.Family {
	case "anthropic":
		body = []kv{{"type", "error"}, {"error", []kv{{"type", errType}, {"message", msg}}}}
	case "gemini":
		body = []kv{{"error", []kv{{"code", status}, {"message", msg}, {"status", errType}}}}
	case "mistral":
		body = []kv{{"object", "error"}, {"message", msg}, {"type", errType}, {"code", code}}
	default:
		var c any = code
		if code == "" {
			c = nil
		}
		body = []kv{{"error", []kv{{"message", msg}, {"type", errType}, {"param", nil}, {"code", c}}}}
	}
	var text string
	switch lang {
	case "python":
		switch m.Family {
		case "gemini":
			text = fmt.Sprintf("%d %s. %s", status, errType, renderPython(body))
		case "mistral":
			text = fmt.Sprintf("API error occurred: Status %d\n%s", status, renderJSON(body))
		default:
			text = fmt.Sprintf("Error code: %d - %s", status, renderPython(body))
		}
	case "typescript":
		if m.Family == "openai" || m.Family == "llama" {
			text = fmt.Sprintf("%d %s", status, msg)
		} else {
			text = fmt.Sprintf("%d %s", status, renderJSON(body))
		}
	case "go":
		text = fmt.Sprintf("POST %q: %d %s %s", providerURL(m), status, statusText(status), renderJSON(body))
	default:
		text = fmt.Sprintf("Service request failed.\nStatus: %d (%s)\n\nContent:\n%s", status, statusText(status), renderJSON(body))
	}
	return failure{Exc: exc{sdkType(lang, m.Family, typeName), text}, Phrase: phrase}
}

// rateLimitFailure is a model provider refusing a call for rate limits.
func rateLimitFailure(r *rng, lang string, m model) failure {
	switch m.Family {
	case "anthropic":
		return providerFailure(lang, m, 429, "RateLimitError", "rate_limit_error", "", fmt.Sprintf("This request would exceed the rate limit for your organization of %d,000 input tokens per minute.", pick(r, []int{40, 80, 160})), "429")
	case "gemini":
		return providerFailure(lang, m, 429, "ClientError", "RESOURCE_EXHAUSTED", "", "Resource has been exhausted (e.g. check quota).", "429")
	case "mistral":
		return providerFailure(lang, m, 429, "SDKError", "rate_limited", "1300", "Requests rate limit exceeded", "429")
	}
	limit := pick(r, []int{30000, 200000, 450000, 800000})
	msg := fmt.Sprintf("Rate limit reached for %s in organization org-%s on tokens per min (TPM): Limit %d, Used %d, Requested %d. Please try again in %d.%03ds.",
		m.Response, r.chars(24, alnum), limit, limit-r.between(10, 900), r.between(900, 4000), r.between(0, 9), r.intn(1000))
	return providerFailure(lang, m, 429, "RateLimitError", "tokens", "rate_limit_exceeded", msg, "429")
}

// contextFailure is a model call whose prompt is longer than the model's
// context window.
func contextFailure(lang string, m model, tokens int64) failure {
	switch m.Family {
	case "anthropic":
		return providerFailure(lang, m, 400, "BadRequestError", "invalid_request_error", "", fmt.Sprintf("prompt is too long: %d tokens > %d maximum", tokens, m.Context), "prompt is too long")
	case "gemini":
		return providerFailure(lang, m, 400, "ClientError", "INVALID_ARGUMENT", "", fmt.Sprintf("The input token count (%d) exceeds the maximum number of tokens allowed (%d).", tokens, m.Context), "exceeds the maximum number of tokens")
	case "mistral":
		return providerFailure(lang, m, 400, "SDKError", "invalid_request_error", "3051", fmt.Sprintf("Prompt contains %d tokens and 0 draft tokens, too large for model with %d maximum context length", tokens, m.Context), "maximum context length")
	}
	return providerFailure(lang, m, 400, "BadRequestError", "invalid_request_error", "context_length_exceeded",
		fmt.Sprintf("This model's maximum context length is %d tokens. However, your messages resulted in %d tokens. Please reduce the length of the messages.", m.Context, tokens), "maximum context length")
}

// llmAuthFailure is a model provider rejecting the API key; providers
// echo only a masked form of it.
func llmAuthFailure(lang string, m model, key string) failure {
	masked := key[:8] + strings.Repeat("*", 20) + key[len(key)-4:]
	switch m.Family {
	case "anthropic":
		return providerFailure(lang, m, 401, "AuthenticationError", "authentication_error", "", "invalid x-api-key", "401")
	case "gemini":
		return providerFailure(lang, m, 401, "ClientError", "UNAUTHENTICATED", "", "API key expired. Please renew the API key.", "401")
	}
	return providerFailure(lang, m, 401, "AuthenticationError", "invalid_request_error", "invalid_api_key",
		fmt.Sprintf("Incorrect API key provided: %s. You can find your API key at https://platform.openai.com/account/api-keys.", masked), "401")
}

// validationFailure is a tool rejecting the arguments the model produced.
func validationFailure(lang, toolName, field, badJSON string) failure {
	model := toCamel(toolName) + "Args"
	switch {
	case lang == "python":
		return failure{Exc: exc{"pydantic_core._pydantic_core.ValidationError", fmt.Sprintf("1 validation error for %s\n%s\n  Field required [type=missing, input_value=%s, input_type=dict]\n    For further information visit https://errors.pydantic.dev/2.9/v/missing", model, field, pyRepr(badJSON))}, Phrase: "validation error"}
	case lang == "typescript":
		return failure{Exc: exc{"AI_InvalidToolArgumentsError", fmt.Sprintf("Invalid arguments for tool %s: Type validation failed: Value: %s.\nError message: [{\"code\":\"invalid_type\",\"expected\":\"string\",\"received\":\"undefined\",\"path\":[\"%s\"],\"message\":\"Required\"}]", toolName, badJSON, field)}, Phrase: "Invalid arguments for tool"}
	case lang == "go":
		return failure{Exc: exc{"*agent.ToolArgsError", fmt.Sprintf("tool %s: invalid arguments: missing required field %q", toolName, field)}, Phrase: "invalid arguments"}
	}
	return failure{Exc: exc{"System.ArgumentException", fmt.Sprintf("Missing argument for function parameter '%s'", field)}, Phrase: "Missing argument"}
}

// parseFailure is structured model output that does not parse.
func parseFailure(lang string, output string) failure {
	head := output
	if len(head) > 60 {
		head = head[:60]
	}
	switch lang {
	case "python":
		return failure{Exc: exc{"langchain_core.exceptions.OutputParserException", "Invalid json output: " + head}, Phrase: "Invalid json output"}
	case "typescript":
		return failure{Exc: exc{"AI_NoObjectGeneratedError", "No object generated: could not parse the response."}, Phrase: "could not parse the response"}
	case "go":
		return failure{Exc: exc{"*json.SyntaxError", fmt.Sprintf("decode model output: invalid character '%c' looking for beginning of value", output[0])}, Phrase: "decode model output"}
	}
	return failure{Exc: exc{"System.Text.Json.JsonException", fmt.Sprintf("'%c' is an invalid start of a value. Path: $ | LineNumber: 0 | BytePositionInLine: 0.", output[0])}, Phrase: "invalid start of a value"}
}

// cancelFailure is a run abandoned because its caller went away.
func cancelFailure(lang string) failure {
	switch lang {
	case "python":
		return failure{Exc: exc{"asyncio.exceptions.CancelledError", "client disconnected"}, Phrase: "CancelledError"}
	case "typescript":
		return failure{Exc: exc{"AbortError", "The user aborted a request."}, Phrase: "aborted"}
	case "go":
		return failure{Exc: exc{"*errors.errorString", "context canceled"}, Phrase: "context canceled"}
	}
	return failure{Exc: exc{"System.OperationCanceledException", "The operation was canceled."}, Phrase: "canceled"}
}

// wrapRoot is how the agent's entry point reports a failure from below:
// some frameworks let the exception propagate unchanged, others wrap it.
func wrapRoot(fw framework, agentName string, inner exc) exc {
	switch fw.Lang {
	case "go":
		return exc{inner.Type, fmt.Sprintf("run agent %s: %s", agentName, inner.Message)}
	case "dotnet":
		return exc{"Microsoft.Agents.AgentException", fmt.Sprintf("Agent '%s' invocation failed. ---> %s: %s", agentName, inner.Type, inner.Message)}
	case "typescript":
		return inner
	}
	if fw.GenAI {
		return exc{"AgentRunError", "Agent run failed: " + inner.String()}
	}
	return inner
}

func toCamel(s string) string {
	parts := strings.Split(s, "_")
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, "")
}

// pyRepr renders a flat JSON object the way Python prints a dict.
func pyRepr(j string) string {
	return strings.NewReplacer(`"`, `'`, ":", ": ", ",", ", ").Replace(j)
}

// stack renders a stack trace in the language's usual shape.
func stack(lang, file, fn string, e exc) string {
	switch lang {
	case "python":
		return fmt.Sprintf("Traceback (most recent call last):\n  File \"/app/src/agent/%s.py\", line 87, in %s\n    result = await self._call(**kwargs)\n%s", file, fn, e.String())
	case "typescript":
		return fmt.Sprintf("%s\n    at %s (/app/dist/agent/%s.js:41:13)\n    at async executeTools (/app/node_modules/ai/dist/index.mjs:4377:22)", e.String(), toCamel(fn), file)
	case "go":
		return fmt.Sprintf("goroutine 73 [running]:\nmain.(*%s).%s(...)\n\t/app/internal/agent/%s.go:118 +0x1c4\nmain.(*Runner).step(...)\n\t/app/internal/agent/runner.go:211 +0x3b0", toCamel(file), toCamel(fn), file)
	}
	return fmt.Sprintf("%s\n   at Agents.Tools.%s.InvokeAsync(KernelArguments args) in /src/Agents/Tools/%s.cs:line 57", e.String(), toCamel(fn), toCamel(file))
}

// titleMethod spells an HTTP method the way Go's url.Error does: "Get".
func titleMethod(m string) string {
	if m == "" {
		return m
	}
	return m[:1] + strings.ToLower(m[1:])
}
