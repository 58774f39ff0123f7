package incidentpage

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

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
