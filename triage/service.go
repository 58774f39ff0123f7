// Package triage diagnoses an alert from its agents' traces: the Service
// fetches the alert's incident and baseline windows from a trace source,
// runs package analysis on them, packs the evidence and the prompt within
// a token budget, asks a model for a diagnosis as JSON (repairing an
// answer that breaks the schema), and grounds it in the trace and span ids
// the evidence holds; without a model it writes an offline diagnosis from
// the analysis alone.
package triage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/analysis"
	"github.com/oncall-copilot/oncall-copilot/redact"
)

// TraceSource is what triage needs of a trace store.
type TraceSource interface {
	Search(ctx context.Context, q oncall.TraceQuery) (oncall.TraceSearchResult, error)
	Get(ctx context.Context, traceID string) (oncall.Trace, error)
}

// ServiceOptions configure a Service.
type ServiceOptions struct {
	// Sources are the configured trace sources by name; at least one.
	Sources map[string]TraceSource
	// DefaultSource names the source used when a route names none; it
	// may be empty when there is only one source.
	DefaultSource string
	// Model diagnoses the analysis; nil means offline: the deterministic
	// diagnosis is posted and says so.
	Model     Model
	ModelName string
	Window    time.Duration     // how far before the alert's start the incident window begins; default 30m (see Windows)
	Baseline  time.Duration     // baseline window before the incident window; default 60m
	LabelMap  map[string]string // alert label -> trace attribute, a correlation hint (see analysis.Correlate)
	MaxTraces int               // per window; default 500
	// MaxKeptTraces caps the failing and slow runs a sampling source keeps
	// per window besides MaxTraces; default MaxTraces.
	MaxKeptTraces int
	Budget        int              // prompt tokens; default 8000
	Redactor      *redact.Redactor // required
	Now           func() time.Time // the clock: where a live incident window ends; default time.Now
	Logger        *slog.Logger
}

// Service triages alerts: it selects the related traces, analyses them,
// and asks the model for a grounded diagnosis.
type Service struct {
	opts    ServiceOptions
	counter TokenCounter
	log     *slog.Logger
}

// NewService checks opts and returns a Service.
func NewService(opts ServiceOptions) (*Service, error) {
	if len(opts.Sources) == 0 {
		return nil, errors.New("triage: a trace source is required")
	}
	if opts.DefaultSource == "" && len(opts.Sources) == 1 {
		for name := range opts.Sources {
			opts.DefaultSource = name
		}
	}
	if _, ok := opts.Sources[opts.DefaultSource]; !ok {
		return nil, fmt.Errorf("triage: the default trace source %q is not configured", opts.DefaultSource)
	}
	if opts.Redactor == nil {
		return nil, errors.New("triage: a redactor is required")
	}
	if opts.Window <= 0 {
		opts.Window = 30 * time.Minute
	}
	if opts.Baseline < 0 {
		opts.Baseline = 0
	} else if opts.Baseline == 0 {
		opts.Baseline = 60 * time.Minute
	}
	if opts.MaxTraces <= 0 {
		opts.MaxTraces = 500
	}
	if opts.MaxKeptTraces <= 0 {
		opts.MaxKeptTraces = opts.MaxTraces
	}
	if opts.Budget <= 0 {
		opts.Budget = 8000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{opts: opts, counter: NewTokenCounter(opts.ModelName), log: opts.Logger.With("component", "triage")}, nil
}

// Windows returns the incident and baseline windows of an alert. The
// incident window starts one window length before the alert fired, since
// failing runs come before the alert, and it runs until now: the failing
// runs of a live incident are those right before and after it fired. For
// an alert that started further back than a window length (a replay, a
// re-run, triage of an old alert) it ends where the alert ended, or one
// window length after it started while it is still firing. The baseline
// window is the one before. Route options may change their lengths.
func (s *Service) Windows(alert oncall.Alert, o oncall.TriageOptions) (incident, baseline analysis.Window) {
	now := s.opts.Now()
	win, base := s.opts.Window, s.opts.Baseline
	if o.Window > 0 {
		win = o.Window
	}
	if o.Baseline > 0 {
		base = o.Baseline
	}
	start := alert.StartsAt
	if start.IsZero() || start.After(now) {
		start = now
	}
	end := now
	switch {
	case alert.Resolved() && !alert.EndsAt.IsZero() && alert.EndsAt.Before(now):
		end = alert.EndsAt
	case now.Sub(start) > win:
		end = start.Add(win)
	}
	if end.Before(start) {
		end = start
	}
	incident = analysis.Window{Start: start.Add(-win), End: end}
	baseline = analysis.Window{Start: incident.Start.Add(-base), End: incident.Start}
	return incident, baseline
}

// hints maps the alert's labels to the trace attributes the configured
// label map names for them, with the route's overrides; labels a route
// maps to "" are returned in ignore and not correlated at all.
func (s *Service) hints(o oncall.TriageOptions) (hints map[string]string, ignore map[string]bool) {
	hints = maps.Clone(s.opts.LabelMap)
	if hints == nil {
		hints = map[string]string{}
	}
	ignore = map[string]bool{}
	for label, attr := range o.LabelMap {
		if attr == "" {
			delete(hints, label)
			ignore[label] = true
		} else {
			hints[label] = attr
		}
	}
	return hints, ignore
}

// hintedFilters are the store filters the label map alone gives: what a
// store that cannot be searched without a filter is asked for.
func hintedFilters(alert oncall.Alert, hints map[string]string) map[string]string {
	f := map[string]string{}
	for label, attr := range hints {
		if v := alert.Labels[label]; v != "" {
			f[attr] = v
		}
	}
	return f
}

// source picks the trace source a request asks for.
func (s *Service) source(o oncall.TriageOptions) (string, TraceSource, error) {
	name := o.TraceSource
	if name == "" {
		name = s.opts.DefaultSource
	}
	src, ok := s.opts.Sources[name]
	if !ok {
		return name, nil, fmt.Errorf("trace source %q is not configured", name)
	}
	return name, src, nil
}

// Prepared is a triage up to the model call: the traces read, their
// analysis, and the evidence pack a model would be shown.
type Prepared struct {
	Request  oncall.TriageRequest
	Report   oncall.Report // not yet redacted; no diagnosis yet
	Traces   []oncall.Trace
	Evidence Evidence
	session  *redact.Session
	start    time.Time
}

// Triage runs the whole triage of one alert. Trace-store failures do not
// fail it: the report says what is missing. Everything in the returned
// report is redacted.
func (s *Service) Triage(ctx context.Context, req oncall.TriageRequest) (oncall.Report, error) {
	p, err := s.Prepare(ctx, req)
	if err != nil {
		return oncall.Report{}, err
	}
	return s.Finish(ctx, p)
}

// Prepare selects the alert's traces, analyses them and builds the
// evidence pack under the token budget.
func (s *Service) Prepare(ctx context.Context, req oncall.TriageRequest) (*Prepared, error) {
	start := time.Now()
	alert := req.Alert
	incWin, baseWin := s.Windows(alert, req.Options)
	hints, ignore := s.hints(req.Options)
	var missing []string
	sourceName, source, err := s.source(req.Options)
	if err != nil {
		// A route naming an unknown source still gets an answer: from the
		// default source, saying so.
		missing = append(missing, err.Error()+"; read "+s.opts.DefaultSource+" instead")
		sourceName, source = s.opts.DefaultSource, s.opts.Sources[s.opts.DefaultSource]
	}

	// Traces the alert names come first.
	var named []oncall.Trace
	for _, id := range alert.TraceIDs {
		t, err := source.Get(ctx, id)
		if err != nil {
			missing = append(missing, fmt.Sprintf("trace %s named by the alert: %v", id, err))
			continue
		}
		named = append(named, t)
	}
	windows := []searchWindow{{"incident", incWin}, {"baseline", baseWin}}
	found, err := s.search(ctx, source, sourceName, windows, alert, hints, nil)
	if err != nil {
		return nil, err
	}
	stored := found.traces
	missing = append(missing, found.missing...)
	labels := alert
	if len(ignore) > 0 {
		labels.Labels = maps.Clone(alert.Labels)
		for l := range ignore {
			delete(labels.Labels, l)
		}
	}
	corr := analysis.Correlate(labels, hints, stored)
	used := found // the answer whose traces, weights and sampling notes the analysis gets
	if found.capped && len(corr.Filters) > 0 {
		// The store held more traces than one answer carries: ask again
		// for the alert's own, so the cap does not cut them.
		more, err := s.search(ctx, source, sourceName, windows, alert, hints, analysis.NarrowingFilters(corr.Filters))
		if err != nil {
			return nil, err
		}
		for _, m := range more.missing {
			if !slices.Contains(missing, m) {
				missing = append(missing, m)
			}
		}
		if len(more.traces) > 0 {
			// The narrower answer alone: mixing in the first answer's
			// sample would count some runs twice and skew the weights.
			used = more
			corr = analysis.Correlate(labels, hints, more.traces)
		}
	}
	missing = append(missing, used.notes...)
	missing = append(missing, corr.Missing...)
	traces := dedupe(append(named, corr.Traces...))
	sort.SliceStable(traces, func(i, j int) bool { return traces[i].Start.Before(traces[j].Start) })

	sel := &oncall.Selection{Filters: corr.Filters, Unused: corr.Unused}
	if sel.Filters == nil {
		sel.Filters = []oncall.LabelMatch{}
	}
	for i := range stored {
		if st := analysis.TraceStart(&stored[i]); incWin.Contains(st) || baseWin.Contains(st) {
			sel.Store++
		}
	}
	// A capped answer returned fewer traces than the store holds.
	sel.Store = max(sel.Store, found.matched)
	rep := analysis.AnalyzeAtOnset(alert, traces, analysis.Options{Incident: incWin, Baseline: baseWin, Weights: used.weights})
	sel.Incident, sel.Baseline = rep.TracesExamined, rep.BaselineTraces
	rep.Selection = sel
	storeIncident := 0
	for i := range stored {
		if incWin.Contains(analysis.TraceStart(&stored[i])) {
			storeIncident++
		}
	}
	if rep.TracesExamined == 0 && storeIncident > 0 {
		rep.Missing = slices.DeleteFunc(rep.Missing, func(m string) bool { return m == analysis.NoIncidentTraces })
		rep.Missing = append(rep.Missing, fmt.Sprintf("the store holds %d traces in the incident window, but none carries the alert's labels (%s): the alerted agent may have stopped running", storeIncident, describeFilters(sel.Filters)))
	}
	rep.Missing = append(rep.Missing, missing...)
	session := s.opts.Redactor.Session()
	ev := BuildEvidence(rep, traces, EvidenceOptions{Budget: s.opts.Budget, Counter: s.counter, Redact: session})
	return &Prepared{Request: req, Report: rep, Traces: traces, Evidence: ev, session: session, start: start}, nil
}

// searchWindow is one window a triage reads.
type searchWindow struct {
	name string
	win  analysis.Window
}

// searchResult is what the store answered for the windows.
type searchResult struct {
	traces  []oncall.Trace
	weights map[string]float64 // sampling weights of the traces that stand for more runs
	notes   []string           // how each window was sampled, or what its cap left out
	matched int                // traces the store counted as matching, before its cap
	capped  bool               // the store held more traces than it returned
	missing []string
}

// search reads the windows from the store. With no filters it asks for
// every trace of each window and, when the store cannot search without a
// filter (Jaeger needs a service), falls back to the label map's filters,
// then to each alert label's value as a service name. Store failures are
// reported in missing; only a cancelled ctx is an error.
func (s *Service) search(ctx context.Context, source TraceSource, sourceName string, windows []searchWindow, alert oncall.Alert, hints, filters map[string]string) (searchResult, error) {
	var out searchResult
	attempts := []map[string]string{filters}
	if len(filters) == 0 {
		if f := hintedFilters(alert, hints); len(f) > 0 {
			attempts = append(attempts, f)
		}
		for _, l := range slices.Sorted(maps.Keys(alert.Labels)) {
			if !analysis.IsAlertMetaLabel(l) && alert.Labels[l] != "" {
				attempts = append(attempts, map[string]string{"service.name": alert.Labels[l]})
			}
		}
	}
	var pending []searchWindow
	for _, w := range windows {
		if w.win.End.Sub(w.win.Start) > 0 {
			pending = append(pending, w)
		}
	}
	failed := map[string]error{}
	for _, f := range attempts {
		if len(pending) == 0 {
			break
		}
		wins := make([]analysis.Window, len(pending))
		for i, w := range pending {
			wins[i] = w.win
		}
		// A source that reads several windows in one pass gets them
		// together.
		search := s.windowSearch(ctx, source, wins, f)
		var still []searchWindow
		for i, w := range pending {
			res, err := search(i)
			if err != nil {
				if ctx.Err() != nil {
					return searchResult{}, ctx.Err()
				}
				if failed[w.name] == nil {
					failed[w.name] = err
				}
				still = append(still, w)
				continue
			}
			if res.Matched > len(res.Traces) {
				out.capped = true
			}
			if note := s.capNote(w.name, res); note != "" {
				out.notes = append(out.notes, note)
			}
			out.matched += max(res.Matched, len(res.Traces))
			out.traces = append(out.traces, res.Traces...)
			out.weights = addWeights(out.weights, res.Weights)
			for _, u := range res.Unreadable {
				if m := "not read from " + sourceName + ": " + u; !slices.Contains(out.missing, m) {
					out.missing = append(out.missing, m)
				}
			}
			if len(f) == 0 || len(res.Traces) > 0 {
				delete(failed, w.name)
				continue
			}
			still = append(still, w)
		}
		pending = still
	}
	for _, w := range windows {
		if err := failed[w.name]; err != nil {
			s.log.Warn("trace search failed", "window", w.name, "err", err)
			out.missing = append(out.missing, fmt.Sprintf("%s window traces from %s: %v", w.name, sourceName, err))
		}
	}
	return out, nil
}

// dedupe keeps the first trace of each id.
func dedupe(traces []oncall.Trace) []oncall.Trace {
	seen := make(map[string]bool, len(traces))
	out := traces[:0:0]
	for _, t := range traces {
		if t.TraceID != "" && seen[t.TraceID] {
			continue
		}
		seen[t.TraceID] = true
		out = append(out, t)
	}
	return out
}

func describeFilters(ms []oncall.LabelMatch) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.Label + "=" + m.Value
	}
	return strings.Join(parts, ", ")
}

// Finish diagnoses a prepared triage (with the model, or offline) and
// redacts the report.
func (s *Service) Finish(ctx context.Context, p *Prepared) (oncall.Report, error) {
	rep := p.Report
	switch {
	case p.Request.Options.Offline():
		rep.Diagnosis = OfflineDiagnosis(rep, "the route asks for deterministic analysis only")
	case s.opts.Model == nil:
		rep.Diagnosis = OfflineDiagnosis(rep, "no model configured")
	default:
		rep.EvidenceCut = p.Evidence.Cut
		diag, usage, err := Diagnose(ctx, s.opts.Model, rep, p.Evidence)
		rep.Usage = rep.Usage.Add(usage)
		if err != nil {
			if ctx.Err() != nil {
				return oncall.Report{}, ctx.Err()
			}
			s.log.Warn("model diagnosis failed, posting the deterministic analysis", "err", err)
			diag = OfflineDiagnosis(rep, "model unavailable: "+safeError(err))
		}
		rep.Diagnosis = diag
	}
	redactReport(&rep, p.session)
	rep.Investigation = s.investigate(p, rep)
	rep.Duration = time.Since(p.start)
	return rep, nil
}

// safeError shortens an error for people to read; the full error is logged.
func safeError(err error) string {
	msg := err.Error()
	if len(msg) > 160 {
		msg = msg[:160] + "…"
	}
	return msg
}

// redactReport passes every free-text field of a report through the
// triage's redaction session, so nothing secret reaches Slack, the store
// or the CLI.
func redactReport(rep *oncall.Report, s *redact.Session) {
	a := &rep.Alert
	a.Annotations, a.Labels = maps.Clone(a.Annotations), maps.Clone(a.Labels)
	a.Summary, a.Description = s.String(a.Summary), s.String(a.Description)
	a.Name, a.GroupKey = s.String(a.Name), s.String(a.GroupKey)
	a.SourceURL, a.GeneratorURL = s.String(a.SourceURL), s.String(a.GeneratorURL)
	for k, v := range a.Annotations {
		a.Annotations[k] = s.String(v)
	}
	for k, v := range a.Labels {
		a.Labels[k] = s.String(v)
	}
	for i := range rep.Clusters {
		c := &rep.Clusters[i]
		c.Signature, c.Error, c.Detail = s.String(c.Signature), s.String(c.Error), s.String(c.Detail)
		c.SpanName, c.ToolName = s.String(c.SpanName), s.String(c.ToolName)
	}
	for i := range rep.Suspects {
		rep.Suspects[i].Value = s.String(rep.Suspects[i].Value)
		rep.Suspects[i].BaselineValue = s.String(rep.Suspects[i].BaselineValue)
	}
	for i := range rep.Missing {
		rep.Missing[i] = s.String(rep.Missing[i])
	}
	if sel := rep.Selection; sel != nil {
		c := *sel
		c.Filters, c.Unused = slices.Clone(c.Filters), slices.Clone(c.Unused)
		for _, ms := range [][]oncall.LabelMatch{c.Filters, c.Unused} {
			for i := range ms {
				ms[i].Value = s.String(ms[i].Value)
			}
		}
		rep.Selection = &c
	}
	if d := rep.Diagnosis; d != nil {
		d.Summary = s.String(d.Summary)
		for i := range d.Causes {
			c := &d.Causes[i]
			c.Title, c.Detail = s.String(c.Title), s.String(c.Detail)
			for j := range c.Evidence {
				c.Evidence[j].Note = s.String(c.Evidence[j].Note)
			}
		}
		for i := range d.Fixes {
			d.Fixes[i].Change, d.Fixes[i].Where = s.String(d.Fixes[i].Change), s.String(d.Fixes[i].Where)
		}
		for i := range d.NextSteps {
			d.NextSteps[i] = s.String(d.NextSteps[i])
		}
	}
}
