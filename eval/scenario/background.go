package scenario

// bgFault is a steady background failure of the alerting agent: it hits
// rate percent of runs in every window, before and after the onset.
type bgFault struct {
	label string
	rate  int
	// failure is false for findings that are not errors (empty results,
	// injected text).
	failure bool
	apply   func(r *rng, rp *runPlan)
}

func useTool(rp *runPlan, name string) {
	if rp.must == "" {
		rp.must = name
	}
}

// setupBackground picks the noise of the alerting agent: a fatal but rare
// client disconnect, prompt injections where content comes from outside,
// and two or three handled failures drawn from what the agent can show.
func (g *gen) setupBackground() {
	r, a := g.r, g.main
	causeTool := g.cause.uses
	if len(a.Subs) > 0 {
		// A router shows the noise of the specialists it hands off to.
		merged := *a
		merged.Tools = nil
		for _, s := range a.Subs {
			merged.Tools = append(merged.Tools, s.Tools...)
			merged.Retriever = merged.Retriever || s.Retriever
			merged.Structured = merged.Structured || s.Structured && s.FW.Parse != ""
		}
		a = &merged
	}
	scale := 1
	if len(g.main.Subs) > 0 {
		scale = 2
	}
	var optional []bgFault
	if a.Retriever {
		optional = append(optional, bgFault{label: "empty_retrieval", rate: r.between(8, 18), apply: func(r *rng, rp *runPlan) {
			rp.fx.emptyRetrieval = true
		}})
	}
	if a.Guardrail {
		optional = append(optional, bgFault{label: "guardrail_warning", rate: r.between(6, 12), failure: true, apply: func(r *rng, rp *runPlan) {
			rp.fx.guardWarn = true
		}})
	}
	for _, t := range a.Tools {
		if t.Lookup && t.Dep != nil {
			name := t.Name
			optional = append(optional, bgFault{label: "not_found", rate: r.between(10, 18), failure: true, apply: func(r *rng, rp *runPlan) {
				rp.fx.notFound = name
				useTool(rp, name)
			}})
			break
		}
	}
	if a.Structured && a.FW.Parse != "" && g.spec.Category != ModelRegression {
		optional = append(optional, bgFault{label: "parse_retry", rate: r.between(6, 10), failure: true, apply: func(r *rng, rp *runPlan) {
			rp.fx.parseRetry = true
		}})
	}
	if g.spec.Category != RateLimit {
		optional = append(optional, bgFault{label: "rate_limit_retry", rate: r.between(5, 9), failure: true, apply: func(r *rng, rp *runPlan) {
			rp.fx.rateLimitOnce = true
		}})
	}
	for _, t := range sample(r, a.Tools, len(a.Tools)) {
		if t.Name != causeTool {
			name := t.Name
			optional = append(optional, bgFault{label: "invalid_args_retry", rate: r.between(5, 9), failure: true, apply: func(r *rng, rp *runPlan) {
				rp.fx.argRetry = name
				useTool(rp, name)
			}})
			break
		}
	}
	g.bgs = append(g.bgs, bgFault{label: "client_cancelled", rate: r.between(3, 5), failure: true, apply: func(r *rng, rp *runPlan) {
		rp.fx.cancel = true
	}})
	if len(a.Tools) > 0 {
		name := a.Tools[0].Name
		for _, t := range a.Tools {
			if t.Name == "search_web" || t.Name == "fetch_url" || t.Name == "lookup_order" || t.Name == "search_kb" {
				name = t.Name
			}
		}
		g.bgs = append(g.bgs, bgFault{label: "prompt_injection", rate: r.between(5, 10), apply: func(r *rng, rp *runPlan) {
			rp.fx.inject = pick(r, injections)
			useTool(rp, name)
		}})
	}
	g.bgs = append(g.bgs, bgFault{label: "user_injection", rate: r.between(3, 6), apply: func(r *rng, rp *runPlan) {
		rp.fx.injectUser = pick(r, injections)
	}})
	for i := range optional {
		optional[i].rate *= scale
	}
	g.bgs[0].rate *= scale
	chosen := sample(r, optional, r.between(2, 3))
	if g.spec.Noisy {
		// The loudest failure in the incident window is steady noise,
		// not the cause.
		for i := range chosen {
			if chosen[i].failure {
				chosen[i].rate = r.between(45, 60)
				g.cause.pct = min(g.cause.pct, r.between(50, 65))
				break
			}
		}
	}
	g.bgs = append(g.bgs, chosen...)
}
