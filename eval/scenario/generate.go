package scenario

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// world is what all runs of a scenario share: its secrets and where the
// fleet's telemetry leaks them.
type world struct {
	v     *vault
	leaks leaks
}

// leaks are the places a scenario's instrumentation records credentials.
type leaks struct {
	AuthHeader  string // URL substring of calls that record their Authorization header
	URLToken    string // URL substring of calls that carry an access_token query parameter
	LLMKey      bool   // OpenInference invocation parameters include the API key
	SystemSlack bool   // the system prompt includes a Slack token
	UserPaste   int    // percent of user messages that paste a credential
}

// runPlan is one run to generate.
type runPlan struct {
	a    *agent
	at   time.Time
	fx   *effects
	must string // a tool (or, for routers, a specialist) the run uses
}

// Generated is one scenario in memory. Traces are what a trace source
// returns after decoding the written files; Wire is what is written.
type Generated struct {
	Spec     Spec
	Alert    []byte
	Traces   []oncall.Trace
	Wire     []oncall.Trace
	Expected Expected

	marks []traceMark
}

// traceMark is a mark resolved to its trace and span.
type traceMark struct {
	TraceID, SpanID string
	Start           time.Time // the trace's start
	Label, Phrase   string
	Main            bool // in a run of the alerting agent
	Kind            oncall.SpanKind
	Name, Tool      string
}

// gen is the state of one scenario's generation.
type gen struct {
	spec    Spec
	r       *rng
	w       *world
	env     string
	cloud   string
	region  string
	main    *agent
	fleet   []*agent
	alertAt time.Time
	onset   time.Time
	kind    oncall.AlertKind
	cause   causeSetup
	bgs     []bgFault
	desc    string
	suspect *Suspect

	truth, wire []oncall.Trace
	marks       []traceMark
	largeDone   bool

	errThreshold int           // percent of failed runs the error alert fires above
	holdFor      time.Duration // how long the rule must hold before the alert fires
	labels       alertLabels   // how the alert names service, agent and environment
	other        *otherPlan    // another service's own incident, or nil
}

// otherPlan is another service's incident in the same window: one of its
// tools starts failing at onset for most of its runs, and its traffic is
// higher than the alerting agent's, so its failures outnumber the cause.
type otherPlan struct {
	a      *agent
	tool   string
	fault  *toolFault
	onset  time.Time
	traces []string
}

// Generate builds the scenario spec describes. It draws from the spec's
// seed until a draw shows what the scenario promises (the cause only in
// the incident window and in enough runs, background failures in both
// windows, a noisy background when asked, an alert that would fire), so
// equal specs always give equal scenarios. It fails for a spec without a
// name or with an unknown category, and when 40 draws all fall short.
// Generate is safe for concurrent use.
func Generate(spec Spec) (*Generated, error) {
	if spec.Name == "" {
		return nil, errors.New("generate scenario: spec has no name")
	}
	if flavors(spec.Category) == 0 {
		return nil, fmt.Errorf("generate scenario %s: unknown category %q", spec.Name, spec.Category)
	}
	var problems []string
	for attempt := uint64(0); attempt < 40; attempt++ {
		g := &gen{spec: spec, r: newRNG(spec.Seed*0x9e3779b97f4a7c15 + attempt)}
		out, err := g.generate()
		if err == nil {
			return out, nil
		}
		problems = append(problems, err.Error())
	}
	return nil, fmt.Errorf("generate scenario %s: no draw satisfied the spec: %s", spec.Name, strings.Join(problems[len(problems)-3:], "; "))
}

func (g *gen) generate() (*Generated, error) {
	r := g.r
	g.w = &world{v: newVault(r.fork("vault"))}
	g.env = pick(r, []string{"production", "production", "prod"})
	g.cloud = pick(r, []string{"aws", "gcp", "azure"})
	g.region = pick(r, map[string][]string{
		"aws":   {"us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"},
		"gcp":   {"us-central1", "europe-west4", "asia-northeast1"},
		"azure": {"eastus", "westeurope", "australiaeast"},
	}[g.cloud])
	g.onset = baseTime.Add(time.Duration(r.intn(90))*24*time.Hour + time.Duration(r.between(7*60, 22*60))*time.Minute + time.Duration(r.intn(60))*time.Second)
	// Until the rule is evaluated over the runs (see fire), the alert is
	// taken to fire five minutes after the onset.
	g.alertAt = g.onset.Add(5 * time.Minute)
	g.errThreshold = pick(r, []int{5, 10})
	g.holdFor = pick(r, []time.Duration{2 * time.Minute, 3 * time.Minute, 5 * time.Minute})
	g.labels = g.pickAlertLabels()
	if err := setupCause(g); err != nil {
		return nil, err
	}
	g.setupLeaks()
	g.setupBackground()
	g.setupFleet()
	g.traffic()
	return g.finish()
}

// newAgent deploys an agent for the fleet.
func (g *gen) newAgent(tmpl *agentTemplate, fw framework, m model) *agent {
	return newAgent(g.r, tmpl.Name, tmpl, fw, m, g.env, g.cloud, g.region)
}

// pickFramework draws a framework, spreading a category's flavors over
// different ones. ok filters candidates; nil accepts all.
func (g *gen) pickFramework(ok func(framework) bool) framework {
	var fws []framework
	for _, f := range frameworks {
		if ok == nil || ok(f) {
			fws = append(fws, f)
		}
	}
	return fws[(g.spec.Flavor*3+g.r.intn(3))%len(fws)]
}

func (g *gen) pickModel(ok func(model) bool) model {
	var ms []model
	for _, m := range models {
		if ok == nil || ok(m) {
			ms = append(ms, m)
		}
	}
	return pick(g.r, ms)
}

func (g *gen) pickTemplate(ok func(*agentTemplate) bool) *agentTemplate {
	var ts []*agentTemplate
	for i := range agentTemplates {
		if ok == nil || ok(&agentTemplates[i]) {
			ts = append(ts, &agentTemplates[i])
		}
	}
	return pick(g.r, ts)
}

// addBystanders adds n agents that share the environment but not the
// incident.
func (g *gen) addBystanders(n int) {
	used := map[string]bool{}
	for _, a := range g.fleet {
		used[a.Name] = true
		for _, s := range a.Subs {
			used[s.Name] = true
		}
	}
	for i := 0; i < n; i++ {
		t := g.pickTemplate(func(t *agentTemplate) bool { return !used[t.Name] })
		used[t.Name] = true
		g.fleet = append(g.fleet, g.newAgent(t, g.pickFramework(nil), g.pickModel(nil)))
	}
}

func (g *gen) setupLeaks() {
	r := g.r
	var hosts []string
	for _, t := range g.main.Tools {
		if t.Dep != nil {
			hosts = append(hosts, depHost(t))
		}
	}
	if len(hosts) > 0 && r.percent(70) {
		g.w.leaks.AuthHeader = pick(r, hosts)
	}
	if len(hosts) > 0 && g.w.leaks.URLToken == "" && r.percent(50) {
		g.w.leaks.URLToken = pick(r, hosts)
	}
	g.w.leaks.LLMKey = r.percent(60)
	g.w.leaks.SystemSlack = r.percent(35)
	g.w.leaks.UserPaste = r.between(4, 8)
}

// setupFleet fills the store with other services' agents, so it looks
// like a fleet's: two to four agents besides the alerting one, and in
// about half the scenarios one of them has its own, louder incident in
// the same window.
func (g *gen) setupFleet() {
	r := g.r
	others := 0
	for _, a := range g.fleet[1:] {
		if a != g.main {
			others++
		}
	}
	if want := r.between(2, 4); others < want {
		g.addBystanders(want - others)
	}
	if !r.percent(55) {
		return
	}
	for _, a := range g.fleet[1:] {
		ts := depTools(a)
		if len(ts) == 0 || a.Service == g.main.Service {
			continue
		}
		t := pick(r, ts)
		f := &toolFault{kind: faultStatus, code: pick(r, []int{500, 502, 503}), body: "upstream unavailable"}
		if r.percent(40) {
			f = &toolFault{kind: faultTimeout, secs: pick(r, []int{10, 30})}
		}
		g.other = &otherPlan{a: a, tool: t.Name, fault: f, onset: g.onset.Add(time.Duration(r.between(-8*60, 4*60)) * time.Second)}
		return
	}
}

// traffic generates the runs of every agent of the fleet over the whole
// time range: from 100 minutes before the provisional alert time to 35
// minutes after, so that the windows of the real firing time, a few
// minutes either way, are full.
func (g *gen) traffic() {
	from := g.alertAt.Add(-IncidentWindow - BaselineWindow - 10*time.Minute)
	incFrom := g.alertAt.Add(-IncidentWindow)
	incSpan := IncidentWindow + 35*time.Minute
	for i, a := range g.fleet {
		var nBase, nInc int
		switch {
		case i == 0:
			nBase, nInc = g.r.between(28, 32), g.r.between(38, 44)
		case g.other != nil && a == g.other.a:
			nBase, nInc = g.r.between(5, 7), g.r.between(40, 50)
		default:
			nBase, nInc = g.r.between(3, 5), g.r.between(4, 6)
		}
		if i > 0 && g.cause.surge > 0 {
			nInc *= g.cause.surge
		}
		var times []time.Time
		times = append(times, g.arrivals(from, incFrom.Sub(from), nBase)...)
		times = append(times, g.arrivals(incFrom, incSpan, nInc)...)
		for _, at := range times {
			rp := &runPlan{a: a, at: at, fx: &effects{}}
			if i == 0 {
				g.prepareMain(rp)
			} else {
				g.prepareBystander(rp)
			}
			g.run(rp, i == 0)
		}
	}
	sort.SliceStable(g.truth, func(i, j int) bool { return g.truth[i].Start.Before(g.truth[j].Start) })
	sort.SliceStable(g.wire, func(i, j int) bool { return g.wire[i].Start.Before(g.wire[j].Start) })
}

func (g *gen) arrivals(from time.Time, span time.Duration, n int) []time.Time {
	out := make([]time.Time, n)
	for i := range out {
		out[i] = from.Add(time.Duration(g.r.intn(int(span/time.Millisecond))) * time.Millisecond)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

// prepareMain decides what happens to one run of the alerting agent.
func (g *gen) prepareMain(rp *runPlan) {
	r := g.r
	c := &g.cause
	if c.uses != "" && r.percent(c.usePct) {
		rp.must = c.uses
	}
	if rp.must == "" && len(rp.a.Subs) > 0 {
		var others []*agent
		for _, s := range rp.a.Subs {
			if s.Name != c.uses {
				others = append(others, s)
			}
		}
		if len(others) > 0 {
			rp.must = pick(r, others).Name
		}
	}
	for _, bg := range g.bgs {
		if r.percent(bg.rate) {
			bg.apply(r, rp)
		}
	}
	if g.spec.Large && g.spec.Category != ContextLength && !g.largeDone && rp.at.Before(g.onset) && len(rp.a.Tools) > 0 && r.percent(10) {
		// One healthy run fetches a very large result.
		g.largeDone = true
		rp.fx.bigOutput = 200 * 1024
		useTool(rp, rp.a.Tools[0].Name)
	}
	if rp.at.Before(g.onset) {
		return
	}
	if c.afterOnset != nil {
		c.afterOnset(r, rp)
	}
	eligible := c.uses == "" || rp.must == c.uses || c.anyRun
	if eligible && r.percent(c.pct) {
		rp.fx.causeLabel = "cause"
		c.apply(r, rp)
	}
}

func (g *gen) prepareBystander(rp *runPlan) {
	r := g.r
	if r.percent(3) {
		rp.fx.cancel = true
	}
	if g.spec.Category != RateLimit && r.percent(4) {
		rp.fx.rateLimitOnce = true
	}
	if rp.a.Retriever && r.percent(8) {
		rp.fx.emptyRetrieval = true
	}
	if o := g.other; o != nil && rp.a == o.a && !rp.at.Before(o.onset) && r.percent(85) {
		rp.fx.tool = map[string]*toolFault{o.tool: o.fault}
		rp.fx.causeLabel = "other_incident"
		useTool(rp, o.tool)
	}
}

// run generates one trace.
func (g *gen) run(rp *runPlan, main bool) {
	r := newRNG(g.r.next())
	b := newBuilder(r)
	a := rp.a
	p := &g.w.v.People[r.intn(len(g.w.v.People))]
	x := &runner{b: b, r: r, w: g.w, a: a, fx: rp.fx, p: p, at: rp.at}
	var marks []mark
	x.marks = &marks
	if rp.fx.pod != "" {
		b.pin(a, rp.fx.pod)
	}
	request := g.request(r, a, p, rp)
	x.agentRun(-1, rp.at, request, planFor(r, a, rp.must))
	attrs := map[string]string{"gen_ai.agent.name": a.Name, "user.id": p.CustomerID}
	if a.FW.GenAI {
		attrs["gen_ai.conversation.id"] = "conv_" + r.chars(20, alnum)
	} else {
		attrs["session.id"] = r.hex(4) + "-" + r.hex(2) + "-" + r.hex(2) + "-" + r.hex(2) + "-" + r.hex(6)
	}
	if rp.fx.injectUser != "" {
		marks = append(marks, mark{Label: "user_injection", Span: 0})
	}
	truth, wire := b.finish(attrs)
	for _, m := range marks {
		s := &b.trace.Spans[m.Span]
		g.marks = append(g.marks, traceMark{TraceID: truth.TraceID, SpanID: s.SpanID, Start: truth.Start, Label: m.Label, Phrase: m.Phrase, Main: main, Kind: s.Kind, Name: s.Name, Tool: s.ToolName})
	}
	g.truth = append(g.truth, truth)
	g.wire = append(g.wire, wire)
}

// request is what the user asks in a run.
func (g *gen) request(r *rng, a *agent, p *persona, rp *runPlan) string {
	tmpl := a.Tmpl
	if len(a.Subs) > 0 {
		// A router's user asks something one of its specialists handles.
		sub := pick(r, a.Subs)
		for _, s := range a.Subs {
			if s.Name == rp.must {
				sub = s
			}
		}
		rp.must = sub.Name
		tmpl = sub.Tmpl
	}
	ctx := &callCtx{r: r, v: g.w.v, p: p, at: rp.at}
	req := pick(r, tmpl.Requests)(ctx)
	if rp.fx.injectUser != "" {
		req += "\n\n" + rp.fx.injectUser
	}
	if r.percent(g.w.leaks.UserPaste) {
		v := g.w.v
		switch r.intn(4) {
		case 0:
			req += " My GitHub token is " + v.plant(v.GitHubToken) + " if you need to check the repo."
		case 1:
			req += fmt.Sprintf(" These are the credentials we use: aws_access_key_id=%s aws_secret_access_key=%s", v.plant(v.AWSKeyID), v.plant(v.AWSSecret))
		case 2:
			req += " You can reach me at " + v.phone(p) + " or " + v.email(p) + "."
		default:
			req += " (Our OpenAI key " + v.plant(v.OpenAIKey) + " might be the problem?)"
		}
	}
	return req
}
