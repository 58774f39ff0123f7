package oncall

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"
	"time"
)

// AlertStatus is whether an alert is firing or resolved.
type AlertStatus string

// Alert statuses.
const (
	AlertFiring   AlertStatus = "firing"
	AlertResolved AlertStatus = "resolved"
)

// AlertKind says what question an alert asks of the traces.
type AlertKind string

// Alert kinds. An error-rate alert asks "what started failing", a latency
// alert "what got slower", a cost alert "what spends more tokens".
const (
	AlertKindErrors  AlertKind = "errors"
	AlertKindLatency AlertKind = "latency"
	AlertKindCost    AlertKind = "cost"
)

// Alert is one alert from any source, normalised.
type Alert struct {
	Source       string            `json:"source"`      // alertmanager, grafana, pagerduty, langsmith, generic
	Fingerprint  string            `json:"fingerprint"` // stable identity of this alert within its source
	GroupKey     string            `json:"group_key"`   // alerts with one group key share one incident
	Status       AlertStatus       `json:"status"`
	Name         string            `json:"name"` // alertname or rule name
	Severity     string            `json:"severity,omitempty"`
	Summary      string            `json:"summary,omitempty"`
	Description  string            `json:"description,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"starts_at"`
	EndsAt       time.Time         `json:"ends_at,omitzero"`
	SourceURL    string            `json:"source_url,omitempty"`    // link back to the alert in its source
	GeneratorURL string            `json:"generator_url,omitempty"` // the query that fired
	TraceIDs     []string          `json:"trace_ids,omitempty"`     // traces the alert names explicitly
	ReceivedAt   time.Time         `json:"received_at"`
}

// Kind guesses which question the alert asks from its name, labels and
// annotations. Unknown alerts are treated as error alerts.
func (a Alert) Kind() AlertKind {
	if k, ok := a.Labels["alert_kind"]; ok {
		switch AlertKind(strings.ToLower(k)) {
		case AlertKindLatency, AlertKindCost, AlertKindErrors:
			return AlertKind(strings.ToLower(k))
		}
	}
	text := strings.ToLower(a.Name + " " + a.Summary + " " + a.Labels["metric"] + " " + a.Annotations["metric"])
	for _, w := range []string{"latency", "duration", "slow", "p95", "p99", "response time", "timeout rate"} {
		if strings.Contains(text, w) {
			return AlertKindLatency
		}
	}
	for _, w := range []string{"cost", "token", "spend", "budget", "usage"} {
		if strings.Contains(text, w) {
			return AlertKindCost
		}
	}
	return AlertKindErrors
}

// Resolved reports whether the alert has ended.
func (a Alert) Resolved() bool { return a.Status == AlertResolved }

// LabelFingerprint derives a stable fingerprint from a label set, for
// sources that send none. Equal label sets give equal fingerprints.
func LabelFingerprint(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte{0})
		h.Write([]byte(labels[k]))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
