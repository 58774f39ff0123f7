package triage

import (
	"cmp"
	"slices"
	"strings"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

const (
	maxSuspects = 8
	// maxSuspectValues is the most distinct values an attribute may take
	// to be read as a setting (a version, a model, a region) rather than
	// an id or free text.
	maxSuspectValues = 10
	// maxSuspectValueLen is the longest value read as a setting.
	maxSuspectValueLen = 80
	// minSuspectMargin is how much larger a value's share of failing runs
	// must be than its share of healthy runs.
	minSuspectMargin = 0.25
	// minSuspectCount is the fewest failing runs a suspect must cover.
	minSuspectCount = 2
)

// attrValue is one attribute value a run carries.
type attrValue struct{ attr, value string }

type attrTally struct{ failing, healthy int }

// suspects finds attribute values over-represented in failing incident
// runs against healthy ones (incident runs that went well, and the
// baseline): trace attributes, the models and providers called, and
// version and prompt attributes of spans. What counts as failing follows
// the top cluster: runs with a failure that changed against the baseline,
// runs slower than the baseline's p95, or runs spending more than it.
func (a *analysis) suspects(cs []oncall.Cluster) []oncall.Suspect {
	kind := clusterError
	switch {
	case len(cs) > 0:
		kind = cs[0].Kind
	case a.kind == oncall.AlertKindLatency:
		kind = clusterLatency
	case a.kind == oncall.AlertKindCost:
		kind = clusterCost
	}
	anyChanged := false
	for i := range a.facts {
		anyChanged = anyChanged || a.facts[i].changed
	}
	latencyBar := a.lat.traceP95
	if latencyBar == 0 {
		latencyBar = 1.5 * percentile(a.lat.incDur, 0.5)
	}
	costBar := a.cost.traceP95
	// failing: 1, healthy: 0, neither: -1.
	side := func(f *traceFacts) int {
		if !f.incident {
			return 0
		}
		var bad bool
		switch kind {
		case clusterLatency:
			bad = f.duration > latencyBar
		case clusterCost:
			bad = a.cost.measure(f) > costBar
		default:
			if f.failed && !f.changed && anyChanged {
				return -1 // a steady failure: neither what changed nor healthy
			}
			bad = f.changed || (!anyChanged && f.failed)
		}
		if bad {
			return 1
		}
		if f.failed {
			return -1
		}
		return 0
	}

	tallies := make(map[attrValue]*attrTally)
	seen := make(map[attrValue]bool)
	var nFail, nHealthy int
	for i := range a.facts {
		f := &a.facts[i]
		s := side(f)
		if s < 0 {
			continue
		}
		if s == 1 {
			nFail++
		} else {
			nHealthy++
		}
		clear(seen)
		runAttributes(f.t, func(av attrValue) {
			if seen[av] {
				return
			}
			seen[av] = true
			t := tallies[av]
			if t == nil {
				t = &attrTally{}
				tallies[av] = t
			}
			if s == 1 {
				t.failing++
			} else {
				t.healthy++
			}
		})
	}
	if nFail < minSuspectCount || nHealthy == 0 {
		return nil
	}

	// Attributes that take few values are settings; the rest are ids.
	values := make(map[string][]attrValue)
	for av := range tallies {
		values[av.attr] = append(values[av.attr], av)
	}
	limit := min(maxSuspectValues, max(2, (nFail+nHealthy)/2))
	var out []oncall.Suspect
	var margins []float64
	for attr, avs := range values {
		if len(avs) > limit {
			continue
		}
		var usual string
		usualCount := 0
		for _, av := range avs {
			if h := tallies[av].healthy; h > usualCount || (h == usualCount && h > 0 && av.value < usual) {
				usual, usualCount = av.value, h
			}
		}
		for _, av := range avs {
			t := tallies[av]
			margin := float64(t.failing)/float64(nFail) - float64(t.healthy)/float64(nHealthy)
			if t.failing < minSuspectCount || margin < minSuspectMargin {
				continue
			}
			s := oncall.Suspect{
				Attribute:    attr,
				Value:        av.value,
				FailingCount: t.failing,
				FailingTotal: nFail,
				HealthyCount: t.healthy,
				HealthyTotal: nHealthy,
			}
			if usual != av.value {
				s.BaselineValue = usual
			}
			out = append(out, s)
			margins = append(margins, margin)
		}
	}
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(x, y int) int {
		return cmp.Or(
			cmp.Compare(margins[y], margins[x]),
			cmp.Compare(out[y].FailingCount, out[x].FailingCount),
			strings.Compare(out[x].Attribute, out[y].Attribute),
			strings.Compare(out[x].Value, out[y].Value),
		)
	})
	ranked := make([]oncall.Suspect, 0, min(len(idx), maxSuspects))
	for _, i := range idx[:min(len(idx), maxSuspects)] {
		ranked = append(ranked, out[i])
	}
	return ranked
}

// runAttributes calls fn with each attribute value of a run that may be a
// setting: trace attributes, models and providers of spans, and span
// attributes that name versions, releases or prompts. Tool span
// attributes are qualified by the tool's name.
func runAttributes(t *oncall.Trace, fn func(attrValue)) {
	for k, v := range t.Attributes {
		if settingValue(k, v) {
			fn(attrValue{k, v})
		}
	}
	for i := range t.Spans {
		s := &t.Spans[i]
		if s.Model != "" && len(s.Model) <= maxSuspectValueLen {
			fn(attrValue{"model", s.Model})
		}
		if s.Provider != "" && len(s.Provider) <= maxSuspectValueLen {
			fn(attrValue{"provider", s.Provider})
		}
		for k, v := range s.Attributes {
			if !spanSettingKey(k) || !settingValue(k, v) {
				continue
			}
			if s.Kind == oncall.KindTool {
				k = k + " (" + displayName(s) + ")"
			}
			fn(attrValue{k, v})
		}
	}
}

// spanSettingKey reports whether a span attribute names a version,
// release or prompt rather than content or counts.
func spanSettingKey(k string) bool {
	k = strings.ToLower(k)
	if containsAny(k, "version", "release", "revision", "variant", "experiment") {
		return true
	}
	return strings.Contains(k, "prompt") && !containsAny(k, "token", "template", "variables", "text", "content", "message", "input", "output")
}

// settingValue reports whether an attribute value can be a setting: short,
// not a credential, not an id, a time or an address.
func settingValue(k, v string) bool {
	if v == "" || len(v) > maxSuspectValueLen || isSecretKey(k) {
		return false
	}
	lk := strings.ToLower(k)
	if i := strings.LastIndexAny(lk, "._-"); i >= 0 {
		lk = lk[i+1:]
	}
	switch lk {
	case "id", "ids", "uuid", "key", "hash", "ip", "email", "time", "timestamp":
		return false
	}
	switch h, _ := classifyWhole(v); h {
	case "<uuid>", "<id>", "<ts>", "<email>", "<url>":
		return false
	}
	return true
}
