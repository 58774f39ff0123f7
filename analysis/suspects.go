package analysis

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

type attrTally struct{ failing, healthy, baseline int }

// suspects finds attribute values over-represented in failing incident
// runs against healthy ones (incident runs that went well, and the
// baseline): trace attributes, the models and providers called, and
// version and prompt attributes of spans. What counts as failing follows
// the top cluster: runs with a failure that changed against the baseline,
// runs slower than the baseline's p95, or runs spending more than it.
func (a *analyzer) suspects(cs []oncall.Cluster) []oncall.Suspect {
	kind := ClusterError
	switch {
	case len(cs) > 0:
		kind = cs[0].Kind
	case a.kind == oncall.AlertKindLatency:
		kind = ClusterLatency
	case a.kind == oncall.AlertKindCost:
		kind = ClusterCost
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
		case ClusterLatency:
			bad = f.duration > latencyBar
		case ClusterCost:
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
	carriers := make(map[string]*attrTally) // runs carrying each label at all
	seen := make(map[attrValue]bool)
	seenLabel := make(map[string]bool)
	keys := newSettingKeys()
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
		clear(seenLabel)
		keys.runAttributes(f.t, seen, func(av attrValue) {
			count(tallies, av, s == 1, !f.incident)
			if !seenLabel[av.attr] {
				seenLabel[av.attr] = true
				count(carriers, av.attr, s == 1, !f.incident)
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
	type suspectRank struct {
		bound    float64
		distinct int // values the attribute takes: more is more specific
	}
	var ranks []suspectRank
	for attr, avs := range values {
		if len(avs) > limit {
			continue
		}
		// Healthy runs are compared among those that carry the attribute
		// at all: a component only some runs go through is judged by the
		// runs through it, so that taking that path is no suspect, while
		// a value it changed to is.
		healthyTotal := nHealthy
		if c := carriers[attr].healthy; c >= minSuspectCount {
			healthyTotal = c
		}
		// The usual value is what the baseline mostly had, or healthy runs
		// when the baseline never had the attribute. The usual value of
		// most healthy runs changed nothing: failing runs having it only
		// marks the path they take.
		usualOf := func(except string) string {
			n := func(t *attrTally) int { return t.baseline }
			if carriers[attr].baseline == 0 {
				n = func(t *attrTally) int { return t.healthy }
			}
			var usual string
			most := 0
			for _, av := range avs {
				if c := n(tallies[av]); av.value != except && (c > most || (c == most && c > 0 && av.value < usual)) {
					usual, most = av.value, c
				}
			}
			return usual
		}
		usual := usualOf("")
		for _, av := range avs {
			t := tallies[av]
			margin := float64(t.failing)/float64(nFail) - float64(t.healthy)/float64(healthyTotal)
			healthyShare := float64(t.healthy) / float64(healthyTotal)
			if t.failing < minSuspectCount || margin < minSuspectMargin || (av.value == usual && healthyShare >= 0.5) {
				continue
			}
			// The margin must hold at the lower confidence bound too, so
			// that a handful of failing runs cannot make a suspect.
			bound := differenceLower(t.failing, nFail, t.healthy, healthyTotal)
			if bound <= 0 {
				continue
			}
			s := oncall.Suspect{
				Attribute:    keys.key(attr),
				Value:        av.value,
				FailingCount: t.failing,
				FailingTotal: nFail,
				HealthyCount: t.healthy,
				HealthyTotal: healthyTotal,
			}
			s.BaselineValue = usual
			if usual == av.value {
				s.BaselineValue = usualOf(usual)
			}
			out = append(out, s)
			// A provider says less than the model it serves: on a tie the
			// model goes first.
			distinct := len(avs)
			if attr == providerLabel {
				distinct = 0
			}
			ranks = append(ranks, suspectRank{bound: bound, distinct: distinct})
		}
	}
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(x, y int) int {
		return cmp.Or(
			cmp.Compare(round(ranks[y].bound, 9), round(ranks[x].bound, 9)),
			cmp.Compare(out[y].FailingCount, out[x].FailingCount),
			cmp.Compare(ranks[y].distinct, ranks[x].distinct),
			strings.Compare(out[x].Attribute, out[y].Attribute),
			strings.Compare(out[x].Value, out[y].Value),
		)
	})
	ranked := make([]oncall.Suspect, 0, min(len(idx), maxSuspects))
	for _, i := range idx {
		if len(ranked) == maxSuspects {
			break
		}
		// One attribute value reported by two services is one suspect.
		if slices.ContainsFunc(ranked, func(r oncall.Suspect) bool { return r.Attribute == out[i].Attribute && r.Value == out[i].Value }) {
			continue
		}
		ranked = append(ranked, out[i])
	}
	return ranked
}

func count[K comparable](m map[K]*attrTally, k K, failing, baseline bool) {
	t := m[k]
	if t == nil {
		t = &attrTally{}
		m[k] = t
	}
	switch {
	case failing:
		t.failing++
	default:
		t.healthy++
	}
	if baseline {
		t.baseline++
	}
}

// settingKeys remembers which attribute keys and values may hold
// settings, and the labels of service-qualified keys: keys and values
// repeat across spans and runs, and deciding is string work.
type settingKeys struct {
	trace, span, value map[string]bool
	labels             map[[2]string]string
	keys               map[string]string // qualified label -> attribute key
}

func newSettingKeys() settingKeys {
	return settingKeys{trace: map[string]bool{}, span: map[string]bool{}, value: map[string]bool{}, labels: map[[2]string]string{}, keys: map[string]string{}}
}

// key returns the attribute key a label stands for.
func (sk settingKeys) key(label string) string {
	if k, ok := sk.keys[label]; ok {
		return k
	}
	return label
}

func (sk settingKeys) traceKey(k string) bool {
	ok, known := sk.trace[k]
	if !known {
		ok = settingKey(k)
		sk.trace[k] = ok
	}
	return ok
}

func (sk settingKeys) spanKey(k string) bool {
	ok, known := sk.span[k]
	if !known {
		ok = spanSettingKey(k) && settingKey(k)
		sk.span[k] = ok
	}
	return ok
}

func (sk settingKeys) settingValue(v string) bool {
	ok, known := sk.value[v]
	if !known {
		ok = settingValue(v)
		sk.value[v] = ok
	}
	return ok
}

// label names a span attribute for counting: its key, qualified by the
// span's service when that is not the run's own, since resource
// attributes such as a version belong to the service that reports them.
// Suspects report the key alone.
func (sk settingKeys) label(k, service, runService string) string {
	if service == "" || service == runService {
		return k
	}
	l, ok := sk.labels[[2]string{k, service}]
	if !ok {
		l = k + " (" + service + ")"
		sk.labels[[2]string{k, service}] = l
		sk.keys[l] = k
	}
	return l
}

// Labels of the span fields read as settings, after the OTel GenAI
// attributes that carry them.
const (
	modelLabel    = "gen_ai.request.model"
	providerLabel = "gen_ai.provider.name"
)

// runAttributes calls fn once with each attribute value of a run that may
// be a setting, using seen (empty for each run) to tell repeats: trace attributes, the models and providers its spans call,
// and span attributes that are neither content, outcome, measure nor id
// (resource attributes such as versions, pods and regions; prompt and
// tool versions; retrieval settings).
func (sk settingKeys) runAttributes(t *oncall.Trace, seen map[attrValue]bool, fn func(attrValue)) {
	once := func(av attrValue) bool {
		if seen[av] {
			return false
		}
		seen[av] = true
		return true
	}
	for k, v := range t.Attributes {
		if av := (attrValue{k, v}); sk.traceKey(k) && once(av) && sk.settingValue(v) {
			fn(av)
		}
	}
	for i := range t.Spans {
		s := &t.Spans[i]
		if s.Model != "" && len(s.Model) <= maxSuspectValueLen {
			if av := (attrValue{modelLabel, s.Model}); once(av) {
				fn(av)
			}
		}
		if s.Provider != "" && len(s.Provider) <= maxSuspectValueLen {
			if av := (attrValue{providerLabel, s.Provider}); once(av) {
				fn(av)
			}
		}
		for k, v := range s.Attributes {
			// Most span attributes repeat on every span of a service:
			// the key is judged first, then each value once per run.
			if !sk.spanKey(k) {
				continue
			}
			if av := (attrValue{sk.label(k, s.Service, t.Service), v}); once(av) && sk.settingValue(v) {
				fn(av)
			}
		}
	}
}

// spanSettingKey reports whether a span attribute may name a setting:
// versions, releases and prompt names do; content (inputs, outputs,
// messages, queries, URLs), outcomes (errors, statuses), measures (tokens,
// counts, durations) and the model fields read elsewhere do not.
func spanSettingKey(k string) bool {
	k = strings.ToLower(k)
	if containsAny(k, "version", "release", "revision", "variant", "experiment") {
		return true
	}
	if strings.Contains(k, "prompt") {
		return strings.HasSuffix(k, "name")
	}
	return !containsAny(k,
		"error", "exception", "status", "finish", "reason", "otel.",
		"input", "output", "message", "content", "text", "query", "instruction", "argument", "args",
		"document", "template", "description", "url", "path", "header", "body", "parameter", "invocation",
		"value", "result", "response", "token", "count", "usage", "cost", "duration", "latency", "size",
		"length", "bytes", "port", "time", "model", "provider", "gen_ai.system", "llm.system", "method", "operation")
}

// settingKey reports whether an attribute key can name a setting: not a
// credential, an id, a time or an address.
func settingKey(k string) bool {
	if isSecretKey(k) {
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
	return true
}

// settingValue reports whether an attribute value can be a setting:
// short, and not an id, a time or an address.
func settingValue(v string) bool {
	if v == "" || len(v) > maxSuspectValueLen {
		return false
	}
	switch h, _ := classifyWhole(v); h {
	case "<uuid>", "<id>", "<ts>", "<email>", "<url>":
		return false
	}
	return true
}

func containsAny(s string, subs ...string) bool {
	for _, w := range subs {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}
