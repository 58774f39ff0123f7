package triage

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// Caps on text taken from alerts and reports, in runes.
const (
	maxFieldLen     = 300 // summaries, errors, details
	maxNameLen      = 120 // names and label values
	maxLabels       = 20
	maxMissingNotes = 5
)

func (b *evidenceBuilder) headerVariant(full bool) variant {
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
		fmt.Fprintf(&sb, "Incident window: %s to %s (%s)", stamp(rep.WindowStart), stamp(rep.WindowEnd), rep.WindowEnd.Sub(rep.WindowStart))
		if !rep.BaselineStart.IsZero() {
			fmt.Fprintf(&sb, "; baseline window from %s", stamp(rep.BaselineStart))
		}
		sb.WriteString("\n")
	}
	fmt.Fprintf(&sb, "Traces examined: %d in the incident window, %d failing (%.2f failures/min); %d in the baseline window\n",
		rep.TracesExamined, rep.FailingTraces, rep.FailuresPerMinute, rep.BaselineTraces)
	v := variant{}
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

func (b *evidenceBuilder) clusterVariant(i int, full bool) variant {
	c := &b.rep.Clusters[i]
	var sb strings.Builder
	limit := maxFieldLen
	if !full {
		limit = 150
	}
	sig := b.clean(c.Signature, limit)
	fmt.Fprintf(&sb, "%d. %s\n", i+1, sig)
	fmt.Fprintf(&sb, "   incident: %d traces (%s)", c.Count, percent(c.Rate))
	if b.rep.BaselineTraces > 0 || c.BaselineCount > 0 {
		fmt.Fprintf(&sb, "; baseline: %d traces (%s)", c.BaselineCount, percent(c.BaselineRate))
	}
	if c.New {
		sb.WriteString("; new")
	}
	fmt.Fprintf(&sb, "; score %.2f", c.Score)
	if full && !c.FirstSeen.IsZero() {
		fmt.Fprintf(&sb, "; first seen %s", stamp(c.FirstSeen))
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
	v := variant{}
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

func (b *evidenceBuilder) suspectVariant(i int) variant {
	s := &b.rep.Suspects[i]
	var sb strings.Builder
	fmt.Fprintf(&sb, "- %s = %q: %d of %d failing runs, %d of %d healthy runs",
		b.clean(s.Attribute, maxNameLen), b.clean(s.Value, maxNameLen), s.FailingCount, s.FailingTotal, s.HealthyCount, s.HealthyTotal)
	if s.BaselineValue != "" {
		fmt.Fprintf(&sb, "; healthy runs mostly had %q", b.clean(s.BaselineValue, maxNameLen))
	}
	sb.WriteString("\n")
	return b.measure(variant{text: sb.String()})
}

// traceParts creates a part for each representative trace: the first
// example of the top clusters, then the healthy example.
func (b *evidenceBuilder) traceParts(add func(*part) *part) []*part {
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
	var out []*part
	for i, pk := range picks {
		t := b.traces[pk.id]
		if t == nil || len(t.Spans) == 0 {
			continue
		}
		sizes := []traceSize{{40, 300}, {20, 160}, {10, 80}, {5, 0}}
		if i > 0 {
			sizes = sizes[1:]
		}
		p := &part{section: secTraces, order: i, omitted: fmt.Sprintf("trace %s (%s) left out", shortID(pk.id), pk.role)}
		var tree *evidenceTree // built once, for the first rendering asked for
		for _, sz := range sizes {
			p.variants = append(p.variants, func() variant {
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

func (b *evidenceBuilder) traceVariant(tree *evidenceTree, role string, focus map[string]bool, sz traceSize) variant {
	t := tree.t
	shown := tree.choose(focus, sz.spans)
	v := variant{traceIDs: []string{t.TraceID}}
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
	fmt.Fprintf(&sb, ", %d spans, %s, started %s, %s\n", len(t.Spans), duration(t.Duration()), stamp(t.Start), status)
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
		b.clean(s.SpanID, 64), duration(s.Start.Sub(t.Start)), duration(s.Duration()))
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

// redactWindow is how far past a cut the redactor reads, so that a secret
// straddling the cut is still recognised whole.
const redactWindow = 512

// clean makes untrusted text safe to show: it reads at most what it needs
// of a long text, redacts it, drops control and formatting characters,
// collapses whitespace, defuses the data delimiters and caps the length.
func (b *evidenceBuilder) clean(s string, max int) string {
	if s == "" {
		return ""
	}
	if len(s) > 4*max+redactWindow {
		s = s[:runeStart(s, 4*max+redactWindow)]
	}
	return capRunes(flatten(b.red.String(s)), max)
}

// excerpt shows the start and the end of a payload, n runes each, and how
// much was skipped between them. Each end is redacted with some context
// before it is cut, so whole payloads are never read.
func (b *evidenceBuilder) excerpt(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if short := 2*n + 40; len(s) <= short || (len(s) <= 4*short && utf8.RuneCountInString(s) <= short) {
		return b.clean(s, short)
	}
	headEnd := runeStart(s, min(len(s), 4*n+redactWindow))
	tailStart := runeStart(s, max(0, len(s)-4*n-redactWindow))
	head := capRunes(flatten(b.red.String(s[:headEnd])), n)
	tail := lastRunes(flatten(b.red.String(s[tailStart:])), n)
	return fmt.Sprintf("%s … [%d chars skipped] … %s", strings.TrimSuffix(head, "…"), utf8.RuneCountInString(s)-2*n, tail)
}

// flatten drops control and invisible formatting characters, turns
// whitespace runs into one space and defuses delimiter look-alikes.
func flatten(s string) string {
	var sb strings.Builder
	sb.Grow(len(s))
	space := false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			space = true
			continue
		case r == utf8.RuneError, unicode.IsControl(r), unicode.Is(unicode.Cf, r):
			continue
		}
		if space && sb.Len() > 0 {
			sb.WriteByte(' ')
		}
		space = false
		sb.WriteRune(r)
	}
	return defuseDelimiters(sb.String())
}

// defuseDelimiters replaces the "<" of anything that reads as a
// trace_data tag, so content cannot end its data block and speak as the
// report.
func defuseDelimiters(s string) string {
	lower := strings.ToLower(s)
	if !strings.Contains(lower, "trace_data") {
		return s
	}
	b := []byte(s)
	for off := 0; ; {
		i := strings.Index(lower[off:], "trace_data")
		if i < 0 {
			break
		}
		at := off + i
		j := at - 1
		for j >= 0 && (b[j] == ' ' || b[j] == '/') {
			j--
		}
		if j >= 0 && b[j] == '<' {
			b[j] = '('
		}
		off = at + len("trace_data")
	}
	return string(b)
}

// capRunes cuts s to n runes, marking the cut.
func capRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for k := 0; k < n; k++ {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return strings.TrimSpace(s[:i]) + "…"
}

// lastRunes keeps the last n runes of s.
func lastRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := len(s)
	for k := 0; k < n; k++ {
		_, size := utf8.DecodeLastRuneInString(s[:i])
		i -= size
	}
	return strings.TrimSpace(s[i:])
}

// duration prints a duration compactly: 850ms, 1.25s, 3m20s.
func duration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0ms"
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format(time.RFC3339)
}

func percent(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) }
