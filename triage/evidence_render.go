package triage

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// Caps on text taken from alerts and reports, in runes.
const (
	maxFieldLen     = 300 // summaries, errors, details
	maxNameLen      = 120 // names and label values
	maxLabels       = 20
	maxMissingNotes = 5
)

func (b *evidenceBuilder) headerVariant(full bool) rendering {
	rep, a := &b.rep, &b.rep.Alert
	var sb strings.Builder
	sb.WriteString("# Incident\n")
	kind := rep.AlertKind
	if kind == "" {
		kind = a.Kind()
	}
	fmt.Fprintf(&sb, "Alert: %s (%s alert", b.clean(a.Name, maxNameLen), kind)
	if a.Status != "" {
		fmt.Fprintf(&sb, ", %s", a.Status)
	}
	if a.Severity != "" {
		fmt.Fprintf(&sb, ", severity %s", b.clean(a.Severity, 40))
	}
	sb.WriteString(")\n")
	limit := maxFieldLen
	if !full {
		limit = 100
	}
	if a.Summary != "" {
		fmt.Fprintf(&sb, "Summary: %s\n", b.clean(a.Summary, limit))
	}
	if full && a.Description != "" {
		fmt.Fprintf(&sb, "Description: %s\n", b.clean(a.Description, maxFieldLen))
	}
	if full && len(a.Labels) > 0 {
		keys := slices.Sorted(maps.Keys(a.Labels))
		var labels []string
		for _, k := range keys[:min(len(keys), maxLabels)] {
			labels = append(labels, b.clean(k, 60)+"="+b.clean(a.Labels[k], maxNameLen))
		}
		if len(keys) > maxLabels {
			labels = append(labels, fmt.Sprintf("and %d more", len(keys)-maxLabels))
		}
		fmt.Fprintf(&sb, "Labels: %s\n", strings.Join(labels, ", "))
	}
	if !rep.WindowStart.IsZero() || !rep.WindowEnd.IsZero() {
		fmt.Fprintf(&sb, "Incident window: %s to %s (%s)", isoStamp(rep.WindowStart), isoStamp(rep.WindowEnd), rep.WindowEnd.Sub(rep.WindowStart))
		if !rep.BaselineStart.IsZero() {
			fmt.Fprintf(&sb, "; baseline window from %s", isoStamp(rep.BaselineStart))
		}
		sb.WriteString("\n")
	}
	fmt.Fprintf(&sb, "Traces examined: %d in the incident window, %d failing (%.2f failures/min); %d in the baseline window\n",
		rep.TracesExamined, rep.FailingTraces, rep.FailuresPerMinute, rep.BaselineTraces)
	v := rendering{}
	if rep.HealthyExample != "" {
		fmt.Fprintf(&sb, "Healthy run for contrast: trace=%s\n", b.clean(rep.HealthyExample, maxNameLen))
		v.traceIDs = append(v.traceIDs, rep.HealthyExample)
	}
	if full && len(rep.Missing) > 0 {
		var notes []string
		for _, m := range rep.Missing[:min(len(rep.Missing), maxMissingNotes)] {
			notes = append(notes, b.clean(m, 160))
		}
		if len(rep.Missing) > maxMissingNotes {
			notes = append(notes, fmt.Sprintf("and %d more", len(rep.Missing)-maxMissingNotes))
		}
		fmt.Fprintf(&sb, "Missing data: %s\n", strings.Join(notes, "; "))
	}
	v.text = sb.String()
	if !full {
		v.note = "alert details shortened"
	}
	return b.measure(v)
}

func (b *evidenceBuilder) clusterVariant(i int, full bool) rendering {
	c := &b.rep.Clusters[i]
	var sb strings.Builder
	limit := maxFieldLen
	if !full {
		limit = 150
	}
	sig := b.clean(c.Signature, limit)
	fmt.Fprintf(&sb, "%d. %s\n", i+1, sig)
	fmt.Fprintf(&sb, "   incident: %d traces (%s)", c.Count, percentText(c.Rate))
	if b.rep.BaselineTraces > 0 || c.BaselineCount > 0 {
		fmt.Fprintf(&sb, "; baseline: %d traces (%s)", c.BaselineCount, percentText(c.BaselineRate))
	}
	if c.New {
		sb.WriteString("; new")
	}
	fmt.Fprintf(&sb, "; score %.2f", c.Score)
	if full && !c.FirstSeen.IsZero() {
		fmt.Fprintf(&sb, "; first seen %s", isoStamp(c.FirstSeen))
	}
	sb.WriteString("\n")
	if full {
		fmt.Fprintf(&sb, "   kind: %s; span: %s %q", b.clean(c.Kind, 40), spanKindName(c.SpanKind), b.clean(c.SpanName, maxNameLen))
		if c.ToolName != "" && c.ToolName != c.SpanName {
			fmt.Fprintf(&sb, "; tool %q", b.clean(c.ToolName, maxNameLen))
		}
		sb.WriteString("\n")
	}
	// The example error is what the top cluster must always show; the
	// signature usually contains it already.
	if errText := b.clean(c.Error, limit); errText != "" && !strings.Contains(sig, errText) {
		fmt.Fprintf(&sb, "   error: %s\n", errText)
	}
	if full && c.Detail != "" {
		fmt.Fprintf(&sb, "   detail: %s\n", b.clean(c.Detail, maxFieldLen))
	}
	v := rendering{}
	n := maxClusterExamples
	if !full {
		n = 1
	}
	var ex []string
	for k := 0; k < len(c.TraceIDs) && k < n; k++ {
		t := b.clean(c.TraceIDs[k], maxNameLen)
		e := "trace=" + t
		v.traceIDs = append(v.traceIDs, c.TraceIDs[k])
		if k < len(c.SpanIDs) && c.SpanIDs[k] != "" {
			e += " span=" + b.clean(c.SpanIDs[k], maxNameLen)
			v.spanIDs = append(v.spanIDs, c.SpanIDs[k])
		}
		ex = append(ex, e)
	}
	if len(ex) > 0 {
		fmt.Fprintf(&sb, "   examples: %s\n", strings.Join(ex, "; "))
	}
	v.text = sb.String()
	if !full && i == 0 {
		v.note = "top cluster shortened"
	}
	return b.measure(v)
}

func (b *evidenceBuilder) suspectVariant(i int) rendering {
	s := &b.rep.Suspects[i]
	var sb strings.Builder
	fmt.Fprintf(&sb, "- %s = %q: %d of %d failing runs, %d of %d healthy runs",
		b.clean(s.Attribute, maxNameLen), b.clean(s.Value, maxNameLen), s.FailingCount, s.FailingTotal, s.HealthyCount, s.HealthyTotal)
	if s.BaselineValue != "" {
		fmt.Fprintf(&sb, "; healthy runs mostly had %q", b.clean(s.BaselineValue, maxNameLen))
	}
	sb.WriteString("\n")
	return b.measure(rendering{text: sb.String()})
}

// traceParts creates a part for each representative trace: the first
// example of the top clusters, then the healthy example.
func (b *evidenceBuilder) traceParts(add func(*evidencePart) *evidencePart) []*evidencePart {
	type pick struct {
		id, role string
		focus    map[string]bool // spans the clusters point at
	}
	var picks []pick
	index := map[string]int{}
	for ci := range b.rep.Clusters {
		c := &b.rep.Clusters[ci]
		if len(c.TraceIDs) == 0 {
			continue
		}
		id := c.TraceIDs[0]
		if k, ok := index[id]; ok {
			picks[k].role += fmt.Sprintf(", %d", ci+1)
		} else if len(picks) < maxEvidenceTraces {
			index[id] = len(picks)
			picks = append(picks, pick{id: id, role: fmt.Sprintf("example of cluster %d", ci+1), focus: map[string]bool{}})
		} else {
			continue
		}
		// Origin spans of every cluster in this trace are worth showing.
		for k, tid := range c.TraceIDs {
			if tid == id && k < len(c.SpanIDs) && c.SpanIDs[k] != "" {
				picks[index[id]].focus[c.SpanIDs[k]] = true
			}
		}
	}
	if h := b.rep.HealthyExample; h != "" {
		if _, dup := index[h]; !dup {
			picks = append(picks, pick{id: h, role: "healthy run for contrast"})
		}
	}
	var out []*evidencePart
	for i, pk := range picks {
		t := b.traces[pk.id]
		if t == nil || len(t.Spans) == 0 {
			continue
		}
		sizes := []traceSize{{40, 300}, {20, 160}, {10, 80}, {5, 0}}
		if i > 0 {
			sizes = sizes[1:]
		}
		p := &evidencePart{section: secTraces, order: i, omitted: fmt.Sprintf("trace %s (%s) left out", shortID(pk.id), pk.role)}
		var tree *evidenceTree // built once, for the first rendering asked for
		for _, sz := range sizes {
			p.renderings = append(p.renderings, func() rendering {
				if tree == nil {
					tree = newEvidenceTree(t)
				}
				return b.traceVariant(tree, pk.role, pk.focus, sz)
			})
		}
		out = append(out, add(p))
	}
	return out
}

// traceSize is how much of a trace one rendering shows.
type traceSize struct {
	spans   int // span lines
	excerpt int // runes of each end of an input or output; 0 for none
}

func (b *evidenceBuilder) traceVariant(tree *evidenceTree, role string, focus map[string]bool, sz traceSize) rendering {
	t := tree.t
	shown := tree.choose(focus, sz.spans)
	v := rendering{traceIDs: []string{t.TraceID}}
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n## Trace %s: %s\n%s\n", b.clean(t.TraceID, maxNameLen), role, dataOpen)
	status := "ok"
	if t.Failed() {
		status = "failed"
	}
	fmt.Fprintf(&sb, "run %q", b.clean(t.Name, maxNameLen))
	if t.Service != "" {
		fmt.Fprintf(&sb, " service %q", b.clean(t.Service, maxNameLen))
	}
	fmt.Fprintf(&sb, ", %d spans, %s, started %s, %s\n", len(t.Spans), shortDuration(t.Duration()), isoStamp(t.Start), status)
	tree.walk(shown, func(i, depth int) {
		s := &t.Spans[i]
		b.writeSpan(&sb, t, s, depth, focus[s.SpanID] || s.Failed(), sz.excerpt)
		v.spanIDs = append(v.spanIDs, s.SpanID)
	})
	if n := len(t.Spans) - len(shown); n > 0 {
		fmt.Fprintf(&sb, "… %d more spans not shown: %s\n", n, b.omittedSummary(t, shown))
		v.note = fmt.Sprintf("trace %s: span tree cut to %d of %d spans", shortID(t.TraceID), len(shown), len(t.Spans))
	}
	sb.WriteString(dataClose + "\n")
	v.text = sb.String()
	return b.measure(v)
}

// writeSpan writes one span line and, for the spans a diagnosis turns on,
// its error and excerpts of its payloads.
func (b *evidenceBuilder) writeSpan(sb *strings.Builder, t *oncall.Trace, s *oncall.Span, depth int, detailed bool, excerpt int) {
	indent := strings.Repeat("  ", min(depth, 12))
	fmt.Fprintf(sb, "%s- %s %q span=%s +%s %s", indent, spanKindName(s.Kind), b.clean(s.Name, maxNameLen),
		b.clean(s.SpanID, 64), shortDuration(s.Start.Sub(t.Start)), shortDuration(s.Duration()))
	switch s.Status {
	case oncall.StatusError:
		sb.WriteString(" ERROR")
	case oncall.StatusWarning:
		sb.WriteString(" warning")
	case oncall.StatusOK:
		sb.WriteString(" ok")
	}
	if s.ToolName != "" && s.ToolName != s.Name {
		fmt.Fprintf(sb, " tool=%q", b.clean(s.ToolName, maxNameLen))
	}
	if s.Model != "" {
		fmt.Fprintf(sb, " model=%q", b.clean(s.Model, maxNameLen))
	}
	if s.InputTokens > 0 || s.OutputTokens > 0 {
		fmt.Fprintf(sb, " tokens=%d/%d", s.InputTokens, s.OutputTokens)
	} else if s.TotalTokens > 0 {
		fmt.Fprintf(sb, " tokens=%d", s.TotalTokens)
	}
	if code := spanHTTPStatus(s); code != "" {
		fmt.Fprintf(sb, " http=%s", b.clean(code, 8))
	}
	sb.WriteString("\n")
	pad := indent + "    "
	if msg := spanErrorMessage(s); msg != "" && (s.Failed() || s.Status == oncall.StatusWarning) {
		fmt.Fprintf(sb, "%serror: %s\n", pad, b.clean(msg, maxFieldLen))
	}
	if excerpt == 0 {
		return
	}
	if s.ToolArgs != "" {
		n := excerpt / 3
		if detailed {
			n = excerpt
		}
		fmt.Fprintf(sb, "%sargs: %s\n", pad, b.excerpt(s.ToolArgs, n))
	}
	if detailed {
		if s.Input != "" {
			fmt.Fprintf(sb, "%sinput: %s\n", pad, b.excerpt(s.Input, excerpt))
		}
		if s.Output != "" {
			fmt.Fprintf(sb, "%soutput: %s\n", pad, b.excerpt(s.Output, excerpt))
		}
	}
}

// spanErrorMessage is the span's own account of its failure: exception
// type and message, else the status message.
func spanErrorMessage(s *oncall.Span) string {
	for _, e := range s.Exceptions() {
		msg := e.Attributes["exception.message"]
		if typ := e.Attributes["exception.type"]; typ != "" {
			msg = strings.TrimSpace(typ + ": " + msg)
		}
		if msg != "" {
			return msg
		}
	}
	return s.StatusMessage
}

// spanHTTPStatus reads the OpenTelemetry HTTP status attributes.
func spanHTTPStatus(s *oncall.Span) string {
	for _, k := range []string{"http.response.status_code", "http.status_code"} {
		if v := s.Attributes[k]; v != "" {
			return v
		}
	}
	return ""
}

// omittedSummary names the most common spans left out of a tree, which is
// where loops and fan-outs show.
func (b *evidenceBuilder) omittedSummary(t *oncall.Trace, shown []int) string {
	in := make(map[int]bool, len(shown))
	for _, i := range shown {
		in[i] = true
	}
	type key struct {
		kind oncall.SpanKind
		name string
	}
	counts := map[key]int{}
	errs := 0
	for i := range t.Spans {
		if in[i] {
			continue
		}
		s := &t.Spans[i]
		counts[key{s.Kind, s.Name}]++
		if s.Failed() {
			errs++
		}
	}
	keys := slices.Collect(maps.Keys(counts))
	slices.SortFunc(keys, func(x, y key) int {
		if c := counts[y] - counts[x]; c != 0 {
			return c
		}
		return strings.Compare(string(x.kind)+x.name, string(y.kind)+y.name)
	})
	var parts []string
	for _, k := range keys[:min(len(keys), 3)] {
		parts = append(parts, fmt.Sprintf("%d× %s %q", counts[k], spanKindName(k.kind), b.clean(k.name, 60)))
	}
	if len(keys) > 3 {
		parts = append(parts, "…")
	}
	s := strings.Join(parts, ", ")
	if errs > 0 {
		s += fmt.Sprintf("; %d of them failed", errs)
	}
	return s
}

func spanKindName(k oncall.SpanKind) string {
	if k == "" {
		return string(oncall.KindSpan)
	}
	return string(k)
}
