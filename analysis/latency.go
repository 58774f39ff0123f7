package analysis

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

const (
	// minLatencyShare is the least a span must add to the mean end-to-end
	// latency, as a share of the baseline's, to be reported as slower.
	minLatencyShare = 0.05
	// minLatencyDelta is the least absolute slow-down worth reporting.
	minLatencyDelta = 0.05 // seconds
	// minLatencyRatio is how much slower the span's p95 or mean share must
	// be than the baseline's.
	minLatencyRatio = 1.3
	// minWindowSlowdown gates latency clusters: the runs as a whole must be
	// this much slower (mean or p95) for any span to be called slower.
	minWindowSlowdown = 1.1
	// heavyFactor sets the bar for a slow (or costly) run of a span: this
	// many times the baseline's p95, so the baseline itself rarely clears
	// it and a handful of runs that do in the incident stand out.
	heavyFactor = 1.25
	// maxUnbaselined is how many spans are reported for a latency alert
	// without baseline traces to compare with.
	maxUnbaselined = 3
)

// spanKey names a span across runs: its kind and display name.
type spanKey struct {
	kind oncall.SpanKind
	name string
}

// traceValue is what one trace contributes to a span key's series.
type traceValue struct {
	f      *traceFacts
	v      float64 // latency: self time in seconds; cost: tokens or USD
	spanID string  // the key's heaviest span in the trace
	top    float64 // that span's own value
	at     time.Time
}

// series is one span key's values in one window.
type series struct {
	values  []float64    // latency: inclusive duration of each span; cost: USD per trace
	traces  []traceValue // one per trace that has the key
	sum     float64      // sum of traces[].v
	sumCost float64      // cost only
	sumTok  float64      // cost only
	models  []string     // cost only: distinct models, first few
}

// latencyStats are the per-span latency series of both windows.
type latencyStats struct {
	inc, base map[spanKey]*series
	incDur    []float64 // run durations, seconds
	baseDur   []float64
	traceP95  float64 // the baseline's p95 run duration, once clustered
	cur       map[spanKey]int
	curVals   []traceValue
	curKeys   []spanKey
}

func (l *latencyStats) init() {
	l.inc, l.base = make(map[spanKey]*series), make(map[spanKey]*series)
	l.cur = make(map[spanKey]int)
}

// owner is the span a span's time is blamed on: plumbing belongs to the
// nearest meaningful span above it, except the root, which would swallow
// everything.
func owner(tr *spanTree, i int32) int32 {
	if !isPlain(tr.spans[i].Kind) || tr.top(i) {
		return i
	}
	if c := tr.context[i]; c >= 0 && !tr.top(c) {
		return c
	}
	return i
}

// addTrace adds one run's self times, per owning span key, to its window.
func (l *latencyStats) addTrace(tr *spanTree, self []float64, f *traceFacts) {
	into := l.base
	if f.incident {
		into = l.inc
		if f.duration > 0 {
			l.incDur = append(l.incDur, f.duration)
		}
	} else if f.duration > 0 {
		l.baseDur = append(l.baseDur, f.duration)
	}
	clear(l.cur)
	l.curVals, l.curKeys = l.curVals[:0], l.curKeys[:0]
	for _, i := range tr.order {
		o := owner(tr, i)
		os := &tr.spans[o]
		k := spanKey{os.Kind, displayName(os)}
		idx, ok := l.cur[k]
		if !ok {
			idx = len(l.curVals)
			l.cur[k] = idx
			l.curVals = append(l.curVals, traceValue{f: f})
			l.curKeys = append(l.curKeys, k)
		}
		tv := &l.curVals[idx]
		tv.v += self[i]
		if o == i {
			d := tr.spans[i].Duration().Seconds()
			s := into[k]
			if s == nil {
				s = &series{}
				into[k] = s
			}
			s.values = append(s.values, d)
			if tv.spanID == "" || d > tv.top {
				tv.spanID, tv.top, tv.at = tr.spans[i].SpanID, d, tr.spans[i].Start
			}
		}
	}
	for idx, k := range l.curKeys {
		s := into[k]
		if s == nil {
			s = &series{}
			into[k] = s
		}
		tv := l.curVals[idx]
		if tv.f.duration > 0 && tv.v > tv.f.duration {
			tv.v = tv.f.duration
		}
		s.traces = append(s.traces, tv)
		s.sum += tv.v * tv.f.weight
	}
}

// latencyClusters reports the spans whose share of end-to-end latency
// grew: each span's own time (not its children's) is compared, so a slow
// tool is blamed on the tool, not on the chain and agent around it.
func (a *analyzer) latencyClusters() []oncall.Cluster {
	l := &a.lat
	if a.nInc == 0 {
		return nil
	}
	incMean, baseMean := a.weightedMean(true, durationOf), a.weightedMean(false, durationOf)
	incP95, baseP95 := percentile(l.incDur, 0.95), percentile(l.baseDur, 0.95)
	l.traceP95 = baseP95
	if a.nBase == 0 || len(l.baseDur) == 0 {
		if a.kind != oncall.AlertKindLatency {
			return nil
		}
		return a.unbaselinedLatency(incMean)
	}
	if incMean < minWindowSlowdown*baseMean && incP95 < minWindowSlowdown*baseP95 {
		return nil
	}
	var out []oncall.Cluster
	for _, k := range sortedKeys(l.inc) {
		si, sb := l.inc[k], l.base[k]
		meanI := si.sum / float64(a.nInc)
		meanB := 0.0
		var p95B, threshold float64
		if sb != nil {
			meanB = sb.sum / float64(a.nBase)
			p95B = percentile(sb.values, 0.95)
			threshold = heavyFactor * percentile(traceValues(sb.traces), 0.95)
		}
		delta := meanI - meanB
		share := delta / baseMean
		p95I := percentile(si.values, 0.95)
		if delta < minLatencyDelta || share < minLatencyShare {
			continue
		}
		if sb != nil && p95I < minLatencyRatio*p95B && meanI < minLatencyRatio*meanB {
			continue
		}
		c := a.slowCluster(k, si, sb, threshold)
		if c.Count == 0 {
			continue
		}
		c.New = sb == nil
		c.Score = round(weightedChange(share, c.Count, a.nInc, c.BaselineCount, a.nBase), 4)
		p50I := percentile(si.values, 0.5)
		if sb != nil {
			c.Detail = fmt.Sprintf("p95 %s vs %s baseline (×%.1f), p50 %s vs %s; adds %s per run",
				seconds(p95I), seconds(p95B), safeRatio(p95I, p95B), seconds(p50I), seconds(percentile(sb.values, 0.5)), seconds(delta))
		} else {
			c.Detail = fmt.Sprintf("p95 %s, p50 %s, absent from the baseline; adds %s per run", seconds(p95I), seconds(p50I), seconds(delta))
		}
		out = append(out, c)
	}
	return out
}

// weightedChange scores a latency or cost change: the share of the runs'
// time or spend the span added (capped at four times the baseline's),
// times the confidence that its heavy runs became more frequent
// (changeScore). A change too thin to be sure of scores below zero.
func weightedChange(share float64, ci, ni, cb, nb int) float64 {
	d := changeScore(ci, ni, cb, nb)
	if d <= 0 {
		return d
	}
	return math.Min(share, 4) * d
}

// unbaselinedLatency reports, for a latency alert without baseline runs,
// the spans that take the largest share of the runs' time.
func (a *analyzer) unbaselinedLatency(incMean float64) []oncall.Cluster {
	l := &a.lat
	if incMean <= 0 {
		return nil
	}
	var out []oncall.Cluster
	for _, k := range sortedKeys(l.inc) {
		si := l.inc[k]
		share := si.sum / float64(a.nInc) / incMean
		if share < 0.1 {
			continue
		}
		c := a.slowCluster(k, si, nil, 0)
		c.Score = round(weightedChange(share, c.Count, a.nInc, 0, 0), 4)
		c.Detail = fmt.Sprintf("p95 %s, %.0f%% of run time (no baseline to compare)", seconds(percentile(si.values, 0.95)), 100*share)
		out = append(out, c)
	}
	slices.SortStableFunc(out, func(x, y oncall.Cluster) int { return cmp.Compare(y.Score, x.Score) })
	return out[:min(len(out), maxUnbaselined)]
}

// slowCluster builds the cluster of a span key from the incident runs in
// which its time exceeds threshold (above the baseline's p95), slowest
// first.
func (a *analyzer) slowCluster(k spanKey, si, sb *series, threshold float64) oncall.Cluster {
	c := oncall.Cluster{
		Signature: signature(ClusterLatency, k.kind, k.name, "", ""),
		Kind:      ClusterLatency,
		SpanKind:  k.kind,
		SpanName:  k.name,
		Error:     "slower than the baseline",
		TraceIDs:  []string{},
		SpanIDs:   []string{},
	}
	if k.kind == oncall.KindTool {
		c.ToolName = k.name
	}
	if sb == nil {
		c.Error = "slow"
	}
	slow := make([]traceValue, 0, len(si.traces))
	for _, tv := range si.traces {
		if tv.v > threshold {
			slow = append(slow, tv)
		}
	}
	c.Count = len(slow)
	if sb != nil {
		for _, tv := range sb.traces {
			if tv.v > threshold {
				c.BaselineCount++
			}
		}
	}
	c.Rate = round(ratio(c.Count, a.nInc), 4)
	c.BaselineRate = round(ratio(c.BaselineCount, a.nBase), 4)
	fillExamples(&c, slow, a.opts.MaxExamples)
	return c
}

// fillExamples sets a cluster's examples from the heaviest traces and its
// first-seen time from the earliest.
func fillExamples(c *oncall.Cluster, tvs []traceValue, max int) {
	for _, tv := range tvs {
		if at := tv.at; !at.IsZero() && (c.FirstSeen.IsZero() || at.Before(c.FirstSeen)) {
			c.FirstSeen = at
		}
	}
	c.FirstSeen = utc(c.FirstSeen)
	slices.SortStableFunc(tvs, func(x, y traceValue) int {
		return cmp.Or(
			boolFirst(x.f.named, y.f.named),
			cmp.Compare(y.v, x.v),
			x.f.start.Compare(y.f.start),
			strings.Compare(x.f.t.TraceID, y.f.t.TraceID),
		)
	})
	for _, tv := range tvs[:min(len(tvs), max)] {
		c.TraceIDs = append(c.TraceIDs, tv.f.t.TraceID)
		c.SpanIDs = append(c.SpanIDs, tv.spanID)
	}
}

// utc returns t in UTC, leaving the zero time alone.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

func boolFirst(x, y bool) int {
	switch {
	case x == y:
		return 0
	case x:
		return -1
	}
	return 1
}

func sortedKeys(m map[spanKey]*series) []spanKey {
	keys := make([]spanKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y spanKey) int {
		return cmp.Or(strings.Compare(string(x.kind), string(y.kind)), strings.Compare(x.name, y.name))
	})
	return keys
}

func traceValues(tvs []traceValue) []float64 {
	out := make([]float64, len(tvs))
	for i, tv := range tvs {
		out[i] = tv.v
	}
	return out
}

// percentile is the nearest-rank p-quantile of xs, 0 for none. It sorts
// a copy.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	k := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(0, min(k, len(s)-1))]
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	sum := 0.0
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

func safeRatio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

// seconds prints a duration given in seconds the way people read them:
// 850ms, 4.2s, 1m15s.
func seconds(s float64) string {
	d := time.Duration(s * float64(time.Second))
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
