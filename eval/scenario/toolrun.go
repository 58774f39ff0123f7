package scenario

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// toolsOutcome is what a batch of tool calls came to.
type toolsOutcome struct {
	fatal     *failure // a failure that ends the run
	handedOff bool     // a specialist took over and answered
	answer    string
	retry     []string // tools the model calls again next turn
}

// runTools executes the tool calls of one model turn.
func (x *runner) runTools(root int, t time.Time, calls []toolCall) (time.Time, toolsOutcome) {
	a, fw := x.a, x.a.FW
	var out toolsOutcome
	parent := root
	if fw.ToolStep != nil {
		parent = x.b.open(root, a, fw.ToolStep(len(calls)), oncall.KindChain, fw.GenAI, t)
		t = t.Add(x.r.millis(1, 4))
	}
	for _, c := range calls {
		var result string
		var f *failure
		var fatal, retry bool
		if strings.HasPrefix(c.Name, "transfer_to_") {
			t, result, f = x.handoff(parent, t, c)
			fatal = f != nil
			out.handedOff = f == nil
			out.answer = result
		} else {
			t, result, f, fatal, retry = x.callTool(parent, t, c)
		}
		if f != nil && fatal {
			if parent != root {
				x.b.fail(parent, t, *f)
			}
			out.fatal = f
			return t, out
		}
		if f != nil {
			result = "Error: " + f.Exc.String()
		}
		if retry {
			out.retry = append(out.retry, c.Name)
		}
		x.msgs = append(x.msgs, message{Role: "tool", CallID: c.ID, Content: truncate(result, 180)})
		t = t.Add(x.r.millis(1, 6))
	}
	if parent != root {
		x.b.ok(parent, t)
	}
	return t, out
}

// callTool runs one tool call with its HTTP or database child span. It
// returns the tool's output or failure, whether the failure ends the run
// and whether the model calls the tool again (after rejected arguments).
func (x *runner) callTool(parent int, t time.Time, c toolCall) (_ time.Time, _ string, _ *failure, fatal, retry bool) {
	a, fw := x.a, x.a.FW
	tl := a.tool(c.Name)
	args := argsOf(c.Args)
	genAI := x.genAITool()
	sp := x.b.open(parent, a, fw.Tool(c.Name), oncall.KindTool, genAI, t)
	s := x.b.span(sp)
	s.ToolName, s.ToolArgs = c.Name, c.Args
	if genAI {
		x.b.set(sp, "gen_ai.operation.name", "execute_tool")
	} else {
		s.Input = c.Args
	}
	t = t.Add(x.r.millis(tl.Work[0], tl.Work[1]))
	cause := x.fx.causeLabel

	// Arguments the tool's schema rejects never reach the dependency.
	if field := x.missingField(c.Name, args); field != "" {
		f := validationFailure(fw.Lang, c.Name, field, c.Args)
		f.Stack = stack(fw.Lang, "tools", c.Name, f.Exc)
		t = t.Add(x.r.millis(1, 3))
		x.b.fail(sp, t, f)
		if x.fx.badArgs != nil && x.fx.badArgs.tool == c.Name {
			x.mark(cause, sp, f.Phrase)
			// The model gets the error back and repeats the same call; the
			// second rejection ends the run.
			x.fx.badArgs.tries++
			return t, "", &f, x.fx.badArgs.tries >= 2, true
		}
		x.mark("invalid_args_retry", sp, f.Phrase)
		return t, "", &f, false, true
	}

	fault := x.fx.tool[c.Name]
	label := cause
	if fault == nil && x.fx.notFound == c.Name && tl.Dep != nil {
		fault = &toolFault{kind: faultStatus, code: 404}
		label = "not_found"
	}
	slow := x.fx.slowBy("tool:" + c.Name)
	if slow > 1 && cause != "" {
		x.mark(cause, sp, "")
	}
	ctx := x.callCtx(x.fx.inject)
	switch {
	case tl.Dep != nil:
		u := tl.Dep.URL(ctx, args)
		if x.w.leaks.URLToken != "" && strings.Contains(u, x.w.leaks.URLToken) {
			sep := "?"
			if strings.Contains(u, "?") {
				sep = "&"
			}
			u += sep + "access_token=" + x.w.v.plant(x.w.v.JWT)
		}
		tries := 1
		if fault != nil {
			tries += fault.retries
		}
		for i := 0; i < tries; i++ {
			h := x.b.open(sp, a, tl.Dep.Method, oncall.KindHTTP, false, t)
			x.setHTTP(h, tl.Dep.Method, u)
			lat := x.r.millis(tl.Dep.Ms[0], tl.Dep.Ms[1]) * time.Duration(slow)
			switch {
			case fault == nil:
				t = t.Add(lat)
				x.b.set(h, "http.response.status_code", "200")
				x.b.ok(h, t)
			case fault.kind == faultTimeout:
				t = t.Add(time.Duration(fault.secs)*time.Second + x.r.millis(0, 40))
				f := timeoutFailure(x.r, fw.Lang, tl.Dep.Method, u, fault.secs)
				x.b.fail(h, t, f)
				if i == tries-1 {
					f.Stack = stack(fw.Lang, "tools", c.Name, f.Exc)
					t = t.Add(x.r.millis(1, 4))
					x.b.fail(sp, t, f)
					x.mark(label, sp, f.Phrase)
					return t, "", &f, true, false
				}
			case fault.kind == faultConnect:
				t = t.Add(x.r.millis(1, 8))
				f := connectFailure(fw.Lang, tl.Dep.Method, u)
				x.b.fail(h, t, f)
				if i == tries-1 {
					f.Stack = stack(fw.Lang, "tools", c.Name, f.Exc)
					x.b.fail(sp, t, f)
					x.mark(label, sp, f.Phrase)
					return t, "", &f, true, false
				}
			default:
				t = t.Add(lat / 3)
				x.b.failHTTP(h, t, fault.code)
				if i == tries-1 {
					f := statusFailure(x.r, fw.Lang, tl.Dep.Method, u, fault.code, fault.body)
					f.Stack = stack(fw.Lang, "tools", c.Name, f.Exc)
					t = t.Add(x.r.millis(1, 4))
					x.b.fail(sp, t, f)
					x.mark(label, sp, f.Phrase)
					return t, "", &f, fault.code != 404, false
				}
			}
			if i < tries-1 {
				t = t.Add(time.Duration(200<<i)*time.Millisecond + x.r.millis(0, 100))
			}
		}
	case tl.DB != "":
		d := x.b.open(sp, a, "SELECT warehouse", oncall.KindSpan, false, t)
		x.b.set(d, "db.system.name", tl.DB, "db.namespace", "warehouse", "db.operation.name", "SELECT",
			"db.query.text", str(args, "query"), "server.address", "warehouse.db.internal", "server.port", "5432")
		if fault != nil && fault.kind == faultStatementTimeout {
			t = t.Add(time.Duration(fault.secs)*time.Second + x.r.millis(0, 30))
			f := statementTimeout(fw.Lang)
			x.b.fail(d, t, f)
			f.Stack = stack(fw.Lang, "tools", c.Name, f.Exc)
			t = t.Add(x.r.millis(1, 3))
			x.b.fail(sp, t, f)
			x.mark(label, sp, f.Phrase)
			return t, "", &f, true, false
		}
		t = t.Add(x.r.millis(30, 900) * time.Duration(slow))
		x.b.ok(d, t)
	}
	out := tl.Out(ctx, args)
	if x.fx.loopTool == c.Name {
		// The dependency answers, but with nothing the model can use, so
		// it asks again with slightly different arguments.
		out = js(map[string]any{"results": []string{}, "status": "partial", "next_cursor": x.r.chars(12, alnum)})
	}
	if x.fx.bigOutput > 0 || x.fx.bigOutput < 0 && (c.Name == "fetch_url" || c.Name == "search_web" || c.Name == "sql_query" || c.Name == "search_kb") {
		if x.fx.bigOutput > 0 {
			out = largeDocument(x.r, x.fx.bigOutput)
		} else {
			n := x.r.between(300, 900) * 1024
			out = largeDocument(x.r, 2048) + fmt.Sprintf("\n[output truncated by instrumentation: %d more characters]", n)
		}
		x.fx.bigOutput = 0
		x.bigSeen = true
	}
	if x.fx.inject != "" {
		// Content from outside (a page, a record someone else wrote)
		// carries instructions; once per run.
		if !strings.Contains(out, x.fx.inject) {
			out = embed(out, x.fx.inject)
		}
		x.fx.inject = ""
		x.mark("prompt_injection", sp, "")
	}
	t = t.Add(x.r.millis(1, 8))
	s = x.b.span(sp)
	s.Output = out
	x.b.ok(sp, t)
	return t, out, nil, false, false
}

// embed adds text to a tool output: as a notes field of a JSON object,
// or as a trailing paragraph.
func embed(out, text string) string {
	if strings.HasPrefix(out, "{") && strings.HasSuffix(out, "}") && len(out) > 2 {
		return out[:len(out)-1] + `,"notes":` + js(text) + "}"
	}
	return out + "\n\n" + text
}

// missingField is the required argument a call leaves out, or "".
func (x *runner) missingField(name string, args map[string]any) string {
	if ba := x.fx.badArgs; ba != nil && ba.tool == name {
		if _, ok := args[ba.field]; !ok {
			return ba.field
		}
	}
	if x.argRetryField != "" && x.fx.argRetry == name {
		if _, ok := args[x.argRetryField]; !ok {
			return x.argRetryField
		}
	}
	return ""
}

func (x *runner) setHTTP(h int, method, raw string) {
	u, err := url.Parse(raw)
	host, port := raw, ""
	if err == nil {
		host, port = u.Hostname(), u.Port()
	}
	x.b.set(h, "http.request.method", method, "url.full", raw, "server.address", host, "server.port", port)
	if x.w.leaks.AuthHeader != "" && strings.Contains(raw, x.w.leaks.AuthHeader) {
		x.b.set(h, "http.request.header.authorization", js([]string{"Bearer " + x.w.v.plant(x.w.v.JWT)}))
	}
}

// defaultTopK is how many documents retrievers return.
const defaultTopK = 2

// retrieve looks up documents for the request and returns them as the
// context the model gets.
func (x *runner) retrieve(parent int, t time.Time, query string) (time.Time, string) {
	a, fw := x.a, x.a.FW
	sp := x.b.open(parent, a, fw.Retriever, oncall.KindRetriever, fw.GenAI, t)
	x.b.span(sp).Input = query
	if x.r.percent(15) {
		name := "OpenAIEmbeddings"
		if fw.GenAI {
			name = "embeddings text-embedding-3-small"
		}
		e := x.b.open(sp, a, name, oncall.KindEmbedding, fw.GenAI, t)
		tok := int64(len(query)/4 + 2)
		es := x.b.span(e)
		es.Model, es.Provider, es.InputTokens, es.TotalTokens = "text-embedding-3-small", "openai", tok, tok
		es.Cost = usd(tok * 20)
		t = t.Add(x.r.millis(40, 180))
		x.b.ok(e, t)
	}
	k := defaultTopK
	long := false
	if x.fx.topK > 0 {
		k, long = x.fx.topK, true
	}
	lat := x.r.millis(30, 220) * time.Duration(x.fx.slowBy("retriever"))
	if x.fx.slowBy("retriever") > 1 && x.fx.causeLabel != "" {
		x.mark(x.fx.causeLabel, sp, "")
	}
	t = t.Add(lat)
	var docs []map[string]any
	var context []string
	if !x.fx.emptyRetrieval {
		for i := 0; i < k; i++ {
			id := "doc-" + x.r.chars(8, lowerNum)
			score := fmt.Sprintf("0.%02d", 92-i*2-x.r.intn(5))
			if long {
				score = fmt.Sprintf("0.%02d", max(11, 80-i-x.r.intn(5)))
			}
			text := pick(x.r, kbTitles) + ": " + truncate(pick(x.r, snippets), 90)
			docs = append(docs, map[string]any{"id": id, "score": score, "content": text})
			context = append(context, id+": "+truncate(text, 60))
			if !fw.GenAI && i < 5 {
				x.b.set(sp, "retrieval.documents."+strconv.Itoa(i)+".document.id", id)
			}
		}
	}
	s := x.b.span(sp)
	if docs == nil {
		s.Output = "[]"
		x.mark("empty_retrieval", sp, "")
	} else {
		if long {
			// Big result sets are recorded cut short, as instrumentations
			// cap attribute sizes.
			full := js(docs[:5])
			s.Output = full[:len(full)-1] + fmt.Sprintf(`,"… %d more documents truncated"]`, k-5)
		} else {
			s.Output = js(docs)
		}
	}
	x.b.set(sp, "retrieval.top_k", strconv.Itoa(k))
	t = t.Add(x.r.millis(1, 5))
	x.b.ok(sp, t)
	return t, strings.Join(context[:min(len(context), 5)], "\n")
}

// parse validates the structured answer; a background failure re-asks the
// model once.
func (x *runner) parse(parent int, t time.Time, answer string) (time.Time, *failure) {
	a, fw := x.a, x.a.FW
	sp := x.b.open(parent, a, fw.Parse, oncall.KindChain, fw.GenAI, t)
	x.b.span(sp).Input = truncate(answer, 400)
	t = t.Add(x.r.millis(1, 6))
	if x.fx.parseFail || (x.fx.parseRetry && !x.parseRetried) {
		f := parseFailure(fw.Lang, answer)
		f.Stack = stack(fw.Lang, "output", "parse", f.Exc)
		x.b.fail(sp, t, f)
		if x.fx.parseFail {
			x.mark(x.fx.causeLabel, sp, f.Phrase)
			return t, &f
		}
		x.mark("parse_retry", sp, f.Phrase)
		x.parseRetried = true
		var reply message
		var rf *failure
		t, reply, rf = x.llm(parent, t, -1, nil, "Your last answer was not valid JSON. Reply with JSON matching the schema only.")
		if rf != nil {
			return t, rf
		}
		return x.parse(parent, t, reply.Content)
	}
	x.b.span(sp).Output = answer
	x.b.ok(sp, t)
	return t, nil
}

// handoff passes the request to a specialist agent, over the network when
// the specialist runs in another service.
func (x *runner) handoff(parent int, t time.Time, c toolCall) (time.Time, string, *failure) {
	a, fw := x.a, x.a.FW
	var target *agent
	for _, s := range a.Subs {
		if "transfer_to_"+strings.ReplaceAll(s.Name, "-", "_") == c.Name {
			target = s
		}
	}
	hp := x.b.open(parent, a, fw.Tool(c.Name), oncall.KindTool, x.genAITool(), t)
	if !fw.HandoffTool {
		x.b.span(hp).Name = "handoff " + target.Name
		x.b.span(hp).Kind = oncall.KindChain
	} else {
		s := x.b.span(hp)
		s.ToolName, s.ToolArgs = c.Name, c.Args
	}
	t = t.Add(x.r.millis(1, 5))
	hf := x.fx.handoff
	if hf != nil && hf.to != target.Name {
		hf = nil
	}
	fail := func(f failure) (time.Time, string, *failure) {
		t = t.Add(x.r.millis(1, 4))
		x.b.fail(hp, t, f)
		return t, "", &f
	}
	if hf != nil && hf.kind == handoffMissing {
		e := exc{"HandoffError", fmt.Sprintf("handoff target '%s' is not registered with this runner; known agents: %s", strings.ReplaceAll(target.Name, "-", "_"), x.knownAgents(target))}
		f := failure{Exc: e, Phrase: "not registered", Stack: stack(fw.Lang, "handoffs", "transfer", e)}
		x.mark(x.fx.causeLabel, hp, f.Phrase)
		return fail(f)
	}
	subParent := hp
	http := -1
	if target.Service != a.Service {
		u := fmt.Sprintf("http://%s.agents.svc.cluster.local:8080/a2a/v1/message:send", target.Service)
		http = x.b.open(hp, a, "POST", oncall.KindHTTP, false, t)
		x.setHTTP(http, "POST", u)
		if hf != nil && hf.kind == handoffConnect {
			t = t.Add(x.r.millis(1, 6))
			f := connectFailure(fw.Lang, "POST", u)
			x.b.fail(http, t, f)
			f.Stack = stack(fw.Lang, "handoffs", "transfer", f.Exc)
			x.mark(x.fx.causeLabel, hp, f.Phrase)
			return fail(f)
		}
		subParent = http
		t = t.Add(x.r.millis(3, 20))
	}
	// The specialist shows the same steady noise; the incident's cause
	// stays with the router.
	bg := &effects{notFound: x.fx.notFound, emptyRetrieval: x.fx.emptyRetrieval, argRetry: x.fx.argRetry,
		parseRetry: x.fx.parseRetry, rateLimitOnce: x.fx.rateLimitOnce && !x.rateLimited, inject: x.fx.inject}
	sub := &runner{b: x.b, r: x.r, w: x.w, a: target, fx: bg, p: x.p, at: x.at, marks: x.marks, sub: true}
	if hf != nil && hf.kind == handoffPayload {
		name := fw.SubAgent(target.Name)
		sr := x.b.open(subParent, target, name, oncall.KindAgent, target.FW.GenAI, t)
		x.b.set(sr, "gen_ai.agent.name", target.Name)
		t = t.Add(x.r.millis(2, 15))
		e := exc{"HandoffInputError", fmt.Sprintf("invalid handoff input for %s: missing required field '%s'", target.Name, hf.field)}
		if target.FW.Lang == "python" {
			e = exc{"pydantic_core._pydantic_core.ValidationError", fmt.Sprintf("1 validation error for %sHandoffInput\n%s\n  Field required [type=missing, input_value=%s, input_type=dict]", toCamel(strings.ReplaceAll(target.Name, "-", "_")), hf.field, pyRepr(c.Args))}
		}
		f := failure{Exc: e, Phrase: hf.field, Stack: stack(target.FW.Lang, "handoff", "accept", e)}
		x.b.fail(sr, t, f)
		x.mark(x.fx.causeLabel, sr, f.Phrase)
		if http >= 0 {
			// The remote agent answers 422; the client raises with the
			// remote error's message.
			t = t.Add(x.r.millis(1, 5))
			x.b.failHTTP(http, t, 422)
			re := exc{"A2AClientError", fmt.Sprintf("HTTP 422 from %s: %s", target.Service, e.Message)}
			f = failure{Exc: re, Phrase: hf.field, Stack: stack(fw.Lang, "handoffs", "transfer", re)}
		}
		return fail(f)
	}
	request := x.lastUser()
	t, answer, f := sub.agentRun(subParent, t, request, planFor(x.r, target, ""))
	if f != nil {
		if http >= 0 {
			x.b.failHTTP(http, t, 500)
		}
		return fail(*f)
	}
	if http >= 0 {
		t = t.Add(x.r.millis(2, 10))
		x.b.set(http, "http.response.status_code", "200")
		x.b.ok(http, t)
	}
	t = t.Add(x.r.millis(1, 5))
	s := x.b.span(hp)
	s.Output = answer
	x.b.ok(hp, t)
	return t, answer, nil
}

func (x *runner) knownAgents(except *agent) string {
	var names []string
	for _, s := range x.a.Subs {
		if s != except {
			names = append(names, strings.ReplaceAll(s.Name, "-", "_"))
		}
	}
	return strings.Join(names, ", ")
}

// planFor draws which tools a run calls, turn by turn. must, when set, is
// called in one of the turns.
func planFor(r *rng, a *agent, must string) [][]string {
	if len(a.Subs) > 0 {
		to := pick(r, a.Subs).Name
		if must != "" {
			to = must
		}
		return [][]string{{"transfer_to_" + strings.ReplaceAll(to, "-", "_")}}
	}
	turns := pick(r, []int{0, 1, 1, 1, 1, 2})
	if must != "" && turns == 0 {
		turns = 1
	}
	plan := make([][]string, turns)
	for i := range plan {
		plan[i] = []string{pick(r, a.Tools).Name}
		if r.percent(8) {
			plan[i] = append(plan[i], pick(r, a.Tools).Name)
		}
	}
	if must != "" {
		i := r.intn(turns)
		plan[i][0] = must
	}
	return plan
}
