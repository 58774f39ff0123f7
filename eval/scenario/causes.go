package scenario

import (
	"fmt"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// causeSetup is how a scenario's cause reaches runs of the alerting agent.
type causeSetup struct {
	uses   string // a tool (or specialist) runs use usePct of the time, in both windows
	usePct int
	anyRun bool // after onset every run is eligible, used tool or not
	pct    int  // percent of eligible runs after onset that the cause affects
	apply  func(r *rng, rp *runPlan)
	// afterOnset changes every run after onset (a deploy, a config
	// change), affected or not.
	afterOnset func(r *rng, rp *runPlan)
	surge      int // bystander traffic multiplier in the incident window
}

// flavors is how many flavors a category has, or 0 for an unknown one.
func flavors(c Category) int {
	switch c {
	case ToolTimeout, RateLimit, ContextLength, HandoffFailure, ExpiredCredentials, LatencySpike, CostBlowup, Upstream5xx:
		return 3
	case InvalidToolArgs, MaxIterations, ModelRegression:
		return 2
	}
	return 0
}

func setupCause(g *gen) error {
	switch g.spec.Category {
	case ToolTimeout:
		return setupToolTimeout(g)
	case RateLimit:
		return setupRateLimit(g)
	case ContextLength:
		return setupContextLength(g)
	case InvalidToolArgs:
		return setupInvalidArgs(g)
	case MaxIterations:
		return setupMaxIterations(g)
	case HandoffFailure:
		return setupHandoff(g)
	case ModelRegression:
		return setupModelRegression(g)
	case Upstream5xx:
		return setupUpstream(g)
	case ExpiredCredentials:
		return setupCredentials(g)
	case LatencySpike:
		return setupLatency(g)
	case CostBlowup:
		return setupCost(g)
	}
	return fmt.Errorf("unknown category %q", g.spec.Category)
}

func (g *gen) flavor() int { return g.spec.Flavor % flavors(g.spec.Category) }

func hasTool(t *agentTemplate, names ...string) bool {
	for _, n := range t.Tools {
		for _, want := range names {
			if n == want {
				return true
			}
		}
	}
	return false
}

func depTools(a *agent) []*tool {
	var out []*tool
	for _, t := range a.Tools {
		if t.Dep != nil {
			out = append(out, t)
		}
	}
	return out
}

// probe is a call context for looking at what a tool produces without
// planting anything in the scenario.
func probe(g *gen) *callCtx {
	v := newVault(newRNG(7))
	return &callCtx{r: newRNG(7), v: v, p: &v.People[0], at: g.alertAt}
}

// depHost is the host a tool's dependency lives on.
func depHost(t *tool) string {
	v := newVault(newRNG(7))
	ctx := &callCtx{r: newRNG(1), v: v, p: &v.People[0]}
	return hostOf(t.Dep.URL(ctx, t.Args(ctx)))
}

// mainAgent deploys the alerting agent and up to one bystander.
func (g *gen) mainAgent(tmpl *agentTemplate, fw framework, m model) *agent {
	a := g.newAgent(tmpl, fw, m)
	g.main = a
	g.fleet = []*agent{a}
	if g.r.percent(25) {
		g.addBystanders(1)
	}
	return a
}

// depTool picks one of a's tools that calls an HTTP dependency, giving a
// one if it has none.
func (g *gen) depTool(a *agent) *tool {
	ts := depTools(a)
	if len(ts) == 0 {
		for _, n := range a.Tmpl.Tools {
			if tools[n].Dep != nil {
				return a.ensureTool(n)
			}
		}
	}
	return pick(g.r, ts)
}

func clock(g *gen) string { return g.onset.Format("15:04") + " UTC" }

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func setupToolTimeout(g *gen) error {
	r, flavor := g.r, g.flavor()
	var tmpl *agentTemplate
	if flavor == 1 {
		tmpl = g.pickTemplate(func(t *agentTemplate) bool { return hasTool(t, "sql_query") })
	} else {
		tmpl = g.pickTemplate(nil)
	}
	a := g.mainAgent(tmpl, g.pickFramework(nil), g.pickModel(nil))
	secs := pick(r, []int{10, 15, 20, 30})
	var t *tool
	var fault toolFault
	switch flavor {
	case 1:
		t = a.ensureTool("sql_query")
		fault = toolFault{kind: faultStatementTimeout, secs: secs}
		g.desc = fmt.Sprintf("From %s the warehouse database behind %s's sql_query tool cancels queries at the %d s statement timeout: the database span, the tool span and the agent run end in error. Baseline runs query it without errors.", clock(g), a.Name, secs)
	default:
		t = g.depTool(a)
		fault = toolFault{kind: faultTimeout, secs: secs}
		if flavor == 2 {
			fault.retries = 1
		}
		g.desc = fmt.Sprintf("From %s %s stops answering calls of %s's %s tool, which hang until the %d s client timeout (%s per call); the HTTP client span, the tool span and the agent run end in error. Baseline runs call the tool without errors.", clock(g), depHost(t), a.Name, t.Name, secs, plural(fault.retries+1, "attempt"))
	}
	g.kind = oncall.AlertKindErrors
	g.cause = causeSetup{uses: t.Name, usePct: r.between(55, 80), pct: r.between(60, 90), apply: func(r *rng, rp *runPlan) {
		f := fault
		rp.fx.tool = map[string]*toolFault{t.Name: &f}
	}}
	return nil
}

func setupRateLimit(g *gen) error {
	r, flavor := g.r, g.flavor()
	a := g.mainAgent(g.pickTemplate(nil), g.pickFramework(nil), g.pickModel(nil))
	attempts := pick(r, []int{3, 4})
	g.kind = oncall.AlertKindErrors
	g.cause = causeSetup{anyRun: true, pct: r.between(50, 75), apply: func(r *rng, rp *runPlan) {
		failures := r.between(1, attempts-1)
		if r.percent(55) {
			failures = attempts
		}
		rp.fx.llm = &llmFault{kind: llmRateLimit, failures: failures, attempts: attempts}
	}}
	g.desc = fmt.Sprintf("From %s %s (%s) answers many of %s's calls with 429 rate-limit errors. The framework retries up to %d attempts with backoff: some runs succeed after failed attempts, many exhaust them and fail. Baseline runs see no 429s.", clock(g), a.Model.Provider, a.Model.Name, a.Name, attempts)
	if flavor == 1 {
		// A noisy neighbour on the same account: bystanders surge and use
		// the same model.
		if len(g.fleet) == 1 {
			g.addBystanders(1)
		}
		for _, b := range g.fleet[1:] {
			b.Model = a.Model
		}
		g.cause.surge = 3
		g.desc += fmt.Sprintf(" The rate limit is shared: %s, on the same model, triples its traffic in the incident window.", g.fleet[1].Name)
	}
	return nil
}

func setupContextLength(g *gen) error {
	r, flavor := g.r, g.flavor()
	small := func(m model) bool { return m.Context <= 200000 }
	g.kind = oncall.AlertKindErrors
	switch flavor {
	case 0:
		bigTools := []string{"fetch_url", "search_web", "sql_query", "search_kb"}
		tmpl := g.pickTemplate(func(t *agentTemplate) bool { return hasTool(t, bigTools...) })
		a := g.mainAgent(tmpl, g.pickFramework(nil), g.pickModel(small))
		var tn string
		for _, n := range bigTools {
			if hasTool(tmpl, n) {
				tn = n
				break
			}
		}
		a.ensureTool(tn)
		large := g.spec.Large
		g.cause = causeSetup{uses: tn, usePct: r.between(50, 70), pct: r.between(45, 75), apply: func(r *rng, rp *runPlan) {
			rp.fx.bigOutput = -1 // recorded truncated
			if large {
				rp.fx.bigOutput, large = 200*1024, false
			}
			rp.fx.llm = &llmFault{kind: llmContext, turn: afterBigOutput, tokens: a.Model.Context + int64(r.between(2000, 90000))}
		}}
		g.desc = fmt.Sprintf("From %s %s's %s tool starts returning huge results (pages of several hundred KB, recorded truncated); the next model call exceeds %s's %d-token context window and the run fails. Baseline results are small.", clock(g), a.Name, tn, a.Model.Name, a.Model.Context)
	case 1:
		a := g.mainAgent(g.pickTemplate(nil), g.pickFramework(nil), g.pickModel(small))
		release := bumpVersion(a.Version)
		deployed := *a
		deployed.Version = release
		g.cause = causeSetup{anyRun: true, pct: r.between(35, 60), afterOnset: func(r *rng, rp *runPlan) {
			rp.a = &deployed
		}, apply: func(r *rng, rp *runPlan) {
			rp.fx.history = r.between(8, 14)
			rp.fx.llm = &llmFault{kind: llmContext, turn: 0, tokens: a.Model.Context + int64(r.between(500, 40000))}
		}}
		g.suspect = &Suspect{Attribute: "service.version", Value: release, Baseline: a.Version}
		g.desc = fmt.Sprintf("Release %s of %s (deployed at %s) carries the whole conversation history into every prompt; long conversations now exceed %s's %d-token context window on the first model call. Runs of the previous release %s never do.", release, a.Name, clock(g), a.Model.Name, a.Model.Context, a.Version)
	default:
		tmpl := g.pickTemplate(func(t *agentTemplate) bool { return t.Retriever })
		a := g.mainAgent(tmpl, g.pickFramework(func(f framework) bool { return f.Retriever != "" }), g.pickModel(small))
		a.Retriever = true
		topK := pick(r, []int{40, 60, 100})
		g.cause = causeSetup{anyRun: true, pct: r.between(40, 70), afterOnset: func(r *rng, rp *runPlan) {
			rp.fx.topK = topK
		}, apply: func(r *rng, rp *runPlan) {
			rp.fx.llm = &llmFault{kind: llmContext, turn: 0, tokens: a.Model.Context + int64(r.between(500, 60000))}
		}}
		g.suspect = &Suspect{Attribute: "retrieval.top_k", Value: fmt.Sprint(topK), Baseline: fmt.Sprint(defaultTopK)}
		g.desc = fmt.Sprintf("At %s the retriever of %s is reconfigured from top_k=%d to top_k=%d; the retrieved documents push many prompts past %s's %d-token context window and the first model call fails.", clock(g), a.Name, defaultTopK, topK, a.Model.Name, a.Model.Context)
	}
	return nil
}

func bumpVersion(v string) string {
	var major, minor, patch int
	fmt.Sscanf(v, "%d.%d.%d", &major, &minor, &patch)
	return fmt.Sprintf("%d.%d.0", major, minor+1)
}

func setupInvalidArgs(g *gen) error {
	r := g.r
	a := g.mainAgent(g.pickTemplate(nil), g.pickFramework(nil), g.pickModel(nil))
	t := pick(r, a.Tools)
	field := firstKey(t.Args(probe(g)))
	wrong := lowerCamel(field)
	if wrong == field {
		wrong = pick(r, []string{"q", "input", "text", "value"})
	}
	next := a.Prompt + 1
	g.kind = oncall.AlertKindErrors
	g.cause = causeSetup{uses: t.Name, usePct: r.between(55, 80), pct: r.between(70, 95), afterOnset: func(r *rng, rp *runPlan) {
		rp.fx.prompt = next
	}, apply: func(r *rng, rp *runPlan) {
		rp.fx.badArgs = &badArgs{tool: t.Name, field: field, wrong: wrong}
	}}
	g.suspect = &Suspect{Attribute: "llm.prompt_template.version", Value: a.promptVersion(next), Baseline: a.promptVersion(a.Prompt)}
	g.desc = fmt.Sprintf("At %s prompt %s of %s replaces %s. Its new tool instructions make the model call %s with %q instead of the required %q; the tool rejects the arguments, the model repeats the call and the run fails after the second rejection.", clock(g), a.promptVersion(next), a.Name, a.promptVersion(a.Prompt), t.Name, wrong, field)
	return nil
}

func setupMaxIterations(g *gen) error {
	r := g.r
	a := g.mainAgent(g.pickTemplate(func(t *agentTemplate) bool {
		for _, n := range t.Tools {
			if tools[n].Paged {
				return true
			}
		}
		return false
	}), g.pickFramework(nil), g.pickModel(nil))
	a.MaxIter = pick(r, []int{5, 6})
	var t *tool
	for _, c := range a.Tools {
		if c.Paged {
			t = c
		}
	}
	if t == nil {
		for _, n := range a.Tmpl.Tools {
			if tools[n].Paged {
				t = a.ensureTool(n)
				break
			}
		}
	}
	if t == nil {
		return fmt.Errorf("agent %s has no tool that pages results", a.Name)
	}
	g.kind = oncall.AlertKindErrors
	g.cause = causeSetup{uses: t.Name, usePct: r.between(50, 75), pct: r.between(55, 85), apply: func(r *rng, rp *runPlan) {
		rp.fx.loopTool = t.Name
	}}
	g.desc = fmt.Sprintf("From %s %s's %s tool answers with empty partial results and a next cursor; the model keeps calling it until the run hits its limit of %d iterations and fails. No tool call errors; baseline runs finish in one to three turns.", clock(g), a.Name, t.Name, a.MaxIter)
	return nil
}

func setupHandoff(g *gen) error {
	r, flavor := g.r, g.flavor()
	fw := g.pickFramework(nil)
	router := g.newAgent(&agentTemplate{Name: routerNames[(g.spec.Flavor+int(g.spec.Seed))%len(routerNames)], Purpose: "route requests to specialists"}, fw, g.pickModel(nil))
	router.Tools = nil
	router.Retriever, router.Structured, router.Guardrail = false, false, false
	var subs []*agent
	for _, tmpl := range sample(r, []string{"support-agent", "billing-agent", "returns-agent", "travel-agent", "hr-helpdesk-agent", "scheduling-agent"}, r.between(2, 3)) {
		sfw := fw
		remote := r.percent(50)
		if remote {
			sfw = g.pickFramework(nil)
		}
		s := g.newAgent(templateNamed(tmpl), sfw, g.pickModel(nil))
		s.Guardrail = false
		if !remote {
			s.Service, s.Version, s.Pods, s.EnvKey = router.Service, router.Version, router.Pods, router.EnvKey
		}
		subs = append(subs, s)
	}
	router.Subs = subs
	target := subs[0]
	if flavor == 0 && target.Service == router.Service {
		// a refused connection needs a specialist in its own service
		target.Service = target.Name + "-svc"
		target.Pods = []string{target.Service + "-7d9f8b6c5d-x2k8q", target.Service + "-7d9f8b6c5d-m4n7r"}
	}
	g.main = router
	g.fleet = []*agent{router}
	g.addBystanders(r.between(0, 1))
	g.kind = oncall.AlertKindErrors
	hk := []handoffKind{handoffConnect, handoffPayload, handoffMissing}[flavor]
	field := pick(r, []string{"customer_id", "account_ref", "locale", "case_id"})
	g.cause = causeSetup{uses: target.Name, usePct: r.between(35, 55), pct: r.between(70, 95), apply: func(r *rng, rp *runPlan) {
		rp.fx.handoff = &handoffFault{to: target.Name, kind: hk, field: field}
	}}
	switch hk {
	case handoffConnect:
		g.desc = fmt.Sprintf("From %s the %s service refuses connections (its pods are gone after a bad rollout); %s's handoffs to %s fail on the HTTP call and the run ends in error. Handoffs to the other specialists work.", clock(g), target.Service, router.Name, target.Name)
	case handoffPayload:
		release := bumpVersion(target.Version)
		g.desc = fmt.Sprintf("From %s %s rejects handoffs from %s: its new release requires a %q field the router does not send. The specialist's agent span fails at once and the error propagates to the router's run. Handoffs to the other specialists work.", clock(g), target.Name, router.Name, field)
		if target.Service != router.Service {
			deployed := *target
			deployed.Version = release
			g.suspect = &Suspect{Attribute: "service.version", Value: release, Baseline: target.Version}
			g.cause.afterOnset = func(r *rng, rp *runPlan) {
				rp.a = withSub(rp.a, target, &deployed)
			}
		}
	default:
		g.desc = fmt.Sprintf("From %s %s's runner no longer has %s registered (a configuration change dropped it); every handoff to it fails before reaching the specialist. Handoffs to the other specialists work.", clock(g), router.Name, target.Name)
	}
	return nil
}

// withSub is a copy of router a whose specialist old is replaced by new.
func withSub(a, old, new *agent) *agent {
	c := *a
	c.Subs = nil
	for _, s := range a.Subs {
		if s == old {
			s = new
		}
		c.Subs = append(c.Subs, s)
	}
	return &c
}

func setupModelRegression(g *gen) error {
	r, flavor := g.r, g.flavor()
	a := g.mainAgent(g.pickTemplate(nil), g.pickFramework(nil), g.pickModel(nil))
	a.Structured = true
	candidate := g.pickModel(func(m model) bool {
		return m.Name != a.Model.Name && (flavor == 1 || m.Family == a.Model.Family || m.Family == "llama" || m.Family == "mistral")
	})
	g.kind = oncall.AlertKindErrors
	g.cause = causeSetup{anyRun: true, pct: r.between(30, 50), apply: func(r *rng, rp *runPlan) {
		m := candidate
		rp.fx.model = &m
		rp.fx.parseFail = true
	}}
	g.suspect = &Suspect{Attribute: "gen_ai.request.model", Value: candidate.Name, Baseline: a.Model.Name}
	g.desc = fmt.Sprintf("At %s %s starts a canary that sends part of its traffic to %s instead of %s. The new model answers in prose and markdown instead of the JSON the output schema asks for, so parsing fails and every canary run ends in error; %s appears only in failing traces.", clock(g), a.Name, candidate.Name, a.Model.Name, candidate.Name)
	return nil
}

func setupUpstream(g *gen) error {
	r, flavor := g.r, g.flavor()
	a := g.mainAgent(g.pickTemplate(nil), g.pickFramework(nil), g.pickModel(nil))
	t := g.depTool(a)
	code := []int{503, 502, 500}[flavor]
	if flavor == 0 && r.percent(30) {
		code = 504
	}
	retries := r.between(0, 2)
	g.kind = oncall.AlertKindErrors
	g.cause = causeSetup{uses: t.Name, usePct: r.between(55, 80), pct: r.between(50, 85), apply: func(r *rng, rp *runPlan) {
		rp.fx.tool = map[string]*toolFault{t.Name: {kind: faultStatus, code: code, retries: retries, body: upstreamBody(r, code)}}
	}}
	g.desc = fmt.Sprintf("From %s %s, the dependency of %s's %s tool, answers %d %s (%s per call); the tool raises and the agent run ends in error. Baseline calls get 200.", clock(g), depHost(t), a.Name, t.Name, code, statusText(code), plural(retries+1, "attempt"))
	return nil
}

func setupCredentials(g *gen) error {
	r, flavor := g.r, g.flavor()
	g.kind = oncall.AlertKindErrors
	if flavor == 1 {
		fw := g.pickFramework(nil)
		a := g.mainAgent(g.pickTemplate(nil), fw, g.pickModel(func(m model) bool { return m.Family == "openai" }))
		a.Pods = append(a.Pods, fmt.Sprintf("%s-%s-%s", a.Service, r.chars(9, "bcdfghjklmnpqrstvwxz2456789"), r.chars(5, "bcdfghjklmnpqrstvwxz2456789")))
		bad := a.Pods[len(a.Pods)-1]
		good := a.Pods[:len(a.Pods)-1]
		a.Pods = good
		g.cause = causeSetup{anyRun: true, pct: r.between(30, 45), apply: func(r *rng, rp *runPlan) {
			rp.fx.pod = bad
			rp.fx.llm = &llmFault{kind: llmAuth}
		}}
		g.suspect = &Suspect{Attribute: "k8s.pod.name", Value: bad}
		g.desc = fmt.Sprintf("At %s the model provider key of %s is rotated. Pod %s, started from a stale secret, still sends the revoked key: every model call from it fails with 401 and the run ends in error. Runs on the other pods work.", clock(g), a.Name, bad)
		return nil
	}
	a := g.mainAgent(g.pickTemplate(nil), g.pickFramework(nil), g.pickModel(nil))
	t := g.depTool(a)
	body := `{"error":"invalid_token","error_description":"The access token expired"}`
	if flavor == 2 {
		body = `{"message":"Bad credentials","documentation_url":"https://docs.example.com/rest"}`
		g.w.leaks.URLToken = depHost(t)
	}
	g.cause = causeSetup{uses: t.Name, usePct: r.between(55, 80), pct: 100, apply: func(r *rng, rp *runPlan) {
		rp.fx.tool = map[string]*toolFault{t.Name: {kind: faultStatus, code: 401, body: body}}
	}}
	g.desc = fmt.Sprintf("At %s the credential %s's %s tool uses for %s expires: every call gets 401 Unauthorized, the tool raises and the run ends in error.", clock(g), a.Name, t.Name, depHost(t))
	return nil
}
