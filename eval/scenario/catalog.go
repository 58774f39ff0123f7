package scenario

import (
	"fmt"
	"strings"
)

// Quickstart is the scenario bundled for the README's quick start.
func Quickstart() Spec {
	return Spec{Name: "quickstart", Category: Upstream5xx, Seed: 20250602, Flavor: 0}
}

// Catalog is every labelled scenario shipped in examples/scenarios, in
// a stable order. Names are unique.
func Catalog() []Spec {
	type entry struct {
		c      Category
		flavor int
		noisy  bool
		large  bool
		// reseed draws the scenario again from another seed, for variety
		// across a category (another agent, framework or model).
		reseed uint64
	}
	entries := []entry{
		{c: ToolTimeout}, {c: ToolTimeout, flavor: 1}, {c: ToolTimeout, flavor: 2, noisy: true},
		{c: RateLimit}, {c: RateLimit, flavor: 1}, {c: RateLimit, flavor: 2},
		{c: ContextLength, large: true}, {c: ContextLength, flavor: 1}, {c: ContextLength, flavor: 2},
		{c: InvalidToolArgs}, {c: InvalidToolArgs, flavor: 1, noisy: true}, {c: InvalidToolArgs},
		{c: MaxIterations}, {c: MaxIterations, flavor: 1}, {c: MaxIterations, noisy: true, reseed: 1},
		{c: HandoffFailure}, {c: HandoffFailure, flavor: 1}, {c: HandoffFailure, flavor: 2},
		{c: ModelRegression}, {c: ModelRegression, flavor: 1}, {c: ModelRegression, noisy: true},
		{c: Upstream5xx, noisy: true}, {c: Upstream5xx, flavor: 1}, {c: Upstream5xx, flavor: 2, large: true},
		{c: ExpiredCredentials}, {c: ExpiredCredentials, flavor: 1}, {c: ExpiredCredentials, flavor: 2},
		{c: LatencySpike}, {c: LatencySpike, flavor: 1}, {c: LatencySpike, flavor: 2},
		{c: CostBlowup}, {c: CostBlowup, flavor: 1}, {c: CostBlowup, flavor: 2},
	}
	n := map[Category]int{}
	out := make([]Spec, 0, len(entries))
	for i, e := range entries {
		n[e.c]++
		out = append(out, Spec{
			Name:     fmt.Sprintf("%s-%d", strings.ReplaceAll(string(e.c), "_", "-"), n[e.c]),
			Category: e.c,
			Seed:     uint64(1000+37*i) + 100003*e.reseed,
			Flavor:   e.flavor,
			Noisy:    e.noisy,
			Large:    e.large,
		})
	}
	return out
}
