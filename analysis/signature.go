package analysis

import (
	"strconv"
	"strings"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// Cluster kinds: what a cluster's signature says went wrong.
const (
	ClusterError         = "error"
	ClusterLoop          = "loop"
	ClusterMaxIterations = "max_iterations"
	ClusterEmptyOutput   = "empty_output"
	ClusterGuardrail     = "guardrail"
	ClusterLatency       = "latency"
	ClusterCost          = "cost"
)

// maxSpanName caps span names inside signatures; a longer name is
// almost always data that leaked into it.
const maxSpanName = 120

// isFailureKind reports whether a cluster kind makes its run a failure, as
// opposed to a latency or cost change.
func isFailureKind(kind string) bool {
	switch kind {
	case ClusterError, ClusterLoop, ClusterMaxIterations, ClusterEmptyOutput, ClusterGuardrail:
		return true
	}
	return false
}

// IsSemantic reports whether a span kind does a distinct piece of agent
// work whose failure deserves its own name: a failing span of this kind
// below another one explains the other's failure.
func IsSemantic(k oncall.SpanKind) bool {
	switch k {
	case oncall.KindAgent, oncall.KindLLM, oncall.KindTool, oncall.KindRetriever, oncall.KindEmbedding,
		oncall.KindReranker, oncall.KindGuardrail, oncall.KindEvaluator:
		return true
	}
	return false
}

// isPlain reports whether a span kind is plumbing (an HTTP call, an
// untyped span, an event) that belongs to the nearest meaningful span
// above it.
func isPlain(k oncall.SpanKind) bool {
	return !IsSemantic(k) && k != oncall.KindChain
}

// displayName is the name a span is known by: the tool name for tools,
// the span name otherwise.
func displayName(s *oncall.Span) string {
	name := s.Name
	if s.Kind == oncall.KindTool && s.ToolName != "" {
		name = s.ToolName
	}
	return cutRunes(strings.TrimSpace(name), maxSpanName)
}

// spanLabel is "kind name", how signatures and details name a span.
func spanLabel(kind oncall.SpanKind, name string) string {
	if kind == "" {
		kind = oncall.KindSpan
	}
	return string(kind) + " " + name
}

// signature names a failure: the cluster kind, the span it started in,
// and what went wrong. where is the meaningful span a plumbing span
// belongs to, when the failure is blamed on the plumbing itself.
func signature(kind string, spanKind oncall.SpanKind, name, where, what string) string {
	var b strings.Builder
	b.Grow(len(kind) + len(name) + len(where) + len(what) + 16)
	if kind != ClusterError {
		b.WriteString(kind)
		b.WriteByte(' ')
	}
	b.WriteString(spanLabel(spanKind, name))
	if where != "" {
		b.WriteString(" (in ")
		b.WriteString(where)
		b.WriteByte(')')
	}
	if what != "" {
		b.WriteString(": ")
		b.WriteString(what)
	}
	return b.String()
}

// spanErrorText gathers what a span says about its failure: exception
// events, the status message, error.type and an HTTP status code, without
// repeating a part another already contains. It is raw, not normalised.
func spanErrorText(s *oncall.Span) string {
	var text string
	add := func(part string) {
		part = strings.TrimSpace(headline(part))
		switch {
		case part == "" || strings.Contains(text, part):
		case strings.Contains(part, text):
			text = part
		default:
			text += ": " + part
		}
	}
	for i := len(s.Events) - 1; i >= 0; i-- {
		e := &s.Events[i]
		if e.Name != "exception" {
			continue
		}
		typ, msg := e.Attributes["exception.type"], e.Attributes["exception.message"]
		switch {
		case typ != "" && msg != "":
			add(typ + ": " + msg)
		default:
			add(typ + msg)
		}
		break // the last exception is the one that ended the span
	}
	add(s.StatusMessage)
	if et := s.Attributes["error.type"]; et != "" && et != "_OTHER" && !isPlainNumber(et) && !strings.Contains(text, et) {
		if text == "" {
			text = et
		} else {
			text = et + ": " + text
		}
	}
	if code := httpStatus(s); code > 0 {
		c := strconv.Itoa(code)
		if !strings.Contains(text, c) {
			if text == "" {
				text = "HTTP " + c
			} else {
				text += " (HTTP " + c + ")"
			}
		}
	}
	return text
}

// httpStatus returns the span's HTTP response status code when it is an
// error (400 or more), else 0.
func httpStatus(s *oncall.Span) int {
	for _, k := range []string{"http.response.status_code", "http.status_code"} {
		v, ok := s.Attributes[k]
		if !ok {
			continue
		}
		code, err := strconv.Atoi(strings.TrimSpace(v))
		if err == nil && code >= 400 && code <= 599 {
			return code
		}
	}
	return 0
}

// headline reduces a multi-line message to the part that names the
// error. A stack trace (a first line ending in a colon followed by
// indented frames) is read from its last line, which names the exception;
// otherwise the lines are joined, leaving out stack frames, since
// multi-line messages (validation errors, response bodies) carry their
// point on later lines.
func headline(msg string) string {
	if strings.IndexByte(msg, '\n') < 0 {
		return msg
	}
	if h, ok := messageThenStack(msg); ok {
		return h
	}
	lines := strings.Split(msg, "\n")
	var kept []string
	var last string
	for i, line := range lines {
		line = strings.TrimRight(line, "\r ")
		trimmed := strings.TrimSpace(line)
		if trimmed == "" {
			continue
		}
		indented := line[0] == ' ' || line[0] == '\t'
		if !indented {
			last = trimmed
		}
		if len(kept) == 0 && strings.HasSuffix(trimmed, ":") && nextIndented(lines[i+1:]) {
			return lastUnindented(lines[i+1:], trimmed)
		}
		if indented && isStackFrame(trimmed) {
			continue
		}
		kept = append(kept, trimmed)
	}
	if len(kept) == 0 {
		return last
	}
	return strings.Join(kept, " ")
}

// messageThenStack reads the shape LangChain.js writes into
// exception.message and status.message: the error's message, a blank
// line, then the error's stack ("Name: message" and indented "at" frames).
// The failure is named by the message, never the frames; when the stack's
// first line is the message with the error's type in front, that line is
// returned, since it says more.
func messageThenStack(msg string) (string, bool) {
	msg = strings.ReplaceAll(msg, "\r\n", "\n")
	i := strings.Index(msg, "\n\n")
	if i < 0 {
		return "", false
	}
	head := strings.TrimSpace(msg[:i])
	if head == "" || strings.Contains(head, "\n") {
		return "", false
	}
	var top string
	frames := 0
	for _, line := range strings.Split(strings.TrimSpace(msg[i+2:]), "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "":
		case top == "":
			top = trimmed
		case (line[0] == ' ' || line[0] == '\t') && strings.HasPrefix(trimmed, "at "):
			frames++
		default:
			return "", false
		}
	}
	if frames == 0 {
		return "", false
	}
	if strings.HasSuffix(top, ": "+head) {
		return top, true
	}
	return headline(head), true
}

func nextIndented(lines []string) bool {
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			return l[0] == ' ' || l[0] == '\t'
		}
	}
	return false
}

func lastUnindented(lines []string, fallback string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimRight(lines[i], "\r ")
		if l != "" && l[0] != ' ' && l[0] != '\t' {
			return strings.TrimSpace(l)
		}
	}
	return fallback
}

// isStackFrame reports whether an indented line is a frame of a stack
// trace rather than part of the message.
func isStackFrame(line string) bool {
	return strings.HasPrefix(line, "at ") || strings.HasPrefix(line, "File \"") || strings.HasPrefix(line, "...") ||
		(strings.HasPrefix(line, "/") && strings.Contains(line, ":"))
}

// speaksOfStepLimit reports whether a (normalised) message says a run was
// stopped by its own budget of iterations, steps, turns, recursion or
// requests, as opposed to an external failure. It reads the general
// vocabulary of such limits, not any one framework's message: the words
// are split at underscores, hyphens and CamelCase first, so
// "max_steps" and "MaxStepsExceeded" read as "max steps".
func speaksOfStepLimit(msg string) bool {
	words := splitWords(msg)
	unit, limit := false, false
	for i, w := range words {
		next := ""
		if i+1 < len(words) {
			next = words[i+1]
		}
		switch {
		case hasAnyPrefix(w, "iteration", "recursion", "turn", "step", "round", "cycle", "invocation", "invoke"),
			(w == "request" || w == "requests" || w == "usage") && next == "limit",
			(w == "tool" || w == "function") && hasAnyPrefix(next, "call"):
			unit = true
		}
		switch {
		case hasAnyPrefix(w, "limit", "max", "exceed", "reached", "stopped", "budget", "exhausted"),
			w == "too" && next == "many":
			limit = true
		}
	}
	return unit && limit
}

// splitWords lower-cases s and splits it into words at anything that is
// not a letter and at CamelCase humps.
func splitWords(s string) []string {
	var words []string
	start := -1
	for i := 0; i <= len(s); i++ {
		letter := i < len(s) && isLetter(s[i])
		hump := letter && start >= 0 && s[i] >= 'A' && s[i] <= 'Z' && s[i-1] >= 'a' && s[i-1] <= 'z'
		if start >= 0 && (!letter || hump) {
			words = append(words, strings.ToLower(s[start:i]))
			start = -1
		}
		if letter && start < 0 {
			start = i
		}
	}
	return words
}

func hasAnyPrefix(w string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(w, p) {
			return true
		}
	}
	return false
}
