package triage

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
func (a *analysis) behaviourFindings(f *traceFacts) {
	tr := &a.tree
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
				sig: signature(clusterGuardrail, s.Kind, name, "", what), kind: clusterGuardrail,
				spanKind: s.Kind, spanName: name, what: what, spanID: s.SpanID, at: s.Start, repeats: 1,
			})
		}
	}
	if tr.root >= 0 {
		r := &tr.spans[tr.root]
		if out := strings.TrimSpace(r.Output); !r.Failed() && out != "" && len(out) <= maxLimitOutput && speaksOfStepLimit(out) {
			what := a.normalize(headline(out))
			name := displayName(r)
			f.add(finding{
				sig: signature(clusterMaxIterations, r.Kind, name, "", what), kind: clusterMaxIterations,
				spanKind: r.Kind, spanName: name, what: what, spanID: r.SpanID, at: r.Start, repeats: 1,
			})
		}
	}
}

// loops finds tools called with the same arguments loopCalls times or
// more in the run. A loop whose last call is the run's last tool call in a
// failed run is what stopped the run: it is reported as hitting the step
// limit, and the root's own failure, which it explains, is dropped.
func (a *analysis) loops(f *traceFacts) {
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
	if len(found) == 0 {
		return
	}
	slices.SortFunc(found, func(x, y callKey) int { return int(a.calls[x].first - a.calls[y].first) })
	limitSaid := slices.ContainsFunc(f.findings, func(x finding) bool { return x.kind == clusterMaxIterations })
	for _, k := range found {
		c := a.calls[k]
		s := &tr.spans[c.last]
		kind, what := clusterLoop, "called again with identical arguments"
		ends := f.rootFailed && c.last == lastTool && !limitSaid
		if ends {
			kind, what = clusterMaxIterations, "run ended repeating the same call"
			a.dropRootError(f)
		}
		f.add(finding{
			sig: signature(kind, s.Kind, k.name, "", what), kind: kind,
			spanKind: s.Kind, spanName: k.name, toolName: k.name, what: what,
			spanID: s.SpanID, at: tr.spans[c.first].Start, repeats: c.n, endsRun: ends,
		})
	}
}

// dropRootError removes an error finding blamed on the root span alone.
func (a *analysis) dropRootError(f *traceFacts) {
	root := a.tree.spans[a.tree.root].SpanID
	f.findings = slices.DeleteFunc(f.findings, func(x finding) bool {
		return x.kind == clusterError && x.spanID == root
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
	k, v := strings.ToLower(key), strings.ToLower(strings.TrimSpace(value))
	switch v {
	case "true", "1", "yes":
		return containsAny(k, "block", "flag", "trigger", "tripwire", "violat", "reject", "denied", "intervened", "refus")
	case "false", "0", "no":
		return containsAny(k, "pass", "allow", "safe", "valid", "compliant")
	}
	return containsAny(k, "action", "decision", "outcome", "result", "verdict", "status") && blockingWord(v)
}

func blockingWord(v string) bool {
	switch v {
	case "block", "blocked", "flag", "flagged", "deny", "denied", "reject", "rejected", "fail", "failed",
		"violation", "intervened", "refuse", "refused", "tripped", "triggered", "unsafe", "disallowed":
		return true
	}
	return false
}

func containsAny(s string, subs ...string) bool {
	for _, w := range subs {
		if strings.Contains(s, w) {
			return true
		}
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
func (a *analysis) emptyOutputs() {
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
			sig: signature(clusterEmptyOutput, f.rootKind, f.rootName, "", what), kind: clusterEmptyOutput,
			spanKind: f.rootKind, spanName: f.rootName, what: what, spanID: f.rootSpanID, at: f.rootStart, repeats: 1,
		})
	}
}
