package alerts

import (
	"strings"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// langsmithKinds maps LangSmith's alert_rule_attribute onto the question
// the alert asks of the traces. Feedback scores fall when answers get
// worse, which triage reads as failures.
var langsmithKinds = map[string]oncall.AlertKind{
	"error_count":    oncall.AlertKindErrors,
	"feedback_score": oncall.AlertKindErrors,
	"latency":        oncall.AlertKindLatency,
	"cost":           oncall.AlertKindCost,
}

// langsmithKind maps a rule attribute to an alert kind: the known ones
// exactly, newer ones by the metric their name contains. Run counts have
// no kind.
func langsmithKind(attr string) oncall.AlertKind {
	if k, ok := langsmithKinds[attr]; ok {
		return k
	}
	switch {
	case strings.Contains(attr, "latency"):
		return oncall.AlertKindLatency
	case strings.Contains(attr, "cost"):
		return oncall.AlertKindCost
	case strings.Contains(attr, "error"):
		return oncall.AlertKindErrors
	}
	return ""
}

// DecodeLangSmith reads a LangSmith alert webhook. LangSmith appends its
// fields (project_name, alert_rule_id, alert_rule_name, alert_rule_type,
// alert_rule_attribute, triggered_metric_value, triggered_threshold,
// timestamp) to whatever body template the alert uses, so the rest of the
// body is kept as annotations when it is flat.
//
// LangSmith alerts only fire: a threshold crossing is sent once and no
// resolution follows. The fingerprint is the project and rule, so each
// firing of one rule lands in one incident; project_name becomes the
// labels project and service, and the rule attribute becomes alert_kind
// (latency, errors or cost). The rule id and timestamp together are the
// DedupeKey, so a retried delivery enqueues nothing.
func DecodeLangSmith(body []byte, now time.Time) (Notification, error) {
	doc, err := decodeJSONObject(body)
	if err != nil {
		return Notification{}, err
	}
	str := func(field string) (string, error) {
		v, ok := doc[field]
		if !ok || v == nil {
			return "", nil
		}
		s, ok := scalarString(v)
		if !ok {
			return "", fieldError(field, "must be a string, got %s", describeType(v))
		}
		return strings.TrimSpace(s), nil
	}
	fields := map[string]string{}
	for _, f := range []string{"project_name", "alert_rule_id", "alert_rule_name", "alert_rule_type", "alert_rule_attribute", "triggered_metric_value", "triggered_threshold"} {
		if fields[f], err = str(f); err != nil {
			return Notification{}, err
		}
	}
	project, ruleID, ruleName := fields["project_name"], fields["alert_rule_id"], fields["alert_rule_name"]
	if ruleID == "" && ruleName == "" {
		return Notification{}, fieldError("alert_rule_id", "is required (or alert_rule_name)")
	}

	labels := map[string]string{}
	if project != "" {
		labels["project"] = project
		labels["service"] = project
	}
	attr := strings.ToLower(fields["alert_rule_attribute"])
	if attr != "" {
		labels["alert_rule_attribute"] = attr
		if kind := langsmithKind(attr); kind != "" {
			labels["alert_kind"] = string(kind)
		}
	}
	if ruleID != "" {
		labels["alert_rule_id"] = ruleID
	}
	name := ruleName
	if name == "" {
		name = "LangSmith alert " + ruleID
	}
	setDefaultLabels(labels, name, "")

	annotations := map[string]string{}
	for k, v := range doc {
		if _, known := fields[k]; known {
			continue
		}
		if s, ok := scalarString(v); ok && s != "" && k != "timestamp" {
			annotations[k] = s
		}
	}
	set := func(k, v string) {
		if v != "" {
			annotations[k] = v
		}
	}
	set("metric", attr)
	set("value", fields["triggered_metric_value"])
	set("threshold", fields["triggered_threshold"])
	set("rule_type", fields["alert_rule_type"])

	startsAt := now
	var stamp string
	if v, ok := doc["timestamp"]; ok && v != nil {
		if startsAt, err = parseTimeValue("timestamp", v); err != nil {
			return Notification{}, err
		}
		stamp = startsAt.Format(time.RFC3339Nano)
	}

	// One fingerprint per project and rule, from the same fields however
	// the body template orders them.
	fp := oncall.LabelFingerprint(map[string]string{"project": project, "rule": ruleID, "name": ruleName})
	group := "langsmith:" + fp
	summary := name
	if fields["triggered_metric_value"] != "" {
		summary = name + ": " + attr + " " + fields["triggered_metric_value"]
		if fields["triggered_threshold"] != "" {
			summary += " (threshold " + fields["triggered_threshold"] + ")"
		}
	}
	alert := oncall.Alert{
		Source:      "langsmith",
		Fingerprint: fp,
		GroupKey:    group,
		Status:      oncall.AlertFiring,
		Name:        name,
		Summary:     summary,
		Labels:      labels,
		Annotations: annotations,
		StartsAt:    startsAt,
		SourceURL:   annotations["project_url"],
		TraceIDs:    traceIDs(annotations),
		ReceivedAt:  now,
	}
	n := Notification{GroupKey: group, Status: oncall.AlertFiring, Alerts: []oncall.Alert{alert}}
	if stamp != "" {
		n.DedupeKey = fp + ":" + stamp
	}
	return n, nil
}
