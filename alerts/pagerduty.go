package alerts

import (
	"encoding/json"
	"strings"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// pdEnvelope is a PagerDuty webhook (v3) delivery: one event.
type pdEnvelope struct {
	Event *pdEvent `json:"event"`
}

type pdEvent struct {
	ID           string          `json:"id"`
	EventType    string          `json:"event_type"`
	ResourceType string          `json:"resource_type"`
	OccurredAt   wireTime        `json:"occurred_at"`
	Agent        *pdReference    `json:"agent"`
	Data         json.RawMessage `json:"data"`
}

// pdIncident is the incident resource of incident.* events.
type pdIncident struct {
	ID               string        `json:"id"`
	Type             string        `json:"type"`
	HTMLURL          string        `json:"html_url"`
	Number           json.Number   `json:"number"`
	Status           string        `json:"status"`
	IncidentKey      string        `json:"incident_key"`
	CreatedAt        wireTime      `json:"created_at"`
	Title            string        `json:"title"`
	Urgency          string        `json:"urgency"`
	Service          *pdReference  `json:"service"`
	EscalationPolicy *pdReference  `json:"escalation_policy"`
	Teams            []pdReference `json:"teams"`
	Priority         *pdReference  `json:"priority"`
	IncidentType     *struct {
		Name string `json:"name"`
	} `json:"incident_type"`
}

type pdReference struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Summary string `json:"summary"`
	HTMLURL string `json:"html_url"`
}

// pdEventStatus maps the incident events that change what on-call sees to
// an alert status and PagerDuty's own status word. Other events (notes,
// reassignments, escalations, responders, status updates, services) hold
// nothing to triage and are acknowledged without a job.
var pdEventStatus = map[string]struct {
	status oncall.AlertStatus
	word   string
}{
	"incident.triggered":        {oncall.AlertFiring, "triggered"},
	"incident.reopened":         {oncall.AlertFiring, "triggered"},
	"incident.unacknowledged":   {oncall.AlertFiring, "triggered"},
	"incident.acknowledged":     {oncall.AlertFiring, "acknowledged"},
	"incident.priority_updated": {oncall.AlertFiring, ""},
	"incident.resolved":         {oncall.AlertResolved, "resolved"},
}

// DecodePagerDuty reads a PagerDuty webhook (v3) into a notification of
// one alert whose fingerprint and group are the PagerDuty incident id.
//
// Triggered, reopened and unacknowledged incidents fire. Acknowledged
// ones stay firing (an acknowledged incident is still broken) with the
// label pagerduty_status=acknowledged. Resolved ones resolve. A priority
// change keeps the incident's current status. Other events, and pings,
// are *IgnoredError. The event id is the notification's DedupeKey, so a
// replayed event enqueues nothing.
func DecodePagerDuty(body []byte, now time.Time) (Notification, error) {
	var env pdEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return Notification{}, jsonError(err)
	}
	ev := env.Event
	if ev == nil {
		return Notification{}, fieldError("event", "is required")
	}
	if ev.EventType == "" {
		return Notification{}, fieldError("event.event_type", "is required")
	}
	if ev.ID == "" {
		return Notification{}, fieldError("event.id", "is required")
	}
	mapped, ok := pdEventStatus[ev.EventType]
	if !ok {
		return Notification{}, &IgnoredError{Reason: "event type " + clip(ev.EventType, 64) + " has nothing to triage"}
	}
	if len(ev.Data) == 0 || string(ev.Data) == "null" {
		return Notification{}, fieldError("event.data", "is required")
	}
	var inc pdIncident
	if err := json.Unmarshal(ev.Data, &inc); err != nil {
		return Notification{}, prefixField("event.data", jsonError(err))
	}
	if inc.Type != "" && inc.Type != "incident" {
		return Notification{}, fieldError("event.data.type", "must be incident for %s, got %q", ev.EventType, clip(inc.Type, 64))
	}
	if inc.ID == "" {
		return Notification{}, fieldError("event.data.id", "is required")
	}
	occurred, err := ev.OccurredAt.get("event.occurred_at")
	if err != nil {
		return Notification{}, err
	}
	created, err := inc.CreatedAt.get("event.data.created_at")
	if err != nil {
		return Notification{}, err
	}

	status, word := mapped.status, mapped.word
	if word == "" { // priority change: keep the incident's own status
		word = strings.ToLower(inc.Status)
		if word == "resolved" {
			status = oncall.AlertResolved
		}
	}
	labels := map[string]string{"pagerduty_incident": inc.ID}
	setLabel := func(k, v string) {
		if v = strings.TrimSpace(v); v != "" {
			labels[k] = v
		}
	}
	setLabel("pagerduty_status", word)
	setLabel("urgency", strings.ToLower(inc.Urgency))
	if inc.Service != nil {
		// Not "service": a PagerDuty service name rarely equals the
		// service.name traces carry, and correlation maps "service".
		setLabel("pagerduty_service", inc.Service.Summary)
		setLabel("pagerduty_service_id", inc.Service.ID)
	}
	if inc.Priority != nil {
		setLabel("priority", inc.Priority.Summary)
	}
	if inc.EscalationPolicy != nil {
		setLabel("escalation_policy", inc.EscalationPolicy.Summary)
	}
	if len(inc.Teams) > 0 {
		setLabel("pagerduty_team", inc.Teams[0].Summary)
	}
	if inc.IncidentType != nil {
		setLabel("incident_type", inc.IncidentType.Name)
	}
	name := strings.TrimSpace(inc.Title)
	if name == "" {
		name = "PagerDuty incident " + inc.ID
	}
	severity := pdSeverity(inc)
	setDefaultLabels(labels, name, severity)

	annotations := map[string]string{"pagerduty_event": ev.EventType}
	if inc.IncidentKey != "" {
		annotations["incident_key"] = inc.IncidentKey
	}
	if inc.Number != "" {
		annotations["incident_number"] = inc.Number.String()
	}
	if ev.Agent != nil && ev.Agent.Summary != "" {
		annotations["agent"] = ev.Agent.Summary
	}

	startsAt := created
	if startsAt.IsZero() {
		startsAt = occurred
	}
	if startsAt.IsZero() {
		startsAt = now
	}
	group := "pagerduty:" + inc.ID
	alert := oncall.Alert{
		Source:      "pagerduty",
		Fingerprint: inc.ID,
		GroupKey:    group,
		Status:      status,
		Name:        name,
		Severity:    severity,
		Summary:     name,
		Labels:      labels,
		Annotations: annotations,
		StartsAt:    startsAt,
		SourceURL:   inc.HTMLURL,
		ReceivedAt:  now,
	}
	if status == oncall.AlertResolved {
		alert.EndsAt = occurred
		if alert.EndsAt.IsZero() {
			alert.EndsAt = now
		}
	}
	return Notification{GroupKey: group, Status: status, Alerts: []oncall.Alert{alert}, DedupeKey: ev.ID}, nil
}

// pdSeverity reads a severity from the incident: its priority when it
// names one the usual way (P1, P2 critical; P3 warning; P4, P5 info),
// else its urgency (high critical, low warning).
func pdSeverity(inc pdIncident) string {
	if inc.Priority != nil {
		switch strings.ToUpper(strings.TrimSpace(inc.Priority.Summary)) {
		case "P1", "P2", "SEV1", "SEV2":
			return "critical"
		case "P3", "SEV3":
			return "warning"
		case "P4", "P5", "SEV4", "SEV5":
			return "info"
		}
	}
	switch strings.ToLower(inc.Urgency) {
	case "high":
		return "critical"
	case "low":
		return "warning"
	}
	return ""
}

// prefixField puts the path of a nested document in front of the field an
// InputError names.
func prefixField(prefix string, err error) error {
	in, ok := err.(*InputError)
	if !ok {
		return err
	}
	if in.Field == "" {
		return &InputError{Field: prefix, Reason: in.Reason}
	}
	return &InputError{Field: prefix + "." + in.Field, Reason: in.Reason}
}
