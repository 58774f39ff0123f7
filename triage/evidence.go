package triage

import (
	"fmt"
	"strings"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/redact"
)

// DefaultEvidenceBudget is the prompt size, in tokens, of a diagnosis when
// EvidenceOptions.Budget is zero.
const DefaultEvidenceBudget = 8000

// EvidenceOptions configure BuildEvidence.
type EvidenceOptions struct {
	// Budget caps the whole diagnosis prompt in tokens: the system
	// message and response schema that Diagnose sends are reserved first,
	// and the evidence text gets the rest. Default DefaultEvidenceBudget.
	Budget int
	// Counter counts tokens; default a conservative estimate.
	Counter TokenCounter
	// Redact hides secrets and personal data in everything taken from
	// alerts and traces. Default: a fresh session of the built-in rules;
	// evidence is never built unredacted.
	Redact *redact.Session
}

// Evidence is what the model is shown of an incident.
type Evidence struct {
	Text   string
	Tokens int // Counter's count of Text
	// Cut says what the budget left out or shortened, for the report.
	Cut []string
	// TraceIDs and SpanIDs are the ids that appear in Text: the only ones
	// a diagnosis may cite.
	TraceIDs map[string]bool
	SpanIDs  map[string]bool
}

// Limits of what the evidence shows, whatever the budget.
const (
	maxEvidenceClusters = 10 // clusters listed
	evidenceEarlyRanks  = 5  // clusters and suspects that come before the first trace
	maxEvidenceSuspects = 10
	maxClusterExamples  = 3 // example trace/span ids per cluster
	maxEvidenceTraces   = 3 // failing example traces rendered, besides the healthy one
)

// BuildEvidence renders the report and its representative traces as the
// text of a diagnosis prompt, within the token budget whatever the volume
// of traces.
//
// Parts go in by priority: the alert and the top cluster with its example
// error always; then the next clusters and the strongest suspects; the
// span tree of the top cluster's first example; the remaining clusters
// and suspects; the examples of the next clusters and a healthy run for
// contrast. A part that does not fit is shortened (fewer spans, shorter
// excerpts) or left out, and Cut says so. Everything taken from traces
// and alerts is redacted, stripped of control characters, and the trace
// parts sit between <trace_data> delimiters that the content cannot
// close.
func BuildEvidence(rep oncall.Report, traces []oncall.Trace, opts EvidenceOptions) Evidence {
	if opts.Counter == nil {
		opts.Counter = estimateCounter{}
	}
	if opts.Budget <= 0 {
		opts.Budget = DefaultEvidenceBudget
	}
	if opts.Redact == nil {
		r, err := redact.New(redact.Options{})
		if err != nil {
			panic(fmt.Sprintf("triage: built-in redaction rules do not compile: %v", err))
		}
		opts.Redact = r.Session()
	}
	b := &evidenceBuilder{
		rep:    rep,
		traces: make(map[string]*oncall.Trace, len(traces)),
		count:  opts.Counter,
		red:    opts.Redact,
		budget: opts.Budget - promptOverhead(opts.Counter),
	}
	for i := range traces {
		if _, dup := b.traces[traces[i].TraceID]; !dup {
			b.traces[traces[i].TraceID] = &traces[i]
		}
	}
	return b.build()
}

// Document sections, in the order they appear.
const (
	secHeader = iota
	secClusters
	secSuspects
	secTraces
	numSections
)

// evidencePart is one unit of evidence with its renderings, largest first.
type evidencePart struct {
	section, order int
	mandatory      bool
	renderings     []func() rendering
	rendered       []*rendering // cache
	chosen         int          // index into renderings; -1 when left out
	omitted        string       // what Cut says when the part is left out
}

type rendering struct {
	text     string
	tokens   int
	traceIDs []string
	spanIDs  []string
	note     string // what Cut says when this rendering is used
}

func (p *evidencePart) rendering(i int) *rendering {
	if p.rendered == nil {
		p.rendered = make([]*rendering, len(p.renderings))
	}
	if p.rendered[i] == nil {
		v := p.renderings[i]()
		p.rendered[i] = &v
	}
	return p.rendered[i]
}

type evidenceBuilder struct {
	rep    oncall.Report
	traces map[string]*oncall.Trace
	count  TokenCounter
	red    *redact.Session
	budget int // tokens for the text
	parts  []*evidencePart
}

func (b *evidenceBuilder) build() Evidence {
	priority := b.plan()
	b.selectParts(priority)
	text := b.assemble()
	n := b.count.Count(text)
	// Parts were counted one by one; the whole may differ slightly. Shed
	// the last chosen parts until the text fits.
	for n > b.budget && b.shed(priority) {
		text = b.assemble()
		n = b.count.Count(text)
	}
	var cut []string
	if n > b.budget {
		text, n = b.truncate(text)
		cut = append(cut, fmt.Sprintf("evidence truncated to fit a budget of %d tokens", b.budget))
	}
	ev := Evidence{Text: text, Tokens: n, TraceIDs: map[string]bool{}, SpanIDs: map[string]bool{}}
	for _, p := range b.parts {
		if p.chosen < 0 {
			if p.omitted != "" {
				cut = append(cut, p.omitted)
			}
			continue
		}
		v := p.rendering(p.chosen)
		if v.note != "" {
			cut = append(cut, v.note)
		}
		for _, id := range v.traceIDs {
			if id != "" && strings.Contains(text, id) {
				ev.TraceIDs[id] = true
			}
		}
		for _, id := range v.spanIDs {
			if id != "" && strings.Contains(text, id) {
				ev.SpanIDs[id] = true
			}
		}
	}
	ev.Cut = append(b.summaryCuts(), cut...)
	return ev
}

// plan creates the parts and returns them in priority order.
func (b *evidenceBuilder) plan() []*evidencePart {
	add := func(p *evidencePart) *evidencePart {
		p.chosen = -1
		b.parts = append(b.parts, p)
		return p
	}
	header := add(&evidencePart{section: secHeader, mandatory: true, renderings: []func() rendering{
		func() rendering { return b.headerVariant(true) },
		func() rendering { return b.headerVariant(false) },
	}})
	var clusters []*evidencePart
	cs := b.rep.Clusters
	for i := 0; i < len(cs) && i < maxEvidenceClusters; i++ {
		i := i
		clusters = append(clusters, add(&evidencePart{
			section: secClusters, order: i, mandatory: i == 0,
			renderings: []func() rendering{
				func() rendering { return b.clusterVariant(i, true) },
				func() rendering { return b.clusterVariant(i, false) },
			},
		}))
	}
	if len(cs) == 0 {
		clusters = append(clusters, add(&evidencePart{section: secClusters, mandatory: true, renderings: []func() rendering{
			func() rendering {
				return b.measure(rendering{text: "No failure, latency or cost pattern stood out.\n"})
			},
		}}))
	}
	var suspects []*evidencePart
	for i := 0; i < len(b.rep.Suspects) && i < maxEvidenceSuspects; i++ {
		i := i
		suspects = append(suspects, add(&evidencePart{
			section: secSuspects, order: i,
			renderings: []func() rendering{func() rendering { return b.suspectVariant(i) }},
		}))
	}
	traces := b.traceParts(add)

	order := []*evidencePart{header}
	order = append(order, clusters[:min(len(clusters), evidenceEarlyRanks)]...)
	order = append(order, suspects[:min(len(suspects), evidenceEarlyRanks)]...)
	if len(traces) > 0 {
		order = append(order, traces[0])
	}
	order = append(order, clusters[min(len(clusters), evidenceEarlyRanks):]...)
	order = append(order, suspects[min(len(suspects), evidenceEarlyRanks):]...)
	if len(traces) > 1 {
		order = append(order, traces[1:]...)
	}
	return order
}

// selectParts fills the budget greedily in priority order, taking the
// largest rendering of each part that fits. Mandatory parts go in even
// when they do not fit, at their smallest.
func (b *evidenceBuilder) selectParts(priority []*evidencePart) {
	left := b.budget
	used := make([]bool, numSections)
	for _, p := range priority {
		frame := 0
		if !used[p.section] {
			frame = b.frameTokens(p.section)
		}
		for i := range p.renderings {
			if v := p.rendering(i); v.tokens+frame <= left {
				p.chosen = i
				break
			}
		}
		if p.chosen < 0 && p.mandatory {
			p.chosen = len(p.renderings) - 1
		}
		if p.chosen >= 0 {
			left -= p.rendering(p.chosen).tokens + frame
			used[p.section] = true
		}
	}
}

// shed shrinks or drops the lowest-priority optional part chosen; false
// when there is none.
func (b *evidenceBuilder) shed(priority []*evidencePart) bool {
	for i := len(priority) - 1; i >= 0; i-- {
		p := priority[i]
		if p.chosen < 0 || p.mandatory {
			continue
		}
		if p.chosen < len(p.renderings)-1 {
			p.chosen++
		} else {
			p.chosen = -1
		}
		return true
	}
	return false
}

// truncate cuts text to the budget: the last resort when even the
// mandatory parts are too large for it.
func (b *evidenceBuilder) truncate(text string) (string, int) {
	const marker = "\n[evidence truncated]\n"
	fit := func(n int) (string, int) {
		t := text[:runeStart(text, n)]
		if strings.Count(t, dataOpen) > strings.Count(t, dataClose) {
			t += "\n" + dataClose
		}
		t += marker
		return t, b.count.Count(t)
	}
	lo, hi := 0, len(text)
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if _, n := fit(mid); n <= b.budget {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	t, n := fit(lo)
	if n > b.budget {
		return "", 0
	}
	return t, n
}

// runeStart moves i back to the start of the rune it falls in.
func runeStart(s string, i int) int {
	for i > 0 && i < len(s) && s[i]&0xC0 == 0x80 {
		i--
	}
	return i
}

// assemble lays the chosen parts out in document order.
func (b *evidenceBuilder) assemble() string {
	var sb strings.Builder
	for sec := 0; sec < numSections; sec++ {
		var chosen []*evidencePart
		for _, p := range b.parts {
			if p.section == sec && p.chosen >= 0 {
				chosen = append(chosen, p)
			}
		}
		if len(chosen) == 0 {
			continue
		}
		open, close := b.frame(sec)
		sb.WriteString(open)
		for _, p := range chosen {
			sb.WriteString(p.rendering(p.chosen).text)
		}
		sb.WriteString(b.sectionFooter(sec, len(chosen)))
		sb.WriteString(close)
	}
	return sb.String()
}

// frame returns the heading and closing of a section.
func (b *evidenceBuilder) frame(sec int) (open, close string) {
	switch sec {
	case secClusters:
		return "\n# Clusters, ranked by change against the baseline window\n" + dataOpen + "\n", dataClose + "\n"
	case secSuspects:
		return "\n# What changed: attribute values over-represented in failing runs\n" + dataOpen + "\n", dataClose + "\n"
	case secTraces:
		return "\n# Representative traces (condensed span trees: kind, name, span id, start offset, duration, status)\n", ""
	}
	return "", ""
}

func (b *evidenceBuilder) frameTokens(sec int) int {
	open, close := b.frame(sec)
	// A footer such as "(7 more clusters not shown)" may follow.
	return b.count.Count(open+close) + 12
}

func (b *evidenceBuilder) sectionFooter(sec, shown int) string {
	switch sec {
	case secClusters:
		if n := len(b.rep.Clusters) - shown; n > 0 && len(b.rep.Clusters) > 0 {
			return fmt.Sprintf("(%d lower-ranked clusters not shown)\n", n)
		}
	case secSuspects:
		if n := len(b.rep.Suspects) - shown; n > 0 {
			return fmt.Sprintf("(%d more suspects not shown)\n", n)
		}
	}
	return ""
}

// summaryCuts says how many clusters and suspects were left out.
func (b *evidenceBuilder) summaryCuts() []string {
	var out []string
	shown := map[int]int{}
	for _, p := range b.parts {
		if p.chosen >= 0 {
			shown[p.section]++
		}
	}
	if n := len(b.rep.Clusters); n > 0 && shown[secClusters] < n {
		out = append(out, fmt.Sprintf("%d of %d clusters", shown[secClusters], n))
	}
	if n := len(b.rep.Suspects); n > 0 && shown[secSuspects] < n {
		out = append(out, fmt.Sprintf("%d of %d suspects", shown[secSuspects], n))
	}
	return out
}

// measure counts a rendering's tokens.
func (b *evidenceBuilder) measure(v rendering) rendering {
	v.tokens = b.count.Count(v.text)
	return v
}

// shortID abbreviates an id for Cut notes, which people read.
func shortID(id string) string {
	if len(id) > 8 {
		return id[:8] + "…"
	}
	return id
}
