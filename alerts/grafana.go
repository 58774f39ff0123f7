package alerts

import (
	"encoding/json"
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
	amAlert
	RuleUID      string `json:"ruleUID"`
	SilenceURL   string `json:"silenceURL"`
	DashboardURL string `json:"dashboardURL"`
	PanelURL     string `json:"panelURL"`
	ImageURL     string `json:"imageURL"`
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
	group := groupPayload{GroupKey: p.GroupKey, Status: p.Status, Truncated: p.TruncatedAlerts, GroupLabels: p.GroupLabels,
		CommonLabels: p.CommonLabels, CommonAnnotations: p.CommonAnnotations, ExternalURL: p.ExternalURL}
	base := make([]amAlert, len(p.Alerts))
	for i, a := range p.Alerts {
		base[i] = a.amAlert
	}
	n, err := decodeGroup("grafana", group, base, now, func(i int, alert *oncall.Alert) {
		a := p.Alerts[i]
		addGrafanaAnnotations(alert.Annotations, a)
		if alert.Name == "" {
			alert.Name = p.Title
		}
		alert.SourceURL = first(map[string]string{"panel": a.PanelURL, "dashboard": a.DashboardURL, "external": p.ExternalURL}, "panel", "dashboard", "external")
		if alert.Summary == "" && len(p.Alerts) == 1 {
			alert.Summary = p.Title
		}
	})
	if err != nil {
		return Notification{}, err
	}
	// Grafana's groupKey is unique within one Grafana; an org prefix
	// keeps two orgs' equal groups apart.
	if p.OrgID != "" {
		n.GroupKey = "grafana-org-" + p.OrgID.String() + ":" + n.GroupKey
	}
	setGroupKey(&n)
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
