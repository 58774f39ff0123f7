package incidentpage

import (
	"cmp"
	"fmt"
	"maps"
	"net/url"
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
	Store           int // traces the store held in both windows
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
		Service:   t(serviceOf(inc)),
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
	s := inv.Search
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
	if sel := rep.Selection; sel != nil {
		for _, m := range sel.Filters {
			k := m.Label
			if len(m.Attributes) > 0 {
				k += " (" + strings.Join(m.Attributes, ", ") + ")"
			}
			sv.Filters = append(sv.Filters, kv{t(k), t(m.Value)})
		}
		var un []string
		for _, m := range sel.Unused {
			un = append(un, t(m.Label+"="+m.Value))
		}
		sv.Unmapped = strings.Join(un, ", ")
		sv.Store = sel.Store
	}
	return sv
}

// serviceOf names the incident's service: the alert label the triage
// found in the traces' service.name, else a label named like a service.
func serviceOf(inc oncall.Incident) string {
	if inc.Report != nil && inc.Report.Selection != nil {
		for _, m := range inc.Report.Selection.Filters {
			if slices.Contains(m.Attributes, "service.name") {
				return m.Value
			}
		}
	}
	return labelOf(inc.Alert, "service", "service_name", "service.name", "app")
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
