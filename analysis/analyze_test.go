package analysis

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/analysis/analysistest"
)

func clusterIndex(rep oncall.Report, match func(c oncall.Cluster) bool) int {
	for i, c := range rep.Clusters {
		if match(c) {
			return i
		}
	}
	return -1
}

func spanOf(traces []oncall.Trace, traceID, spanID string) *oncall.Span {
	for i := range traces {
		if traces[i].TraceID == traceID {
			return traces[i].Span(spanID)
		}
	}
	return nil
}

func TestAnalyzeErrorIncident(t *testing.T) {
	traces := errorScenario()
	rep := Analyze(errorAlert(), traces, windows)

	if rep.AlertKind != oncall.AlertKindErrors || rep.TracesExamined != 60 || rep.BaselineTraces != 60 {
		t.Fatalf("kind %s, %d incident and %d baseline traces; want errors, 60 and 60", rep.AlertKind, rep.TracesExamined, rep.BaselineTraces)
	}
	// 20 order timeouts, 24 connection resets, 4 loops; handled rate limits
	// are no failure.
	if rep.FailingTraces != 48 {
		t.Errorf("FailingTraces = %d, want 48", rep.FailingTraces)
	}
	if want := 48.0 / 30; rep.FailuresPerMinute < want-0.01 || rep.FailuresPerMinute > want+0.01 {
		t.Errorf("FailuresPerMinute = %v, want %.3f", rep.FailuresPerMinute, want)
	}

	t.Run("the new failure ranks first and is blamed on the tool", func(t *testing.T) {
		top := rep.Clusters[0]
		if top.Kind != "error" || top.SpanKind != oncall.KindTool || top.ToolName != "search_orders" {
			t.Fatalf("top cluster %q (%s %s), want the search_orders tool error", top.Signature, top.Kind, top.SpanKind)
		}
		if top.Count != 20 || top.BaselineCount != 0 || !top.New || top.Score <= 0 {
			t.Errorf("top cluster count %d baseline %d new %v score %v, want 20, 0, true, > 0", top.Count, top.BaselineCount, top.New, top.Score)
		}
		// The run-specific order number and timeout are gone; the HTTP
		// status of the tool's failing call is added.
		if want := "ToolException: orders service call failed for order <n> after <dur> (HTTP 504)"; top.Error != want {
			t.Errorf("error %q, want %q", top.Error, want)
		}
		if len(top.TraceIDs) != 5 || len(top.SpanIDs) != len(top.TraceIDs) {
			t.Fatalf("examples %v / %v, want 5 traces with one span each", top.TraceIDs, top.SpanIDs)
		}
		for i, id := range top.TraceIDs {
			s := spanOf(traces, id, top.SpanIDs[i])
			if s == nil || s.Kind != oncall.KindTool || s.ToolName != "search_orders" {
				t.Errorf("example %s/%s is not the search_orders tool span", id, top.SpanIDs[i])
			}
		}
	})

	t.Run("one failure is one cluster, not one per failing span", func(t *testing.T) {
		for _, c := range rep.Clusters {
			if isFailureKind(c.Kind) && (c.SpanKind == oncall.KindAgent || c.SpanKind == oncall.KindChain || c.SpanKind == oncall.KindHTTP) {
				t.Errorf("cluster %q blames a span the failure only passed through", c.Signature)
			}
		}
		n := 0
		for _, c := range rep.Clusters {
			for _, id := range c.TraceIDs {
				if id == "inc-000" && isFailureKind(c.Kind) {
					n++
				}
			}
		}
		if n != 1 {
			t.Errorf("inc-000 is an example of %d failure clusters, want 1", n)
		}
	})

	t.Run("a steady failure ranks below the new one despite a higher count", func(t *testing.T) {
		steady := clusterIndex(rep, func(c oncall.Cluster) bool { return c.SpanKind == oncall.KindRetriever })
		if steady < 0 {
			t.Fatal("no cluster for the steady connection reset")
		}
		c := rep.Clusters[steady]
		if c.Count != 24 || c.BaselineCount != 24 || c.New {
			t.Errorf("steady cluster count %d baseline %d new %v, want 24, 24, false", c.Count, c.BaselineCount, c.New)
		}
		if c.Count <= rep.Clusters[0].Count || steady == 0 {
			t.Errorf("steady cluster at %d with count %d; want it below the new failure (count %d)", steady, c.Count, rep.Clusters[0].Count)
		}
		if c.Score >= 0 {
			t.Errorf("steady cluster score %v, want below zero", c.Score)
		}
	})

	t.Run("retries count once per trace", func(t *testing.T) {
		i := clusterIndex(rep, func(c oncall.Cluster) bool { return c.SpanKind == oncall.KindLLM && strings.Contains(c.Error, "429") })
		if i < 0 {
			t.Fatal("no cluster for the rate limit")
		}
		c := rep.Clusters[i]
		if c.Count != 10 || c.BaselineCount != 1 {
			t.Errorf("rate limit count %d baseline %d, want 10 traces (not 30 spans) and 1", c.Count, c.BaselineCount)
		}
		if !strings.Contains(c.Detail, "3 attempts") || !strings.Contains(c.Detail, "ended well in 4 of 10") {
			t.Errorf("detail %q, want the attempts and the handled runs", c.Detail)
		}
		if i != 1 {
			t.Errorf("rate limit ranked %d, want 1 (it grew tenfold)", i)
		}
	})

	t.Run("a loop is a failure without an error", func(t *testing.T) {
		i := clusterIndex(rep, func(c oncall.Cluster) bool { return c.Kind == "loop" })
		if i < 0 {
			t.Fatal("no loop cluster")
		}
		if c := rep.Clusters[i]; c.ToolName != "lookup_policy" || c.Count != 4 || !strings.Contains(c.Detail, "4 identical calls") {
			t.Errorf("loop cluster %q count %d detail %q", c.Signature, c.Count, c.Detail)
		}
	})

	t.Run("a tool that fails is not also reported as slower", func(t *testing.T) {
		if i := clusterIndex(rep, func(c oncall.Cluster) bool { return c.Kind == "latency" && c.SpanName == "search_orders" }); i >= 0 {
			t.Errorf("latency cluster %q echoes the failure", rep.Clusters[i].Signature)
		}
	})

	t.Run("the release is the suspect", func(t *testing.T) {
		if len(rep.Suspects) == 0 {
			t.Fatal("no suspects")
		}
		s := rep.Suspects[0]
		if s.Attribute != "service.version" || s.Value != "2.4.0" || s.BaselineValue != "2.3.1" {
			t.Errorf("top suspect %+v, want service.version 2.4.0 instead of 2.3.1", s)
		}
		for _, s := range rep.Suspects {
			if s.Attribute == "user.id" || s.Attribute == "cloud.region" || s.Attribute == "deployment.environment" {
				t.Errorf("suspect %+v: the attribute does not tell failing runs apart", s)
			}
		}
	})

	t.Run("the healthy example is a good run of the same agent", func(t *testing.T) {
		id := rep.HealthyExample
		if !strings.HasPrefix(id, "inc-") {
			t.Fatalf("healthy example %q, want an incident trace", id)
		}
		for _, c := range rep.Clusters {
			for _, ex := range c.TraceIDs {
				if ex == id && isFailureKind(c.Kind) {
					t.Errorf("healthy example %s is an example of %q", id, c.Signature)
				}
			}
		}
		for i := range traces {
			if traces[i].TraceID == id && (traces[i].Failed() || traces[i].Name != "support-agent") {
				t.Errorf("healthy example %s failed or is another agent", id)
			}
		}
	})
}

func TestAnalyzeDeterministic(t *testing.T) {
	traces := errorScenario()
	pristine := cloneTraces(traces)
	want := Analyze(errorAlert(), traces, windows)
	if !reflect.DeepEqual(traces, pristine) {
		t.Fatal("Analyze modified its input")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 5 {
		shuffled := cloneTraces(traces)
		rng.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
		got := Analyze(errorAlert(), shuffled, windows)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("shuffle %d: the report changed with the order of the traces", i)
		}
	}
}

func cloneTraces(in []oncall.Trace) []oncall.Trace {
	b, err := json.Marshal(in)
	if err != nil {
		panic(err)
	}
	var out []oncall.Trace
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

func TestAnalyzeWindows(t *testing.T) {
	run := func(id string, start time.Time, down bool) oncall.Trace {
		return supportRun{id: id, start: start, ordersDown: down}.build()
	}
	tests := []struct {
		name       string
		traces     []oncall.Trace
		opts       Options
		incident   int
		baseline   int
		topCount   int
		missing    string
		wantNewTop bool
	}{
		{
			name: "traces outside both windows are ignored",
			traces: []oncall.Trace{
				run("early", baselineWin.Start.Add(-time.Minute), true),
				run("late", incidentWin.End, true),
				run("in", incidentStart.Add(time.Minute), true),
				run("base", baselineWin.Start, false),
			},
			opts: windows, incident: 1, baseline: 1, topCount: 1, wantNewTop: true,
		},
		{
			name: "a trace listed twice counts once",
			traces: []oncall.Trace{
				run("dup", incidentStart.Add(time.Minute), true),
				run("dup", incidentStart.Add(time.Minute), true),
				run("base", baselineWin.Start, false),
			},
			opts: windows, incident: 1, baseline: 1, topCount: 1, wantNewTop: true,
		},
		{
			name: "no baseline traces still ranks by count",
			traces: []oncall.Trace{
				run("a", incidentStart.Add(time.Minute), true),
				run("b", incidentStart.Add(2*time.Minute), true),
				run("c", incidentStart.Add(3*time.Minute), false),
			},
			opts: windows, incident: 3, baseline: 0, topCount: 2, missing: "no traces in the baseline window",
		},
		{
			name: "a zero incident window takes every trace outside the baseline",
			traces: []oncall.Trace{
				run("a", incidentStart.Add(time.Hour), true),
				run("base", baselineWin.Start, false),
			},
			opts: Options{Baseline: baselineWin}, incident: 1, baseline: 1, topCount: 1, wantNewTop: true,
		},
		{
			name:   "no incident traces",
			traces: []oncall.Trace{run("base", baselineWin.Start, true)},
			opts:   windows, incident: 0, baseline: 1, missing: "no traces in the incident window",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := Analyze(errorAlert(), tt.traces, tt.opts)
			if rep.TracesExamined != tt.incident || rep.BaselineTraces != tt.baseline {
				t.Errorf("incident %d baseline %d, want %d and %d", rep.TracesExamined, rep.BaselineTraces, tt.incident, tt.baseline)
			}
			if tt.topCount == 0 {
				if len(rep.Clusters) != 0 {
					t.Errorf("clusters %v, want none", rep.Clusters)
				}
			} else if len(rep.Clusters) == 0 || rep.Clusters[0].ToolName != "search_orders" || rep.Clusters[0].Count != tt.topCount || rep.Clusters[0].New != tt.wantNewTop {
				t.Errorf("clusters %+v, want the search_orders failure first, in %d traces, new %v", rep.Clusters, tt.topCount, tt.wantNewTop)
			}
			if got := strings.Join(rep.Missing, "; "); (tt.missing == "") != (got == "") || !strings.Contains(got, tt.missing) {
				t.Errorf("missing %q, want %q", got, tt.missing)
			}
		})
	}
}

func TestAnalyzeCaps(t *testing.T) {
	var traces []oncall.Trace
	for i := range 12 {
		b := newTrace(fmt.Sprintf("t%02d", i), incidentStart.Add(time.Duration(i)*time.Second))
		root := b.Span("", oncall.KindAgent, "agent", 0, time.Second, failed("run failed"))
		// Twelve distinct failures, each in one run.
		b.Span(root, oncall.KindTool, fmt.Sprintf("tool_%c", 'a'+i), 0, time.Second, raised("ValueError", "bad input"))
		traces = append(traces, b.Done())
	}
	rep := Analyze(errorAlert(), traces, Options{Incident: incidentWin, Baseline: baselineWin, MaxClusters: 3, MaxExamples: 1})
	if len(rep.Clusters) != 3 {
		t.Fatalf("%d clusters, want the cap of 3", len(rep.Clusters))
	}
	if !strings.Contains(strings.Join(rep.Missing, "; "), "9 lower-ranked clusters left out by the cap of 3") {
		t.Errorf("missing %q does not say what the cap left out", rep.Missing)
	}
	// Equal scores and counts: the failure that appeared last ranks first.
	for i, want := range []string{"tool tool_l: ValueError: bad input", "tool tool_k: ValueError: bad input", "tool tool_j: ValueError: bad input"} {
		if rep.Clusters[i].Signature != want {
			t.Errorf("cluster %d is %q, want %q", i, rep.Clusters[i].Signature, want)
		}
	}
	// Appearing at the same time too: ties are broken by signature.
	for i := range traces {
		for j := range traces[i].Spans {
			traces[i].Spans[j].Start = incidentStart
		}
		traces[i].Start = incidentStart
	}
	rep = Analyze(errorAlert(), traces, Options{Incident: incidentWin, Baseline: baselineWin, MaxClusters: 3, MaxExamples: 1})
	for i, want := range []string{"tool tool_a: ValueError: bad input", "tool tool_b: ValueError: bad input", "tool tool_c: ValueError: bad input"} {
		if rep.Clusters[i].Signature != want {
			t.Errorf("same start: cluster %d is %q, want %q", i, rep.Clusters[i].Signature, want)
		}
	}
}

func TestAnalyzeNamedTracesComeFirst(t *testing.T) {
	alert := errorAlert()
	alert.TraceIDs = []string{"inc-057"}
	rep := Analyze(alert, errorScenario(), windows)
	if got := rep.Clusters[0].TraceIDs; len(got) != 5 || got[0] != "inc-057" || got[1] != "inc-000" {
		t.Errorf("examples %v, want the trace the alert names first, then the earliest", got)
	}
}

func TestAnalyzeGolden(t *testing.T) {
	tests := []struct {
		name   string
		alert  oncall.Alert
		traces []oncall.Trace
	}{
		{"errors", errorAlert(), errorScenario()},
		{"latency", latencyAlert(), latencyScenario()},
		{"cost", costAlert(), costScenario()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := Analyze(tt.alert, tt.traces, windows)
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(rep); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", "analyze", tt.name+".golden"), buf.Bytes())
		})
	}
}

// golden compares got with the golden file at path, or rewrites the file
// when the tests run with -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the analysis (run with -update to accept):\n%s", path, lineDiff(string(want), string(got)))
	}
}

// lineDiff shows the first lines where two texts differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 10; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %s\n  got  %s\n", i+1, wl, gl)
			shown++
		}
	}
	return b.String()
}

// benchTraces builds the benchmark's runs (analysistest.BenchTraces).
func benchTraces(n, spans int) []oncall.Trace {
	return analysistest.BenchTraces(n, spans, incidentStart, baselineWin.Start)
}

func BenchmarkAnalyze(b *testing.B) {
	traces := benchTraces(200, 100)
	spans := 0
	for i := range traces {
		spans += len(traces[i].Spans)
	}
	alert := errorAlert()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		Analyze(alert, traces, windows)
	}
	b.ReportMetric(float64(spans)*float64(b.N)/b.Elapsed().Seconds(), "spans/s")
}

// BenchmarkMarshalBaseline serialises BenchmarkAnalyze's traces with
// encoding/json: a yardstick of touching every span's fields once on this
// machine, which the analysis and triage figures are compared with.
func BenchmarkMarshalBaseline(b *testing.B) {
	traces := benchTraces(200, 100)
	spans := 0
	for i := range traces {
		spans += len(traces[i].Spans)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := json.Marshal(traces); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(spans)*float64(b.N)/b.Elapsed().Seconds(), "spans/s")
}
