package triage

import (
	"fmt"
	"strconv"
	"strings"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/analysis"
)

// maxOfflineCauses is how many clusters the deterministic diagnosis names.
const maxOfflineCauses = 3

// OfflineDiagnosis is the diagnosis the analysis alone supports, for when
// no model answers: the summary names the top cluster(s) and the leading
// suspect; each cause is a cluster that changed, citing its example trace
// and span ids, with a confidence from its score; fixes are generic
// remedies chosen from the failure's kind, span kind, HTTP status and the
// words of its normalised error. reason is recorded in Offline.
func OfflineDiagnosis(rep oncall.Report, reason string) *oncall.Diagnosis {
	d := &oncall.Diagnosis{Offline: reason, Causes: []oncall.Cause{}, Fixes: []oncall.Fix{}, NextSteps: []string{}}
	causes := offlineClusters(rep.Clusters)
	d.Summary = offlineSummary(rep, causes)
	seenFix := map[string]bool{}
	addFix := func(f oncall.Fix) {
		if f.Change == "" || seenFix[f.Type+f.Change+f.Where] || len(d.Fixes) >= maxFixes {
			return
		}
		seenFix[f.Type+f.Change+f.Where] = true
		d.Fixes = append(d.Fixes, f)
	}
	for _, c := range causes {
		cause := oncall.Cause{
			Title:      capText(c.Signature, maxTitleLen),
			Detail:     clusterFacts(c),
			Confidence: scoreConfidence(c.Score),
			Evidence:   []oncall.Evidence{},
		}
		for k := 0; k < len(c.TraceIDs) && k < maxClusterExamples; k++ {
			e := oncall.Evidence{TraceID: c.TraceIDs[k], Note: "example of " + kindPhrase(c.Kind)}
			if k < len(c.SpanIDs) {
				e.SpanID = c.SpanIDs[k]
			}
			cause.Evidence = append(cause.Evidence, e)
		}
		d.Causes = append(d.Causes, cause)
		for _, f := range remedies(c) {
			addFix(f)
		}
	}
	if len(rep.Suspects) > 0 {
		s := rep.Suspects[0]
		change := fmt.Sprintf("Failing runs share %s=%s", s.Attribute, s.Value)
		if s.BaselineValue != "" {
			change += fmt.Sprintf(" where healthy runs had %s", s.BaselineValue)
		}
		addFix(oncall.Fix{Type: "config_infra", Change: change + ": review or roll back that change.", Where: s.Attribute})
	}
	d.NextSteps = offlineNextSteps(rep, causes)
	return d
}

// offlineClusters picks the clusters to blame: those that changed against
// the baseline, best first; the top cluster alone when none did.
func offlineClusters(cs []oncall.Cluster) []oncall.Cluster {
	var out []oncall.Cluster
	for _, c := range cs {
		if c.Score > 0 && len(out) < maxOfflineCauses {
			out = append(out, c)
		}
	}
	if len(out) == 0 && len(cs) > 0 {
		out = append(out, cs[0])
	}
	return out
}

func offlineSummary(rep oncall.Report, causes []oncall.Cluster) string {
	name := rep.Alert.Name
	if name == "" {
		name = "The alert"
	}
	if len(causes) == 0 {
		if rep.TracesExamined == 0 {
			return fmt.Sprintf("%s: no traces were found in the incident window, so there is nothing to compare.", name)
		}
		return fmt.Sprintf("%s: no failure, latency or cost pattern stood out in %d traces (%d failing).", name, rep.TracesExamined, rep.FailingTraces)
	}
	c := causes[0]
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s: %s in %d of %d incident traces (%s)", name, capText(c.Signature, maxTitleLen), c.Count, rep.TracesExamined, percentText(c.Rate))
	switch {
	case c.New:
		sb.WriteString(", absent from the baseline")
	case rep.BaselineTraces > 0:
		fmt.Fprintf(&sb, " against %s in the baseline", percentText(c.BaselineRate))
	}
	sb.WriteString(".")
	if len(causes) > 1 {
		fmt.Fprintf(&sb, " Also changed: %s.", capText(causes[1].Signature, 120))
	}
	if len(rep.Suspects) > 0 {
		s := rep.Suspects[0]
		fmt.Fprintf(&sb, " Failing runs share %s=%s (%d of %d, against %d of %d healthy).",
			s.Attribute, s.Value, s.FailingCount, s.FailingTotal, s.HealthyCount, s.HealthyTotal)
	}
	return sb.String()
}

// clusterFacts restates a cluster's numbers in a sentence.
func clusterFacts(c oncall.Cluster) string {
	s := fmt.Sprintf("%d incident traces (%s) against %d baseline traces (%s); change score %.2f.",
		c.Count, percentText(c.Rate), c.BaselineCount, percentText(c.BaselineRate), c.Score)
	if c.Detail != "" {
		s += " " + capText(c.Detail, maxTextLen/2) + "."
	}
	return s
}

// scoreConfidence reads the change score (the gap between the lower bound
// of the incident rate and the upper bound of the baseline rate) as a
// confidence.
func scoreConfidence(score float64) oncall.Confidence {
	switch {
	case score >= 0.3:
		return oncall.ConfidenceHigh
	case score >= 0.1:
		return oncall.ConfidenceMedium
	}
	return oncall.ConfidenceLow
}

func kindPhrase(kind string) string {
	switch kind {
	case analysis.ClusterError, "":
		return "the failure"
	case analysis.ClusterLatency:
		return "the slowdown"
	case analysis.ClusterCost:
		return "the higher spend"
	}
	return strings.ReplaceAll(kind, "_", " ")
}

// remedies are the generic fixes for a cluster. They read only generic
// fields: the cluster kind, the span kind, an HTTP status in the error and
// common words of failure vocabularies, so they apply to agents and tools
// nobody has seen yet.
func remedies(c oncall.Cluster) []oncall.Fix {
	where := c.SpanName
	if c.ToolName != "" {
		where = c.ToolName
	}
	where = strings.TrimSpace(spanKindName(c.SpanKind) + " " + where)
	text := strings.ToLower(c.Error + " " + c.Signature)
	status := httpStatusIn(text)
	llm := c.SpanKind == oncall.KindLLM || c.SpanKind == oncall.KindEmbedding
	fix := func(typ, change string) oncall.Fix { return oncall.Fix{Type: typ, Change: change, Where: where} }

	switch c.Kind {
	case analysis.ClusterLoop:
		return []oncall.Fix{
			fix("harness", "Add a max-iterations guard and stop on repeated identical tool calls; hand the repeated result back to the model with a hint instead of calling again."),
			fix("prompt", "Tell the agent what to do when a tool keeps returning the same result or an error."),
		}
	case analysis.ClusterMaxIterations:
		return []oncall.Fix{
			fix("harness", "Find what keeps the agent from finishing before the step limit (a failing tool, a missing stop condition); raise the limit only once that is fixed."),
		}
	case analysis.ClusterEmptyOutput:
		return []oncall.Fix{
			fix("prompt", "Find why the output is empty (refusal, stop sequence, max tokens reached, filtered content) and retry or fail loudly instead of passing it on."),
		}
	case analysis.ClusterGuardrail:
		return []oncall.Fix{
			fix("prompt", "Check what the guardrail now blocks: a prompt or model change may trigger it; adjust the prompt or the guardrail's thresholds."),
		}
	case analysis.ClusterLatency:
		typ := "harness"
		if llm {
			typ = "model_provider"
		}
		return []oncall.Fix{fix(typ, "Start with the slowest span: give it a timeout, cache or parallelise its work, and check the provider's or dependency's latency.")}
	case analysis.ClusterCost:
		return []oncall.Fix{
			fix("prompt", "Cap the tokens: trim the context and tool outputs sent to the model, and set max_tokens on answers."),
			fix("model_provider", "Use a smaller model for this step if its quality allows."),
		}
	}

	switch {
	case status == 429 || hasAny(text, "rate limit", "ratelimit", "too many requests", "quota", "throttl"):
		return []oncall.Fix{
			fix("harness", "Back off and retry on 429, honouring Retry-After, and cap concurrent calls."),
			fix("model_provider", "Raise the rate limit or quota with the provider, or spread load across keys, regions or a fallback model."),
		}
	case status == 401 || status == 403 || hasAny(text, "unauthorized", "unauthorised", "forbidden", "invalid api key", "authentication", "permission denied", "access denied", "expired token", "token expired", "credential"):
		return []oncall.Fix{fix("config_infra", "Rotate or fix the credentials this call uses and check the secret deployed with the current release.")}
	case hasAny(text, "context length", "context window", "maximum context", "too many tokens", "token limit", "prompt is too long", "max_tokens", "context_length"):
		return []oncall.Fix{
			fix("prompt", "Trim the context: cap retrieved documents and tool outputs, summarise older turns."),
			fix("harness", "Count tokens before the call and cut the input to the model's window."),
		}
	case hasAny(text, "timeout", "timed out", "deadline exceeded", "time out") || status == 408 || status == 504:
		if llm {
			return []oncall.Fix{fix("model_provider", "Set a request timeout with retries and a fallback model or provider.")}
		}
		return []oncall.Fix{
			fix("harness", "Give the call a timeout with a bounded retry and backoff, and return a clear error to the agent instead of waiting."),
			fix("tool", "Find why the dependency got slow or unreachable."),
		}
	case status >= 500 || hasAny(text, "internal server error", "bad gateway", "service unavailable", "overloaded", "unavailable"):
		typ := "tool"
		if llm {
			typ = "model_provider"
		}
		return []oncall.Fix{
			fix("harness", "Retry transient server errors with backoff and fall back when they persist."),
			fix(typ, "Check the health of the service behind this call."),
		}
	case hasAny(text, "connection refused", "no such host", "connection reset", "dns", "unreachable", "econnrefused", "tls", "certificate"):
		return []oncall.Fix{fix("config_infra", "Check the endpoint, DNS, network policy and certificates this call depends on.")}
	case hasAny(text, "json", "parse", "unmarshal", "decode", "schema", "validation", "invalid format", "malformed"):
		if llm {
			return []oncall.Fix{fix("prompt", "Ask for structured output (a JSON schema) and validate and repair the model's answer before using it.")}
		}
		return []oncall.Fix{fix("tool", "Validate the tool's arguments and return the validation error to the model so it can correct the call.")}
	case status == 404 || hasAny(text, "not found", "no such", "does not exist"):
		return []oncall.Fix{fix("tool", "Check the identifiers the agent passes and make the tool return a clear not-found result the model can act on.")}
	}
	switch c.SpanKind {
	case oncall.KindTool:
		return []oncall.Fix{fix("tool", "Handle this error inside the tool and return a message the agent can act on.")}
	case oncall.KindLLM:
		return []oncall.Fix{fix("model_provider", "Check the provider's status and the request parameters of this model call.")}
	}
	return []oncall.Fix{fix("harness", "Catch this failure where it starts and retry or degrade gracefully.")}
}

func offlineNextSteps(rep oncall.Report, causes []oncall.Cluster) []string {
	var out []string
	if len(causes) > 0 && len(causes[0].TraceIDs) > 0 {
		step := "Open trace " + causes[0].TraceIDs[0]
		if len(causes[0].SpanIDs) > 0 && causes[0].SpanIDs[0] != "" {
			step += " at span " + causes[0].SpanIDs[0]
		}
		out = append(out, step+" to confirm the failure.")
	}
	if rep.HealthyExample != "" {
		out = append(out, "Compare with healthy trace "+rep.HealthyExample+".")
	}
	if len(rep.Suspects) > 0 {
		s := rep.Suspects[0]
		out = append(out, fmt.Sprintf("Check what changed in %s (now %s).", s.Attribute, s.Value))
	}
	if len(rep.Missing) > 0 {
		out = append(out, "Some data was missing ("+capText(rep.Missing[0], 120)+"); widen the window or check the trace source.")
	}
	return out
}

// httpStatusIn finds the first 4xx or 5xx status code in text.
func httpStatusIn(text string) int {
	for i := 0; i+3 <= len(text); i++ {
		if (text[i] == '4' || text[i] == '5') && isDigit(text[i+1]) && isDigit(text[i+2]) &&
			(i == 0 || !numberByte(text[i-1])) && (i+3 == len(text) || !numberByte(text[i+3])) {
			n, _ := strconv.Atoi(text[i : i+3])
			return n
		}
	}
	return 0
}

// numberByte reports whether c can continue a number or a word, so that
// 450ms or v404 are not read as status codes.
func numberByte(c byte) bool { return isDigit(c) || isLetter(c) || c == '.' || c == '_' }

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func hasAny(s string, words ...string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}
