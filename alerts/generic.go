package alerts

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// Paths is a list of JSON paths tried in order: the first that resolves to
// a non-empty value wins. In YAML and JSON it is one string or a list.
// Path syntax: dotted keys with array indexes and quoted keys, optionally
// starting at "$": `title`, `alert.title`, `tags[0]`, `$.data.labels`,
// `meta["k8s.pod"]`.
type Paths []string

// UnmarshalJSON accepts a string or a list of strings.
func (p *Paths) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*p = Paths{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("paths must be a string or a list of strings")
	}
	*p = many
	return nil
}

// UnmarshalYAML accepts a string or a list of strings (gopkg.in/yaml
// calls it through its unmarshaler interface).
func (p *Paths) UnmarshalYAML(unmarshal func(any) error) error {
	var one string
	if err := unmarshal(&one); err == nil {
		*p = Paths{one}
		return nil
	}
	var many []string
	if err := unmarshal(&many); err != nil {
		return errors.New("paths must be a string or a list of strings")
	}
	*p = many
	return nil
}

// GenericMapping says where a generic JSON webhook keeps each alert field.
// Every field lists JSON paths tried in order; a field left empty uses the
// paths of DefaultGenericMapping, and the value maps add to (and override)
// the default maps. One delivery is one alert.
type GenericMapping struct {
	Title       Paths `yaml:"title" json:"title"`
	Summary     Paths `yaml:"summary" json:"summary"`
	Description Paths `yaml:"description" json:"description"`
	Severity    Paths `yaml:"severity" json:"severity"`
	// SeverityMap translates a sender's severity word (compared lower
	// case) into ours; unmapped words are kept, lower case.
	SeverityMap map[string]string `yaml:"severity_map" json:"severity_map"`
	Status      Paths             `yaml:"status" json:"status"`
	// StatusMap translates a sender's status word (compared lower case)
	// into "firing" or "resolved". A status word that is not in the map
	// is refused with a 400 naming the field. A delivery needs a status:
	// a string at one of the Status paths or a bracketed status leading
	// the title, such as "[Recovered]" or "[RESOLVED]"; without one it is
	// refused with a 400 naming the paths.
	StatusMap   map[string]string `yaml:"status_map" json:"status_map"`
	Fingerprint Paths             `yaml:"fingerprint" json:"fingerprint"` // missing: derived from the labels and the title
	GroupKey    Paths             `yaml:"group_key" json:"group_key"`     // missing: one group per fingerprint
	// EventID names a per-delivery id; a replay of one id is
	// acknowledged and enqueues nothing (with a Deduper configured).
	EventID Paths `yaml:"event_id" json:"event_id"`
	// Labels are objects of scalars, lists of "key:value" strings or
	// comma-separated "key:value" strings; every path that resolves is
	// merged, later ones winning.
	Labels Paths `yaml:"labels" json:"labels"`
	// LabelPaths set single labels and win over Labels.
	LabelPaths      map[string]Paths `yaml:"label_paths" json:"label_paths"`
	Annotations     Paths            `yaml:"annotations" json:"annotations"`
	AnnotationPaths map[string]Paths `yaml:"annotation_paths" json:"annotation_paths"`
	StartsAt        Paths            `yaml:"starts_at" json:"starts_at"` // missing: the time received
	EndsAt          Paths            `yaml:"ends_at" json:"ends_at"`
	SourceURL       Paths            `yaml:"source_url" json:"source_url"`
	// TraceIDs are strings (comma or space separated) or lists of
	// strings; trace_id annotations are read too.
	TraceIDs Paths `yaml:"trace_ids" json:"trace_ids"`
}

// DefaultGenericMapping covers the common shapes of Datadog webhooks (the
// default payload and the one SOURCES.md recommends), New Relic workflow
// webhooks (the default template) and New Relic's older notification
// channel payload, and senders that use the obvious names.
func DefaultGenericMapping() GenericMapping {
	return GenericMapping{
		Title:       Paths{"title", "alert_title", "alertname", "name", "condition_name", "summary"},
		Summary:     Paths{"summary", "alert_title", "title"},
		Description: Paths{"description", "message", "body", "details", "text"},
		Severity:    Paths{"severity", "priority", "alert_priority", "alert_type", "level"},
		SeverityMap: map[string]string{
			"critical": "critical", "crit": "critical", "fatal": "critical", "emergency": "critical",
			"error": "critical", "p1": "critical", "p2": "critical", "sev1": "critical", "sev2": "critical",
			// New Relic gives critical-threshold issues CRITICAL and
			// warning-threshold ones HIGH.
			"high": "warning", "warning": "warning", "warn": "warning", "medium": "warning", "moderate": "warning",
			"p3": "warning", "sev3": "warning",
			"low": "info", "info": "info", "informational": "info", "notice": "info", "success": "info",
			"p4": "info", "p5": "info", "sev4": "info", "sev5": "info",
		},
		Status: Paths{"status", "state", "current_state", "alert_transition", "transition"},
		StatusMap: map[string]string{
			"firing": "firing", "fire": "firing", "alert": "firing", "alerting": "firing",
			"triggered": "firing", "trigger": "firing", "re-triggered": "firing", "retriggered": "firing",
			"open": "firing", "opened": "firing", "activated": "firing", "active": "firing", "created": "firing",
			"problem": "firing", "warn": "firing", "re-warn": "firing", "warning": "firing",
			"critical": "firing", "error": "firing", "no data": "firing", "re-no data": "firing", "nodata": "firing",
			"renotify": "firing", "re-notify": "firing", "acknowledged": "firing", "ack": "firing",
			"resolved": "resolved", "resolve": "resolved", "ok": "resolved", "recovered": "resolved",
			"recovery": "resolved", "closed": "resolved", "close": "resolved", "success": "resolved",
			"normal": "resolved", "inactive": "resolved", "cleared": "resolved", "clear": "resolved",
			"ended": "resolved",
		},
		Fingerprint: Paths{"fingerprint", "aggreg_key", "alert_cycle_key", "issueId", "issue_id", "incident_id"},
		GroupKey:    Paths{"group_key", "groupKey"},
		Labels:      Paths{"labels", "tags", "alert_scope", "targets[0].labels"},
		LabelPaths: map[string]Paths{
			"host":       {"hostname", "host"},
			"monitor_id": {"alert_id"},
			"service":    {"service"},
			"policy":     {"alertPolicyNames[0]", "policy_name"},
			"condition":  {"alertConditionNames[0]", "condition_name"},
			"entity":     {"impactedEntities[0]", "targets[0].name"},
		},
		Annotations: Paths{"annotations"},
		AnnotationPaths: map[string]Paths{
			"runbook_url": {"runbook_url", "runbookUrl"},
			"metric":      {"alert_metric", "condition_metric", "metric"},
			"query":       {"alert_query", "query"},
		},
		StartsAt:  Paths{"startsAt", "starts_at", "createdAt", "created_at", "date", "timestamp", "time"},
		EndsAt:    Paths{"endsAt", "ends_at", "closedAt", "closed_at"},
		SourceURL: Paths{"url", "link", "issueUrl", "incident_url", "html_url", "alert_url"},
		TraceIDs:  Paths{"trace_ids", "trace_id", "traceIds", "traceId"},
	}
}

// compiledPaths are parsed Paths.
type compiledPaths []jsonPath

// genericDecoder is a GenericMapping ready to decode.
type genericDecoder struct {
	title, summary, description, severity  compiledPaths
	status, fingerprint, groupKey, eventID compiledPaths
	labels, annotations                    compiledPaths
	startsAt, endsAt, sourceURL, traceIDs  compiledPaths
	labelPaths, annotationPaths            map[string]compiledPaths
	severityMap                            map[string]string
	statusMap                              map[string]oncall.AlertStatus
}

// NewGenericDecoder checks m over the defaults and returns its decoder.
// Every bad path and status word is reported at once.
func NewGenericDecoder(m GenericMapping) (Decoder, error) {
	d := DefaultGenericMapping()
	var errs []error
	compile := func(name string, own, def Paths) compiledPaths {
		ps := own
		if len(ps) == 0 {
			ps = def
		}
		out := make(compiledPaths, 0, len(ps))
		for i, raw := range ps {
			p, err := parsePath(raw)
			if err != nil {
				errs = append(errs, fmt.Errorf("generic mapping %s[%d] %q: %w", name, i, raw, err))
				continue
			}
			out = append(out, p)
		}
		return out
	}
	compileMap := func(name string, own, def map[string]Paths) map[string]compiledPaths {
		merged := maps.Clone(def)
		if merged == nil {
			merged = map[string]Paths{}
		}
		for k, v := range own {
			if strings.TrimSpace(k) == "" {
				errs = append(errs, fmt.Errorf("generic mapping %s: empty name", name))
				continue
			}
			if len(v) == 0 {
				delete(merged, k) // an empty entry removes a default one
				continue
			}
			merged[k] = v
		}
		out := make(map[string]compiledPaths, len(merged))
		for k, v := range merged {
			out[k] = compile(name+"."+k, v, nil)
		}
		return out
	}
	g := &genericDecoder{
		title:           compile("title", m.Title, d.Title),
		summary:         compile("summary", m.Summary, d.Summary),
		description:     compile("description", m.Description, d.Description),
		severity:        compile("severity", m.Severity, d.Severity),
		status:          compile("status", m.Status, d.Status),
		fingerprint:     compile("fingerprint", m.Fingerprint, d.Fingerprint),
		groupKey:        compile("group_key", m.GroupKey, d.GroupKey),
		eventID:         compile("event_id", m.EventID, d.EventID),
		labels:          compile("labels", m.Labels, d.Labels),
		annotations:     compile("annotations", m.Annotations, d.Annotations),
		startsAt:        compile("starts_at", m.StartsAt, d.StartsAt),
		endsAt:          compile("ends_at", m.EndsAt, d.EndsAt),
		sourceURL:       compile("source_url", m.SourceURL, d.SourceURL),
		traceIDs:        compile("trace_ids", m.TraceIDs, d.TraceIDs),
		labelPaths:      compileMap("label_paths", m.LabelPaths, d.LabelPaths),
		annotationPaths: compileMap("annotation_paths", m.AnnotationPaths, d.AnnotationPaths),
		severityMap:     map[string]string{},
		statusMap:       map[string]oncall.AlertStatus{},
	}
	for k, v := range d.SeverityMap {
		g.severityMap[strings.ToLower(k)] = v
	}
	for k, v := range m.SeverityMap {
		g.severityMap[strings.ToLower(strings.TrimSpace(k))] = strings.ToLower(strings.TrimSpace(v))
	}
	for _, sm := range []map[string]string{d.StatusMap, m.StatusMap} {
		keys := sortedKeys(sm)
		for _, k := range keys {
			switch st := oncall.AlertStatus(strings.ToLower(strings.TrimSpace(sm[k]))); st {
			case oncall.AlertFiring, oncall.AlertResolved:
				g.statusMap[strings.ToLower(strings.TrimSpace(k))] = st
			default:
				errs = append(errs, fmt.Errorf("generic mapping status_map[%q] = %q: must be firing or resolved", k, sm[k]))
			}
		}
	}
	if len(g.title) == 0 {
		errs = append(errs, errors.New("generic mapping title: at least one path is required"))
	}
	if len(g.status) == 0 {
		errs = append(errs, errors.New("generic mapping status: at least one path is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return g.decode, nil
}

// DecodeGeneric decodes a generic JSON webhook with the default mapping.
func DecodeGeneric(body []byte, now time.Time) (Notification, error) {
	dec, err := NewGenericDecoder(GenericMapping{})
	if err != nil {
		// The default mapping is fixed and tested; this cannot happen.
		return Notification{}, fmt.Errorf("default generic mapping: %w", err)
	}
	return dec(body, now)
}

// firstValue returns the first path's value that is a non-empty scalar,
// with the path it came from.
func (ps compiledPaths) firstString(doc any) (string, jsonPath, bool) {
	for _, p := range ps {
		v, ok := p.lookup(doc)
		if !ok {
			continue
		}
		if s, ok := scalarString(v); ok && strings.TrimSpace(s) != "" {
			return strings.TrimSpace(s), p, true
		}
	}
	return "", jsonPath{}, false
}

// firstText returns the first path's value that is a non-empty string,
// with the path it came from. A path that holds a value of another type
// (a number, an object, an array, a boolean) is an error naming that
// path: a sender that puts an object where the title belongs is
// misconfigured, and guessing from the next path would hide it.
func (ps compiledPaths) firstText(doc any) (string, jsonPath, error) {
	for _, p := range ps {
		v, ok := p.lookup(doc)
		if !ok || v == nil {
			continue
		}
		s, ok := v.(string)
		if !ok {
			return "", p, fieldError(p.String(), "must be a string, got %s", describeType(v))
		}
		if s = strings.TrimSpace(strings.ToValidUTF8(s, "\uFFFD")); s != "" {
			return s, p, nil
		}
	}
	return "", jsonPath{}, nil
}

// names lists the paths for an error about a field none of them holds.
func (ps compiledPaths) names() string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return strings.Join(out, ", ")
}

// checkLabels refuses a labels value of a shape labelsFrom would
// silently drop: it must be an object of strings, numbers and booleans, a
// list of "key:value" strings or one comma-separated string.
func checkLabels(path string, v any) error {
	switch x := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(x) {
			if x[k] == nil {
				continue
			}
			if _, ok := scalarString(x[k]); !ok {
				return fieldError(fmt.Sprintf("%s[%q]", path, k), "a label value must be a string, number or boolean, got %s", describeType(x[k]))
			}
		}
	case []any:
		for i, item := range x {
			if _, ok := item.(string); !ok {
				return fieldError(fmt.Sprintf("%s[%d]", path, i), "a label in a list must be a \"key:value\" string, got %s", describeType(item))
			}
		}
	case string:
	default:
		return fieldError(path, "must be an object, a list of \"key:value\" strings or a comma-separated string, got %s", describeType(v))
	}
	return nil
}

// firstAny returns the first path's value that is present and not null
// or empty.
func (ps compiledPaths) firstAny(doc any) (any, jsonPath, bool) {
	for _, p := range ps {
		v, ok := p.lookup(doc)
		if !ok || v == nil {
			continue
		}
		if s, ok := v.(string); ok && strings.TrimSpace(s) == "" {
			continue
		}
		return v, p, true
	}
	return nil, jsonPath{}, false
}

func (g *genericDecoder) decode(body []byte, now time.Time) (Notification, error) {
	doc, err := decodeJSONObject(body)
	if err != nil {
		return Notification{}, err
	}
	title, _, err := g.title.firstText(doc)
	if err != nil {
		return Notification{}, err
	}
	name, bracketStatus := g.stripStatusPrefix(title)

	labels := map[string]string{}
	for _, p := range g.labels {
		if v, ok := p.lookup(doc); ok && v != nil {
			if err := checkLabels(p.String(), v); err != nil {
				return Notification{}, err
			}
			labelsFrom(v, labels)
		}
	}
	if name == "" && labels["alertname"] == "" {
		// Without a name there is nothing to group, route or show.
		return Notification{}, fieldError(g.title[0].String(), "required: the alert's name or title, a non-empty string at one of %s (or an alertname label)", g.title.names())
	}

	var status oncall.AlertStatus
	raw, p, err := g.status.firstText(doc)
	switch {
	case err != nil:
		return Notification{}, err
	case raw != "":
		st, known := g.statusMap[strings.ToLower(raw)]
		if !known {
			return Notification{}, fieldError(p.String(), "unknown status %q: map it to firing or resolved in the generic status_map", clip(raw, 64))
		}
		status = st
	case bracketStatus != "":
		status = bracketStatus
	default:
		// Guessing "firing" would open an incident for a recovery.
		return Notification{}, fieldError(g.status[0].String(), "required: the alert's status, a string at one of %s (or a bracketed status such as [RESOLVED] leading the title)", g.status.names())
	}
	for _, k := range sortedKeys(g.labelPaths) {
		if v, _, ok := g.labelPaths[k].firstString(doc); ok {
			labels[k] = v
		}
	}
	annotations := map[string]string{}
	for _, p := range g.annotations {
		if v, ok := p.lookup(doc); ok {
			if obj, ok := v.(map[string]any); ok {
				labelsFrom(obj, annotations)
			}
		}
	}
	for _, k := range sortedKeys(g.annotationPaths) {
		if v, _, ok := g.annotationPaths[k].firstString(doc); ok {
			annotations[k] = v
		}
	}

	if name == "" {
		// Checked above: without a title there is an alertname label.
		name = labels["alertname"]
	}
	raw, _, ok := g.severity.firstString(doc)
	if !ok {
		raw = labels["severity"]
	}
	severity := strings.ToLower(strings.TrimSpace(raw))
	if mapped, ok := g.severityMap[severity]; ok {
		severity = mapped
	}
	fp, _, ok := g.fingerprint.firstString(doc)
	setDefaultLabels(labels, name, "")
	if !ok {
		// Before the severity label is added: senders often change the
		// severity word on recovery (Datadog's alert_type "success").
		fp = oncall.LabelFingerprint(labels)
	}
	setDefaultLabels(labels, name, severity)
	groupKey, _, ok := g.groupKey.firstString(doc)
	if !ok {
		groupKey = "generic:" + fp
	}

	startsAt := now
	if v, p, ok := g.startsAt.firstAny(doc); ok {
		if startsAt, err = parseTimeValue(p.String(), v); err != nil {
			return Notification{}, err
		}
	}
	var endsAt time.Time
	if v, p, ok := g.endsAt.firstAny(doc); ok {
		if endsAt, err = parseTimeValue(p.String(), v); err != nil {
			return Notification{}, err
		}
	}

	var ids []string
	for _, p := range g.traceIDs {
		if v, ok := p.lookup(doc); ok {
			ids = append(ids, stringList(v)...)
		}
	}
	ids = cleanTraceIDs(append(ids, traceIDs(annotations)...))

	summary, _, _ := g.summary.firstString(doc)
	if summary == "" {
		summary = title
	}
	description, _, _ := g.description.firstString(doc)
	sourceURL, _, _ := g.sourceURL.firstString(doc)
	eventID, _, _ := g.eventID.firstString(doc)

	alert := oncall.Alert{
		Source:      "generic",
		Fingerprint: fp,
		GroupKey:    groupKey,
		Status:      status,
		Name:        name,
		Severity:    severity,
		Summary:     summary,
		Description: description,
		Labels:      labels,
		Annotations: annotations,
		StartsAt:    startsAt.UTC(),
		EndsAt:      endsAt,
		SourceURL:   sourceURL,
		TraceIDs:    ids,
		ReceivedAt:  now,
	}
	if len(alert.Annotations) == 0 {
		alert.Annotations = nil
	}
	n := Notification{GroupKey: groupKey, Status: status, Alerts: []oncall.Alert{alert}}
	if eventID != "" {
		n.DedupeKey = eventID
	}
	return n, nil
}

// stripStatusPrefix removes leading bracketed tags up to one naming a
// status, as in "[P1] [Triggered on {host:a}] CPU high" or "[RESOLVED]
// Disk full", so a firing and a resolved notification of one alert share
// a name. It returns the title unchanged when no tag names a status.
func (g *genericDecoder) stripStatusPrefix(title string) (string, oncall.AlertStatus) {
	rest := strings.TrimSpace(title)
	for strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			break
		}
		tag := strings.ToLower(strings.TrimSpace(rest[1:end]))
		rest = strings.TrimSpace(rest[end+1:])
		// The whole tag, then its first two words (for "no data on
		// {host:a}"), then its first word ("triggered on {host:a}",
		// "firing:2").
		words := strings.FieldsFunc(tag, func(r rune) bool { return r == ' ' || r == ':' })
		candidates := []string{tag}
		if len(words) >= 2 {
			candidates = append(candidates, words[0]+" "+words[1])
		}
		if len(words) >= 1 {
			candidates = append(candidates, words[0])
		}
		for _, w := range candidates {
			if st, ok := g.statusMap[w]; ok {
				if rest == "" {
					return title, st
				}
				return rest, st
			}
		}
	}
	return strings.TrimSpace(title), ""
}

// setDefaultLabels gives every alert an alertname and, when known, a
// severity label, so route matchers such as severity="info" work the same
// for every source.
func setDefaultLabels(labels map[string]string, name, severity string) {
	if labels["alertname"] == "" {
		labels["alertname"] = name
	}
	if labels["severity"] == "" && severity != "" {
		labels["severity"] = severity
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
