package analysis

import (
	"math"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// onset finds when the top cluster's rate changed: the incident-window
// run from which the runs showing it are most in excess of the rate
// halfway between the baseline's and the incident's (a CUSUM change
// point). A lone early occurrence followed by healthy runs does not move
// the onset; the run that starts a sustained rise does. It is zero when
// the cluster did not change or no run shows it.
func (a *analyzer) onset(top *oncall.Cluster) time.Time {
	if top == nil || top.Score <= 0 || a.nInc == 0 {
		return time.Time{}
	}
	hit := a.showsCluster(top)
	if hit == nil {
		return time.Time{}
	}
	var inc, base []bool
	var hitsInc, hitsBase int
	for i := range a.facts {
		f := &a.facts[i]
		h := hit(f)
		if f.incident {
			inc = append(inc, h)
			if h {
				hitsInc++
			}
		} else {
			base = append(base, h)
			if h {
				hitsBase++
			}
		}
	}
	rateInc := float64(hitsInc) / float64(len(inc))
	rateBase := 0.0
	if len(base) > 0 {
		rateBase = float64(hitsBase) / float64(len(base))
	}
	if hitsInc == 0 || rateInc <= rateBase {
		return time.Time{}
	}
	ref := (rateInc + rateBase) / 2
	// Sum of (x - ref) from each incident run to the end; the onset is
	// the hit with the largest sum.
	best, bestSum, sum := -1, 0.0, 0.0
	incFacts := make([]*traceFacts, 0, len(inc))
	for i := range a.facts {
		if a.facts[i].incident {
			incFacts = append(incFacts, &a.facts[i])
		}
	}
	for i := len(incFacts) - 1; i >= 0; i-- {
		x := 0.0
		if inc[i] {
			x = 1
		}
		sum += x - ref
		if inc[i] && (best < 0 || sum >= bestSum) {
			best, bestSum = i, sum
		}
	}
	if best < 0 {
		return time.Time{}
	}
	return incFacts[best].start
}

// showsCluster returns whether a run shows the cluster: carries its
// signature (failures), or is slower or spends more than the baseline's
// 95th percentile run (latency and cost, which are per span and have no
// per-run signature). It is nil when that cannot be told.
func (a *analyzer) showsCluster(c *oncall.Cluster) func(*traceFacts) bool {
	switch c.Kind {
	case ClusterLatency:
		if a.lat.traceP95 <= 0 {
			return nil
		}
		return func(f *traceFacts) bool { return f.duration > a.lat.traceP95 }
	case ClusterCost:
		if a.cost.traceP95 <= 0 {
			return nil
		}
		return func(f *traceFacts) bool { return a.cost.measure(f) > a.cost.traceP95 }
	}
	return func(f *traceFacts) bool {
		for k := range f.findings {
			if f.findings[k].sig == c.Signature {
				return true
			}
		}
		return false
	}
}

// onsetCandidates is how many of the first ranked clusters' onsets
// AnalyzeAtOnset tries as the split between baseline and incident.
const onsetCandidates = 3

// AnalyzeAtOnset runs Analyze with opts and, when the traces show an
// onset inside the incident window, again with the runs before the onset
// as part of the baseline: the incident is compared with how the agent
// ran before it started, and a short incident whose configured baseline
// holds no trace still has one. The report of a split says its onset in
// Report.Onset.
//
// The incident window reaches back before the alert fired, so a steady
// failure that happened to bunch up in it can outrank, in the first
// ranking, a failure that started minutes ago in a few runs. So the
// onsets of the first few clusters, and the start of the alert rule's
// lookback (Alert.Lookback), are each tried as the split, and the split
// whose top cluster changed most (the highest lower confidence
// bound of its rate change) is kept.
func AnalyzeAtOnset(alert oncall.Alert, traces []oncall.Trace, opts Options) oncall.Report {
	inc, base := opts.Incident, opts.Baseline
	rep, onsets := analyzeOnsets(alert, traces, opts, onsetCandidates)
	// The alert's rule saw the failure within its lookback before it
	// fired: the start of that span is a candidate too.
	if lb := alert.Lookback(); lb > 0 && !alert.StartsAt.IsZero() {
		onsets = append(onsets, alert.StartsAt.Add(-lb))
	}
	best, bestScore := rep, math.Inf(-1)
	tried := map[time.Time]bool{}
	for _, onset := range onsets {
		if onset.IsZero() || !onset.After(inc.Start) || tried[onset] {
			continue
		}
		tried[onset] = true
		split := opts
		split.Incident, split.Baseline = Window{Start: onset, End: inc.End}, Window{Start: base.Start, End: onset}
		again := Analyze(alert, traces, split)
		if again.BaselineTraces == 0 || again.TracesExamined == 0 || len(again.Clusters) == 0 {
			continue
		}
		if score := again.Clusters[0].Score; score > bestScore {
			again.Onset = onset
			best, bestScore = again, score
		}
	}
	return best
}

// Limits of the onset series an investigation keeps, so the incident page
// stays small whatever the traces hold.
const (
	maxOnsetSteps    = 180
	maxOnsetClusters = 3
)

// Onset is the timeline the incident page charts: runs and failing runs
// per step across both windows, and the runs of each of the top failure
// clusters, in at most maxOnsetSteps steps. raw are the report's clusters
// before redaction (their signatures match the traces); shown the same
// clusters as the page shows them, in the same order.
func Onset(alert oncall.Alert, traces []oncall.Trace, inc, base Window, raw, shown []oncall.Cluster) oncall.Onset {
	start, end := base.Start, inc.End
	if base.zero() || !base.Start.Before(base.End) {
		start = inc.Start
	}
	o := oncall.Onset{Start: start, Step: time.Minute, FiringAt: alert.StartsAt}
	span := end.Sub(start)
	if span <= 0 {
		return o
	}
	for span/o.Step > maxOnsetSteps {
		o.Step *= 2
	}
	n := int((span + o.Step - 1) / o.Step)
	o.Runs, o.Failing = make([]int, n), make([]int, n)

	a := &analyzer{
		opts:   Options{Incident: inc, Baseline: base}.withDefaults(),
		kind:   alert.Kind(),
		norm:   make(map[string]string),
		calls:  make(map[callKey]*callCount),
		seenID: make(map[string]bool, len(traces)),
	}
	a.lat.init()
	a.cost.init()
	a.selectTraces(alert, traces)
	for i := range a.facts {
		a.examine(&a.facts[i])
	}
	a.emptyOutputs()

	index := map[string]int{}
	for i := 0; i < len(raw) && i < len(shown) && len(o.Clusters) < maxOnsetClusters; i++ {
		if !isFailureKind(raw[i].Kind) {
			continue
		}
		index[raw[i].Signature] = len(o.Clusters)
		o.Clusters = append(o.Clusters, oncall.OnsetSeries{Signature: shown[i].Signature, Counts: make([]int, n)})
		if len(o.Clusters) == 1 {
			o.At = raw[i].FirstSeen
		}
	}
	for i := range a.facts {
		f := &a.facts[i]
		k := int(f.start.Sub(start) / o.Step)
		if k < 0 || k >= n {
			continue
		}
		o.Runs[k]++
		if f.rootFailed || f.misbehaved() {
			o.Failing[k]++
		}
		for _, x := range f.findings {
			if c, ok := index[x.sig]; ok {
				o.Clusters[c].Counts[k]++
			}
		}
	}
	return o
}
