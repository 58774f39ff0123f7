package triage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sort"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
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
	Window    time.Duration     // incident window before the alert's start; default 30m
	Baseline  time.Duration     // baseline window before the incident window; default 60m
	LabelMap  map[string]string // alert label -> trace attribute filter
	MaxTraces int               // per window; default 500
	// MaxKeptTraces caps the failing and slow runs a sampling source keeps
	// per window besides MaxTraces; default MaxTraces.
	MaxKeptTraces int
	Budget        int              // prompt tokens; default 8000
	Redactor      *redact.Redactor // required
	Now           func() time.Time
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

// Windows returns the incident and baseline windows of an alert: the
// incident window ends when the alert started firing. Route options may
// change their lengths.
func (s *Service) Windows(alert oncall.Alert, o oncall.TriageOptions) (incident, baseline Window) {
	end := alert.StartsAt
	if end.IsZero() {
		end = s.opts.Now()
	}
	win, base := s.opts.Window, s.opts.Baseline
	if o.Window > 0 {
		win = o.Window
	}
	if o.Baseline > 0 {
		base = o.Baseline
	}
	incident = Window{Start: end.Add(-win), End: end}
	baseline = Window{Start: incident.Start.Add(-base), End: incident.Start}
	return incident, baseline
}

// Filters maps the alert's labels to trace attribute filters, through the
// configured label map with the route's overrides (an empty override
// removes a label's entry).
func (s *Service) Filters(alert oncall.Alert, o oncall.TriageOptions) map[string]string {
	m := maps.Clone(s.opts.LabelMap)
	if m == nil {
		m = map[string]string{}
	}
	for label, attr := range o.LabelMap {
		if attr == "" {
			delete(m, label)
		} else {
			m[label] = attr
		}
	}
	f := map[string]string{}
	for label, attr := range m {
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
	filters := s.Filters(alert, req.Options)
	var missing []string
	sourceName, source, err := s.source(req.Options)
	if err != nil {
		// A route naming an unknown source still gets an answer: from the
		// default source, saying so.
		missing = append(missing, err.Error()+"; read "+s.opts.DefaultSource+" instead")
		sourceName, source = s.opts.DefaultSource, s.opts.Sources[s.opts.DefaultSource]
	}

	var traces []oncall.Trace
	var weights map[string]float64
	seen := map[string]bool{}
	add := func(ts []oncall.Trace) {
		for _, t := range ts {
			if !seen[t.TraceID] {
				seen[t.TraceID] = true
				traces = append(traces, t)
			}
		}
	}
	// Traces the alert names come first.
	for _, id := range alert.TraceIDs {
		t, err := source.Get(ctx, id)
		if err != nil {
			missing = append(missing, fmt.Sprintf("trace %s named by the alert: %v", id, err))
			continue
		}
		add([]oncall.Trace{t})
	}
	windows := []struct {
		name string
		win  Window
	}{{"incident", incWin}, {"baseline", baseWin}}
	search := s.windowSearch(ctx, source, []Window{incWin, baseWin}, filters)
	for i, w := range windows {
		if w.win.End.Sub(w.win.Start) <= 0 {
			continue
		}
		res, err := search(i)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			s.log.Warn("trace search failed", "window", w.name, "err", err)
			missing = append(missing, fmt.Sprintf("%s window traces from %s: %v", w.name, sourceName, err))
			continue
		}
		if note := s.capNote(w.name, res); note != "" {
			missing = append(missing, note)
		}
		weights = addWeights(weights, res.Weights)
		add(res.Traces)
	}
	sort.SliceStable(traces, func(i, j int) bool { return traces[i].Start.Before(traces[j].Start) })

	rep := Analyze(alert, traces, AnalyzeOptions{Incident: incWin, Baseline: baseWin, Weights: weights})
	rep.Missing = append(rep.Missing, missing...)
	session := s.opts.Redactor.Session()
	ev := BuildEvidence(rep, traces, EvidenceOptions{Budget: s.opts.Budget, Counter: s.counter, Redact: session})
	return &Prepared{Request: req, Report: rep, Traces: traces, Evidence: ev, session: session, start: start}, nil
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
