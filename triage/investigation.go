package triage

import (
	"cmp"
	"unicode/utf8"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/analysis"
	"github.com/oncall-copilot/oncall-copilot/redact"
)

// Limits of what an investigation keeps, so the incident page stays small
// whatever the traces hold.
const (
	maxInvestigation     = 4 // failing example traces kept, besides the healthy one
	maxInvestigationSpan = 200
	maxExcerptRunes      = 1000
	// maxInvestigationText caps the bytes of span text (inputs, outputs,
	// arguments, errors) one investigation keeps; spans past
	// it keep their shape, timing and status only.
	maxInvestigationText = 1 << 20
)

// investigate builds what the incident page shows of a finished triage:
// how its traces were chosen, failing runs per step, and the evidence
// traces, redacted with the triage's session so placeholders match the
// report's. rep is the finished, redacted report; p.Report its unredacted
// form in the same order.
func (s *Service) investigate(p *Prepared, rep oncall.Report) *oncall.Investigation {
	req := p.Request
	incWin, baseWin := s.Windows(req.Alert, req.Options)
	name, _, err := s.source(req.Options)
	if err != nil {
		name = s.opts.DefaultSource
	}
	search := oncall.TraceSearch{
		Source:        name,
		WindowStart:   incWin.Start,
		WindowEnd:     incWin.End,
		BaselineStart: baseWin.Start,
		MaxTraces:     s.opts.MaxTraces,
		Read:          len(p.Traces),
		NamedByAlert:  len(req.Alert.TraceIDs),
	}
	inv := &oncall.Investigation{Search: search}
	inv.Onset = analysis.Onset(req.Alert, p.Traces, incWin, baseWin, p.Report.Clusters, rep.Clusters)
	if !rep.Onset.IsZero() {
		inv.Onset.At = rep.Onset // the change point the analysis found
	}

	byID := make(map[string]*oncall.Trace, len(p.Traces))
	for i := range p.Traces {
		byID[p.Traces[i].TraceID] = &p.Traces[i]
	}
	seen := map[string]bool{}
	budget := maxInvestigationText
	keep := func(id string) bool {
		t := byID[id]
		if t == nil || seen[id] {
			return false
		}
		seen[id] = true
		inv.Traces = append(inv.Traces, redactTrace(t, p.session, &budget))
		return true
	}
	// The first example of each top cluster, then more of the top one.
	for i := 0; i < len(rep.Clusters) && len(inv.Traces) < maxInvestigation; i++ {
		if ids := rep.Clusters[i].TraceIDs; len(ids) > 0 {
			keep(ids[0])
		}
	}
	if len(rep.Clusters) > 0 {
		for _, id := range rep.Clusters[0].TraceIDs {
			if len(inv.Traces) >= maxInvestigation {
				break
			}
			keep(id)
		}
	}
	if d := rep.Diagnosis; d != nil {
		for _, c := range d.Causes {
			for _, e := range c.Evidence {
				if len(inv.Traces) < maxInvestigation+2 {
					keep(e.TraceID)
				}
			}
		}
	}
	if rep.HealthyExample != "" && keep(rep.HealthyExample) {
		inv.Healthy = rep.HealthyExample
	}
	return inv
}

// redactTrace copies a trace for keeping: every text redacted, excerpts
// shortened, spans and attributes capped, and span text dropped once the
// budget of bytes is spent.
func redactTrace(t *oncall.Trace, s *redact.Session, budget *int) oncall.Trace {
	// Attributes are left out: the page shows none, and each costs a
	// pass of the redactor.
	out := oncall.Trace{
		TraceID: t.TraceID, Name: s.String(t.Name), Service: s.String(t.Service),
		Start: t.Start, End: t.End, Source: t.Source,
	}
	spans := t.Spans
	if len(spans) > maxInvestigationSpan {
		spans = spans[:maxInvestigationSpan]
	}
	out.Spans = make([]oncall.Span, len(spans))
	for i := range spans {
		sp := spans[i]
		if *budget <= 0 {
			sp.StatusMessage, sp.Input, sp.Output, sp.ToolArgs = "", "", "", ""
		}
		sp.Name, sp.Service = s.String(sp.Name), s.String(sp.Service)
		sp.StatusMessage = excerpt(s, sp.StatusMessage)
		sp.Input, sp.Output, sp.ToolArgs = excerpt(s, sp.Input), excerpt(s, sp.Output), excerpt(s, sp.ToolArgs)
		sp.ToolName, sp.Model = s.String(sp.ToolName), s.String(sp.Model)
		sp.Attributes = nil
		// Of the events, the exceptions' messages say what failed.
		var evs []oncall.SpanEvent
		for _, e := range sp.Exceptions() {
			if len(evs) == 2 || *budget <= 0 {
				break
			}
			msg := excerpt(s, cmp.Or(e.Attributes["exception.message"], e.Attributes["exception.type"]))
			evs = append(evs, oncall.SpanEvent{Name: e.Name, Time: e.Time, Attributes: map[string]string{"exception.message": msg}})
			*budget -= len(msg)
		}
		sp.Events = evs
		*budget -= len(sp.StatusMessage) + len(sp.Input) + len(sp.Output) + len(sp.ToolArgs)
		out.Spans[i] = sp
	}
	return out
}

// excerpt redacts the start of a text and shortens it to
// maxExcerptRunes. Only the part kept and a margin past it are redacted,
// so a secret cut by the margin is still found, and a long text costs no
// more than a short one.
func excerpt(s *redact.Session, text string) string {
	if text == "" {
		return ""
	}
	return clipRunes(s.String(clipRunes(text, maxExcerptRunes+160)), maxExcerptRunes)
}

func clipRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
