package scenario

import (
	"bytes"
	"encoding/json"
	"flag"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/alerts"
	"github.com/oncall-copilot/oncall-copilot/tracesource/otlp"
)

var update = flag.Bool("update", false, "regenerate ../examples instead of comparing with it")

const examplesDir = "../../examples"

func filesOf(t *testing.T, g *Generated) map[string][]byte {
	t.Helper()
	files, err := Files(g)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestFilesLayout(t *testing.T) {
	for _, g := range all(t) {
		files := filesOf(t, g)
		var names []string
		for n := range files {
			names = append(names, n)
		}
		sort.Strings(names)
		if names[0] != "alert.json" || names[1] != "expected.json" || len(names) < 3 {
			t.Errorf("%s: files %v", g.Spec.Name, names)
		}
		for _, n := range names[2:] {
			if !strings.HasPrefix(n, "traces/") || !strings.HasSuffix(n, ".jsonl") {
				t.Errorf("%s: unexpected file %s", g.Spec.Name, n)
			}
		}
	}
}

func TestPlantedSecretsAreInTheFiles(t *testing.T) {
	kinds := map[string]*regexp.Regexp{
		"openai key":   regexp.MustCompile(`^sk-`),
		"aws key":      regexp.MustCompile(`^AKIA[A-Z2-7]{16}$`),
		"github token": regexp.MustCompile(`^ghp_`),
		"slack token":  regexp.MustCompile(`^xoxb-`),
		"jwt":          regexp.MustCompile(`^eyJ`),
		"email":        regexp.MustCompile(`@`),
		"phone":        regexp.MustCompile(`^[+(]`),
		"card":         regexp.MustCompile(`^[45][0-9 -]{15,18}$`),
	}
	seen := map[string]bool{}
	for _, g := range all(t) {
		t.Run(g.Spec.Name, func(t *testing.T) {
			files := filesOf(t, g)
			var traces []byte
			for n, b := range files {
				if strings.HasPrefix(n, "traces/") {
					traces = append(traces, b...)
				}
			}
			planted := g.Expected.PlantedSecrets
			if len(planted) < 5 {
				t.Errorf("only %d planted secrets", len(planted))
			}
			inAlert := 0
			for _, s := range planted {
				if bytes.Contains(files["alert.json"], []byte(s)) {
					inAlert++
				} else if !bytes.Contains(traces, []byte(s)) {
					t.Errorf("planted %q appears in neither alert.json nor the traces", s)
				}
				for k, re := range kinds {
					if re.MatchString(s) {
						seen[k] = true
					}
				}
				if kinds["card"].MatchString(s) && !luhnValid(s) {
					t.Errorf("planted card %q fails the Luhn check", s)
				}
			}
			if inAlert == 0 {
				t.Error("the alert carries no planted secret")
			}
		})
	}
	for k := range kinds {
		if !seen[k] {
			t.Errorf("no scenario plants a %s", k)
		}
	}
}

func TestPromptInjectionInEveryScenario(t *testing.T) {
	for _, g := range all(t) {
		if !g.Expected.Injection {
			t.Errorf("%s: no prompt injection", g.Spec.Name)
			continue
		}
		found := 0
		for _, tr := range g.Traces {
			for _, s := range tr.Spans {
				for _, inj := range injections {
					if strings.Contains(s.Input, inj) || strings.Contains(s.Output, inj) {
						found++
					}
				}
			}
		}
		if found == 0 {
			t.Errorf("%s: no span input or output carries injected instructions", g.Spec.Name)
		}
	}
}

// TestWrittenTracesDecodeToTheSameSpans reads the JSONL back the way the
// trace sources do and compares the canonical fields with the generated
// ones, which checks that spans written under the GenAI conventions only
// decode like OpenInference ones.
func TestWrittenTracesDecodeToTheSameSpans(t *testing.T) {
	_, cat := generated(t)
	for _, g := range []*Generated{cat[0], cat[7], cat[16], cat[19], cat[30]} {
		t.Run(g.Spec.Name, func(t *testing.T) {
			var spans []oncall.Span
			for n, b := range filesOf(t, g) {
				if !strings.HasPrefix(n, "traces/") {
					continue
				}
				for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
					s, err := otlp.Decode(line)
					if err != nil {
						t.Fatalf("%s: %v", n, err)
					}
					spans = append(spans, s...)
				}
			}
			decoded := otlp.GroupTraces(spans)
			if len(decoded) != len(g.Traces) {
				t.Fatalf("decoded %d traces, generated %d", len(decoded), len(g.Traces))
			}
			want := traceByID(g)
			for _, d := range decoded {
				w := want[d.TraceID]
				if w == nil {
					t.Fatalf("decoded unknown trace %s", d.TraceID)
				}
				if d.Attributes["gen_ai.agent.name"] != w.Attributes["gen_ai.agent.name"] || d.Service != w.Service {
					t.Errorf("trace %s: agent %q service %q, want %q %q", d.TraceID, d.Attributes["gen_ai.agent.name"], d.Service, w.Attributes["gen_ai.agent.name"], w.Service)
				}
				for _, ds := range d.Spans {
					compareSpan(t, w.Span(ds.SpanID), &ds)
				}
			}
		})
	}
}

func compareSpan(t *testing.T, w, d *oncall.Span) {
	t.Helper()
	if w == nil {
		t.Fatalf("decoded unknown span %s %q", d.SpanID, d.Name)
	}
	type fields struct {
		Name, Parent, Service, Model, Provider, Tool, Args, Input, Output, Message string
		Kind                                                                       oncall.SpanKind
		Status                                                                     oncall.SpanStatus
		In, Out, Total                                                             int64
		Start, End                                                                 time.Time
		Exceptions                                                                 int
	}
	of := func(s *oncall.Span) fields {
		return fields{s.Name, s.ParentID, s.Service, s.Model, s.Provider, s.ToolName, s.ToolArgs, s.Input, s.Output, s.StatusMessage,
			s.Kind, s.Status, s.InputTokens, s.OutputTokens, s.TotalTokens, s.Start, s.End, len(s.Exceptions())}
	}
	got, want := of(d), of(w)
	if want.Message == "" && got.Message == w.Attributes["error.type"] {
		// An HTTP client span has no status description; decoders name
		// the error by its error.type.
		got.Message = ""
	}
	if got != want {
		t.Errorf("span %s decodes to\n%+v\nwant\n%+v", w.SpanID, got, want)
	}
	if math.Abs(d.Cost-w.Cost) > 1e-12 {
		t.Errorf("span %s %q: cost %g, want %g", w.SpanID, w.Name, d.Cost, w.Cost)
	}
}

func TestAlertIsAFiringAlertmanagerWebhook(t *testing.T) {
	for _, g := range all(t) {
		t.Run(g.Spec.Name, func(t *testing.T) {
			n, err := alerts.DecodeAlertmanager(g.Alert, g.Expected.IncidentWindow.End)
			if err != nil {
				t.Fatal(err)
			}
			if len(n.Alerts) != 1 || n.Status != oncall.AlertFiring {
				t.Fatalf("%d alerts, status %s", len(n.Alerts), n.Status)
			}
			a := n.Alerts[0]
			if fired := g.Expected.IncidentWindow.Start.Add(IncidentWindow); !a.StartsAt.Equal(fired) {
				t.Errorf("startsAt %v, want the middle of the incident window %v", a.StartsAt, fired)
			}
			if d := a.StartsAt.Sub(g.Expected.Onset); d < 2*time.Minute || d > 20*time.Minute || int(d/time.Second) != g.Expected.Fleet.AlertDelaySeconds {
				t.Errorf("the alert fires %v after the onset (expected.json: %ds), want 2 to 20 minutes", d, g.Expected.Fleet.AlertDelaySeconds)
			}
			if a.Kind() != g.Expected.AlertKind {
				t.Errorf("alert %q (%q) reads as a %s alert, want %s", a.Name, a.Summary, a.Kind(), g.Expected.AlertKind)
			}
			want := map[string]string{"service.name": g.Expected.Service, "gen_ai.agent.name": g.Expected.Agent}
			named := false
			for label, attr := range g.Expected.Fleet.AlertLabels {
				if w, ok := want[attr]; ok {
					named = named || attr == "service.name"
					if a.Labels[label] != w {
						t.Errorf("label %s=%q, want %q (the %s of the alerting agent's traces)", label, a.Labels[label], w, attr)
					}
				}
			}
			if !named {
				t.Errorf("labels %v do not name the service %s", a.Labels, g.Expected.Service)
			}
			traces := traceByID(g)
			for _, id := range a.TraceIDs {
				if tr := traces[id]; tr == nil || !g.Expected.IncidentWindow.Contains(tr.Start) {
					t.Errorf("the alert names trace %s, which is not an incident trace", id)
				}
			}
			var raw map[string]any
			if err := json.Unmarshal(g.Alert, &raw); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"version", "groupKey", "status", "receiver", "groupLabels", "commonLabels", "commonAnnotations", "externalURL", "alerts"} {
				if _, ok := raw[k]; !ok {
					t.Errorf("webhook lacks %q", k)
				}
			}
		})
	}
}

// TestExamplesAreUpToDate compares examples/ with what the generator
// writes now. Run with -update, or go run ./cmd/gen-scenarios, to
// regenerate.
func TestExamplesAreUpToDate(t *testing.T) {
	qs, cat := generated(t)
	want, err := exampleFiles(qs, cat)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, b := range want {
		total += len(b)
	}
	if total >= 20<<20 {
		t.Errorf("examples weigh %d bytes, want under 20 MB", total)
	}
	if *update {
		if err := WriteExamples(examplesDir); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string][]byte{}
	err = filepath.WalkDir(examplesDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(examplesDir, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		got[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatalf("read examples: %v (run go run ./cmd/gen-scenarios)", err)
	}
	var stale []string
	for n, b := range want {
		if !bytes.Equal(got[n], b) {
			stale = append(stale, n)
		}
	}
	for n := range got {
		if _, ok := want[n]; !ok {
			stale = append(stale, n+" (no longer generated)")
		}
	}
	sort.Strings(stale)
	if len(stale) > 0 {
		if len(stale) > 10 {
			stale = append(stale[:10], "...")
		}
		t.Errorf("examples/ is stale; run go run ./cmd/gen-scenarios (or go test ./scenario -run TestExamplesAreUpToDate -update). Differing files:\n%s", strings.Join(stale, "\n"))
	}
}

func TestLoadReadsWhatWriteWrote(t *testing.T) {
	qs, _ := generated(t)
	root := t.TempDir()
	dir := filepath.Join(root, "quickstart")
	if err := Write(dir, qs); err != nil {
		t.Fatal(err)
	}
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "quickstart" || !bytes.Equal(s.Alert, qs.Alert) || s.TracesPath != filepath.Join(dir, "traces") || len(s.TraceFiles) == 0 {
		t.Errorf("loaded %+v", s)
	}
	wantExp, err := json.Marshal(qs.Expected)
	if err != nil {
		t.Fatal(err)
	}
	gotExp, err := json.Marshal(s.Expected)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gotExp, wantExp) {
		t.Errorf("expected.json reads back as\n%s\nwant\n%s", gotExp, wantExp)
	}
	all, err := LoadAll(root)
	if err != nil || len(all) != 1 || all[0].Name != "quickstart" {
		t.Errorf("LoadAll = %d scenarios, %v", len(all), err)
	}
}

func TestLoadAllReadsTheBundledScenarios(t *testing.T) {
	got, err := LoadAll(filepath.Join(examplesDir, "scenarios"))
	if err != nil {
		t.Fatalf("%v (run go run ./cmd/gen-scenarios)", err)
	}
	if len(got) != len(Catalog()) {
		t.Fatalf("loaded %d scenarios, the catalog has %d", len(got), len(Catalog()))
	}
	for i := 1; i < len(got); i++ {
		if got[i-1].Name >= got[i].Name {
			t.Fatalf("not sorted: %s before %s", got[i-1].Name, got[i].Name)
		}
	}
}

func TestLoadFailures(t *testing.T) {
	qs, _ := generated(t)
	tests := []struct {
		name   string
		break_ func(dir string) error
		want   string
	}{
		{"missing alert", func(dir string) error { return os.Remove(filepath.Join(dir, "alert.json")) }, "alert.json"},
		{"alert not json", func(dir string) error { return os.WriteFile(filepath.Join(dir, "alert.json"), []byte("{"), 0o644) }, "not valid JSON"},
		{"missing expected", func(dir string) error { return os.Remove(filepath.Join(dir, "expected.json")) }, "expected.json"},
		{"unknown field", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "expected.json"), []byte(`{"category":"x","alert_kind":"errors","surprise":1}`), 0o644)
		}, "surprise"},
		{"no category", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "expected.json"), []byte(`{"alert_kind":"errors"}`), 0o644)
		}, "category"},
		{"no traces", func(dir string) error { return os.RemoveAll(filepath.Join(dir, "traces")) }, "no traces"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "s")
			if err := Write(dir, qs); err != nil {
				t.Fatal(err)
			}
			if err := tt.break_(dir); err != nil {
				t.Fatal(err)
			}
			_, err := Load(dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
	if _, err := LoadAll(t.TempDir()); err == nil {
		t.Error("LoadAll of an empty directory succeeded")
	}
}
