package scenario

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// mark points at a span where a scenario planted something: the cause of
// its incident or one of its background failures.
type mark struct {
	Label  string // "cause" or the background failure's name
	Span   int
	Phrase string
}

// runner generates one agent run (and the runs of specialists it hands
// off to) into a builder.
type runner struct {
	b     *builder
	r     *rng
	w     *world
	a     *agent
	fx    *effects
	p     *persona
	at    time.Time
	model model
	msgs  []message
	marks *[]mark
	sub   bool

	bigSeen       bool   // a tool returned a huge output
	rateLimited   bool   // the background 429 happened
	argRetried    bool   // the background invalid-arguments call happened
	argRetryField string // the argument that call left out
	parseRetried  bool   // the background unparsable answer happened
}

func (x *runner) mark(label string, span int, phrase string) {
	*x.marks = append(*x.marks, mark{Label: label, Span: span, Phrase: phrase})
}

func (x *runner) callCtx(inject string) *callCtx {
	return &callCtx{r: x.r, v: x.w.v, p: x.p, at: x.at, inject: inject}
}

func (x *runner) genAITool() bool { return x.a.FW.GenAI || x.a.FW.ToolsGenAI }

// agentRun runs agent x.a under parent (-1 for the trace root) and
// returns when it ended, its answer, and the failure that ended it, if
// any.
func (x *runner) agentRun(parent int, t time.Time, request string, plan [][]string) (time.Time, string, *failure) {
	a, fw := x.a, x.a.FW
	name := fw.Root(a.Name)
	if x.sub {
		name = fw.SubAgent(a.Name)
	}
	root := x.b.open(parent, a, name, oncall.KindAgent, fw.GenAI, t)
	x.model = a.Model
	if x.fx.model != nil {
		x.model = *x.fx.model
	}
	if fw.GenAI {
		x.b.set(root, "gen_ai.operation.name", "invoke_agent", "gen_ai.agent.name", a.Name)
		x.b.span(root).Input = renderInput([]message{{Role: "user", Content: request}}, true)
	} else {
		x.b.set(root, "agent.name", a.Name)
		x.b.span(root).Input = request
	}
	if x.sub {
		x.b.set(root, "gen_ai.agent.name", a.Name)
	}
	x.b.set(root, "llm.prompt_template.version", x.promptVersion())
	x.msgs = []message{{Role: "system", Content: x.system()}}
	for i := 0; i < x.fx.history; i++ {
		x.msgs = append(x.msgs, message{Role: "user", Content: pick(x.r, a.Tmpl.Requests)(x.callCtx(""))},
			message{Role: "assistant", Content: pick(x.r, snippets)})
	}
	x.msgs = append(x.msgs, message{Role: "user", Content: request})
	t = t.Add(x.r.millis(2, 25))
	if a.Retriever {
		var docs string
		t, docs = x.retrieve(root, t, request)
		if docs != "" {
			x.msgs = append(x.msgs[:len(x.msgs)-1], message{Role: "system", Content: "Relevant documents:\n" + docs}, x.msgs[len(x.msgs)-1])
		}
	}
	queue := append([][]string(nil), plan...)
	var answer string
	for turn := 0; ; turn++ {
		if turn >= a.MaxIter {
			e := fw.MaxIter(a.MaxIter)
			f := failure{Exc: e, Phrase: maxIterPhrase(e), Stack: stack(fw.Lang, "runner", "run", e)}
			x.b.fail(root, t, f)
			if x.fx.loopTool != "" {
				x.mark(x.fx.causeLabel, root, f.Phrase)
			}
			return t, "", &f
		}
		var calls []string
		switch {
		case x.fx.loopTool != "" && !x.sub:
			calls = []string{x.fx.loopTool}
		case len(queue) > 0:
			calls, queue = queue[0], queue[1:]
		}
		if x.fx.cancel && !x.sub && turn == (len(plan)+1)/2 {
			f := cancelFailure(fw.Lang)
			x.b.fail(root, t.Add(x.r.millis(100, 3000)), f)
			x.mark("client_cancelled", root, f.Phrase)
			return x.b.span(root).End, "", &f
		}
		step := root
		if fw.Step != "" {
			step = x.b.open(root, a, fw.Step, oncall.KindChain, fw.GenAI, t)
			t = t.Add(x.r.millis(1, 4))
		}
		var reply message
		var f *failure
		t, reply, f = x.llm(step, t, turn, calls, "")
		if f != nil {
			if step != root {
				x.b.fail(step, t, *f)
			}
			return x.failRoot(root, t, *f)
		}
		if step != root {
			t = t.Add(x.r.millis(1, 5))
			x.b.ok(step, t)
		}
		x.msgs = append(x.msgs, reply)
		if len(reply.Calls) == 0 {
			answer = reply.Content
			break
		}
		var out toolsOutcome
		t, out = x.runTools(root, t, reply.Calls)
		if out.fatal != nil {
			return x.failRoot(root, t, *out.fatal)
		}
		if out.handedOff {
			answer = out.answer
			break
		}
		if len(out.retry) > 0 {
			queue = append([][]string{out.retry}, queue...)
		}
	}
	for i := 0; i < x.fx.reflect; i++ {
		var f *failure
		var reply message
		t, reply, f = x.llm(root, t, -1, nil, pick(x.r, []string{"Critique the draft answer against the policy and list concrete problems.", "Revise the draft answer using the critique. Keep every fact grounded in tool results."}))
		if f != nil {
			return x.failRoot(root, t, *f)
		}
		answer = reply.Content
	}
	if x.structured() {
		var f *failure
		t, f = x.parse(root, t, answer)
		if f != nil {
			return x.failRoot(root, t, *f)
		}
	}
	if a.Guardrail && !x.sub {
		g := x.b.open(root, a, fw.Guardrail, oncall.KindGuardrail, fw.GenAI, t)
		t = t.Add(x.r.millis(15, 120))
		x.b.span(g).Input = truncate(answer, 300)
		if x.fx.guardWarn {
			x.b.warn(g, t, "PII detected in model output: 1 email address redacted")
			x.b.span(g).Output = `{"action":"redact","entities":["EMAIL"]}`
			x.mark("guardrail_warning", g, "PII detected")
		} else {
			x.b.span(g).Output = `{"action":"allow"}`
			x.b.ok(g, t)
		}
	}
	t = t.Add(x.r.millis(1, 10))
	if fw.GenAI {
		x.b.span(root).Output = renderOutput(message{Role: "assistant", Content: answer}, "stop", true)
	} else {
		x.b.span(root).Output = answer
	}
	x.b.ok(root, t)
	return t, answer, nil
}

func maxIterPhrase(e exc) string {
	for _, p := range []string{"Recursion limit", "Max turns", "request_limit", "Max iterations", "iteration limit", "without producing a final answer", "max iterations", "Maximum auto invoke attempts"} {
		if strings.Contains(e.Message, p) {
			return p
		}
	}
	return e.Message
}

// failRoot ends the agent span with the failure that escaped the run, as
// the framework reports it.
func (x *runner) failRoot(root int, t time.Time, f failure) (time.Time, string, *failure) {
	t = t.Add(x.r.millis(1, 8))
	e := wrapRoot(x.a.FW, x.a.Name, f.Exc)
	wrapped := failure{Exc: e, Phrase: f.Phrase, Stack: stack(x.a.FW.Lang, "runner", "run", e)}
	x.b.fail(root, t, wrapped)
	return t, "", &wrapped
}

func (x *runner) system() string {
	s := x.a.system()
	if x.w.leaks.SystemSlack && !x.sub && (!x.a.FW.GenAI || x.a.FW.SystemContent) {
		s += " To page a human, post to Slack with token " + x.w.v.plant(x.w.v.SlackToken) + "."
	}
	return s
}

func (x *runner) structured() bool { return x.a.Structured && x.a.FW.Parse != "" }

func (x *runner) promptVersion() string {
	if x.fx.prompt != 0 {
		return x.a.promptVersion(x.fx.prompt)
	}
	return x.a.promptVersion(x.a.Prompt)
}

func tokensOf(msgs []message) int64 {
	n := 0
	for _, m := range msgs {
		n += len(m.Content) + 16
		for _, c := range m.Calls {
			n += len(c.Name) + len(c.Args) + 12
		}
	}
	return int64(n / 4)
}

// llm makes one model turn. calls are the tools the model decides to call
// (nil for a final answer); extra, when set, is an instruction appended as
// a user message (critique rounds). Rate-limited attempts are retried as
// separate spans.
func (x *runner) llm(parent int, t time.Time, turn int, calls []string, extra string) (time.Time, message, *failure) {
	a, fw, m := x.a, x.a.FW, x.model
	msgs := x.msgs
	if extra != "" {
		msgs = append(append([]message(nil), msgs...), message{Role: "user", Content: extra})
	}
	inTok := tokensOf(msgs) + int64(85*len(a.Tools)) + x.fx.inflate
	lf := x.fx.llm
	attempts := 1
	if lf != nil && lf.kind == llmRateLimit {
		attempts = lf.attempts
	}
	rateLimitOnce := x.fx.rateLimitOnce && !x.rateLimited
	if rateLimitOnce {
		x.rateLimited = true
		attempts = 2
	}
	for attempt := 0; attempt < attempts; attempt++ {
		sp := x.b.open(parent, a, fw.LLM(m), oncall.KindLLM, fw.GenAI, t)
		s := x.b.span(sp)
		s.Model, s.Provider = m.Name, m.OIProv
		if fw.GenAI {
			s.Provider = m.Provider
			x.b.set(sp, "gen_ai.operation.name", "chat")
			if sys := msgs[0]; sys.Role == "system" && fw.SystemContent {
				x.b.set(sp, "gen_ai.system_instructions", js([]map[string]string{{"type": "text", "content": sys.Content}}))
			}
		} else {
			params := map[string]any{"temperature": 0.2}
			if x.w.leaks.LLMKey && x.r.percent(20) {
				params["api_key"] = x.w.v.plant(x.w.v.OpenAIKey)
			}
			x.b.set(sp, "llm.invocation_parameters", js(params))
		}
		x.b.set(sp, "llm.prompt_template.version", x.promptVersion())
		s.Input = renderInput(msgs, fw.GenAI)
		rateLimited := (lf != nil && lf.kind == llmRateLimit && attempt < lf.failures) || (rateLimitOnce && attempt == 0)
		switch {
		case rateLimited:
			t = t.Add(x.r.millis(120, 700))
			f := rateLimitFailure(x.r, fw.Lang, m)
			x.b.fail(sp, t, f)
			if rateLimitOnce {
				x.mark("rate_limit_retry", sp, f.Phrase)
			} else {
				x.mark(x.fx.causeLabel, sp, f.Phrase)
			}
			if attempt == attempts-1 {
				return t, message{}, &f
			}
			t = t.Add(time.Duration(500<<attempt)*time.Millisecond + x.r.millis(0, 400))
			continue
		case lf != nil && lf.kind == llmContext && (turn == lf.turn || lf.turn == afterBigOutput && x.bigSeen):
			t = t.Add(x.r.millis(150, 600))
			f := contextFailure(fw.Lang, m, lf.tokens)
			x.b.fail(sp, t, f)
			x.mark(x.fx.causeLabel, sp, f.Phrase)
			return t, message{}, &f
		case lf != nil && lf.kind == llmAuth:
			t = t.Add(x.r.millis(80, 300))
			f := llmAuthFailure(fw.Lang, m, x.w.v.OpenAIKey)
			x.b.fail(sp, t, f)
			x.mark(x.fx.causeLabel, sp, f.Phrase)
			return t, message{}, &f
		}
		// The answer exists only once a call succeeds: what it plants is
		// then written.
		reply := x.reply(calls)
		outTok := tokensOf([]message{reply}) + int64(x.r.between(4, 40))
		if extra != "" {
			outTok += int64(x.r.between(150, 400))
		}
		d := time.Duration(m.FirstByte)*time.Millisecond + x.r.millis(0, m.FirstByte) + time.Duration(outTok)*time.Duration(m.MsPerTok)*time.Millisecond
		if k := x.fx.slowBy("llm"); k > 1 {
			d = d*time.Duration(k) + x.r.millis(0, 3000)
			if x.fx.causeLabel != "" {
				x.mark(x.fx.causeLabel, sp, "")
			}
		}
		if x.fx.causeLabel != "" && x.fx.costly {
			x.mark(x.fx.causeLabel, sp, "")
		}
		t = t.Add(d)
		s = x.b.span(sp)
		s.InputTokens, s.OutputTokens, s.TotalTokens = inTok, outTok, inTok+outTok
		s.Cost = usd(m.costNanos(inTok, outTok))
		finish := "stop"
		if len(reply.Calls) > 0 {
			finish = "tool_calls"
		}
		s.Output = renderOutput(reply, finish, fw.GenAI)
		if fw.GenAI {
			x.b.set(sp, "gen_ai.response.model", m.Response)
		}
		x.b.ok(sp, t)
		return t, reply, nil
	}
	panic("model call made no attempt") // attempts is at least 1
}

// reply is what the model answers: calls to the named tools with
// generated arguments, or a final answer.
func (x *runner) reply(calls []string) message {
	if len(calls) == 0 {
		return message{Role: "assistant", Content: x.answer()}
	}
	m := message{Role: "assistant"}
	for _, name := range calls {
		id := fmt.Sprintf("call_%s", x.r.chars(24, alnum))
		var args map[string]any
		if t := x.a.tool(name); t != nil {
			args = t.Args(x.callCtx(""))
		} else {
			args = map[string]any{"reason": truncate(x.lastUser(), 160)}
		}
		if ba := x.fx.badArgs; ba != nil && ba.tool == name {
			rename(args, ba.field, ba.wrong)
		} else if x.fx.argRetry == name && !x.argRetried {
			x.argRetried = true
			if k := firstKey(args); k != "" {
				wrong := lowerCamel(k)
				if wrong == k {
					wrong = k + "_value"
				}
				rename(args, k, wrong)
				x.argRetryField = k
			}
		}
		m.Calls = append(m.Calls, toolCall{ID: id, Name: name, Args: js(args)})
	}
	return m
}

func (x *runner) lastUser() string {
	for i := len(x.msgs) - 1; i >= 0; i-- {
		if x.msgs[i].Role == "user" {
			return x.msgs[i].Content
		}
	}
	return ""
}

func rename(m map[string]any, from, to string) {
	if v, ok := m[from]; ok {
		delete(m, from)
		m[to] = v
	}
}

func firstKey(m map[string]any) string {
	k := ""
	for key := range m {
		if k == "" || key < k {
			k = key
		}
	}
	return k
}

func lowerCamel(s string) string {
	c := toCamel(s)
	if c == "" {
		return c
	}
	return strings.ToLower(c[:1]) + c[1:]
}

func (x *runner) answer() string {
	lead := pick(x.r, []string{"Here is what I found:", "Thanks for your patience.", "Done.", "I checked this for you."})
	text := lead + " " + pick(x.r, snippets)
	if !x.structured() {
		return text
	}
	switch {
	case x.fx.parseFail:
		// The model answers in prose and markdown instead of the JSON the
		// output schema asks for.
		return "Sure! Here is the answer you asked for:\n\n**Summary:** " + text + "\n\nLet me know if you need anything else."
	case x.fx.parseRetry && !x.parseRetried:
		full := js(map[string]any{"answer": text, "confidence": "high"})
		return full[:len(full)/2]
	}
	return js(map[string]any{"answer": text, "confidence": pick(x.r, []string{"high", "medium"})})
}

// truncate cuts s to at most n bytes on a character boundary and marks
// the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// argsOf decodes generated JSON arguments.
func argsOf(s string) map[string]any {
	var m map[string]any
	if json.Unmarshal([]byte(s), &m) != nil {
		return map[string]any{}
	}
	return m
}
