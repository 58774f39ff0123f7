package alerts

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// amPayload is the Alertmanager webhook payload, version 4.
type amPayload struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []amAlert         `json:"alerts"`
}

type amAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     wireTime          `json:"startsAt"`
	EndsAt       wireTime          `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// DecodeAlertmanager reads an Alertmanager webhook (version 4) into a
// notification: its group key and alerts. Errors name the offending field.
func DecodeAlertmanager(body []byte, now time.Time) (Notification, error) {
	var p amPayload
	if !scanAMPayload(body, &p) {
		p = amPayload{}
		if err := json.Unmarshal(body, &p); err != nil {
			return Notification{}, jsonError(err)
		}
	}
	if p.Version != "" && p.Version != "4" {
		return Notification{}, fieldError("version", "unsupported webhook version %q (want \"4\")", p.Version)
	}
	group := groupPayload{GroupKey: p.GroupKey, Status: p.Status, Truncated: p.TruncatedAlerts, GroupLabels: p.GroupLabels,
		CommonLabels: p.CommonLabels, CommonAnnotations: p.CommonAnnotations, ExternalURL: p.ExternalURL}
	n, err := decodeGroup("alertmanager", group, p.Alerts, now, nil)
	if err != nil {
		return Notification{}, err
	}
	setGroupKey(&n)
	return n, nil
}

// groupPayload is what Alertmanager-shaped webhooks share at the top.
type groupPayload struct {
	GroupKey, Status, ExternalURL                string
	Truncated                                    int
	GroupLabels, CommonLabels, CommonAnnotations map[string]string
}

// decodeGroup checks and normalises the alerts of an Alertmanager-shaped
// group. adjust, when set, completes each alert from source-specific
// fields (i is the alert's index).
func decodeGroup(source string, p groupPayload, alerts []amAlert, now time.Time, adjust func(i int, a *oncall.Alert)) (Notification, error) {
	status, err := parseStatus("status", p.Status)
	if err != nil {
		return Notification{}, err
	}
	if len(alerts) == 0 {
		return Notification{}, fieldError("alerts", "must hold at least one alert")
	}
	n := Notification{GroupKey: p.GroupKey, Status: status, Truncated: p.Truncated}
	for i, a := range alerts {
		// Field names are built only for an error: they cost an
		// allocation each on every alert otherwise.
		st, err := parseStatus("status", a.Status)
		if err != nil {
			return Notification{}, inAlert(i, err)
		}
		if len(a.Labels) == 0 {
			return Notification{}, fieldError(fmt.Sprintf("alerts[%d].labels", i), "must not be empty")
		}
		startsAt, err := a.StartsAt.get("startsAt")
		if err != nil {
			return Notification{}, inAlert(i, err)
		}
		if startsAt.IsZero() {
			return Notification{}, fieldError(fmt.Sprintf("alerts[%d].startsAt", i), "must be an RFC 3339 time")
		}
		endsAt, err := endTime("endsAt", a.EndsAt)
		if err != nil {
			return Notification{}, inAlert(i, err)
		}
		labels := merge(p.CommonLabels, a.Labels)
		annotations := merge(p.CommonAnnotations, a.Annotations)
		fp := a.Fingerprint
		if fp == "" {
			fp = oncall.LabelFingerprint(a.Labels)
		}
		alert := oncall.Alert{
			Source:       source,
			Fingerprint:  fp,
			Status:       st,
			Name:         labels["alertname"],
			Severity:     labels["severity"],
			Summary:      first(annotations, "summary", "title"),
			Description:  first(annotations, "description", "message"),
			Labels:       labels,
			Annotations:  annotations,
			StartsAt:     startsAt,
			EndsAt:       endsAt,
			GeneratorURL: a.GeneratorURL,
			SourceURL:    p.ExternalURL,
			ReceivedAt:   now,
		}
		if adjust != nil {
			adjust(i, &alert)
		}
		if alert.Name == "" {
			alert.Name = "unnamed alert"
		}
		alert.TraceIDs = traceIDs(alert.Annotations)
		n.Alerts = append(n.Alerts, alert)
	}
	if n.GroupKey == "" {
		// Without a group key each label set is its own group.
		n.GroupKey = "labels:" + oncall.LabelFingerprint(p.GroupLabels)
		if len(p.GroupLabels) == 0 {
			n.GroupKey = "labels:" + n.Alerts[0].Fingerprint
		}
	}
	return n, nil
}

// inAlert places an input error about a field of the i-th alert under
// alerts[i].
func inAlert(i int, err error) error {
	var in *InputError
	if errors.As(err, &in) {
		return &InputError{Field: fmt.Sprintf("alerts[%d].%s", i, in.Field), Reason: in.Reason}
	}
	return err
}

// setGroupKey gives every alert of n its group key.
func setGroupKey(n *Notification) {
	for i := range n.Alerts {
		n.Alerts[i].GroupKey = n.GroupKey
	}
}

func parseStatus(field, s string) (oncall.AlertStatus, error) {
	switch strings.ToLower(s) {
	case "firing":
		return oncall.AlertFiring, nil
	case "resolved":
		return oncall.AlertResolved, nil
	case "":
		return "", fieldError(field, "is required (firing or resolved)")
	default:
		return "", fieldError(field, "must be firing or resolved, got %q", s)
	}
}

func merge(common, own map[string]string) map[string]string {
	if own != nil && hasKeys(own, common) {
		// Alertmanager's common labels are, by definition, on every
		// alert: the alert's own map is already the merge.
		return own
	}
	out := make(map[string]string, len(common)+len(own))
	for k, v := range common {
		out[k] = v
	}
	for k, v := range own {
		out[k] = v
	}
	return out
}

// hasKeys reports whether m has every key of of.
func hasKeys(m, of map[string]string) bool {
	for k := range of {
		if _, ok := m[k]; !ok {
			return false
		}
	}
	return true
}

func first(m map[string]string, keys ...string) string {
	for _, k := range keys {
		if v := m[k]; v != "" {
			return v
		}
	}
	return ""
}

// traceIDs collects trace ids that annotations carry: a trace_id or
// trace_ids annotation (comma or space separated), as alert rules with
// exemplars commonly add.
func traceIDs(ann map[string]string) []string {
	// Most alerts carry no trace id: find that out without allocating.
	found := false
	for k := range ann {
		if isTraceIDKey(k) {
			found = true
			break
		}
	}
	if !found {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	keys := make([]string, 0, len(ann))
	for k := range ann {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !isTraceIDKey(k) {
			continue
		}
		for _, id := range strings.FieldsFunc(ann[k], func(r rune) bool { return r == ',' || r == ' ' || r == ';' }) {
			id = strings.ToLower(strings.TrimSpace(id))
			if isHex(id) && !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	return out
}

// isTraceIDKey reports whether an annotation names trace ids, in any case.
func isTraceIDKey(k string) bool {
	lk := strings.ToLower(k) // no allocation for a key already in lower case
	return lk == "trace_id" || lk == "trace_ids" || lk == "traceid" || lk == "exemplar_trace_id"
}

func isHex(s string) bool {
	if len(s) < 16 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}
