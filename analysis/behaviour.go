package analysis

import (
	"slices"
	"strings"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// loopCalls is how many identical calls of one tool in one run make a
// loop.
const loopCalls = 3

// maxVerdictLen is the longest attribute value read as a guardrail
// verdict; longer values are content, not verdicts.
const maxVerdictLen = 40

// maxLimitOutput is the longest final output read for a step-limit
// notice; longer outputs are answers.
const maxLimitOutput = 300

type callKey struct{ name, args string }

type callCount struct {
	n     int
	first int32
	last  int32
}

// behaviourFindings finds failures that raise no error: loops, guardrail
// blocks, and runs that ended on their step limit with an ok status.
func (a *analyzer) behaviourFindings(f *traceFacts) {
	tr := &a.tree
	if tr.root >= 0 {
		r := &tr.spans[tr.root]
		if out := strings.TrimSpace(r.Output); !r.Failed() && out != "" && len(out) <= maxLimitOutput && speaksOfStepLimit(out) {
			what := a.normalize(headline(out))
			name := displayName(r)
			f.add(finding{
				sig: signature(ClusterMaxIterations, r.Kind, name, "", what), kind: ClusterMaxIterations,
				spanKind: r.Kind, spanName: name, what: what, spanID: r.SpanID, at: r.Start, repeats: 1,
			})
		}
	}
	a.loops(f)
	for _, i := range tr.order {
		s := &tr.spans[i]
		if s.Kind != oncall.KindGuardrail || s.Failed() {
			continue // a failing guardrail is an error origin already
		}
		if why, blocked := guardrailVerdict(s); blocked {
			what := a.normalize(why)
			name := displayName(s)
			f.add(finding{
				sig: signature(ClusterGuardrail, s.Kind, name, "", what), kind: ClusterGuardrail,
				spanKind: s.Kind, spanName: name, what: what, spanID: s.SpanID, at: s.Start, repeats: 1,
			})
		}
	}
}

// loops finds tools called with the same arguments loopCalls times or
// more in the run. A loop whose last call is the run's last tool call in a
// failed run is what stopped the run: it is reported as hitting the step
// limit, and the root's own failure, which it explains, is dropped. When
// the run already says it hit its step limit, the loop is how: the limit
// finding names the looping tool (or the tool called most) instead of a
// separate loop finding.
func (a *analyzer) loops(f *traceFacts) {
	tr := &a.tree
	clear(a.calls)
	lastTool := int32(-1)
	for _, i := range tr.order {
		s := &tr.spans[i]
		if s.Kind != oncall.KindTool {
			continue
		}
		args := s.ToolArgs
		if args == "" {
			args = s.Input
		}
		k := callKey{displayName(s), strings.TrimSpace(args)}
		c := a.calls[k]
		if c == nil {
			c = &callCount{first: i}
			a.calls[k] = c
		}
		c.n++
		c.last = i
		if lastTool < 0 || !s.Start.Before(tr.spans[lastTool].Start) {
			lastTool = i
		}
	}
	var found []callKey
	for k, c := range a.calls {
		if c.n >= loopCalls {
			found = append(found, k)
		}
	}
	slices.SortFunc(found, func(x, y callKey) int { return int(a.calls[x].first - a.calls[y].first) })
	if limit := slices.IndexFunc(f.findings, func(x finding) bool { return x.kind == ClusterMaxIterations }); limit >= 0 {
		tool, n := "", 0
		if len(found) > 0 {
			tool, n = found[0].name, a.calls[found[0]].n
		} else {
			tool, n = a.mostCalledTool()
		}
		if n >= loopCalls && f.findings[limit].toolName == "" {
			f.findings[limit].toolName = tool
			f.findings[limit].repeats = n
		}
		return
	}
	for _, k := range found {
		c := a.calls[k]
		s := &tr.spans[c.last]
		kind, what := ClusterLoop, "called again with identical arguments"
		ends := f.rootFailed && c.last == lastTool
		if ends {
			kind, what = ClusterMaxIterations, "run ended repeating the same call"
			a.dropRootError(f)
		}
		f.add(finding{
			sig: signature(kind, s.Kind, k.name, "", what), kind: kind,
			spanKind: s.Kind, spanName: k.name, toolName: k.name, what: what,
			spanID: s.SpanID, at: tr.spans[c.first].Start, repeats: c.n, endsRun: ends,
		})
	}
}

// mostCalledTool returns the tool the run called most, and how often,
// whatever the arguments; ties go to the tool called first.
func (a *analyzer) mostCalledTool() (string, int) {
	type tally struct {
		n     int
		first int32
	}
	byName := make(map[string]*tally)
	for k, c := range a.calls {
		t := byName[k.name]
		if t == nil {
			t = &tally{first: c.first}
			byName[k.name] = t
		}
		t.n += c.n
		t.first = min(t.first, c.first)
	}
	best, bestN, bestFirst := "", 0, int32(0)
	for name, t := range byName {
		if t.n > bestN || (t.n == bestN && t.first < bestFirst) {
			best, bestN, bestFirst = name, t.n, t.first
		}
	}
	return best, bestN
}

// dropRootError removes an error finding blamed on the root span alone.
func (a *analyzer) dropRootError(f *traceFacts) {
	root := a.tree.spans[a.tree.root].SpanID
	f.findings = slices.DeleteFunc(f.findings, func(x finding) bool {
		return x.kind == ClusterError && x.spanID == root
	})
}

// guardrailVerdict reads whether a guardrail that did not fail blocked or
// flagged what it checked, from its status, attributes or output. It reads
// the common vocabulary of verdicts, never a particular product's keys.
func guardrailVerdict(s *oncall.Span) (string, bool) {
	if s.Status == oncall.StatusWarning {
		if msg := strings.TrimSpace(s.StatusMessage); msg != "" {
			return "flagged: " + msg, true
		}
		return "flagged", true
	}
	var best string
	for k, v := range s.Attributes {
		if len(v) > maxVerdictLen || !verdictBlocks(k, v) {
			continue
		}
		if why := "blocked: " + k + "=" + v; best == "" || why < best {
			best = why
		}
	}
	if best != "" {
		return best, true
	}
	if out := strings.ToLower(strings.TrimSpace(s.Output)); len(out) <= maxVerdictLen && blockingWord(out) {
		return "blocked: " + out, true
	}
	return "", false
}

func verdictBlocks(key, value string) bool {
	words := strings.FieldsFunc(strings.ToLower(key), func(r rune) bool { return r < 'a' || r > 'z' })
	has := func(set ...string) bool {
		for _, w := range words {
			if slices.Contains(set, w) {
				return true
			}
		}
		return false
	}
	switch v := strings.ToLower(strings.TrimSpace(value)); v {
	case "true", "1", "yes":
		return has("block", "blocked", "flag", "flagged", "triggered", "violation", "violated", "rejected", "denied", "intervened", "refused")
	case "false", "0", "no":
		return has("pass", "passed", "allow", "allowed", "safe", "valid", "compliant")
	default:
		return has("action", "decision", "outcome", "result", "verdict", "status") && blockingWord(v)
	}
}

func blockingWord(v string) bool {
	switch v {
	case "block", "blocked", "flag", "flagged", "deny", "denied", "reject", "rejected", "fail", "failed",
		"violation", "intervened", "refuse", "refused", "tripped", "triggered", "unsafe", "disallowed":
		return true
	}
	return false
}

// isEmptyOutput reports whether a final output says nothing.
func isEmptyOutput(out string) bool {
	switch strings.TrimSpace(out) {
	case "", "null", "None", "undefined", "{}", "[]", `""`, "''":
		return true
	}
	return false
}

// minOutputExamples is how many well-ended runs of an agent must have
// produced output before an empty one counts as a failure.
const minOutputExamples = 3

// emptyOutputs flags runs that ended well but said nothing, where the same
// agent's well-ended runs normally do produce output: in the baseline when
// it has such runs, else in the incident window. Runs with another
// failure already have their explanation.
func (a *analyzer) emptyOutputs() {
	type tally struct{ ok, withOutput int }
	var base, inc map[string]*tally
	count := func(m *map[string]*tally, f *traceFacts) {
		if *m == nil {
			*m = make(map[string]*tally)
		}
		t := (*m)[f.rootName]
		if t == nil {
			t = &tally{}
			(*m)[f.rootName] = t
		}
		t.ok++
		if f.rootOutput {
			t.withOutput++
		}
	}
	for i := range a.facts {
		f := &a.facts[i]
		if f.rootSpanID == "" || f.rootFailed || f.hasFailureFinding() {
			continue
		}
		if f.incident {
			count(&inc, f)
		} else {
			count(&base, f)
		}
	}
	expects := func(root string) bool {
		if t := base[root]; t != nil && t.ok >= minOutputExamples {
			return t.withOutput >= minOutputExamples && float64(t.withOutput) >= 0.8*float64(t.ok)
		}
		t := inc[root]
		return t != nil && t.withOutput >= minOutputExamples && float64(t.withOutput) >= 0.5*float64(t.ok)
	}
	for i := range a.facts {
		f := &a.facts[i]
		if f.rootSpanID == "" || f.rootFailed || f.rootOutput || f.hasFailureFinding() || !expects(f.rootName) {
			continue
		}
		what := "final output empty"
		f.add(finding{
			sig: signature(ClusterEmptyOutput, f.rootKind, f.rootName, "", what), kind: ClusterEmptyOutput,
			spanKind: f.rootKind, spanName: f.rootName, what: what, spanID: f.rootSpanID, at: f.rootStart, repeats: 1,
		})
	}
}
