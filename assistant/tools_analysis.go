package assistant

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/analysis"
)

// Limits of the analysis tools' results.
const (
	resultClusters = 8
	resultSuspects = 6
	resultExamples = 3
)

type exampleRef struct {
	TraceID string `json:"trace_id"`
	SpanID  string `json:"span_id,omitempty"`
}

type clusterView struct {
	Rank          int          `json:"rank"`
	Signature     string       `json:"signature"`
	Kind          string       `json:"kind"`
	SpanKind      string       `json:"span_kind,omitempty"`
	Span          string       `json:"span,omitempty"`
	Tool          string       `json:"tool,omitempty"`
	Error         string       `json:"error,omitempty"`
	Detail        string       `json:"detail,omitempty"`
	Count         int          `json:"count"`
	BaselineCount int          `json:"baseline_count"`
	Rate          float64      `json:"rate"`
	BaselineRate  float64      `json:"baseline_rate"`
	New           bool         `json:"new,omitempty"`
	FirstSeen     string       `json:"first_seen,omitempty"`
	Examples      []exampleRef `json:"examples,omitempty"`
}

type suspectView struct {
	Attribute     string `json:"attribute"`
	Value         string `json:"value"`
	Failing       string `json:"failing_runs"`
	Healthy       string `json:"healthy_runs"`
	BaselineValue string `json:"healthy_runs_mostly_had,omitempty"`
}

type analysisResult struct {
	Source         string        `json:"source"`
	Window         windowView    `json:"window"`
	Baseline       windowView    `json:"baseline"`
	Traces         int           `json:"traces"`
	Failing        int           `json:"failing"`
	BaselineTraces int           `json:"baseline_traces"`
	Clusters       []clusterView `json:"clusters"`
	MoreClusters   int           `json:"more_clusters,omitempty"`
	Suspects       []suspectView `json:"what_changed,omitempty"`
	HealthyExample string        `json:"healthy_example,omitempty"`
	Missing        []string      `json:"missing,omitempty"`
}

const kindSchema = `"kind":{"type":"string","enum":["errors","latency","cost"],"description":"what to rank first: failures, slowdowns or spend; default the incident's alert kind, else errors"}`

func (a *Assistant) listClustersTool() tool {
	return tool{
		spec: oncall.ToolSpec{
			Name: "list_clusters",
			Description: "Failure clusters of a window compared with the baseline window just before it: error signatures, latency and cost changes, ranked by change, with example traces, and the attribute values failing runs share. " +
				"Without a window or filters it returns the incident's own triage.",
			Parameters: json.RawMessage(`{"type":"object","properties":{` + windowSchema + `,` + a.filtersSchema() + `,` +
				`"baseline":{"type":"string","description":"length of the baseline window before it, such as 1h; default the window's length"},` + kindSchema + `}}`),
		},
		run: func(ctx context.Context, c *conversation, raw json.RawMessage) (any, string, error) {
			var args struct {
				windowArgs
				Filters  map[string]string `json:"filters"`
				Baseline string            `json:"baseline"`
				Kind     string            `json:"kind"`
			}
			if err := decodeArgs(raw, &args); err != nil {
				return nil, "", err
			}
			if inc := c.q.Incident; inc != nil && inc.Report != nil && args.empty() && len(args.Filters) == 0 && args.Baseline == "" && args.Kind == "" {
				res := c.analysisView(*inc.Report, "the incident's triage")
				return res, fmt.Sprintf("%d clusters from the triage", len(inc.Report.Clusters)), nil
			}
			w, err := c.window(args.windowArgs)
			if err != nil {
				return nil, "", err
			}
			f, err := filters(args.Filters)
			if err != nil {
				return nil, "", err
			}
			length := w.End.Sub(w.Start)
			if args.Baseline != "" {
				if length, err = parseDuration(args.Baseline); err != nil {
					return nil, "", argErrorf("baseline: %v", err)
				}
				if length > maxWindow {
					return nil, "", argErrorf("baseline: at most %s", maxWindow)
				}
			}
			base := analysis.Window{Start: w.Start.Add(-length), End: w.Start}
			rep, err := c.analyze(ctx, w, base, f, args.Kind)
			if err != nil {
				return nil, "", err
			}
			return c.analysisView(rep, "analysis of the window"), fmt.Sprintf("%d clusters in %d traces", len(rep.Clusters), rep.TracesExamined), nil
		},
	}
}

func (a *Assistant) compareWindowsTool() tool {
	return tool{
		spec: oncall.ToolSpec{
			Name: "compare_windows",
			Description: "Compare window b (the one under suspicion) with window a (the reference): what started failing, got slower or spends more in b, ranked by change, and the attribute values b's failing runs share. " +
				"Use it for questions like \"what changed since yesterday\" or \"is it worse than this morning\".",
			Parameters: json.RawMessage(`{"type":"object","properties":{` +
				`"a":{"type":"object","properties":{` + windowSchema + `},"description":"the reference window; default the window of the same length just before b"},` +
				`"b":{"type":"object","properties":{` + windowSchema + `},"description":"the window under suspicion; default the incident's window or the last hour"},` +
				a.filtersSchema() + `,` + kindSchema + `}}`),
		},
		run: func(ctx context.Context, c *conversation, raw json.RawMessage) (any, string, error) {
			var args struct {
				A       windowArgs        `json:"a"`
				B       windowArgs        `json:"b"`
				Filters map[string]string `json:"filters"`
				Kind    string            `json:"kind"`
			}
			if err := decodeArgs(raw, &args); err != nil {
				return nil, "", err
			}
			b, err := c.window(args.B)
			if err != nil {
				return nil, "", argErrorf("b: %v", err)
			}
			a := analysis.Window{Start: b.Start.Add(-b.End.Sub(b.Start)), End: b.Start}
			if !args.A.empty() {
				if a, err = c.window(args.A); err != nil {
					return nil, "", argErrorf("a: %v", err)
				}
			}
			if a.Start.Before(b.End) && b.Start.Before(a.End) {
				return nil, "", argErrorf("windows a and b overlap; give two separate windows")
			}
			f, err := filters(args.Filters)
			if err != nil {
				return nil, "", err
			}
			rep, err := c.analyze(ctx, b, a, f, args.Kind)
			if err != nil {
				return nil, "", err
			}
			return c.analysisView(rep, "comparison of window b with window a"), fmt.Sprintf("%d clusters, %d vs %d traces", len(rep.Clusters), rep.TracesExamined, rep.BaselineTraces), nil
		},
	}
}

// analyze reads both windows' traces and runs the deterministic analysis
// (package analysis, as triage does) on them.
func (c *conversation) analyze(ctx context.Context, w, base analysis.Window, f map[string]string, kind string) (oncall.Report, error) {
	switch kind {
	case "", string(oncall.AlertKindErrors), string(oncall.AlertKindLatency), string(oncall.AlertKindCost):
	default:
		return oncall.Report{}, argErrorf("kind %q: one of errors, latency, cost", clip(kind, 30))
	}
	alert := oncall.Alert{Name: "question", Status: oncall.AlertFiring}
	if inc := c.q.Incident; inc != nil {
		alert = inc.Alert
		alert.TraceIDs = nil
	}
	if kind != "" {
		labels := maps.Clone(alert.Labels)
		if labels == nil {
			labels = map[string]string{}
		}
		labels["alert_kind"] = kind
		alert.Labels = labels
	}
	var traces []oncall.Trace
	var missing []string
	seen := map[string]bool{}
	for _, win := range []struct {
		name string
		w    analysis.Window
	}{{"window", w}, {"baseline", base}} {
		res, err := c.a.opts.Source.Search(ctx, oncall.TraceQuery{Start: win.w.Start, End: win.w.End, Filters: f, Limit: c.a.opts.MaxTraces})
		if err != nil {
			return oncall.Report{}, fmt.Errorf("search %s traces: %w", win.name, err)
		}
		if res.Matched > len(res.Traces) {
			missing = append(missing, fmt.Sprintf("%s: only the newest %d of %d traces were analysed", win.name, len(res.Traces), res.Matched))
		}
		for _, t := range res.Traces {
			if !seen[t.TraceID] {
				seen[t.TraceID] = true
				traces = append(traces, t)
			}
		}
	}
	rep := analysis.Analyze(alert, traces, analysis.Options{Incident: w, Baseline: base})
	rep.Missing = append(rep.Missing, missing...)
	return rep, nil
}

func (c *conversation) analysisView(rep oncall.Report, source string) analysisResult {
	out := analysisResult{
		Source:         source,
		Window:         windowView{Start: stamp(rep.WindowStart), End: stamp(rep.WindowEnd)},
		Baseline:       windowView{Start: stamp(rep.BaselineStart), End: stamp(rep.WindowStart)},
		Traces:         rep.TracesExamined,
		Failing:        rep.FailingTraces,
		BaselineTraces: rep.BaselineTraces,
		Clusters:       []clusterView{},
		HealthyExample: rep.HealthyExample,
	}
	for i, cl := range rep.Clusters {
		if i == resultClusters {
			out.MoreClusters = len(rep.Clusters) - resultClusters
			break
		}
		v := clusterView{
			Rank: i + 1, Signature: c.line(cl.Signature, 300), Kind: cl.Kind, SpanKind: string(cl.SpanKind),
			Span: c.line(cl.SpanName, 120), Error: c.line(cl.Error, errorChars), Detail: c.line(cl.Detail, 200),
			Count: cl.Count, BaselineCount: cl.BaselineCount, Rate: round2(cl.Rate), BaselineRate: round2(cl.BaselineRate), New: cl.New,
		}
		if cl.ToolName != cl.SpanName {
			v.Tool = c.line(cl.ToolName, 120)
		}
		if !cl.FirstSeen.IsZero() {
			v.FirstSeen = stamp(cl.FirstSeen)
		}
		for k := 0; k < len(cl.TraceIDs) && k < resultExamples; k++ {
			ex := exampleRef{TraceID: cl.TraceIDs[k]}
			if k < len(cl.SpanIDs) {
				ex.SpanID = cl.SpanIDs[k]
			}
			v.Examples = append(v.Examples, ex)
		}
		out.Clusters = append(out.Clusters, v)
	}
	for i, s := range rep.Suspects {
		if i == resultSuspects {
			break
		}
		out.Suspects = append(out.Suspects, suspectView{
			Attribute: c.line(s.Attribute, 120), Value: c.line(s.Value, 120),
			Failing: fmt.Sprintf("%d of %d", s.FailingCount, s.FailingTotal), Healthy: fmt.Sprintf("%d of %d", s.HealthyCount, s.HealthyTotal),
			BaselineValue: c.line(s.BaselineValue, 120),
		})
	}
	for _, m := range rep.Missing {
		out.Missing = append(out.Missing, c.line(m, 200))
	}
	if len(out.Missing) > 5 {
		out.Missing = append(out.Missing[:5], fmt.Sprintf("and %d more", len(rep.Missing)-5))
	}
	return out
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }
