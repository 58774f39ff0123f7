package analysis

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

const (
	// minCostShare is the least a span must add to the mean spend per run,
	// as a share of the baseline's, to be reported.
	minCostShare = 0.1
	// minCostRatio is how much more a span must spend per run than in the
	// baseline.
	minCostRatio = 1.5
	// minWindowCostRise gates cost clusters: runs as a whole must spend
	// this much more for any span to be called costlier.
	minWindowCostRise = 1.2
	// maxModelsShown caps the models a cost detail names.
	maxModelsShown = 3
)

// costStats are the per-span token and cost series of both windows. A
// span's tokens count only when no span below it reports tokens, so that
// usage rolled up onto agents and chains is not counted twice.
type costStats struct {
	inc, base map[spanKey]*series
	haveCost  [2]bool // some span reported a cost: [baseline, incident]
	useCost   bool    // compare USD rather than tokens
	traceP95  float64 // the baseline's p95 spend per run, once clustered
	cur       map[spanKey]int
	curVals   []traceValue
	curCost   []float64
	curTok    []float64
	curKeys   []spanKey
}

func (c *costStats) init() {
	c.inc, c.base = make(map[spanKey]*series), make(map[spanKey]*series)
	c.cur = make(map[spanKey]int)
}

// measure is what a run spends in the unit being compared.
func (c *costStats) measure(f *traceFacts) float64 {
	if c.useCost {
		return f.cost
	}
	return float64(f.tokens)
}

func (c *costStats) addTrace(tr *spanTree, f *traceFacts) {
	into := c.base
	if f.incident {
		into = c.inc
	}
	clear(c.cur)
	c.curVals, c.curKeys, c.curCost, c.curTok = c.curVals[:0], c.curKeys[:0], c.curCost[:0], c.curTok[:0]
	for _, i := range tr.order {
		s := &tr.spans[i]
		tok := spanTokens(s)
		if (tok <= 0 && s.Cost <= 0) || tr.tokensBelow[i] {
			continue
		}
		f.tokens += tok
		f.cost += s.Cost
		if s.Cost > 0 {
			c.haveCost[boolIndex(f.incident)] = true
		}
		k := spanKey{s.Kind, displayName(s)}
		idx, ok := c.cur[k]
		if !ok {
			idx = len(c.curVals)
			c.cur[k] = idx
			c.curVals = append(c.curVals, traceValue{f: f})
			c.curKeys = append(c.curKeys, k)
			c.curCost = append(c.curCost, 0)
			c.curTok = append(c.curTok, 0)
		}
		c.curCost[idx] += s.Cost
		c.curTok[idx] += float64(tok)
		tv := &c.curVals[idx]
		if w := float64(tok) + s.Cost*1e6; tv.spanID == "" || w > tv.top {
			tv.spanID, tv.top, tv.at = s.SpanID, w, s.Start
		}
		if s.Model != "" {
			se := into[k]
			if se == nil {
				se = &series{}
				into[k] = se
			}
			if len(se.models) < maxModelsShown && !slices.Contains(se.models, s.Model) {
				se.models = append(se.models, s.Model)
			}
		}
	}
	for idx, k := range c.curKeys {
		se := into[k]
		if se == nil {
			se = &series{}
			into[k] = se
		}
		tv := c.curVals[idx]
		tv.v = c.curTok[idx]
		se.sumTok += c.curTok[idx] * f.weight
		se.sumCost += c.curCost[idx] * f.weight
		se.values = append(se.values, c.curCost[idx])
		se.traces = append(se.traces, tv)
	}
}

func boolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
}

// costClusters reports the spans whose spend per run grew, in USD when
// both windows report costs, else in tokens.
func (a *analyzer) costClusters() []oncall.Cluster {
	c := &a.cost
	if a.nInc == 0 {
		return nil
	}
	c.useCost = c.haveCost[1] && (a.nBase == 0 || c.haveCost[0])
	if c.useCost {
		// Per-trace values were recorded in tokens; switch to USD.
		for _, m := range []map[spanKey]*series{c.inc, c.base} {
			for _, se := range m {
				for i := range se.traces {
					se.traces[i].v = se.values[i]
				}
			}
		}
	}
	var incRuns, baseRuns []float64
	for i := range a.facts {
		f := &a.facts[i]
		if f.incident {
			incRuns = append(incRuns, c.measure(f))
		} else {
			baseRuns = append(baseRuns, c.measure(f))
		}
	}
	incMean, baseMean := a.weightedMean(true, c.measure), a.weightedMean(false, c.measure)
	c.traceP95 = percentile(baseRuns, 0.95)
	if incMean <= 0 {
		return nil
	}
	if a.nBase == 0 || baseMean <= 0 {
		if a.kind != oncall.AlertKindCost {
			return nil
		}
		return a.unbaselinedCost(incMean)
	}
	if incMean < minWindowCostRise*baseMean {
		return nil
	}
	var out []oncall.Cluster
	for _, k := range sortedKeys(c.inc) {
		si, sb := c.inc[k], c.base[k]
		if len(si.traces) == 0 {
			continue
		}
		meanI := c.sum(si) / float64(a.nInc)
		meanB, threshold := 0.0, 0.0
		if sb != nil && len(sb.traces) > 0 {
			meanB = c.sum(sb) / float64(a.nBase)
			threshold = heavyFactor * percentile(traceValues(sb.traces), 0.95)
		} else {
			sb = nil
		}
		share := (meanI - meanB) / baseMean
		if share < minCostShare || (meanB > 0 && meanI < minCostRatio*meanB) {
			continue
		}
		cl := a.costCluster(k, si, sb, threshold)
		if cl.Count == 0 {
			continue
		}
		cl.New = sb == nil
		cl.Score = round(weightedChange(share, cl.Count, a.nInc, cl.BaselineCount, a.nBase), 4)
		cl.Detail = c.detail(k, si, sb, a.nInc, a.nBase)
		out = append(out, cl)
	}
	return out
}

// unbaselinedCost reports, for a cost alert without baseline runs, the
// spans that spend the largest share.
func (a *analyzer) unbaselinedCost(incMean float64) []oncall.Cluster {
	c := &a.cost
	var out []oncall.Cluster
	for _, k := range sortedKeys(c.inc) {
		si := c.inc[k]
		if len(si.traces) == 0 {
			continue
		}
		share := c.sum(si) / float64(a.nInc) / incMean
		if share < 0.2 {
			continue
		}
		cl := a.costCluster(k, si, nil, 0)
		cl.Score = round(weightedChange(share, cl.Count, a.nInc, 0, 0), 4)
		cl.Detail = c.detail(k, si, nil, a.nInc, 0) + fmt.Sprintf("; %.0f%% of the spend (no baseline to compare)", 100*share)
		out = append(out, cl)
	}
	slices.SortStableFunc(out, func(x, y oncall.Cluster) int { return cmp.Compare(y.Score, x.Score) })
	return out[:min(len(out), maxUnbaselined)]
}

func (c *costStats) sum(se *series) float64 {
	if c.useCost {
		return se.sumCost
	}
	return se.sumTok
}

func (a *analyzer) costCluster(k spanKey, si, sb *series, threshold float64) oncall.Cluster {
	cl := oncall.Cluster{
		Signature: signature(ClusterCost, k.kind, k.name, "", ""),
		Kind:      ClusterCost,
		SpanKind:  k.kind,
		SpanName:  k.name,
		Error:     "spends more than the baseline",
		TraceIDs:  []string{},
		SpanIDs:   []string{},
	}
	if sb == nil {
		cl.Error = "spends"
	}
	if k.kind == oncall.KindTool {
		cl.ToolName = k.name
	}
	heavy := make([]traceValue, 0, len(si.traces))
	for _, tv := range si.traces {
		if tv.v > threshold {
			heavy = append(heavy, tv)
		}
	}
	cl.Count = len(heavy)
	if sb != nil {
		for _, tv := range sb.traces {
			if tv.v > threshold {
				cl.BaselineCount++
			}
		}
	}
	cl.Rate = round(ratio(cl.Count, a.nInc), 4)
	cl.BaselineRate = round(ratio(cl.BaselineCount, a.nBase), 4)
	fillExamples(&cl, heavy, a.opts.MaxExamples)
	return cl
}

// detail says, per run, what the span spends now and in the baseline, and
// which models it called.
func (c *costStats) detail(k spanKey, si, sb *series, nInc, nBase int) string {
	var b strings.Builder
	tokI := si.sumTok / float64(nInc)
	if sb == nil {
		fmt.Fprintf(&b, "%s tokens per run", tokens(tokI))
		if c.useCost {
			fmt.Fprintf(&b, ", %s per run", dollars(si.sumCost/float64(nInc)))
		}
		if sb == nil && nBase > 0 {
			b.WriteString(", absent from the baseline")
		}
	} else {
		tokB := sb.sumTok / float64(nBase)
		if c.useCost {
			costI, costB := si.sumCost/float64(nInc), sb.sumCost/float64(nBase)
			fmt.Fprintf(&b, "cost per run %s vs %s baseline (×%.1f), tokens %s vs %s", dollars(costI), dollars(costB), safeRatio(costI, costB), tokens(tokI), tokens(tokB))
		} else {
			fmt.Fprintf(&b, "tokens per run %s vs %s baseline (×%.1f)", tokens(tokI), tokens(tokB), safeRatio(tokI, tokB))
		}
	}
	if len(si.models) > 0 {
		fmt.Fprintf(&b, "; model %s", strings.Join(si.models, ", "))
		if sb != nil && len(sb.models) > 0 && !slices.Equal(si.models, sb.models) {
			fmt.Fprintf(&b, " (baseline %s)", strings.Join(sb.models, ", "))
		}
	}
	return b.String()
}

// tokens prints a token count: 850, 6.1k, 1.2M.
func tokens(n float64) string {
	switch {
	case n >= 1e6:
		return fmt.Sprintf("%.1fM", n/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fk", n/1e3)
	}
	return fmt.Sprintf("%.0f", n)
}

// dollars prints a USD amount with the precision small amounts need.
func dollars(x float64) string {
	switch {
	case x >= 10:
		return fmt.Sprintf("$%.2f", x)
	case x >= 0.01:
		return fmt.Sprintf("$%.3f", x)
	}
	return fmt.Sprintf("$%.5f", x)
}
