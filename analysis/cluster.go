package analysis

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// noMessage stands for a failure that said nothing about itself.
const noMessage = "error without a message"

// errorFindings turns the trace's failure origins into findings, one per
// signature however often it was retried.
func (a *analyzer) errorFindings(f *traceFacts) {
	tr := &a.tree
	a.orig = tr.origins(a.orig)
	for _, o := range a.orig {
		s := &tr.spans[o.span]
		raw := spanErrorText(s)
		if o.absorbed >= 0 {
			p := &tr.spans[o.absorbed]
			if raw == "" {
				raw = spanErrorText(p)
			} else if code := httpStatus(p); code > 0 && !strings.Contains(raw, strconv.Itoa(code)) {
				raw += " (HTTP " + strconv.Itoa(code) + ")"
			}
		}
		what := a.normalize(raw)
		if what == "" {
			what = noMessage
		}
		kind := ClusterError
		switch {
		case s.Kind == oncall.KindGuardrail:
			kind = ClusterGuardrail
		case (s.Kind == oncall.KindAgent || s.Kind == oncall.KindChain || tr.top(o.span)) && speaksOfStepLimit(what):
			kind = ClusterMaxIterations
		}
		name := displayName(s)
		tool := ""
		if s.Kind == oncall.KindTool {
			tool = name
		}
		where := ""
		if o.where >= 0 {
			w := &tr.spans[o.where]
			where = spanLabel(w.Kind, displayName(w))
			if w.Kind == oncall.KindTool {
				tool = displayName(w)
			}
		}
		f.add(finding{
			sig:      signature(kind, s.Kind, name, where, what),
			where:    where,
			kind:     kind,
			spanKind: s.Kind,
			spanName: name,
			toolName: tool,
			what:     what,
			spanID:   s.SpanID,
			at:       s.Start,
			repeats:  1,
		})
	}
}

// clusterAcc gathers one signature's findings across traces.
type clusterAcc struct {
	c        oncall.Cluster
	named    int // examples from traces the alert names, kept first
	repeats  int // most repeats in one incident trace
	handled  int // incident traces whose run still ended well
	variants int // signatures merged into this cluster
	firstSet bool
	// weighted counts of incident and baseline traces (sampling weights)
	wCount, wBase float64
}

func (acc *clusterAcc) example(traceID, spanID string, named bool, max int) {
	switch {
	case named:
		// Traces the alert names go first, ahead of the others.
		acc.c.TraceIDs = append(acc.c.TraceIDs[:acc.named], append([]string{traceID}, acc.c.TraceIDs[acc.named:]...)...)
		acc.c.SpanIDs = append(acc.c.SpanIDs[:acc.named], append([]string{spanID}, acc.c.SpanIDs[acc.named:]...)...)
		acc.named++
		if len(acc.c.TraceIDs) > max {
			acc.c.TraceIDs, acc.c.SpanIDs = acc.c.TraceIDs[:max], acc.c.SpanIDs[:max]
		}
	case len(acc.c.TraceIDs) < max:
		acc.c.TraceIDs = append(acc.c.TraceIDs, traceID)
		acc.c.SpanIDs = append(acc.c.SpanIDs, spanID)
	}
}

// failureClusters groups the findings of every trace by signature and
// scores each against the baseline.
func (a *analyzer) failureClusters() []oncall.Cluster {
	canon, variants := a.mergeVariants()
	accs := make(map[string]*clusterAcc)
	var order []*clusterAcc
	var inTrace []*clusterAcc
	for i := range a.facts {
		f := &a.facts[i]
		inTrace = inTrace[:0]
		for k := range f.findings {
			x := &f.findings[k]
			rep := &canon[x.sig].f
			x.sig = rep.sig // later steps know the finding by its cluster
			acc := accs[rep.sig]
			if acc == nil {
				acc = &clusterAcc{variants: variants[rep.sig], c: oncall.Cluster{
					Signature: rep.sig,
					Kind:      rep.kind,
					SpanKind:  rep.spanKind,
					SpanName:  rep.spanName,
					ToolName:  rep.toolName,
					Error:     rep.what,
					TraceIDs:  []string{},
					SpanIDs:   []string{},
				}}
				accs[rep.sig] = acc
				order = append(order, acc)
			}
			if slices.Contains(inTrace, acc) {
				continue // another variant of a failure this trace has
			}
			inTrace = append(inTrace, acc)
			w := weightOf(a.opts.Weights, f.t.TraceID)
			if !f.incident {
				acc.c.BaselineCount++
				acc.wBase += w
				continue
			}
			acc.c.Count++
			acc.wCount += w
			acc.example(f.t.TraceID, x.spanID, f.named, a.opts.MaxExamples)
			at := x.at
			if at.IsZero() {
				at = f.start
			}
			if !acc.firstSet || at.Before(acc.c.FirstSeen) {
				acc.c.FirstSeen, acc.firstSet = at, true
			}
			acc.repeats = max(acc.repeats, x.repeats)
			if !f.rootFailed && x.kind == ClusterError {
				acc.handled++
			}
		}
	}
	out := make([]oncall.Cluster, 0, len(order))
	for _, acc := range order {
		c := acc.c
		if c.Count == 0 {
			continue // only in the baseline: nothing to explain
		}
		c.FirstSeen = utc(c.FirstSeen)
		c.Count, c.BaselineCount = weighted(c.Count, acc.wCount), weighted(c.BaselineCount, acc.wBase)
		c.Rate = round(ratio(c.Count, a.nInc), 4)
		c.BaselineRate = round(ratio(c.BaselineCount, a.nBase), 4)
		c.New = a.nBase > 0 && c.BaselineCount == 0
		c.Score = round(changeScore(c.Count, a.nInc, c.BaselineCount, a.nBase), 4)
		c.Detail = failureDetail(c.Kind, acc)
		out = append(out, c)
	}
	return out
}

func failureDetail(kind string, acc *clusterAcc) string {
	var parts []string
	switch {
	case kind == ClusterLoop && acc.repeats > 0:
		parts = append(parts, fmt.Sprintf("up to %d identical calls in one run", acc.repeats))
	case kind == ClusterMaxIterations && acc.repeats > 1:
		parts = append(parts, fmt.Sprintf("up to %d identical calls before the run ended", acc.repeats))
	case acc.repeats > 1:
		parts = append(parts, fmt.Sprintf("up to %d attempts in one run", acc.repeats))
	}
	if acc.handled > 0 {
		parts = append(parts, fmt.Sprintf("the run still ended well in %d of %d traces", acc.handled, acc.c.Count))
	}
	if acc.variants > 1 {
		parts = append(parts, fmt.Sprintf("%d variants of the message", acc.variants))
	}
	return strings.Join(parts, "; ")
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// wilsonZ is the one-sided 95% normal quantile used for the bounds.
const wilsonZ = 1.645

// changeScore scores how much more often a signature occurs in the
// incident window (ci of ni traces) than in the baseline (cb of nb). It is
// the lower bound of a confidence interval on the difference of the two
// rates (Newcombe's hybrid of Wilson score intervals), so a handful of
// traces cannot look like a change; a positive bound is weighted by the
// log of the count, so a well-supported change outranks a sparse one. A
// steady signature scores below zero however frequent it is. With no
// baseline traces the score is the incident rate's lower bound, which
// ranks by count.
func changeScore(ci, ni, cb, nb int) float64 {
	if ni == 0 || ci == 0 {
		return 0
	}
	d := wilsonLower(ci, ni)
	if nb > 0 {
		d = differenceLower(ci, ni, cb, nb)
	}
	if d > 0 {
		return d * math.Log2(2+float64(ci))
	}
	return d
}

// differenceLower is the lower confidence bound of the difference between
// the rates c1/n1 and c2/n2 (Newcombe's hybrid score interval).
func differenceLower(c1, n1, c2, n2 int) float64 {
	p1, p2 := float64(c1)/float64(n1), float64(c2)/float64(n2)
	return p1 - p2 - math.Hypot(p1-wilsonLower(c1, n1), wilsonUpper(c2, n2)-p2)
}

func wilsonLower(c, n int) float64 {
	center, half := wilson(c, n)
	return math.Max(0, center-half)
}

func wilsonUpper(c, n int) float64 {
	center, half := wilson(c, n)
	return math.Min(1, center+half)
}

func wilson(c, n int) (center, half float64) {
	p, fn := float64(c)/float64(n), float64(n)
	z2 := wilsonZ * wilsonZ
	den := 1 + z2/fn
	center = (p + z2/(2*fn)) / den
	half = wilsonZ * math.Sqrt(p*(1-p)/fn+z2/(4*fn*fn)) / den
	return center, half
}
