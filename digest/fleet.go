package digest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/analysis"
	"github.com/oncall-copilot/oncall-copilot/digest/view"
)

// agentAttribute is the trace attribute that names the agent of a run,
// from the OpenTelemetry GenAI conventions.
const agentAttribute = "gen_ai.agent.name"

// digestAlert stands for "the whole fleet" where the analysis asks for an
// alert: it names no traces and asks about errors.
var digestAlert = oncall.Alert{Source: "digest", Name: "digest", Status: oncall.AlertFiring}

// trendThreshold is the change of failure rate, in points of percentage,
// below which an agent's trend is steady.
const trendThreshold = 0.01

// fleet reads the traces of the window and of the previous window of the
// same length and fills d.Fleet and the runs of d.Buckets. It uses
// package analysis, as triage does, so a run fails in a digest exactly
// when it fails in a triage: its root failed or it misbehaved (looped, was blocked, ended
// empty), not when it handled an error. What cannot be read is noted in
// d.Missing, and fleet reports whether it read both windows.
func (b *Builder) fleet(ctx context.Context, d *Digest, req Request) (complete bool) {
	cur := analysis.Window{Start: req.Start, End: req.End}
	prev := analysis.Window{Start: req.Start.Add(-req.End.Sub(req.Start)), End: req.Start}
	var traces []oncall.Trace
	seen := map[string]bool{}
	complete = true
	for _, w := range []struct {
		name string
		win  analysis.Window
	}{{"this window", cur}, {"the previous window", prev}} {
		res, err := b.opts.Source.Search(ctx, oncall.TraceQuery{Start: w.win.Start, End: w.win.End, Limit: b.opts.MaxTraces})
		if err != nil {
			if ctx.Err() != nil {
				return false
			}
			b.log.Warn("digest trace search failed", "digest", req.Name, "window", w.name, "err", err)
			d.Missing = append(d.Missing, fmt.Sprintf("agent runs of %s from %s: %v", w.name, b.sourceName(), err))
			complete = false
			continue
		}
		if res.Matched > len(res.Traces) {
			d.Missing = append(d.Missing, fmt.Sprintf("agent runs of %s: %d of %d left out by the cap of %d", w.name, res.Matched-len(res.Traces), res.Matched, b.opts.MaxTraces))
		}
		for _, t := range res.Traces {
			if t.TraceID != "" && seen[t.TraceID] {
				continue
			}
			seen[t.TraceID] = true
			traces = append(traces, t)
		}
	}

	if len(traces) == 0 && len(d.Missing) == 0 {
		d.Missing = append(d.Missing, fmt.Sprintf("agent runs: %s holds none for this window or the previous one", b.sourceName()))
	}
	rep := analysis.Analyze(digestAlert, traces, analysis.Options{Incident: cur, Baseline: prev, MaxClusters: 100, MaxExamples: 1})
	d.Fleet.Runs, d.Fleet.Failing, d.Fleet.PrevRuns = rep.TracesExamined, rep.FailingTraces, rep.BaselineTraces
	d.Fleet.PrevFailing = analysis.Analyze(digestAlert, traces, analysis.Options{Incident: prev, MaxClusters: 1}).FailingTraces
	for _, c := range rep.Clusters {
		if !failureKind(c.Kind) {
			continue
		}
		if c.New {
			d.Fleet.NewClusters++
		}
		if len(d.Fleet.Clusters) < b.opts.TopClusters {
			d.Fleet.Clusters = append(d.Fleet.Clusters, c)
		}
	}
	d.Fleet.Agents = agentRates(traces, cur, prev, b.opts.TopAgents)
	bucketRuns(d.Buckets, traces, cur)
	return complete
}

// failureKind reports whether a cluster kind is a failure rather than a
// change of latency or cost.
func failureKind(kind string) bool { return kind != "latency" && kind != "cost" }

// agentOf names the agent of a run: its agent attribute, on the trace or
// its root span, else the trace's name, else its service.
func agentOf(t *oncall.Trace) string {
	if v := strings.TrimSpace(t.Attributes[agentAttribute]); v != "" {
		return v
	}
	if r := t.Root(); r != nil {
		if v := strings.TrimSpace(r.Attributes[agentAttribute]); v != "" {
			return v
		}
	}
	return cmp.Or(strings.TrimSpace(t.Name), strings.TrimSpace(t.Service), "(unnamed)")
}

// agentRates computes each agent's failure rate in both windows and
// returns the top agents by current rate among those that failed.
func agentRates(traces []oncall.Trace, cur, prev analysis.Window, top int) []AgentRate {
	byAgent := map[string][]oncall.Trace{}
	for _, t := range traces {
		a := agentOf(&t)
		byAgent[a] = append(byAgent[a], t)
	}
	out := []AgentRate{}
	for agent, ts := range byAgent {
		now := analysis.Analyze(digestAlert, ts, analysis.Options{Incident: cur, Baseline: prev, MaxClusters: 1})
		if now.FailingTraces == 0 {
			continue
		}
		before := analysis.Analyze(digestAlert, ts, analysis.Options{Incident: prev, MaxClusters: 1})
		r := AgentRate{
			Agent: agent, Runs: now.TracesExamined, Failing: now.FailingTraces,
			PrevRuns: before.TracesExamined, PrevFailing: before.FailingTraces,
		}
		r.Rate, r.PrevRate = view.Ratio(r.Failing, r.Runs), view.Ratio(r.PrevFailing, r.PrevRuns)
		switch delta := r.Rate - r.PrevRate; {
		case r.PrevRuns == 0:
			r.Trend = TrendNew
		case delta >= trendThreshold:
			r.Trend = TrendUp
		case delta <= -trendThreshold:
			r.Trend = TrendDown
		default:
			r.Trend = TrendSteady
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b AgentRate) int {
		return cmp.Or(cmp.Compare(b.Rate, a.Rate), cmp.Compare(b.Failing, a.Failing), cmp.Compare(a.Agent, b.Agent))
	})
	if len(out) > top {
		out = out[:top]
	}
	return out
}

// bucketRuns counts the runs and failing runs of each bucket. Each bucket
// is analysed on its own, so a run that only misbehaves by comparison
// with its neighbours (an empty answer where others answer) may count in
// the day's total but not in its hour.
func bucketRuns(bs []Bucket, traces []oncall.Trace, cur analysis.Window) {
	for i := range bs {
		end := cur.End
		if i+1 < len(bs) {
			end = bs[i+1].Start
		}
		rep := analysis.Analyze(digestAlert, traces, analysis.Options{Incident: analysis.Window{Start: bs[i].Start, End: end}, MaxClusters: 1})
		bs[i].Runs, bs[i].Failing = rep.TracesExamined, rep.FailingTraces
	}
}

func (b *Builder) sourceName() string { return cmp.Or(b.opts.SourceName, "the trace source") }
