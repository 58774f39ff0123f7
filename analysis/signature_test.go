package analysis

import (
	"strings"
	"testing"
	"unicode/utf8"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

func TestNormalizeError(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"duration", "TimeoutError: request timed out after 30s", "TimeoutError: request timed out after <dur>"},
		{"milliseconds and address", "timed out after 1500ms waiting for 10.0.0.12:8443", "timed out after <dur> waiting for <ip>"},
		{"spelled-out unit", "slow: 30 seconds elapsed", "slow: <dur> elapsed"},
		{"compound duration", "retry 3/5 took 2m30s", "retry <n>/<n> took <dur>"},
		{"http status kept", "HTTP 503 Service Unavailable", "HTTP 503 Service Unavailable"},
		{"status before reason phrase kept, url hidden", "503 Server Error: Service Unavailable for url: https://api.example.com/v1/orders/8812?x=1", "503 Server Error: Service Unavailable for url: <url>"},
		{"status code words", "status code 500", "status code 500"},
		{"status key", "request req_8f7a6b5c4d failed with status=502", "request req_<id> failed with status=502"},
		{"status leading the message", "RateLimitError: 429 Rate limit reached for org-NEELZHxJcRVlqqia6vnExOEI", "RateLimitError: 429 Rate limit reached for org-<id>"},
		{"qualified exception type shortened", "requests.exceptions.HTTPError: 401 Client Error: Unauthorized for url: https://x.example.com/t", "HTTPError: 401 Client Error: Unauthorized for url: <url>"},
		{"go pointer type shortened", "*json.SyntaxError: invalid character 'S' looking for beginning of value", "SyntaxError: invalid character <str> looking for beginning of value"},
		{"dotted words later are kept", "ValueError: bad config.yaml in app.settings", "ValueError: bad config.yaml in app.settings"},
		{"status before a reason in parentheses", "Response status code does not indicate success: 503 (Service Unavailable).", "Response status code does not indicate success: 503 (Service Unavailable)."},
		{"http version is no status", "HTTP/1.1 504 Gateway Timeout", "HTTP/<n>.<n> 504 Gateway Timeout"},
		{"other numbers", "context length 131072 exceeded: requested 140000 tokens", "context length <n> exceeded: requested <n> tokens"},
		{"decimals and hex", "value 0x7ffe1234 invalid, 0.75 > 0.5", "value <id> invalid, <n> > <n>"},
		{"uuid", "order 123e4567-e89b-12d3-a456-426614174000 not found", "order <uuid> not found"},
		{"hex id", "trace 4bf92f3577b34da6a3ce929d0e0e4736 missing", "trace <id> missing"},
		{"random id", "call_AbCdEf0123456789 missing", "call_<id> missing"},
		{"random letters", "conv_zQuRSVucWTprkEKkTi ended", "conv_<id> ended"},
		{"camel case stays", "ContextLengthExceededError and HTTPError in base64encoded text", "ContextLengthExceededError and HTTPError in base64encoded text"},
		{"word and number", "user12345 blocked", "user<n> blocked"},
		{"model names stay", "gpt-4o-mini returned 12 choices", "gpt-4o-mini returned <n> choices"},
		{"iso timestamp", "at 2024-01-31T10:00:00.123Z the job failed", "at <ts> the job failed"},
		{"date and time", "deadline 2024-01-31 10:00:00 passed", "deadline <ts> passed"},
		{"quoted value", "user 'alice' not found", "user <str> not found"},
		{"double-quoted value", `validation failed: value "abc" is not a number`, "validation failed: value <str> is not a number"},
		{"double-quoted field name", `validation failed: field "email" must be a valid email address`, `validation failed: field "email" must be a valid email address`},
		{"quoted code kept", "KeyError: 'invoice_id'", "KeyError: 'invoice_id'"},
		{"quoted status line kept", "Client error '401 Unauthorized' for url 'https://x.example.com/a'", "Client error '401 Unauthorized' for url <url>"},
		{"quoted field name kept", "1 validation error: missing required field 'locale'", "<n> validation error: missing required field 'locale'"},
		{"html error page", "Request failed with status code 502: <html><body><h1>502 Bad Gateway</h1></body></html>", "Request failed with status code 502: 502 Bad Gateway"},
		{"comparison is no markup", "value 3 <5 and x < y", "value <n> <<n> and x < y"},
		{"quoted path", "FileNotFoundError: [Errno 2] No such file or directory: '/tmp/cache/abc.json'", "FileNotFoundError: [Errno <n>] No such file or directory: <path>"},
		{"bare path", "open /var/lib/app/data.db: permission denied", "open <path>: permission denied"},
		{"email", "failed to notify bob@example.com", "failed to notify <email>"},
		{"bearer token", "Authorization: Bearer sk-proj-Zx9_yW8-vU7tS6rQ5pO4nM3lK2jI1hG0fE rejected", "Authorization: Bearer <secret> rejected"},
		{"secret keys", "password=hunter2 token=abc rejected", "password=<secret> token=<secret> rejected"},
		{"ipv4 with port", "connect ECONNREFUSED 127.0.0.1:5432", "connect ECONNREFUSED <ip>"},
		{"ipv6", "dial tcp [::1]:6379: connect: connection refused", "dial tcp [<ip>]:<n>: connect: connection refused"},
		{"whitespace and apostrophes", "It's   not\n\tworking   at all", "It's not working at all"},
		{"quoted sentence keeps its words", "Error code: 429 - {'error': {'message': 'Rate limit reached for gpt-4o in org-AbC123xYz: Limit 30000, Used 29000.', 'type': 'tokens', 'code': 'rate_limit_exceeded'}}",
			"Error code: 429 - {'error': {'message': 'Rate limit reached for gpt-4o in org-<id>: Limit <n>, Used <n>.', 'type': <str>, 'code': 'rate_limit_exceeded'}}"},
		{"step limit", "Max turns (10) exceeded", "Max turns (<n>) exceeded"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NormalizeError(tt.in); got != tt.want {
				t.Errorf("NormalizeError(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestNormalizeErrorGroupsRuns(t *testing.T) {
	// The same failure from two runs normalises to the same text.
	a := NormalizeError("upstream 10.1.2.3:443 reset after 1.2s for request 7f9c2ba4e88f827d616045507605853e at 2025-03-14T12:00:03Z (attempt 2)")
	b := NormalizeError("upstream 10.1.9.8:443 reset after 950ms for request 0a1b2c3d4e5f60718293a4b5c6d7e8f9 at 2025-03-14T12:07:41Z (attempt 3)")
	if a != b {
		t.Errorf("one failure, two texts:\n%q\n%q", a, b)
	}
}

func TestNormalizeErrorIsIdempotent(t *testing.T) {
	for _, in := range []string{
		"TimeoutError: request 7f9c2ba4e88f827d616045507605853e timed out after 30s at 2025-03-14T12:00:03Z",
		"Error code: 429 - {'error': {'message': 'Rate limit reached for org-AbC123xYz: Limit 30000.', 'code': 'rate_limit_exceeded'}}",
		"open /var/lib/app/data.db: permission denied for bob@example.com from 10.0.0.1:5432",
	} {
		once := NormalizeError(in)
		if twice := NormalizeError(once); twice != once {
			t.Errorf("normalising again changed\n%q\ninto\n%q", once, twice)
		}
	}
}

func TestNormalizeErrorBounds(t *testing.T) {
	long := strings.Repeat("connection to the order service was reset by its peer ", 200)
	got := NormalizeError(long)
	if n := utf8.RuneCountInString(got); n > maxNormalized || n < maxNormalized-30 {
		t.Errorf("normalised %d runes, want at most %d and not much less", n, maxNormalized)
	}
	if strings.HasSuffix(got, " ") || !utf8.ValidString(got) {
		t.Errorf("cut badly: %q", got)
	}
	// A multi-byte message cut mid-rune stays valid UTF-8.
	if got := NormalizeError(strings.Repeat("é", 5000)); !utf8.ValidString(got) {
		t.Error("cut inside a rune")
	}
	// An unterminated quote is an apostrophe, not a value.
	if got := NormalizeError(`can't parse "half`); got != `can't parse "half` {
		t.Errorf("unterminated quote: %q", got)
	}
}

func TestSpanErrorText(t *testing.T) {
	exc := func(typ, msg string) oncall.SpanEvent {
		return oncall.SpanEvent{Name: "exception", Attributes: map[string]string{"exception.type": typ, "exception.message": msg}}
	}
	tests := []struct {
		name string
		span oncall.Span
		want string
	}{
		{"status message", oncall.Span{Status: oncall.StatusError, StatusMessage: "boom"}, "boom"},
		{"exception and the same status", oncall.Span{StatusMessage: "ValueError: bad", Events: []oncall.SpanEvent{exc("ValueError", "bad")}}, "ValueError: bad"},
		{"status contains exception message", oncall.Span{StatusMessage: "tool failed: bad input", Events: []oncall.SpanEvent{exc("", "bad input")}}, "tool failed: bad input"},
		{"last exception wins", oncall.Span{Events: []oncall.SpanEvent{exc("A", "first"), {Name: "log"}, exc("B", "second")}}, "B: second"},
		{"error.type added", oncall.Span{StatusMessage: "deadline passed", Attributes: map[string]string{"error.type": "timeout"}}, "timeout: deadline passed"},
		{"numeric error.type is the status code", oncall.Span{Attributes: map[string]string{"error.type": "503", "http.response.status_code": "503"}}, "HTTP 503"},
		{"old status attribute", oncall.Span{StatusMessage: "upstream", Attributes: map[string]string{"http.status_code": "502"}}, "upstream (HTTP 502)"},
		{"success status ignored", oncall.Span{StatusMessage: "x", Attributes: map[string]string{"http.response.status_code": "200"}}, "x"},
		{"stack trace headline", oncall.Span{StatusMessage: "Traceback (most recent call last):\n  File \"a.py\", line 1\n    x()\nKeyError: 'id'\n"}, "KeyError: 'id'"},
		{"multi-line message joined", oncall.Span{StatusMessage: "1 validation error for Args\nlocale\n  Field required [type=missing]"}, "1 validation error for Args locale Field required [type=missing]"},
		{"payload after a colon is no stack trace", oncall.Span{StatusMessage: "Invalid json output:\n**Summary:** Done."}, "Invalid json output: **Summary:** Done."},
		{"go panic frames dropped", oncall.Span{StatusMessage: "panic: boom\n\nmain.main()\n\t/app/main.go:12 +0x1d"}, "panic: boom main.main()"},
		{"java style headline", oncall.Span{StatusMessage: "java.io.IOException: closed\n\tat a.B.c(B.java:1)"}, "java.io.IOException: closed"},
		{"langchain js: message, blank line, stack", oncall.Span{
			StatusMessage: "order ORD-1 not found\n\nOrderNotFoundError: order ORD-1 not found\n    at tool.name (/app/agent.js:53:39)\n    at new Promise (<anonymous>)",
			Events:        []oncall.SpanEvent{exc("", "order ORD-1 not found\n\nOrderNotFoundError: order ORD-1 not found\n    at tool.name (/app/agent.js:53:39)\n    at new Promise (<anonymous>)")},
		}, "OrderNotFoundError: order ORD-1 not found"},
		{"message then a stack that names another error", oncall.Span{StatusMessage: "lookup failed\n\nError: socket hang up\n    at TLSSocket.onHangUp (node:_http_client:1:1)"}, "lookup failed"},
		{"blank line without a stack is kept", oncall.Span{StatusMessage: "validation failed\n\nfield x: required"}, "validation failed field x: required"},
		{"nothing", oncall.Span{Status: oncall.StatusError}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := spanErrorText(&tt.span); got != tt.want {
				t.Errorf("spanErrorText = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSpeaksOfStepLimit(t *testing.T) {
	tests := []struct {
		msg  string
		want bool
	}{
		{"Recursion limit of <n> reached without hitting a stop condition", true},
		{"Max turns (<n>) exceeded", true},
		{"agent stopped after <n> steps without an answer", true},
		{"maximum iterations reached", true},
		{"Rate limit reached for requests", false},
		{"context length exceeded", false},
		{"TimeoutError: timed out after <dur>", false},
		{"next step: call the tool", false},
		{"UsageLimitExceeded: the next request would exceed the request_limit of <n>", true},
		{"MaxTurnsExceeded", true},
		{"the tool returned too many rows", false},
		{"agent: max tool calls (<n>) reached", true},
		{"Maximum auto invoke attempts (<n>) reached.", true},
	}
	for _, tt := range tests {
		t.Run(tt.msg, func(t *testing.T) {
			if got := speaksOfStepLimit(tt.msg); got != tt.want {
				t.Errorf("speaksOfStepLimit(%q) = %v, want %v", tt.msg, got, tt.want)
			}
		})
	}
}

func TestDisplayNameAndSignature(t *testing.T) {
	tool := oncall.Span{Kind: oncall.KindTool, Name: "execute_tool search", ToolName: "search"}
	if got := displayName(&tool); got != "search" {
		t.Errorf("tool display name %q, want the tool name", got)
	}
	llm := oncall.Span{Kind: oncall.KindLLM, Name: "chat gpt-4o"}
	if got := displayName(&llm); got != "chat gpt-4o" {
		t.Errorf("llm display name %q", got)
	}
	tests := []struct {
		got, want string
	}{
		{signature("error", oncall.KindTool, "search", "", "boom"), "tool search: boom"},
		{signature("loop", oncall.KindTool, "search", "", "again"), "loop tool search: again"},
		{signature("error", oncall.KindHTTP, "GET", "tool search", "HTTP 503"), "http GET (in tool search): HTTP 503"},
		{signature("latency", "", "x", "", ""), "latency span x"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("signature %q, want %q", tt.got, tt.want)
		}
	}
}
