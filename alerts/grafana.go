package alerts

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// grafanaPayload is the Grafana Alerting webhook payload (version 1): the
// Alertmanager webhook with orgId, title, state and message added.
type grafanaPayload struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	OrgID             json.Number       `json:"orgId"`
	Title             string            `json:"title"`
	State             string            `json:"state"`
	Message           string            `json:"message"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []grafanaAlert    `json:"alerts"`
}

type grafanaAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     wireTime          `json:"startsAt"`
	EndsAt       wireTime          `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
	RuleUID      string            `json:"ruleUID"`
	SilenceURL   string            `json:"silenceURL"`
	DashboardURL string            `json:"dashboardURL"`
	PanelURL     string            `json:"panelURL"`
	ImageURL     string            `json:"imageURL"`
	// Values are the rule's query results by ref id. Grafana sends
	// numbers, but null for NaN, so they are kept raw.
	Values      map[string]json.RawMessage `json:"values"`
	ValueString string                     `json:"valueString"`
}

// DecodeGrafana reads a Grafana Alerting webhook (version 1) into a
// notification. Links Grafana adds (dashboard, panel, silence, image),
// the rule uid and the query values become annotations, so the Slack
// thread can link back; the panel URL, else the dashboard URL, is the
// alert's source URL. Errors name the offending field.
func DecodeGrafana(body []byte, now time.Time) (Notification, error) {
	var p grafanaPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return Notification{}, jsonError(err)
	}
	status, err := parseStatus("status", p.Status)
	if err != nil {
		return Notification{}, err
	}
	if len(p.Alerts) == 0 {
		return Notification{}, fieldError("alerts", "must hold at least one alert")
	}
	n := Notification{GroupKey: p.GroupKey, Status: status, Truncated: p.TruncatedAlerts}
	for i, a := range p.Alerts {
		field := fmt.Sprintf("alerts[%d]", i)
		st, err := parseStatus(field+".status", a.Status)
		if err != nil {
			return Notification{}, err
		}
		if len(a.Labels) == 0 {
			return Notification{}, fieldError(field+".labels", "must not be empty")
		}
		startsAt, err := a.StartsAt.get(field + ".startsAt")
		if err != nil {
			return Notification{}, err
		}
		if startsAt.IsZero() {
			return Notification{}, fieldError(field+".startsAt", "must be an RFC 3339 time")
		}
		endsAt, err := endTime(field+".endsAt", a.EndsAt)
		if err != nil {
			return Notification{}, err
		}
		labels := merge(p.CommonLabels, a.Labels)
		annotations := merge(p.CommonAnnotations, a.Annotations)
		addGrafanaAnnotations(annotations, a)
		fp := a.Fingerprint
		if fp == "" {
			fp = oncall.LabelFingerprint(a.Labels)
		}
		name := labels["alertname"]
		if name == "" {
			name = p.Title
		}
		if name == "" {
			name = "unnamed alert"
		}
		sourceURL := first(map[string]string{"panel": a.PanelURL, "dashboard": a.DashboardURL, "external": p.ExternalURL}, "panel", "dashboard", "external")
		alert := oncall.Alert{
			Source:       "grafana",
			Fingerprint:  fp,
			Status:       st,
			Name:         name,
			Severity:     labels["severity"],
			Summary:      first(annotations, "summary", "title"),
			Description:  first(annotations, "description", "message"),
			Labels:       labels,
			Annotations:  annotations,
			StartsAt:     startsAt,
			EndsAt:       endsAt,
			GeneratorURL: a.GeneratorURL,
			SourceURL:    sourceURL,
			TraceIDs:     traceIDs(annotations),
			ReceivedAt:   now,
		}
		if alert.Summary == "" && len(p.Alerts) == 1 {
			alert.Summary = p.Title
		}
		n.Alerts = append(n.Alerts, alert)
	}
	if n.GroupKey == "" {
		n.GroupKey = "labels:" + oncall.LabelFingerprint(p.GroupLabels)
		if len(p.GroupLabels) == 0 {
			n.GroupKey = "labels:" + n.Alerts[0].Fingerprint
		}
	}
	// Grafana's groupKey is unique within one Grafana; an org prefix
	// keeps two orgs' equal groups apart.
	if p.OrgID != "" {
		n.GroupKey = "grafana-org-" + p.OrgID.String() + ":" + n.GroupKey
	}
	for i := range n.Alerts {
		n.Alerts[i].GroupKey = n.GroupKey
	}
	return n, nil
}

func addGrafanaAnnotations(ann map[string]string, a grafanaAlert) {
	set := func(k, v string) {
		if v != "" && ann[k] == "" {
			ann[k] = v
		}
	}
	set("dashboard_url", a.DashboardURL)
	set("panel_url", a.PanelURL)
	set("silence_url", a.SilenceURL)
	set("image_url", a.ImageURL)
	set("rule_uid", a.RuleUID)
	set("value_string", a.ValueString)
	if len(a.Values) > 0 {
		refs := make([]string, 0, len(a.Values))
		for k := range a.Values {
			refs = append(refs, k)
		}
		sort.Strings(refs)
		parts := make([]string, 0, len(refs))
		for _, k := range refs {
			parts = append(parts, k+"="+strings.TrimSpace(string(a.Values[k])))
		}
		set("values", strings.Join(parts, " "))
	}
}
