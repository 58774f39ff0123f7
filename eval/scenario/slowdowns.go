package scenario

import (
	"fmt"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// Causes that raise no error: runs get slower or dearer.

func setupLatency(g *gen) error {
	r, flavor := g.r, g.flavor()
	g.kind = oncall.AlertKindLatency
	switch flavor {
	case 0:
		a := g.mainAgent(g.pickTemplate(nil), g.pickFramework(nil), g.pickModel(nil))
		t := g.depTool(a)
		k := r.between(8, 15)
		g.cause = causeSetup{uses: t.Name, usePct: r.between(60, 80), pct: r.between(70, 95), apply: func(r *rng, rp *runPlan) {
			rp.fx.slow = map[string]int{"tool:" + t.Name: k}
		}}
		g.desc = fmt.Sprintf("From %s %s, behind %s's %s tool, answers about %dx slower; runs calling it take much longer but succeed. No new errors.", clock(g), depHost(t), a.Name, t.Name, k)
	case 1:
		a := g.mainAgent(g.pickTemplate(nil), g.pickFramework(nil), g.pickModel(nil))
		k := r.between(4, 7)
		g.cause = causeSetup{anyRun: true, pct: r.between(70, 95), apply: func(r *rng, rp *runPlan) {
			rp.fx.slow = map[string]int{"llm": k}
		}}
		g.desc = fmt.Sprintf("From %s %s serves %s about %dx slower in %s; every model call of %s takes longer and runs breach the latency objective. No errors.", clock(g), a.Model.Provider, a.Model.Name, k, g.region, a.Name)
	default:
		tmpl := g.pickTemplate(func(t *agentTemplate) bool { return t.Retriever })
		a := g.mainAgent(tmpl, g.pickFramework(func(f framework) bool { return f.Retriever != "" }), g.pickModel(nil))
		a.Retriever = true
		k := r.between(25, 60)
		g.cause = causeSetup{anyRun: true, pct: r.between(70, 95), apply: func(r *rng, rp *runPlan) {
			rp.fx.slow = map[string]int{"retriever": k}
		}}
		g.desc = fmt.Sprintf("From %s the vector store behind %s's retriever slows down about %dx (an index rebuild); every run waits on retrieval. No errors.", clock(g), a.Name, k)
	}
	return nil
}

func setupCost(g *gen) error {
	r, flavor := g.r, g.flavor()
	g.kind = oncall.AlertKindCost
	cheap := func(m model) bool { return m.PriceIn <= 2500 }
	a := g.mainAgent(g.pickTemplate(nil), g.pickFramework(nil), g.pickModel(cheap))
	switch flavor {
	case 0:
		m := pick(r, expensiveModels)
		g.cause = causeSetup{anyRun: true, pct: 100, apply: func(r *rng, rp *runPlan) {
			mm := m
			rp.fx.model = &mm
			rp.fx.costly = true
		}}
		g.suspect = &Suspect{Attribute: "gen_ai.request.model", Value: m.Name, Baseline: a.Model.Name}
		g.desc = fmt.Sprintf("At %s a configuration change points %s at %s instead of %s; every run after it costs many times more. No errors.", clock(g), a.Name, m.Name, a.Model.Name)
	case 1:
		next := a.Prompt + 1
		extra := int64(r.between(15000, 45000))
		g.cause = causeSetup{anyRun: true, pct: 100, afterOnset: func(r *rng, rp *runPlan) {
			rp.fx.prompt = next
		}, apply: func(r *rng, rp *runPlan) {
			rp.fx.inflate = extra
			rp.fx.costly = true
		}}
		g.suspect = &Suspect{Attribute: "llm.prompt_template.version", Value: a.promptVersion(next), Baseline: a.promptVersion(a.Prompt)}
		g.desc = fmt.Sprintf("At %s prompt %s of %s inlines the product catalogue into the system prompt: about %d more input tokens on every model call. No errors.", clock(g), a.promptVersion(next), a.Name, extra)
	default:
		release := bumpVersion(a.Version)
		deployed := *a
		deployed.Version = release
		turns := r.between(3, 5)
		g.cause = causeSetup{anyRun: true, pct: 100, afterOnset: func(r *rng, rp *runPlan) {
			rp.a = &deployed
		}, apply: func(r *rng, rp *runPlan) {
			rp.fx.reflect = turns
			rp.fx.costly = true
		}}
		g.suspect = &Suspect{Attribute: "service.version", Value: release, Baseline: a.Version}
		g.desc = fmt.Sprintf("Release %s of %s (deployed at %s) enables a self-critique loop: %d extra critique and revise model calls per run. No errors, but spend per run multiplies.", release, a.Name, clock(g), turns)
	}
	return nil
}
