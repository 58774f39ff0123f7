package oncall

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
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

// Kind is the question the alert asks (see MeasuredKind), or
// AlertKindErrors when what it measures does not say.
func (a Alert) Kind() AlertKind {
	if k, _ := a.MeasuredKind(); k != "" {
		return k
	}
	return AlertKindErrors
}

// MeasuredKind reads which question the alert asks from what it measures:
// an alert_kind label first, then the metric names and matchers of its
// query (the generator URL's expr, a query or expr annotation, a metric or
// __name__ label). from says which; both are empty when nothing does.
// Words in the alert's name or summary are not read: "High memory usage"
// measures no token spend, and "AgentErrors" may page on a latency SLO.
func (a Alert) MeasuredKind() (kind AlertKind, from string) {
	if k, ok := a.Labels["alert_kind"]; ok {
		switch k := AlertKind(strings.ToLower(strings.TrimSpace(k))); k {
		case AlertKindLatency, AlertKindCost, AlertKindErrors:
			return k, "the alert_kind label"
		}
	}
	for _, q := range []struct{ text, from string }{
		{generatorQuery(a.GeneratorURL), "the alert's query"},
		{a.Annotations["query"] + " " + a.Annotations["expr"] + " " + a.Annotations["expression"], "the alert's query"},
		{a.Labels["__name__"] + " " + a.Labels["metric"] + " " + a.Annotations["metric"], "the alert's metric"},
	} {
		if k := kindOfQuery(q.text); k != "" {
			return k, q.from
		}
	}
	return "", ""
}

// rangeSelector is a PromQL range ([5m], [1h30m], [2m:30s]): the window
// the rule looks back over.
var rangeSelector = regexp.MustCompile(`\[\s*((?:\d+(?:ms|[smhdw]))+)\s*(?::[^\]]*)?\]`)

// Lookback is how far back the alert's rule looks when it evaluates: the
// longest range selector of its query ("[5m]" in rate(x[5m])), zero when
// the query is unknown or has none. The failure that fired the alert was
// in the traces within that span before it fired.
func (a Alert) Lookback() time.Duration {
	q := generatorQuery(a.GeneratorURL) + " " + a.Annotations["query"] + " " + a.Annotations["expr"] + " " + a.Annotations["expression"]
	var longest time.Duration
	for _, m := range rangeSelector.FindAllStringSubmatch(q, -1) {
		if d, err := parsePromDuration(m[1]); err == nil && d > longest {
			longest = d
		}
	}
	return longest
}

// parsePromDuration reads a Prometheus duration (1d, 5m, 1h30m, 1w).
func parsePromDuration(s string) (time.Duration, error) {
	var total time.Duration
	for s != "" {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("duration %q: no number", s)
		}
		n, _ := strconv.Atoi(s[:i])
		unit := s[i:]
		var d time.Duration
		switch {
		case strings.HasPrefix(unit, "ms"):
			d, unit = time.Millisecond, unit[2:]
		case strings.HasPrefix(unit, "s"):
			d, unit = time.Second, unit[1:]
		case strings.HasPrefix(unit, "m"):
			d, unit = time.Minute, unit[1:]
		case strings.HasPrefix(unit, "h"):
			d, unit = time.Hour, unit[1:]
		case strings.HasPrefix(unit, "d"):
			d, unit = 24*time.Hour, unit[1:]
		case strings.HasPrefix(unit, "w"):
			d, unit = 7*24*time.Hour, unit[1:]
		default:
			return 0, fmt.Errorf("duration %q: unknown unit", s)
		}
		total += time.Duration(n) * d
		s = unit
	}
	return total, nil
}

// generatorQuery returns the query a generator URL carries: Prometheus'
// g0.expr, or an expr, query or q parameter (Grafana Explore, Thanos,
// Datadog, Honeycomb links).
func generatorQuery(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	q := u.Query()
	var parts []string
	for k, vs := range q {
		lk := strings.ToLower(k)
		if strings.HasSuffix(lk, ".expr") || lk == "expr" || lk == "query" || lk == "q" || lk == "left" {
			parts = append(parts, vs...)
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// Words in metric names and matcher values that say what a query
// measures. "usage" alone is not cost (memory and CPU usage), only
// tokens, spend and money are.
var (
	latencyWords = map[string]bool{"latency": true, "duration": true, "seconds": true, "histogram_quantile": true, "p90": true, "p95": true, "p99": true, "ttft": true, "slow": true, "elapsed": true, "response_time": true, "responsetime": true}
	costWords    = map[string]bool{"cost": true, "costs": true, "usd": true, "spend": true, "token": true, "tokens": true, "billing": true, "dollars": true}
	errorWords   = map[string]bool{"error": true, "errors": true, "failed": true, "failure": true, "failures": true, "fail": true, "exception": true, "exceptions": true, "5xx": true, "status_code": true, "unavailable": true}
)

var (
	matcherValue  = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_.]*)\s*(=~|!~|!=|==|=|:)\s*"([^"]*)"`)
	outcomeLabels = map[string]bool{"status": true, "status_code": true, "code": true, "outcome": true, "result": true, "level": true, "state": true, "error": true, "error_type": true, "http_status_code": true, "otel_status_code": true}
)

// kindOfQuery classifies a query by the words of its identifiers and
// quoted values; the kind with most words wins, errors over latency over
// cost on a tie. It returns "" when no word says.
func kindOfQuery(q string) AlertKind {
	if strings.TrimSpace(q) == "" {
		return ""
	}
	var nErr, nLat, nCost int
	// Matcher values name things (an agent called billing-agent), except
	// under the labels that carry an outcome (status="error").
	q = matcherValue.ReplaceAllStringFunc(q, func(m string) string {
		sub := matcherValue.FindStringSubmatch(m)
		if outcomeLabels[strings.ToLower(sub[1])] {
			return sub[1] + " " + sub[3]
		}
		return sub[1]
	})
	words := strings.FieldsFunc(strings.ToLower(q), func(r rune) bool {
		return !(r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	})
	for _, w := range words {
		if w == "histogram_quantile" || w == "response_time" {
			nLat += 2
			continue
		}
		for _, part := range strings.Split(w, "_") {
			switch {
			case errorWords[part]:
				nErr++
			case latencyWords[part]:
				nLat++
			case costWords[part]:
				nCost++
			}
		}
	}
	switch {
	case nErr == 0 && nLat == 0 && nCost == 0:
		return ""
	case nErr >= nLat && nErr >= nCost:
		return AlertKindErrors
	case nLat >= nCost:
		return AlertKindLatency
	}
	return AlertKindCost
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
