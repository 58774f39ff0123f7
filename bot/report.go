package bot

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// How much of each list a report shows; what is left out is counted in
// the text.
const (
	topClusters      = 5
	maxSuspects      = 8
	maxEvidence      = 10
	clusterExamples  = 3
	sectionHeadroom  = 100 // kept free in a section for a heading
	messageHeadroom  = 200 // kept free in a message for the part marker
	fallbackSummary  = 300
	summaryChars     = 6000
	causeDetailChars = 2000
)

// RenderReport renders a triage report as thread replies, one []slack.Block
// per message, in the order they are to be posted. Content that does not
// fit one message's limits (50 blocks, 3,000 characters a section, about
// 12,000 a message) continues in the next, marked "Part i of n".
func RenderReport(inc oncall.Incident, rep oncall.Report, opts RenderOptions) [][]slack.Block {
	msgs := renderReport(inc, rep, opts)
	out := make([][]slack.Block, len(msgs))
	for i, m := range msgs {
		out[i] = m.blocks
	}
	return out
}

// ReportFallback returns the plain text of each message RenderReport
// renders, same length and order.
func ReportFallback(inc oncall.Incident, rep oncall.Report, opts RenderOptions) []string {
	msgs := renderReport(inc, rep, opts)
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.text
	}
	return out
}

// reportTitlePrefix starts the notification text of every report
// message.
const reportTitlePrefix = "🔍 Triage of "

// message is one chat message: its notification text and its blocks.
type message struct {
	text   string
	blocks []slack.Block
}

func renderReport(inc oncall.Incident, rep oncall.Report, opts RenderOptions) []message {
	r := renderer{opts}
	alert := rep.Alert
	if alert.Name == "" {
		alert = inc.Alert
	}
	d := rep.Diagnosis

	var blocks []slack.Block
	blocks = append(blocks, section(":mag: *Triage of "+r.line(alertName(alert), 200)+"*"))
	if w := window(rep); w != "" {
		blocks = append(blocks, contextBlock(w))
	}
	if sel := rep.Selection.Describe(); sel != "" {
		blocks = append(blocks, contextBlock(r.line(sel, 1200)))
	}
	switch {
	case d == nil:
		blocks = append(blocks, section(":information_source: *No diagnosis was produced.* "+
			"What follows is the deterministic analysis: failing traces clustered and compared with the baseline."))
	case d.Offline != "":
		blocks = append(blocks, section(":information_source: *Deterministic analysis, no model diagnosis* ("+
			r.line(d.Offline, 300)+"). Causes and fixes below come from clustering the failing traces "+
			"and comparing them with the baseline, not from a model."))
	}
	if d != nil && strings.TrimSpace(d.Summary) != "" {
		blocks = append(blocks, textSections("*Summary*", r.clip(d.Summary, summaryChars))...)
	}
	if d != nil && len(d.Causes) > 0 {
		blocks = append(blocks, itemSections("*Probable causes*", r.causes(d.Causes))...)
	}
	blocks = append(blocks, r.clusters(rep)...)
	if len(rep.Suspects) > 0 {
		blocks = append(blocks, listSections("*What changed*", r.suspects(rep.Suspects))...)
	}
	if d != nil && len(d.Fixes) > 0 {
		blocks = append(blocks, listSections("*Suggested fixes*", r.fixes(d.Fixes))...)
	}
	if d != nil && len(d.NextSteps) > 0 {
		var steps []string
		for i, s := range d.NextSteps {
			steps = append(steps, fmt.Sprintf("%d. %s", i+1, r.clip(s, 800)))
		}
		blocks = append(blocks, listSections("*Next steps*", steps)...)
	}
	if gaps := r.gaps(rep); len(gaps) > 0 {
		blocks = append(blocks, listSections("*What this analysis could not see*", gaps)...)
	}
	if u := r.reportURL(inc); u != "" {
		blocks = append(blocks, contextBlock(link(u, ":page_facing_up: Open the full report")+": onset chart, ruled-out clusters, span waterfalls"))
	}
	blocks = append(blocks, contextBlock(r.footer(rep)...))

	parts := pack(blocks)
	if inc.Key != "" && !opts.WithoutButtons {
		// The buttons go under the end of the report; pack left room.
		last := len(parts) - 1
		parts[last] = append(parts[last], RenderActions(inc))
	}
	title := reportTitlePrefix + r.line(alertName(alert), 200)
	msgs := make([]message, len(parts))
	for i, p := range parts {
		msgs[i] = message{blocks: p, text: title}
		switch {
		case i > 0:
			msgs[i].text += fmt.Sprintf(" (part %d of %d)", i+1, len(parts))
		case d != nil && strings.TrimSpace(d.Summary) != "":
			msgs[i].text += ": " + r.line(d.Summary, fallbackSummary)
		case len(rep.Clusters) == 0:
			msgs[i].text += ": no failure clusters in " + traces(rep.TracesExamined)
		default:
			msgs[i].text += fmt.Sprintf(": %d failure clusters in %s", len(rep.Clusters), traces(rep.TracesExamined))
		}
	}
	return msgs
}

// window describes what was compared with what.
func window(rep oncall.Report) string {
	var parts []string
	if !rep.WindowStart.IsZero() && !rep.WindowEnd.IsZero() {
		s := "Window " + clock(rep.WindowStart, time.Time{}) + "–" + clock(rep.WindowEnd, rep.WindowStart)
		if !rep.BaselineStart.IsZero() {
			s += " vs baseline from " + clock(rep.BaselineStart, rep.WindowStart)
		}
		parts = append(parts, s+" UTC")
	}
	if o := rep.OnsetText(); o != "" {
		parts = append(parts, "Incident "+o)
	}
	if q := question(rep.AlertKind); q != "" {
		parts = append(parts, q)
	}
	if rep.FailingTraces > 0 {
		s := fmt.Sprintf("%s of %s traces failing", count(rep.FailingTraces), count(rep.TracesExamined))
		if rep.FailuresPerMinute > 0 {
			s += fmt.Sprintf(" (%s/min)", strconv.FormatFloat(rep.FailuresPerMinute, 'f', 1, 64))
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "  ·  ")
}

func question(k oncall.AlertKind) string {
	switch k {
	case oncall.AlertKindErrors:
		return "asked: what started failing"
	case oncall.AlertKindLatency:
		return "asked: what got slower"
	case oncall.AlertKindCost:
		return "asked: what spends more"
	}
	return ""
}

// clock is t in UTC as 15:04, with the date when it differs from ref's.
func clock(t, ref time.Time) string {
	t = t.UTC()
	if !ref.IsZero() && t.YearDay() == ref.UTC().YearDay() && t.Year() == ref.UTC().Year() {
		return t.Format("15:04")
	}
	return t.Format("Jan 2 15:04")
}

func (r renderer) causes(causes []oncall.Cause) []string {
	var out []string
	for i, c := range causes {
		var b strings.Builder
		fmt.Fprintf(&b, "*%d. %s*", i+1, r.line(c.Title, 300))
		if c.Confidence != "" {
			fmt.Fprintf(&b, "  ·  _%s confidence_", r.line(string(c.Confidence), 20))
		}
		if strings.TrimSpace(c.Detail) != "" {
			b.WriteString("\n" + r.clip(c.Detail, causeDetailChars))
		}
		if len(c.Evidence) == 0 {
			b.WriteString("\n_no trace cited_")
		}
		for j, e := range c.Evidence {
			if j == maxEvidence {
				fmt.Fprintf(&b, "\n_…and %d more cited spans not shown_", len(c.Evidence)-maxEvidence)
				break
			}
			b.WriteString("\n• " + r.traceRef(e.TraceID, e.SpanID))
			if strings.TrimSpace(e.Note) != "" {
				b.WriteString(" — " + r.line(e.Note, 300))
			}
		}
		out = append(out, b.String())
	}
	return out
}

func (r renderer) clusters(rep oncall.Report) []slack.Block {
	heading := "*Failure clusters*"
	if len(rep.Clusters) == 0 {
		return []slack.Block{section(heading + "\nNo failure clusters were found in the window.")}
	}
	if len(rep.Clusters) > topClusters {
		heading += fmt.Sprintf("  _(top %d of %d, ranked by change against the baseline)_", topClusters, len(rep.Clusters))
	}
	var items []string
	for i, c := range rep.Clusters {
		if i == topClusters {
			break
		}
		items = append(items, r.cluster(i+1, c))
	}
	blocks := itemSections(heading, items)
	if rep.HealthyExample != "" {
		blocks = append(blocks, contextBlock("Healthy trace for contrast: "+r.traceRef(rep.HealthyExample, "")))
	}
	return blocks
}

func (r renderer) cluster(n int, c oncall.Cluster) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d.* %s — ", n, r.code(c.Signature, 200))
	switch {
	case c.New || c.BaselineCount == 0:
		fmt.Fprintf(&b, "*new*: %s now, none in the baseline", traces(c.Count))
	default:
		fmt.Fprintf(&b, "%s now", traces(c.Count))
		if c.Rate > 0 {
			fmt.Fprintf(&b, " (%s)", percent(c.Rate))
		}
		fmt.Fprintf(&b, " vs %d in the baseline", c.BaselineCount)
		if c.BaselineRate > 0 {
			fmt.Fprintf(&b, " (%s)", percent(c.BaselineRate))
			if c.Rate > 0 {
				fmt.Fprintf(&b, ", ×%s", strconv.FormatFloat(c.Rate/c.BaselineRate, 'f', 1, 64))
			}
		}
	}
	var where []string
	if c.Kind != "" {
		where = append(where, r.line(c.Kind, 40))
	}
	if c.SpanName != "" {
		span := "in "
		if c.SpanKind != "" {
			span += r.line(string(c.SpanKind), 30) + " span "
		}
		where = append(where, span+r.code(c.SpanName, 150))
	}
	if c.ToolName != "" && c.ToolName != c.SpanName {
		where = append(where, "tool "+r.code(c.ToolName, 150))
	}
	if len(where) > 0 {
		b.WriteString("\n" + strings.Join(where, " · "))
	}
	if strings.TrimSpace(c.Error) != "" {
		b.WriteString("\n> " + r.line(c.Error, 600))
	}
	if strings.TrimSpace(c.Detail) != "" {
		b.WriteString("\n" + r.line(c.Detail, 300))
	}
	if len(c.TraceIDs) > 0 {
		var refs []string
		for i, id := range c.TraceIDs {
			if i == clusterExamples {
				refs = append(refs, fmt.Sprintf("%d more", len(c.TraceIDs)-clusterExamples))
				break
			}
			span := ""
			if i < len(c.SpanIDs) {
				span = c.SpanIDs[i]
			}
			refs = append(refs, r.traceRef(id, span))
		}
		b.WriteString("\nExamples: " + strings.Join(refs, ", "))
	}
	return b.String()
}

func (r renderer) suspects(ss []oncall.Suspect) []string {
	var out []string
	for i, s := range ss {
		if i == maxSuspects {
			out = append(out, fmt.Sprintf("_…and %d more attributes not shown_", len(ss)-maxSuspects))
			break
		}
		line := fmt.Sprintf("• %s = %s — in %d/%d failing traces vs %d/%d healthy",
			r.code(s.Attribute, 200), r.code(s.Value, 200), s.FailingCount, s.FailingTotal, s.HealthyCount, s.HealthyTotal)
		if s.BaselineValue != "" {
			line += " (healthy traces mostly had " + r.code(s.BaselineValue, 200) + ")"
		}
		out = append(out, line)
	}
	return out
}

// fixTypes names the kinds of fix a diagnosis suggests.
var fixTypes = map[string]string{
	"prompt":         "Prompt",
	"tool":           "Tool",
	"harness":        "Harness",
	"model_provider": "Model/provider",
	"config_infra":   "Config/infra",
}

func (r renderer) fixes(fs []oncall.Fix) []string {
	var out []string
	for _, f := range fs {
		kind, ok := fixTypes[strings.ToLower(f.Type)]
		if !ok {
			kind = r.line(f.Type, 40)
		}
		line := "• "
		if kind != "" {
			line += "*" + kind + "*: "
		}
		line += r.clip(f.Change, 1500)
		if strings.TrimSpace(f.Where) != "" {
			line += " _(in " + r.line(f.Where, 300) + ")_"
		}
		out = append(out, line)
	}
	return out
}

// gaps lists what the analysis could not see or left out.
func (r renderer) gaps(rep oncall.Report) []string {
	var out []string
	for _, m := range rep.Missing {
		out = append(out, "• "+r.line(m, 500))
	}
	for _, c := range rep.EvidenceCut {
		out = append(out, "• Left out of the model's prompt by its token budget: "+r.line(c, 500))
	}
	if d := rep.Diagnosis; d != nil && d.Dropped > 0 {
		out = append(out, fmt.Sprintf("• %d citations of ids not in the evidence were removed from the model's answer", d.Dropped))
	}
	return out
}

// footer says how the report was made and what it cost.
func (r renderer) footer(rep oncall.Report) []string {
	var parts []string
	switch d := rep.Diagnosis; {
	case d != nil && d.Offline != "":
		parts = append(parts, "Offline analysis: "+r.line(d.Offline, 200))
	case d != nil && d.Model != "":
		parts = append(parts, "Model "+r.code(d.Model, 100))
	case d == nil:
		parts = append(parts, "No model diagnosis")
	}
	u := rep.Usage
	if u.PromptTokens+u.CompletionTokens > 0 {
		s := fmt.Sprintf("%s prompt + %s completion tokens", count(u.PromptTokens), count(u.CompletionTokens))
		if u.Calls > 1 {
			s += fmt.Sprintf(" in %d calls", u.Calls)
		}
		parts = append(parts, s)
	}
	if u.Cost > 0 {
		parts = append(parts, cost(u.Cost))
	}
	if rep.Duration > 0 {
		parts = append(parts, "took "+rep.Duration.Round(100*time.Millisecond).String())
	}
	s := traces(rep.TracesExamined) + " examined"
	if rep.BaselineTraces > 0 {
		s += fmt.Sprintf(" (%s in the baseline)", count(rep.BaselineTraces))
	}
	return append(parts, s)
}

func traces(n int) string {
	if n == 1 {
		return "1 trace"
	}
	return count(n) + " traces"
}

// count formats n with thousands separators.
func count(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + count(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func percent(f float64) string {
	p := f * 100
	if p < 1 {
		return strconv.FormatFloat(p, 'f', 1, 64) + "%"
	}
	return strconv.FormatFloat(p, 'f', 0, 64) + "%"
}

func cost(usd float64) string {
	if usd < 1 {
		return "$" + strconv.FormatFloat(usd, 'f', 4, 64)
	}
	return "$" + strconv.FormatFloat(usd, 'f', 2, 64)
}

// textSections puts a heading and long safe text in as many sections as
// the text needs.
func textSections(heading, text string) []slack.Block {
	var out []slack.Block
	for i, piece := range splitText(text, maxSectionChars-sectionHeadroom) {
		if i == 0 {
			piece = heading + "\n" + piece
		}
		out = append(out, section(piece))
	}
	return out
}

// itemSections gives each item its own section, the heading on the
// first; an item too long for one section continues in the next.
func itemSections(heading string, items []string) []slack.Block {
	var out []slack.Block
	for i, it := range items {
		if i == 0 {
			it = heading + "\n" + it
		}
		for _, piece := range splitText(it, maxSectionChars) {
			out = append(out, section(piece))
		}
	}
	return out
}

// listSections puts short items in one section under a heading, starting
// another when the next item would pass the section limit.
func listSections(heading string, items []string) []slack.Block {
	var out []slack.Block
	cur := heading
	for _, it := range items {
		for _, piece := range splitText(it, maxSectionChars-sectionHeadroom) {
			if slackLen(cur)+1+slackLen(piece) > maxSectionChars {
				out = append(out, section(cur))
				cur = heading + " _(continued)_"
			}
			cur += "\n" + piece
		}
	}
	return append(out, section(cur))
}

// pack distributes blocks over messages within Slack's per-message limits,
// in order, and marks each message "Part i of n" when there are several.
// It leaves room in each message for the part marker and one more block
// (the buttons under a report).
func pack(blocks []slack.Block) [][]slack.Block {
	var msgs [][]slack.Block
	var cur []slack.Block
	chars := 0
	for _, b := range blocks {
		n := blockText(b)
		if len(cur) > 0 && (len(cur)+1 > maxBlocks-2 || chars+n > maxMessageChars-messageHeadroom) {
			msgs = append(msgs, cur)
			cur, chars = nil, 0
		}
		cur = append(cur, b)
		chars += n
	}
	if len(cur) > 0 {
		msgs = append(msgs, cur)
	}
	if len(msgs) > 1 {
		for i := range msgs {
			msgs[i] = append(msgs[i], contextBlock(fmt.Sprintf("Part %d of %d", i+1, len(msgs))))
		}
	}
	return msgs
}
