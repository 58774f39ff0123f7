package scenario

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// generatedAll is the quickstart and the catalog, generated once for all
// tests of the package.
var (
	generateOnce sync.Once
	generatedQS  *Generated
	generatedCat []*Generated
	generateErr  error
)

func generated(t *testing.T) (*Generated, []*Generated) {
	t.Helper()
	generateOnce.Do(func() {
		generatedQS, generateErr = Generate(Quickstart())
		if generateErr != nil {
			return
		}
		for _, spec := range Catalog() {
			g, err := Generate(spec)
			if err != nil {
				generateErr = err
				return
			}
			generatedCat = append(generatedCat, g)
		}
	})
	if generateErr != nil {
		t.Fatal(generateErr)
	}
	return generatedQS, generatedCat
}

func all(t *testing.T) []*Generated {
	qs, cat := generated(t)
	return append([]*Generated{qs}, cat...)
}

// marksOf returns the marks of label in runs of the alerting agent,
// grouped by trace id.
func marksOf(g *Generated, label string) map[string][]traceMark {
	out := map[string][]traceMark{}
	for _, m := range g.marks {
		if m.Label == label && m.Main {
			out[m.TraceID] = append(out[m.TraceID], m)
		}
	}
	return out
}

func traceByID(g *Generated) map[string]*oncall.Trace {
	out := make(map[string]*oncall.Trace, len(g.Traces))
	for i := range g.Traces {
		out[g.Traces[i].TraceID] = &g.Traces[i]
	}
	return out
}

func TestGenerateIsDeterministic(t *testing.T) {
	specs := []Spec{Quickstart(), Catalog()[4], Catalog()[17]}
	for _, spec := range specs {
		t.Run(spec.Name, func(t *testing.T) {
			a, err := Generate(spec)
			if err != nil {
				t.Fatal(err)
			}
			b, err := Generate(spec)
			if err != nil {
				t.Fatal(err)
			}
			fa, err := Files(a)
			if err != nil {
				t.Fatal(err)
			}
			fb, err := Files(b)
			if err != nil {
				t.Fatal(err)
			}
			if len(fa) != len(fb) {
				t.Fatalf("%d files, then %d", len(fa), len(fb))
			}
			for name, data := range fa {
				if !bytes.Equal(data, fb[name]) {
					t.Errorf("%s differs between two generations of the same spec", name)
				}
			}
			other := spec
			other.Seed++
			c, err := Generate(other)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(a.Alert, c.Alert) || a.Traces[0].TraceID == c.Traces[0].TraceID {
				t.Error("another seed generated the same scenario")
			}
		})
	}
}

func TestGenerateRejectsBadSpecs(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		want string
	}{
		{"no name", Spec{Category: ToolTimeout, Seed: 1}, "no name"},
		{"unknown category", Spec{Name: "x", Category: "disk_full", Seed: 1}, "unknown category"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Generate(tt.spec)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestCatalogCoversEveryCategoryWithVariety(t *testing.T) {
	_, cat := generated(t)
	if len(cat) < 30 {
		t.Fatalf("%d scenarios, want at least 30", len(cat))
	}
	names := map[string]bool{}
	agents := map[Category]map[string]bool{}
	noisy := 0
	for _, g := range cat {
		if names[g.Spec.Name] {
			t.Errorf("duplicate scenario name %s", g.Spec.Name)
		}
		names[g.Spec.Name] = true
		if agents[g.Spec.Category] == nil {
			agents[g.Spec.Category] = map[string]bool{}
		}
		agents[g.Spec.Category][g.Expected.Agent] = true
		if g.Spec.Noisy {
			noisy++
		}
	}
	for _, c := range []Category{ToolTimeout, RateLimit, ContextLength, InvalidToolArgs, MaxIterations, HandoffFailure,
		ModelRegression, Upstream5xx, ExpiredCredentials, LatencySpike, CostBlowup} {
		if len(agents[c]) < 2 {
			t.Errorf("category %s: scenarios use %d distinct agents, want at least 2", c, len(agents[c]))
		}
	}
	if noisy == 0 {
		t.Error("no noisy scenario")
	}
	langs, models, services := map[string]bool{}, map[string]bool{}, map[string]bool{}
	var genAILLM, oiLLM bool
	for _, g := range all(t) {
		for _, tr := range g.Wire {
			services[tr.Service] = true
			for _, s := range tr.Spans {
				langs[s.Attributes["telemetry.sdk.language"]] = true
				if s.Kind == oncall.KindLLM {
					if s.Attributes["gen_ai.request.model"] != "" && s.Model == "" {
						genAILLM = true
						models[s.Attributes["gen_ai.request.model"]] = true
					}
					if s.Model != "" {
						oiLLM = true
						models[s.Model] = true
					}
				}
			}
		}
	}
	if len(langs) < 4 || len(models) < 8 || len(services) < 15 {
		t.Errorf("little variety: %d languages, %d models, %d services", len(langs), len(models), len(services))
	}
	if !genAILLM || !oiLLM {
		t.Errorf("model calls written under GenAI only: %v, under OpenInference: %v; want both", genAILLM, oiLLM)
	}
}

func TestTracesAreWellFormed(t *testing.T) {
	for _, g := range all(t) {
		t.Run(g.Spec.Name, func(t *testing.T) {
			e := g.Expected
			// Traffic runs around the windows of the real firing time,
			// which falls up to 10 minutes either side of the provisional
			// one traffic was laid out for.
			first, last := e.BaselineWindow.Start.Add(-25*time.Minute), e.IncidentWindow.End.Add(15*time.Minute)
			seenTrace := map[string]bool{}
			for _, tr := range g.Traces {
				if len(tr.TraceID) != 32 || !isLowerHex(tr.TraceID) || seenTrace[tr.TraceID] {
					t.Fatalf("bad or duplicate trace id %q", tr.TraceID)
				}
				seenTrace[tr.TraceID] = true
				if tr.Start.Before(first) || tr.Start.After(last) {
					t.Errorf("trace %s starts at %v, outside [%v, %v]", tr.TraceID, tr.Start, first, last)
				}
				checkTree(t, tr)
			}
		})
	}
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !('0' <= s[i] && s[i] <= '9' || 'a' <= s[i] && s[i] <= 'f') {
			return false
		}
	}
	return s != ""
}

func checkTree(t *testing.T, tr oncall.Trace) {
	t.Helper()
	byID := map[string]*oncall.Span{}
	for i := range tr.Spans {
		s := &tr.Spans[i]
		if len(s.SpanID) != 16 || !isLowerHex(s.SpanID) || byID[s.SpanID] != nil {
			t.Fatalf("trace %s: bad or duplicate span id %q", tr.TraceID, s.SpanID)
		}
		if s.TraceID != tr.TraceID {
			t.Fatalf("span %s carries trace id %s inside trace %s", s.SpanID, s.TraceID, tr.TraceID)
		}
		byID[s.SpanID] = s
	}
	roots := 0
	for i := range tr.Spans {
		s := &tr.Spans[i]
		if s.End.Before(s.Start) || s.End.IsZero() {
			t.Errorf("span %s %q ends before it starts", s.SpanID, s.Name)
		}
		if s.Attributes["service.version"] == "" || s.Attributes["cloud.region"] == "" {
			t.Errorf("span %s %q lacks resource attributes", s.SpanID, s.Name)
		}
		if s.ParentID == "" {
			roots++
			if s.Kind != oncall.KindAgent {
				t.Errorf("trace %s: root %q is a %s span, want agent", tr.TraceID, s.Name, s.Kind)
			}
			continue
		}
		p := byID[s.ParentID]
		if p == nil {
			t.Fatalf("trace %s: span %s %q has unknown parent %s", tr.TraceID, s.SpanID, s.Name, s.ParentID)
		}
		if s.Start.Before(p.Start) || s.End.After(p.End) {
			t.Errorf("trace %s: span %q [%v, %v] outside its parent %q [%v, %v]", tr.TraceID, s.Name, s.Start, s.End, p.Name, p.Start, p.End)
		}
	}
	if roots != 1 {
		t.Errorf("trace %s has %d roots", tr.TraceID, roots)
	}
}

func TestLargeOutputsAreRare(t *testing.T) {
	scenarios := 0
	for _, g := range all(t) {
		found := false
		for _, tr := range g.Traces {
			for _, s := range tr.Spans {
				found = found || len(s.Output) >= 200*1024
			}
		}
		if found != g.Spec.Large {
			t.Errorf("%s: large output %v, spec says %v", g.Spec.Name, found, g.Spec.Large)
		}
		if found {
			scenarios++
		}
	}
	if scenarios < 1 || scenarios > 2 {
		t.Errorf("%d scenarios carry a 200 KB output, want 1 or 2", scenarios)
	}
}

func TestWindowsLeaveTrafficOnBothSides(t *testing.T) {
	for _, g := range all(t) {
		tr := g.Expected.Traces
		if tr.Baseline < 20 || tr.Incident < 20 {
			t.Errorf("%s: %d baseline and %d incident runs of %s; want at least 20 each", g.Spec.Name, tr.Baseline, tr.Incident, g.Expected.Agent)
		}
	}
}

func TestCardsAreLuhnValid(t *testing.T) {
	r := newRNG(42)
	for i := 0; i < 200; i++ {
		c := card(r, "4")
		if !luhnValid(c) {
			t.Fatalf("card %q fails the Luhn check", c)
		}
		if luhnValid(c[:len(c)-1] + string(rune('0'+(int(c[len(c)-1]-'0')+1)%10))) {
			t.Fatalf("changing the check digit of %q still passes", c)
		}
	}
}

func luhnValid(s string) bool {
	sum, n := 0, 0
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		if c < '0' || c > '9' {
			continue
		}
		d := int(c - '0')
		if n%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		n++
	}
	return n >= 13 && sum%10 == 0
}

func TestRNGIsStable(t *testing.T) {
	// The files in examples/ depend on this exact stream.
	r := newRNG(1)
	got := []uint64{r.next(), r.next(), r.next()}
	want := []uint64{0x910a2dec89025cc1, 0xbeeb8da1658eec67, 0xf893a2eefb32555e}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("value %d = %#x, want %#x", i, got[i], want[i])
		}
	}
	if d := r.millis(10, 10); d != 10*time.Millisecond {
		t.Fatalf("millis(10, 10) = %v", d)
	}
}

// The catalog looks like fleets: several services per store, some with a
// louder incident of their own in the same window, both environment keys,
// alert labels named otherwise than the attributes, and alerts that fire
// minutes into the incident.
func TestCatalogLooksLikeFleets(t *testing.T) {
	var louder, mixedEnv, renamed, agentless int
	envKeys := map[string]bool{}
	for _, g := range all(t) {
		f := g.Expected.Fleet
		if len(f.Services) < 3 || len(f.Agents) < 3 {
			t.Errorf("%s: %d services and %d agents in the store, want a fleet", g.Spec.Name, len(f.Services), len(f.Agents))
		}
		if o := f.OtherIncident; o != nil {
			if o.Service == g.Expected.Service {
				t.Errorf("%s: the other incident is in the alerting service", g.Spec.Name)
			}
			inWindow := 0
			traces := traceByID(g)
			for _, id := range o.Traces {
				if tr := traces[id]; tr != nil && g.Expected.IncidentWindow.Contains(tr.Start) {
					inWindow++
				}
			}
			if inWindow > g.Expected.CauseTraces.Incident {
				louder++
			}
		}
		for _, k := range f.EnvironmentKeys {
			envKeys[k] = true
		}
		if len(f.EnvironmentKeys) == 2 {
			mixedEnv++
		}
		hasAgent := false
		for label, attr := range f.AlertLabels {
			if label != attr && label != strings.TrimSuffix(attr, ".name") && label != "env" {
				renamed++
			}
			hasAgent = hasAgent || attr == "gen_ai.agent.name"
		}
		if !hasAgent {
			agentless++
		}
	}
	if louder < 5 {
		t.Errorf("%d scenarios hold another service's louder incident, want at least 5", louder)
	}
	if !envKeys["deployment.environment"] || !envKeys["deployment.environment.name"] || mixedEnv < 3 {
		t.Errorf("environment keys %v, %d stores with both; want both keys, in at least 3 stores together", envKeys, mixedEnv)
	}
	if renamed < 10 || agentless < 2 {
		t.Errorf("%d alert labels named otherwise than their attribute, %d alerts without an agent label; want at least 10 and 2", renamed, agentless)
	}
}
