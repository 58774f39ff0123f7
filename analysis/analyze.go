// Package analysis compares an incident's agent traces with the baseline
// window before it: what started failing, got slower or spends more than
// in the baseline (clusters, with error signatures), which attribute values
// the failing runs share (suspects), when the change began (onset), and
// which of a store's traces belong to the alert (correlation). It is pure
// (no I/O, no model, no clock) and safe for concurrent use; package triage
// builds its diagnosis on it, and the assistant, the digests and eval reuse
// it.
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

// Window is a half-open time range [Start, End).
type Window struct{ Start, End time.Time }

// Contains reports whether t falls in the window.
func (w Window) Contains(t time.Time) bool { return !t.Before(w.Start) && t.Before(w.End) }

func (w Window) zero() bool { return w.Start.IsZero() && w.End.IsZero() }

// Options say which traces are the incident and which the baseline,
// and how much of the analysis to keep.
type Options struct {
	// Incident is the incident window: traces starting in it are incident
	// traces. A zero window takes every trace not in the baseline.
	Incident Window
	// Baseline is the window before the incident the incident is compared
	// with. Traces starting in neither window are ignored.
	Baseline    Window
	MaxClusters int // default 10
	MaxExamples int // example trace ids per cluster, default 5
	// Weights give sampled traces the number of runs each stands for (see
	// oncall.SampleRuns); the window totals rates divide by count them so.
	// Traces not in it count once.
	Weights map[string]float64
}

func (o Options) withDefaults() Options {
	if o.MaxClusters <= 0 {
		o.MaxClusters = 10
	}
	if o.MaxExamples <= 0 {
		o.MaxExamples = 5
	}
	return o
}

// traceFacts is what the analysis learnt of one trace.
type traceFacts struct {
	t          *oncall.Trace
	incident   bool
	named      bool // the alert names this trace
	start      time.Time
	duration   float64 // seconds
	rootName   string
	rootSpanID string
	rootKind   oncall.SpanKind
	rootStart  time.Time
	rootFailed bool
	rootOutput bool // the root span produced a non-empty output
	findings   []finding
	failed     bool    // the run failed: its root failed or it misbehaved; a handled error is no failure
	changed    bool    // it carries a finding of a cluster that changed against the baseline
	tokens     int64   // all tokens of the run
	cost       float64 // USD
	weight     float64 // runs of its window it stands for (sampling), at least 1
}

// finding is one failure signature in one trace.
type finding struct {
	sig      string
	kind     string
	spanKind oncall.SpanKind
	spanName string
	toolName string
	where    string // the meaningful span a plumbing origin belongs to, as "kind name"
	what     string // normalised error or finding
	spanID   string // the origin span
	at       time.Time
	repeats  int  // attempts (errors) or identical calls (loops) in this trace
	endsRun  bool // a loop whose last call ended the run
}

func (f *traceFacts) add(x finding) {
	for k := range f.findings {
		if f.findings[k].sig == x.sig {
			f.findings[k].repeats += x.repeats
			return
		}
	}
	f.findings = append(f.findings, x)
}

func (f *traceFacts) hasFailureFinding() bool {
	for k := range f.findings {
		if isFailureKind(f.findings[k].kind) {
			return true
		}
	}
	return false
}

// misbehaved reports whether the run shows a failure that raises no error
// (a loop, a block, an empty answer, a step limit).
func (f *traceFacts) misbehaved() bool {
	for k := range f.findings {
		if kind := f.findings[k].kind; kind != ClusterError && isFailureKind(kind) {
			return true
		}
	}
	return false
}

// NoIncidentTraces is what the report says when the incident window holds
// no trace.
const NoIncidentTraces = "no traces in the incident window"

// analyzer holds the state of one Analyze call.
type analyzer struct {
	opts   Options
	kind   oncall.AlertKind
	facts  []traceFacts // sorted by start, then trace id
	nInc   int
	nBase  int
	tree   spanTree
	norm   map[string]string
	orig   []origin
	self   []float64
	ivs    []interval
	calls  map[callKey]*callCount
	lat    latencyStats
	cost   costStats
	seenID map[string]bool
}

// Analyze compares the incident window's traces with the baseline
// window's and reports what changed: failure clusters blamed on the span
// where each failure started, latency and cost changes per span, and the
// attribute values failing runs share. Clusters are ranked by change
// against the baseline, not by raw count, and the kind of change the alert
// asks about (alert.Kind) ranks first when it changed.
//
// Analyze needs no model, does not modify traces, and is deterministic:
// the same input gives the same report, ties broken by signature. It is
// safe for concurrent use.
func Analyze(alert oncall.Alert, traces []oncall.Trace, opts Options) oncall.Report {
	rep, _ := analyzeOnsets(alert, traces, opts, 1)
	return rep
}

// analyzeOnsets is Analyze that also reports when each of the first k
// ranked clusters started (zero where it did not change).
func analyzeOnsets(alert oncall.Alert, traces []oncall.Trace, opts Options, k int) (oncall.Report, []time.Time) {
	opts = opts.withDefaults()
	kind, kindFrom := alert.MeasuredKind()
	a := &analyzer{
		opts:   opts,
		kind:   cmp.Or(kind, oncall.AlertKindErrors),
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
	for i := range a.facts {
		f := &a.facts[i]
		f.failed = f.rootFailed || f.misbehaved()
	}
	if kind == "" {
		a.kind, kindFrom = a.changedKind(), "what changed in the traces"
	}

	rep := oncall.Report{
		Alert:          alert,
		AlertKind:      a.kind,
		AlertKindFrom:  kindFrom,
		WindowStart:    opts.Incident.Start,
		WindowEnd:      opts.Incident.End,
		BaselineStart:  opts.Baseline.Start,
		TracesExamined: a.nInc,
		BaselineTraces: a.nBase,
		Clusters:       []oncall.Cluster{},
	}
	for i := range a.facts {
		if a.facts[i].incident && a.facts[i].failed {
			rep.FailingTraces++
		}
	}
	if m := opts.Incident.End.Sub(opts.Incident.Start).Minutes(); m > 0 {
		rep.FailuresPerMinute = round(float64(rep.FailingTraces)/m, 3)
	}
	switch {
	case a.nInc == 0:
		rep.Missing = append(rep.Missing, NoIncidentTraces)
	case a.nBase == 0:
		rep.Missing = append(rep.Missing, "no traces in the baseline window: clusters ranked by incident counts alone")
	}

	clusters := a.failureClusters()
	clusters = append(clusters, a.withoutFailureEchoes(clusters, a.latencyClusters())...)
	clusters = append(clusters, a.costClusters()...)
	a.rank(clusters)
	a.markChanged(clusters)
	if len(clusters) > opts.MaxClusters {
		rep.Missing = append(rep.Missing, fmt.Sprintf("%d lower-ranked clusters left out by the cap of %d", len(clusters)-opts.MaxClusters, opts.MaxClusters))
		clusters = clusters[:opts.MaxClusters]
	}
	rep.Clusters = append(rep.Clusters, clusters...)
	var onsets []time.Time
	for i := 0; i < k && i < len(clusters); i++ {
		onsets = append(onsets, a.onset(&clusters[i]))
	}
	if len(onsets) > 0 {
		rep.Onset = onsets[0]
	}
	rep.Suspects = a.suspects(clusters)
	rep.HealthyExample = a.healthyExample(clusters)
	return rep, onsets
}

// selectTraces keeps the traces of the two windows, once each, sorted by
// start time and trace id.
func (a *analyzer) selectTraces(alert oncall.Alert, traces []oncall.Trace) {
	named := make(map[string]bool, len(alert.TraceIDs))
	for _, id := range alert.TraceIDs {
		named[id] = true
	}
	a.facts = make([]traceFacts, 0, len(traces))
	var wInc, wBase float64
	for i := range traces {
		t := &traces[i]
		if t.TraceID != "" {
			if a.seenID[t.TraceID] {
				continue
			}
			a.seenID[t.TraceID] = true
		}
		start := TraceStart(t)
		var incident bool
		switch {
		case a.opts.Incident.Contains(start) || (a.opts.Incident.zero() && !a.opts.Baseline.Contains(start)):
			incident = true
			wInc += weightOf(a.opts.Weights, t.TraceID)
		case a.opts.Baseline.Contains(start):
			wBase += weightOf(a.opts.Weights, t.TraceID)
		default:
			continue
		}
		a.facts = append(a.facts, traceFacts{t: t, incident: incident, named: named[t.TraceID], start: start, weight: weightOf(a.opts.Weights, t.TraceID)})
	}
	a.nInc, a.nBase = int(math.Round(wInc)), int(math.Round(wBase))
	slices.SortStableFunc(a.facts, func(x, y traceFacts) int {
		return cmp.Or(x.start.Compare(y.start), strings.Compare(x.t.TraceID, y.t.TraceID))
	})
}

// TraceStart is when a trace started: its own start, else its earliest
// span's; zero for a trace with neither.
func TraceStart(t *oncall.Trace) time.Time {
	if !t.Start.IsZero() {
		return t.Start
	}
	var start time.Time
	for i := range t.Spans {
		if s := t.Spans[i].Start; start.IsZero() || s.Before(start) {
			start = s
		}
	}
	return start
}

// examine reads one trace: its failures, its behaviours, and what it adds
// to the latency and cost statistics of its window.
func (a *analyzer) examine(f *traceFacts) {
	tr := &a.tree
	tr.build(f.t.Spans)
	tr.mark(a.normalize)
	f.duration = f.t.Duration().Seconds()
	if tr.root >= 0 {
		r := &tr.spans[tr.root]
		f.rootName = displayName(r)
		f.rootSpanID = r.SpanID
		f.rootKind = r.Kind
		f.rootStart = r.Start
		f.rootFailed = r.Failed()
		f.rootOutput = !isEmptyOutput(r.Output)
		if f.duration == 0 {
			f.duration = r.Duration().Seconds()
		}
	}
	if f.rootName == "" {
		f.rootName = f.t.Name
	}
	a.errorFindings(f)
	a.behaviourFindings(f)
	a.self, a.ivs = tr.selfTimes(a.self, a.ivs)
	a.lat.addTrace(tr, a.self, f)
	a.cost.addTrace(tr, f)
}

// normalize is NormalizeError, remembered for the analysis: the same raw
// text recurs in many traces.
func (a *analyzer) normalize(raw string) string {
	if n, ok := a.norm[raw]; ok {
		return n
	}
	n := NormalizeError(raw)
	a.norm[raw] = n
	return n
}

// changedKind reads the question an alert that does not say what it
// measures asks from what changed between the windows: more runs failing,
// slower runs, or runs that spend more. Failures win when they rose, then
// the larger of the other two rises; errors when nothing changed.
func (a *analyzer) changedKind() oncall.AlertKind {
	if a.nInc == 0 || a.nBase == 0 {
		return oncall.AlertKindErrors
	}
	var failInc, failBase int
	var costInc, costBase []float64
	for i := range a.facts {
		f := &a.facts[i]
		if f.incident {
			costInc = append(costInc, a.cost.measure(f))
			if f.failed {
				failInc++
			}
		} else {
			costBase = append(costBase, a.cost.measure(f))
			if f.failed {
				failBase++
			}
		}
	}
	shareInc, shareBase := float64(failInc)/float64(a.nInc), float64(failBase)/float64(a.nBase)
	if shareInc-shareBase >= 0.1 && shareInc >= 1.5*shareBase {
		return oncall.AlertKindErrors
	}
	ratio := func(inc, base float64) float64 {
		if base <= 0 {
			return 0
		}
		return inc / base
	}
	lat := ratio(percentile(a.lat.incDur, 0.95), percentile(a.lat.baseDur, 0.95))
	spend := ratio(mean(costInc), mean(costBase))
	switch {
	case lat >= 1.5 && lat >= spend:
		return oncall.AlertKindLatency
	case spend >= 1.5:
		return oncall.AlertKindCost
	}
	return oncall.AlertKindErrors
}

// answersAlert reports whether a cluster kind answers the alert's question.
func (a *analyzer) answersAlert(kind string) bool {
	switch a.kind {
	case oncall.AlertKindLatency:
		return kind == ClusterLatency
	case oncall.AlertKindCost:
		return kind == ClusterCost
	}
	return isFailureKind(kind)
}

// rank orders clusters best first: what the alert asks about and changed,
// then anything else that changed, then the rest; by score within each
// tier, then by count, then the one first seen last, then by signature.
func (a *analyzer) rank(cs []oncall.Cluster) {
	tier := func(c *oncall.Cluster) int {
		switch {
		case c.Score > 0 && a.answersAlert(c.Kind):
			return 0
		case c.Score > 0:
			return 1
		case a.answersAlert(c.Kind):
			return 2
		}
		return 3
	}
	slices.SortStableFunc(cs, func(x, y oncall.Cluster) int {
		return cmp.Or(
			cmp.Compare(tier(&x), tier(&y)),
			cmp.Compare(y.Score, x.Score),
			cmp.Compare(y.Count, x.Count),
			// Equal change, equal support: what appeared last is the likelier
			// trigger of an alert that just fired.
			y.FirstSeen.Compare(x.FirstSeen),
			strings.Compare(x.Signature, y.Signature),
		)
	})
}

// withoutFailureEchoes drops, for an error alert, the latency clusters of
// spans where a failure started: a tool that now times out is also
// slower, and the failure already says so. Latency and cost alerts keep
// them, since there the slowness is the question.
func (a *analyzer) withoutFailureEchoes(failures, latency []oncall.Cluster) []oncall.Cluster {
	if a.kind != oncall.AlertKindErrors {
		return latency
	}
	failing := make(map[spanKey]bool)
	for i := range failures {
		failing[spanKey{failures[i].SpanKind, failures[i].SpanName}] = true
	}
	return slices.DeleteFunc(latency, func(c oncall.Cluster) bool { return failing[spanKey{c.SpanKind, c.SpanName}] })
}

// markChanged flags the incident traces that carry a failure finding of
// a cluster that changed against the baseline.
func (a *analyzer) markChanged(cs []oncall.Cluster) {
	changed := make(map[string]bool)
	for i := range cs {
		if cs[i].Score > 0 && isFailureKind(cs[i].Kind) {
			changed[cs[i].Signature] = true
		}
	}
	for i := range a.facts {
		f := &a.facts[i]
		if !f.incident {
			continue
		}
		for k := range f.findings {
			if changed[f.findings[k].sig] {
				f.changed = true
				break
			}
		}
	}
}

// healthyExample picks a run that went well, of the same agent as the top
// cluster's first example, for contrast: from the incident window if one
// did, else the latest of the baseline.
func (a *analyzer) healthyExample(cs []oncall.Cluster) string {
	if len(cs) == 0 || len(cs[0].TraceIDs) == 0 {
		return ""
	}
	var root string
	for i := range a.facts {
		if a.facts[i].t.TraceID == cs[0].TraceIDs[0] {
			root = a.facts[i].rootName
			break
		}
	}
	healthy := func(f *traceFacts) bool {
		if f.failed || f.rootName != root || f.t.TraceID == "" {
			return false
		}
		switch cs[0].Kind {
		case ClusterLatency:
			return a.lat.traceP95 == 0 || f.duration <= a.lat.traceP95
		case ClusterCost:
			return a.cost.traceP95 == 0 || a.cost.measure(f) <= a.cost.traceP95
		}
		return len(f.findings) == 0
	}
	for i := range a.facts {
		if f := &a.facts[i]; f.incident && healthy(f) {
			return f.t.TraceID
		}
	}
	for i := len(a.facts) - 1; i >= 0; i-- {
		if f := &a.facts[i]; !f.incident && healthy(f) {
			return f.t.TraceID
		}
	}
	return ""
}

// round rounds x to the given decimals, so reports compare and print
// stably.
func round(x float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(x*p) / p
}
