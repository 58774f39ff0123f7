package triage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// Model is what triage needs of a language model: one chat call. The llm
// package's Client satisfies it.
type Model interface {
	Chat(ctx context.Context, req oncall.ChatRequest) (oncall.ChatResponse, error)
}

// Limits on what a diagnosis keeps of a model's answer.
const (
	maxCauses      = 5
	maxFixes       = 6
	maxNextSteps   = 6
	maxEvidenceRef = 6
	maxTitleLen    = 200
	maxTextLen     = 1200
)

// Diagnose asks the model for a diagnosis of the evidence and grounds it.
//
// The answer must be the JSON object of the response schema. An answer
// that is not (servers without structured outputs answer in plain JSON
// mode and may stray) gets one repair call that shows the model what was
// wrong; a second invalid answer is an error. Grounding then keeps only
// citations of ids the evidence showed, drops causes left without any,
// and lowers a "high" confidence to "medium" for a cause that cites none
// of the top cluster's example traces; see ground. When no cause
// survives, the deterministic causes of OfflineDiagnosis stand in.
//
// The usage of every call is returned, also on error.
func Diagnose(ctx context.Context, m Model, rep oncall.Report, ev Evidence) (*oncall.Diagnosis, oncall.Usage, error) {
	var usage oncall.Usage
	if m == nil {
		return nil, usage, errors.New("diagnose: no model")
	}
	req := diagnosisRequest(ev)
	resp, err := m.Chat(ctx, req)
	usage = usage.Add(callUsage(resp.Usage))
	if err != nil {
		return nil, usage, fmt.Errorf("diagnose: ask model: %w", err)
	}
	d, perr := parseDiagnosis(resp.Content)
	if perr != nil {
		repair := req
		repair.Messages = repairMessages(req, resp.Content, perr)
		resp, err = m.Chat(ctx, repair)
		usage = usage.Add(callUsage(resp.Usage))
		if err != nil {
			return nil, usage, fmt.Errorf("diagnose: ask model to repair an invalid answer (%v): %w", perr, err)
		}
		if d, perr = parseDiagnosis(resp.Content); perr != nil {
			return nil, usage, fmt.Errorf("diagnose: model answer invalid after one repair: %w", perr)
		}
	}
	ground(d, rep, ev)
	d.Model = resp.Model
	return d, usage, nil
}

// callUsage counts a call even when the model did not report one.
func callUsage(u oncall.Usage) oncall.Usage {
	if u.Calls == 0 {
		u.Calls = 1
	}
	return u
}

// answer is the model's JSON, decoded leniently: strings where the
// schema has enums, so that a near miss can be mapped rather than
// rejected.
type modelAnswer struct {
	Summary string `json:"summary"`
	Causes  []struct {
		Title      string `json:"title"`
		Detail     string `json:"detail"`
		Confidence string `json:"confidence"`
		Evidence   []struct {
			TraceID string `json:"trace_id"`
			SpanID  string `json:"span_id"`
			Note    string `json:"note"`
		} `json:"evidence"`
	} `json:"causes"`
	Fixes []struct {
		Type   string `json:"type"`
		Change string `json:"change"`
		Where  string `json:"where"`
	} `json:"fixes"`
	NextSteps []string `json:"next_steps"`
}

// parseDiagnosis reads an answer. It tolerates what JSON-mode models wrap
// around the object (code fences, a sentence before it) and maps
// near-miss enum values, but requires the object, a summary and the
// causes array.
func parseDiagnosis(content string) (*oncall.Diagnosis, error) {
	raw := strings.TrimSpace(content)
	if i := strings.IndexByte(raw, '{'); i > 0 {
		raw = raw[i:]
	}
	if i := strings.LastIndexByte(raw, '}'); i >= 0 && i < len(raw)-1 {
		raw = raw[:i+1]
	}
	if raw == "" {
		return nil, errors.New("the answer is empty")
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &probe); err != nil {
		return nil, fmt.Errorf("the answer is not a JSON object: %v", err)
	}
	if _, ok := probe["causes"]; !ok {
		return nil, errors.New(`the answer has no "causes" array`)
	}
	var a modelAnswer
	if err := json.Unmarshal([]byte(raw), &a); err != nil {
		return nil, fmt.Errorf("the answer does not match the schema: %v", err)
	}
	if strings.TrimSpace(a.Summary) == "" {
		return nil, errors.New(`the answer has an empty "summary"`)
	}
	d := &oncall.Diagnosis{Summary: capText(a.Summary, maxTextLen), Causes: []oncall.Cause{}, Fixes: []oncall.Fix{}, NextSteps: []string{}}
	for _, c := range a.Causes {
		if len(d.Causes) == maxCauses {
			break
		}
		cause := oncall.Cause{
			Title:      capText(c.Title, maxTitleLen),
			Detail:     capText(c.Detail, maxTextLen),
			Confidence: parseConfidence(c.Confidence),
			Evidence:   []oncall.Evidence{},
		}
		if cause.Title == "" {
			cause.Title = capText(c.Detail, 80)
		}
		for _, e := range c.Evidence {
			cause.Evidence = append(cause.Evidence, oncall.Evidence{
				TraceID: strings.TrimSpace(e.TraceID), SpanID: strings.TrimSpace(e.SpanID), Note: capText(e.Note, maxTitleLen),
			})
		}
		d.Causes = append(d.Causes, cause)
	}
	for _, f := range a.Fixes {
		if len(d.Fixes) == maxFixes {
			break
		}
		if strings.TrimSpace(f.Change) == "" {
			continue
		}
		d.Fixes = append(d.Fixes, oncall.Fix{Type: fixType(f.Type), Change: capText(f.Change, maxTextLen), Where: capText(f.Where, maxTitleLen)})
	}
	for _, s := range a.NextSteps {
		if s = capText(s, maxTextLen); s != "" && len(d.NextSteps) < maxNextSteps {
			d.NextSteps = append(d.NextSteps, s)
		}
	}
	return d, nil
}

func capText(s string, n int) string { return capRunes(strings.TrimSpace(s), n) }

func parseConfidence(s string) oncall.Confidence {
	switch c := oncall.Confidence(strings.ToLower(strings.TrimSpace(s))); c {
	case oncall.ConfidenceHigh, oncall.ConfidenceMedium, oncall.ConfidenceLow:
		return c
	}
	return oncall.ConfidenceLow
}

// fixType maps an answer's fix type onto the five the product knows;
// anything unrecognised is configuration or infrastructure.
func fixType(s string) string {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.NewReplacer("-", "_", " ", "_", "/", "_").Replace(t)
	switch {
	case t == "prompt" || t == "tool" || t == "harness" || t == "model_provider" || t == "config_infra":
		return t
	case strings.Contains(t, "prompt"):
		return "prompt"
	case strings.Contains(t, "tool"):
		return "tool"
	case strings.Contains(t, "harness") || strings.Contains(t, "agent") || strings.Contains(t, "retry"):
		return "harness"
	case strings.Contains(t, "model") || strings.Contains(t, "provider"):
		return "model_provider"
	}
	return "config_infra"
}

// ground holds a diagnosis to the evidence:
//
//   - a citation survives only if its trace id was shown, and its span id,
//     when given, was shown too; ids are matched exactly or, failing that,
//     case-insensitively, and rewritten to the form shown;
//   - a cause with no surviving citation is dropped;
//   - a cause rated high that cites none of the top cluster's example
//     traces is lowered to medium: the ranking says where the change is,
//     and a confident claim elsewhere should at least be questioned;
//   - an id written in prose (summary, causes, notes, fixes, next steps)
//     that the evidence did not show is replaced by UnverifiedIDMarker;
//   - when no cause survives, the deterministic causes take their place.
//
// Dropped counts the citations and prose ids removed, plus one for each
// cause that came without any citation.
func ground(d *oncall.Diagnosis, rep oncall.Report, ev Evidence) {
	traces := newIDSet(ev.TraceIDs)
	spans := newIDSet(ev.SpanIDs)
	top := map[string]bool{}
	if len(rep.Clusters) > 0 {
		for _, id := range rep.Clusters[0].TraceIDs {
			top[id] = true
		}
	}
	kept := d.Causes[:0]
	for _, c := range d.Causes {
		if len(c.Evidence) == 0 {
			d.Dropped++
			continue
		}
		var refs []oncall.Evidence
		for _, e := range c.Evidence {
			tid, ok := traces.find(e.TraceID)
			if !ok {
				d.Dropped++
				continue
			}
			e.TraceID = tid
			if e.SpanID != "" {
				sid, ok := spans.find(e.SpanID)
				if !ok {
					d.Dropped++
					continue
				}
				e.SpanID = sid
			}
			if len(refs) < maxEvidenceRef {
				refs = append(refs, e)
			}
		}
		if len(refs) == 0 {
			continue
		}
		c.Evidence = refs
		if c.Confidence == oncall.ConfidenceHigh && len(top) > 0 && !citesAny(refs, top) {
			c.Confidence = oncall.ConfidenceMedium
		}
		kept = append(kept, c)
	}
	d.Causes = kept
	groundProse(d, ev)
	if len(d.Causes) == 0 {
		d.Causes = OfflineDiagnosis(rep, "").Causes
	}
}

func citesAny(refs []oncall.Evidence, ids map[string]bool) bool {
	for _, e := range refs {
		if ids[e.TraceID] {
			return true
		}
	}
	return false
}

// idSet finds ids as shown, forgiving case and surrounding whitespace.
type idSet struct {
	exact map[string]bool
	fold  map[string]string
}

func newIDSet(ids map[string]bool) idSet {
	s := idSet{exact: ids, fold: make(map[string]string, len(ids))}
	for id := range ids {
		s.fold[strings.ToLower(id)] = id
	}
	return s
}

func (s idSet) find(id string) (string, bool) {
	id = strings.TrimSpace(id)
	if id == "" {
		return "", false
	}
	if s.exact[id] {
		return id, true
	}
	c, ok := s.fold[strings.ToLower(id)]
	return c, ok
}
