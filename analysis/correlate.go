package analysis

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// alertMetaLabels describe the alert itself, never the traces.
var alertMetaLabels = map[string]bool{
	"alertname": true, "severity": true, "priority": true, "alertstate": true, "alert_kind": true,
	"__name__": true, "receiver": true, "prometheus": true, "monitor": true, "le": true, "quantile": true,
}

// IsAlertMetaLabel reports whether an alert label describes the alert
// itself (its name, severity, receiver...) rather than the traces, so it
// never selects or filters them.
func IsAlertMetaLabel(label string) bool { return alertMetaLabels[label] }

// maxCarriedLen bounds the attribute values compared with label values:
// longer values are content (prompts, outputs), not identity.
const maxCarriedLen = 256

// Correlation is what Correlate decided.
type Correlation struct {
	Traces  []oncall.Trace      // the alert's traces, in input order
	Filters []oncall.LabelMatch // the labels kept, with the attributes that carried them
	Unused  []oncall.LabelMatch // the labels dropped
	Missing []string            // why labels were dropped, for the report's missing
}

// Correlate picks the alert's traces among those a store returned for
// its windows, by what the traces carry: for each alert label, the traces
// whose trace-level attributes (resource attributes, agent names, the
// trace and root span name, Langfuse environment, release and tags) hold
// the label's value. hints is the configured label map: the attribute it
// names for a label, or any alias of it, also counts when a span other
// than the root carries it.
//
// A label that selects traces is kept, so an alert about one service is
// never diagnosed from another's failures; a label no trace carries, or
// whose traces share none with the labels kept before it, is dropped and,
// when the label map names it, reported in missing. Labels the map names
// are applied first, then the rest by name. With no usable label every
// trace is kept and missing says so.
func Correlate(alert oncall.Alert, hints map[string]string, traces []oncall.Trace) Correlation {
	var labels []string
	for l, v := range alert.Labels {
		if IsAlertMetaLabel(l) || len(strings.TrimSpace(v)) < 2 {
			continue
		}
		labels = append(labels, l)
	}
	slices.SortFunc(labels, func(x, y string) int {
		_, hx := hints[x]
		_, hy := hints[y]
		if hx != hy {
			if hx {
				return -1
			}
			return 1
		}
		return strings.Compare(x, y)
	})

	var c Correlation
	selected := make([]bool, len(traces))
	for i := range selected {
		selected[i] = true
	}
	for _, label := range labels {
		value := alert.Labels[label]
		m := oncall.LabelMatch{Label: label, Value: value, Mapped: hints[label]}
		attrs := map[string]bool{}
		carries := make([]bool, len(traces))
		overlap := 0
		for i := range traces {
			keys := carriers(&traces[i], value, m.Mapped)
			if len(keys) == 0 {
				continue
			}
			carries[i] = true
			m.Traces++
			if selected[i] {
				overlap++
			}
			for _, k := range keys {
				attrs[k] = true
			}
		}
		m.Attributes = sortedSet(attrs)
		switch {
		case m.Traces == 0:
			if m.Mapped != "" {
				c.Unused = append(c.Unused, m)
				c.Missing = append(c.Missing, fmt.Sprintf("no trace in the window carries %s=%s; that label was not used", label, value))
			}
			continue
		case overlap == 0:
			c.Unused = append(c.Unused, m)
			c.Missing = append(c.Missing, fmt.Sprintf("the %d traces that carry %s=%s share none with the labels used before it; that label was not used", m.Traces, label, value))
			continue
		}
		for i := range selected {
			selected[i] = selected[i] && carries[i]
		}
		c.Filters = append(c.Filters, m)
	}
	for i := range traces {
		if selected[i] {
			c.Traces = append(c.Traces, traces[i])
		}
	}
	if len(c.Filters) == 0 && len(traces) > 0 {
		c.Missing = append(c.Missing, fmt.Sprintf("no alert label matched any trace attribute: all %d traces of the store in the windows were read, whatever service or agent wrote them", len(traces)))
	}
	return c
}

// carriers returns the trace-level attributes of t that hold value: the
// trace's attributes and tags, its service and name, and the attributes
// and names of its root and agent spans. mapped, the attribute the label
// map names, and its aliases count on any span.
func carriers(t *oncall.Trace, value, mapped string) []string {
	var keys []string
	add := func(k string) {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	eq := func(v string) bool { return len(v) <= maxCarriedLen && strings.EqualFold(strings.TrimSpace(v), value) }
	for k, v := range t.Attributes {
		if eq(v) || tagsHold(k, v, value) {
			add(k)
		}
	}
	if eq(t.Service) {
		add("service.name")
	}
	if eq(t.Name) {
		add("trace.name")
	}
	root := t.Root()
	for i := range t.Spans {
		s := &t.Spans[i]
		isRoot, isAgent := s == root, s.Kind == oncall.KindAgent
		if isRoot || isAgent {
			for k, v := range s.Attributes {
				if eq(v) || tagsHold(k, v, value) {
					add(k)
				}
			}
			if eq(s.Service) {
				add("service.name")
			}
			if isAgent && eq(s.Name) {
				add("agent span name")
			}
			if isRoot && eq(s.Name) {
				add("root span name")
			}
		}
	}
	if mapped != "" && len(keys) == 0 {
		for _, k := range oncall.AttributeAliases(mapped) {
			if t.MatchesFilters(map[string]string{k: value}) {
				add(k)
			}
		}
	}
	sort.Strings(keys)
	return keys
}

// tagsHold reports whether an attribute holding a list of tags (a JSON
// array, as Langfuse's trace tags are kept) lists value.
func tagsHold(key, v, value string) bool {
	if !strings.HasPrefix(v, "[") || !strings.Contains(strings.ToLower(key), "tag") {
		return false
	}
	var tags []string
	if json.Unmarshal([]byte(v), &tags) != nil {
		return false
	}
	for _, t := range tags {
		if strings.EqualFold(strings.TrimSpace(t), value) {
			return true
		}
	}
	return false
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// NarrowingFilters turns the labels Correlate kept into store filters,
// so a store whose answer was capped can be asked again for the alert's
// traces only: each label under the spelling the traces carry of the
// attribute the label map names (a store filters on what it holds), else
// service.name, else the first attribute that carried it. Span names
// cannot be filtered on.
func NarrowingFilters(ms []oncall.LabelMatch) map[string]string {
	f := map[string]string{}
	for _, m := range ms {
		var choice string
		mapped := false
		for _, k := range m.Attributes {
			switch {
			case strings.Contains(k, " ") || mapped:
				continue
			case m.Mapped != "" && slices.Contains(oncall.AttributeAliases(m.Mapped), k):
				choice, mapped = k, true
			case k == "service.name":
				choice = k
			case choice == "":
				choice = k
			}
		}
		if choice != "" {
			f[choice] = m.Value
		}
	}
	return f
}
