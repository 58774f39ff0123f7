package incidentpage

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// Limits of what one page shows, so it stays small whatever the traces
// hold.
const (
	maxRows        = 150 // waterfall rows per trace
	maxExcerpt     = 600 // runes of an input, output or argument excerpt
	maxCompareRows = 60
	maxTextRunes   = 2000
	maxRowError    = 400 // runes of a span's error on its row
	// excerptBudget caps the escaped bytes of all span errors and
	// excerpts on one page, so it stays under 2 MB whatever the traces
	// hold; rows past it show their kind, name, timing and status only.
	excerptBudget = 500_000
)

// pageView is everything the incident template shows.
type pageView struct {
	Key        string
	Title      string
	Status     string
	StatusNote string
	Severity   string
	Service    string
	Summary    string
	Labels     []kv
	Lifecycle  []event
	Links      []link
	Triaged    bool
	Window     string
	Selection  *selectionView
	Missing    []string
	Onset      onsetChart
	Ranked     []clusterView
	RuledOut   []clusterView
	Suspects   []suspectView
	Diagnosis  *diagnosisView
	Traces     []traceView
	Compare    *compareView
	Answers    []answerView
	Feedback   string
	Generated  string
	IndexURL   string
	NoEvidence bool
}

type kv struct{ K, V string }

type event struct{ At, What string }

type link struct{ URL, Label string }

type selectionView struct {
	Source          string
	Filters         []kv
	Unmapped        string
	Incident        string
	Baseline        string
	IncidentTraces  int
	BaselineTraces  int
	FailingTraces   int
	Read            int
	MaxTraces       int
	NamedByAlert    int
	FailuresPerMin  string
	RedactionNotice string
}

type clusterView struct {
	Rank      int
	Class     string // the chart colour of a top cluster
	Kind      string
	Where     string
	Error     string
	Detail    string
	Count     int
	Baseline  int
	Rate      string
	BaseRate  string
	New       bool
	Reason    string
	Examples  []citeView
	FirstSeen string
}

type suspectView struct {
	Attribute, Value, Baseline string
	Failing, Healthy           string
}

type diagnosisView struct {
	Summary   string
	Causes    []causeView
	Fixes     []kv
	NextSteps []string
	By        string
	Dropped   int
}

type causeView struct {
	Title, Detail, Confidence string
	Evidence                  []citeView
}

// citeView is a trace or span id, linked to its place on the page when
// it is there.
type citeView struct {
	Label  string
	Anchor string
	Note   string
}

type traceView struct {
	ID       string
	Anchor   string
	Name     string
	Role     string
	Duration string
	Failed   bool
	Rows     []rowView
	More     int
	Start    string
	Cut      bool // excerpts left out to keep the page small
}

type rowView struct {
	Anchor   string
	Depth    int
	Indent   int
	Kind     string
	Name     string
	Duration string
	Status   string
	Error    string
	Left     string // percent
	Width    string // percent
	Input    string
	Output   string
	Args     string
	Model    string
	Tokens   string
	HasMore  bool
	Failed   bool
	Diverged bool
}

type compareView struct {
	Agent     string
	Failing   traceRef
	Healthy   traceRef
	Steps     []stepPair
	Diverge   int // index of the first divergent step, -1 for none
	DivergeAt string
	More      int
}

type traceRef struct{ ID, Anchor, Duration string }

type stepPair struct {
	N          int
	Left       *stepView
	Right      *stepView
	Diverged   bool
	FirstBreak bool
}

type stepView struct {
	Anchor, Kind, Name, Duration, Status, Error string
	Failed                                      bool
}

type answerView struct {
	User, At, Question, Answer string
}

// build turns an incident and its investigation (nil when none was kept)
// into what the page shows. red is applied to every text taken from
// alerts, traces, the model or people, as on Slack.
func build(inc oncall.Incident, inv *oncall.Investigation, red func(string) string, now time.Time) pageView {
	t := func(s string) string { return clip(red(s), maxTextRunes) }
	a := inc.Alert
	rep := inc.Report
	v := pageView{
		Key:       inc.Key,
		Title:     t(cmp.Or(a.Name, "Alert")),
		Status:    string(inc.Status),
		Severity:  t(labelOf(a, "severity", "priority")),
		Service:   t(labelOf(a, "service", "service_name", "service.name", "app")),
		Summary:   t(cmp.Or(a.Summary, a.Annotations["summary"], a.Description, a.Annotations["description"])),
		Generated: now.UTC().Format(time.RFC1123),
	}
	for _, k := range slices.Sorted(maps.Keys(a.Labels)) {
		v.Labels = append(v.Labels, kv{t(k), t(a.Labels[k])})
	}
	v.Lifecycle = lifecycle(inc, t)
	if u := safeLink(a.SourceURL, red); u != "" {
		v.Links = append(v.Links, link{u, "Alert source"})
	}
	if u := safeLink(a.GeneratorURL, red); u != "" {
		v.Links = append(v.Links, link{u, "Query"})
	}
	if inc.Channel != "" && inc.ThreadTS != "" {
		v.Links = append(v.Links, link{"https://slack.com/archives/" + url.PathEscape(inc.Channel) + "/p" + strings.ReplaceAll(inc.ThreadTS, ".", ""), "Slack thread"})
	}
	for _, qa := range inc.Answers {
		v.Answers = append(v.Answers, answerView{User: t(qa.User), At: qa.At.UTC().Format("2006-01-02 15:04 UTC"), Question: t(qa.Question), Answer: t(qa.Answer)})
	}
	if n := len(inc.Feedback); n > 0 {
		helpful := 0
		for _, f := range inc.Feedback {
			if f.Helpful {
				helpful++
			}
		}
		v.Feedback = fmt.Sprintf("%d of %d engineers found the diagnosis helpful", helpful, n)
	}
	if rep == nil {
		return v
	}
	v.Triaged = true
	anchors := newAnchors(inv)
	v.Window = fmt.Sprintf("%s – %s UTC", rep.WindowStart.UTC().Format("2006-01-02 15:04"), rep.WindowEnd.UTC().Format("15:04"))
	for _, m := range rep.Missing {
		v.Missing = append(v.Missing, t(m))
	}
	for _, m := range rep.EvidenceCut {
		v.Missing = append(v.Missing, "left out of the model's prompt: "+t(m))
	}
	if inv == nil {
		v.NoEvidence = true
		v.Missing = append(v.Missing, "the traces this triage read were not kept: the page shows the report only")
	} else {
		v.Selection = selection(rep, inv, t)
		v.Onset = buildOnset(inv.Onset, rep.WindowStart, red)
	}
	v.Ranked, v.RuledOut = clusters(rep, inv, anchors, t)
	for _, s := range rep.Suspects {
		v.Suspects = append(v.Suspects, suspectView{
			Attribute: t(s.Attribute), Value: t(s.Value), Baseline: t(s.BaselineValue),
			Failing: fmt.Sprintf("%d of %d", s.FailingCount, s.FailingTotal),
			Healthy: fmt.Sprintf("%d of %d", s.HealthyCount, s.HealthyTotal),
		})
	}
	if d := rep.Diagnosis; d != nil {
		v.Diagnosis = diagnosis(d, anchors, t)
	}
	if inv != nil {
		v.Traces, v.Compare = traces(rep, inv, t)
	}
	return v
}

func lifecycle(inc oncall.Incident, t func(string) string) []event {
	var ev []event
	at := func(x time.Time) string { return x.UTC().Format("2006-01-02 15:04:05 UTC") }
	if s := inc.Alert.StartsAt; !s.IsZero() {
		ev = append(ev, event{at(s), "alert started firing"})
	}
	if !inc.OpenedAt.IsZero() {
		ev = append(ev, event{at(inc.OpenedAt), "incident opened"})
	}
	if !inc.TriagedAt.IsZero() {
		ev = append(ev, event{at(inc.TriagedAt), "triaged"})
	}
	if !inc.AckedAt.IsZero() {
		who := "acknowledged"
		if inc.AckedBy != "" {
			who += " by " + t(inc.AckedBy)
		}
		ev = append(ev, event{at(inc.AckedAt), who})
	}
	if inc.Fires > 1 {
		ev = append(ev, event{"", fmt.Sprintf("fired %d times", inc.Fires)})
	}
	if !inc.ResolvedAt.IsZero() {
		ev = append(ev, event{at(inc.ResolvedAt), "resolved"})
	}
	slices.SortStableFunc(ev, func(x, y event) int { return strings.Compare(x.At, y.At) })
	return ev
}

func selection(rep *oncall.Report, inv *oncall.Investigation, t func(string) string) *selectionView {
	s := inv.Selection
	sv := &selectionView{
		Source:         t(s.Source),
		Incident:       fmt.Sprintf("%s – %s UTC", s.WindowStart.UTC().Format("2006-01-02 15:04"), s.WindowEnd.UTC().Format("15:04")),
		IncidentTraces: rep.TracesExamined,
		BaselineTraces: rep.BaselineTraces,
		FailingTraces:  rep.FailingTraces,
		Read:           s.Read,
		MaxTraces:      s.MaxTraces,
		NamedByAlert:   s.NamedByAlert,
		FailuresPerMin: fmt.Sprintf("%.2f", rep.FailuresPerMinute),
	}
	if !s.BaselineStart.IsZero() && s.BaselineStart.Before(s.WindowStart) {
		sv.Baseline = fmt.Sprintf("%s – %s UTC", s.BaselineStart.UTC().Format("2006-01-02 15:04"), s.WindowStart.UTC().Format("15:04"))
	}
	for _, k := range slices.Sorted(maps.Keys(s.Filters)) {
		sv.Filters = append(sv.Filters, kv{t(k), t(s.Filters[k])})
	}
	var un []string
	for _, l := range s.UnmappedLabels {
		un = append(un, t(l))
	}
	sv.Unmapped = strings.Join(un, ", ")
	return sv
}

// clusters splits the report's clusters into those ranked as changed and
// those ruled out, each with the reason.
func clusters(rep *oncall.Report, inv *oncall.Investigation, an anchors, t func(string) string) (ranked, ruled []clusterView) {
	top := map[string]string{}
	if inv != nil {
		for i, s := range inv.Onset.Clusters {
			top[s.Signature] = seriesClass[i%len(seriesClass)]
		}
	}
	for _, c := range rep.Clusters {
		cv := clusterView{
			Kind:     t(c.Kind),
			Where:    t(strings.TrimSpace(string(c.SpanKind) + " " + c.SpanName)),
			Error:    t(c.Error),
			Detail:   t(c.Detail),
			Count:    c.Count,
			Baseline: c.BaselineCount,
			Rate:     pct(c.Rate),
			BaseRate: pct(c.BaselineRate),
			New:      c.New,
			Class:    top[c.Signature],
		}
		if !c.FirstSeen.IsZero() {
			cv.FirstSeen = c.FirstSeen.UTC().Format("15:04:05")
		}
		for i, id := range c.TraceIDs {
			span := ""
			if i < len(c.SpanIDs) {
				span = c.SpanIDs[i]
			}
			cv.Examples = append(cv.Examples, an.cite(id, span, t))
		}
		changed := c.Score > 0 || (c.New && c.Count > 0)
		if changed {
			cv.Rank = len(ranked) + 1
			ranked = append(ranked, cv)
			continue
		}
		switch {
		case c.BaselineCount > 0:
			cv.Reason = fmt.Sprintf("steady background: in %s of runs now and %s in the baseline, so it did not start this incident", cv.Rate, cv.BaseRate)
		default:
			cv.Reason = "no change against the baseline worth ranking"
		}
		ruled = append(ruled, cv)
	}
	return ranked, ruled
}

func diagnosis(d *oncall.Diagnosis, an anchors, t func(string) string) *diagnosisView {
	dv := &diagnosisView{Summary: t(d.Summary), Dropped: d.Dropped}
	switch {
	case d.Offline != "":
		dv.By = "deterministic analysis: " + t(d.Offline)
	case d.Model != "":
		dv.By = "model " + t(d.Model)
	}
	for _, c := range d.Causes {
		cv := causeView{Title: t(c.Title), Detail: t(c.Detail), Confidence: string(c.Confidence)}
		for _, e := range c.Evidence {
			ci := an.cite(e.TraceID, e.SpanID, t)
			ci.Note = t(e.Note)
			cv.Evidence = append(cv.Evidence, ci)
		}
		dv.Causes = append(dv.Causes, cv)
	}
	for _, f := range d.Fixes {
		dv.Fixes = append(dv.Fixes, kv{t(f.Type), t(f.Change) + where(t(f.Where))})
	}
	for _, s := range d.NextSteps {
		dv.NextSteps = append(dv.NextSteps, t(s))
	}
	return dv
}

func where(w string) string {
	if w == "" {
		return ""
	}
	return " (" + w + ")"
}

// anchors knows which traces and spans are on the page.
type anchors struct {
	traces map[string]bool
	spans  map[string]bool // trace \x00 span
}

func newAnchors(inv *oncall.Investigation) anchors {
	an := anchors{traces: map[string]bool{}, spans: map[string]bool{}}
	if inv == nil {
		return an
	}
	for _, tr := range inv.Traces {
		an.traces[tr.TraceID] = true
		for i, s := range tr.Spans {
			if i < maxRows {
				an.spans[tr.TraceID+"\x00"+s.SpanID] = true
			}
		}
	}
	return an
}

func (an anchors) cite(traceID, spanID string, t func(string) string) citeView {
	c := citeView{Label: t(traceID)}
	if spanID != "" {
		c.Label += " / " + t(spanID)
	}
	switch {
	case spanID != "" && an.spans[traceID+"\x00"+spanID]:
		c.Anchor = spanAnchor(traceID, spanID)
	case an.traces[traceID]:
		c.Anchor = traceAnchor(traceID)
	}
	return c
}

// safeID matches ids that can go into an element id as they are.
var safeID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func idPart(id string) string {
	if safeID.MatchString(id) {
		return id
	}
	h := sha256.Sum256([]byte(id))
	return "h" + hex.EncodeToString(h[:8])
}

func traceAnchor(traceID string) string { return "trace-" + idPart(traceID) }

func spanAnchor(traceID, spanID string) string {
	return "span-" + idPart(traceID) + "-" + idPart(spanID)
}

func labelOf(a oncall.Alert, names ...string) string {
	for _, n := range names {
		if v := strings.TrimSpace(a.Labels[n]); v != "" {
			return v
		}
	}
	return ""
}

// safeLink keeps an http(s) link from an alert; one the redactor finds a
// secret in loses its query and fragment, and is dropped if it still
// holds one.
func safeLink(raw string, red func(string) string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	if red(raw) == raw {
		return u.String()
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	if s := u.String(); red(s) == s {
		return s
	}
	return ""
}

func pct(r float64) string {
	switch {
	case r == 0:
		return "0%"
	case r < 0.001:
		return "<0.1%"
	}
	return fmt.Sprintf("%.1f%%", r*100)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
