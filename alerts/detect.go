package alerts

import (
	"encoding/json"
	"fmt"
	"time"
)

// DetectSource names the source whose webhook body looks like body:
// pagerduty (a V3 webhook's event with an event_type), langsmith (an
// alert_rule_id), grafana (an Alertmanager-shaped body with Grafana's
// orgId, or alerts carrying Grafana's URLs or values), alertmanager
// (alerts with a groupKey or receiver), else generic. It only guesses:
// the webhook endpoints know their source from their path.
func DetectSource(body []byte) string {
	var doc map[string]json.RawMessage
	if json.Unmarshal(body, &doc) != nil {
		return "generic"
	}
	if raw, ok := doc["event"]; ok {
		var ev struct {
			EventType string `json:"event_type"`
		}
		if json.Unmarshal(raw, &ev) == nil && ev.EventType != "" {
			return "pagerduty"
		}
	}
	if _, ok := doc["alert_rule_id"]; ok {
		return "langsmith"
	}
	raw, hasAlerts := doc["alerts"]
	if !hasAlerts {
		return "generic"
	}
	if _, ok := doc["orgId"]; ok {
		return "grafana"
	}
	var list []map[string]json.RawMessage
	if json.Unmarshal(raw, &list) == nil {
		for _, a := range list {
			for _, k := range []string{"dashboardURL", "panelURL", "silenceURL", "values", "valueString"} {
				if _, ok := a[k]; ok {
					return "grafana"
				}
			}
		}
	}
	_, group := doc["groupKey"]
	_, receiver := doc["receiver"]
	if group || receiver {
		return "alertmanager"
	}
	return "generic"
}

// Decode reads a webhook body of the named source (one of SourceNames)
// with that source's decoder; the generic one uses the default mapping.
func Decode(source string, body []byte, now time.Time) (Notification, error) {
	switch source {
	case "alertmanager":
		return DecodeAlertmanager(body, now)
	case "grafana":
		return DecodeGrafana(body, now)
	case "pagerduty":
		return DecodePagerDuty(body, now)
	case "langsmith":
		return DecodeLangSmith(body, now)
	case "generic":
		return DecodeGeneric(body, now)
	}
	return Notification{}, fmt.Errorf("unknown alert source %q: want one of %v", source, SourceNames())
}
