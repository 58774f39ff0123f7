package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/analysis"
	"github.com/oncall-copilot/oncall-copilot/tracesource/jsonl"
)

// realSDK holds traces written by real instrumentation libraries: the
// OpenTelemetry JS SDK with the OpenInference LangChain and OpenAI
// instrumentations, an agent whose shipping tool starts failing at 09:38,
// and a second service with its own steady failures in the same store
// (see its README for how they were made).
const realSDK = "../../testdata/realsdk"

// The real cause of the real-instrumentation incident, the failing
// shipping tool, ranks first when triage runs as a user would run it:
// the default configuration, the Alertmanager payload as written, and the
// store whichever environment key its services write.
//
// Live, a minute after the alert fired, only two shipping failures exist
// yet, while the steady lookup_order failures happen to bunch up in the
// half hour before: the alert's own lookback (rate(...[5m])) is what
// tells the new failure from them.
func TestTriageRanksTheRealCauseOnRealInstrumentation(t *testing.T) {
	for _, tt := range []struct{ name, set, at string }{
		{"store", "store", ""},
		{"store-legacy-env", "store-legacy-env", ""},
		{"live a minute after firing", "store", "2026-03-10T09:43:30Z"},
		{"live, legacy key", "store-legacy-env", "2026-03-10T09:43:30Z"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			traces := filepath.Join(realSDK, tt.set)
			var out, errOut strings.Builder
			args := []string{"triage", "--alert", filepath.Join(realSDK, "alert.json"), "--traces", traces, "--offline", "--format", "json"}
			if tt.at != "" {
				args = append(args, "--at", tt.at)
			}
			if err := run(context.Background(), args, func(string) string { return "" }, &out, &errOut); err != nil {
				t.Fatalf("triage: %v\n%s", err, errOut.String())
			}
			var rep oncall.Report
			if err := json.Unmarshal([]byte(out.String()), &rep); err != nil {
				t.Fatalf("report: %v\n%s", err, out.String())
			}
			if len(rep.Clusters) == 0 {
				t.Fatalf("no failure cluster; %d incident traces, missing %q", rep.TracesExamined, rep.Missing)
			}
			top := rep.Clusters[0]
			if top.ToolName != "get_shipping_status" || !strings.Contains(top.Error, "ShippingApiError") {
				t.Errorf("top cluster is %s %q (%d traces, baseline %d), want the failing get_shipping_status tool",
					top.SpanName, top.Error, top.Count, top.BaselineCount)
			}
			billing := serviceTraces(t, traces, "billing-agent")
			for _, c := range rep.Clusters {
				for _, id := range c.TraceIDs {
					if billing[id] {
						t.Errorf("cluster %q cites billing-agent trace %s: another service's failures", c.Error, id)
					}
				}
			}
		})
	}
}

// The engine ranks the shipping tool first once it sees the whole
// incident against the healthy hour before it, with the traces selected
// by service alone: what the command above must reach however it picks
// its windows and filters.
func TestAnalyzeRanksTheRealCauseOnRealInstrumentation(t *testing.T) {
	src, err := jsonl.New(jsonl.Options{Path: filepath.Join(realSDK, "store")})
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	onset, end := day.Add(9*time.Hour+38*time.Minute), day.Add(9*time.Hour+56*time.Minute)
	res, err := src.Search(context.Background(), oncall.TraceQuery{
		Start: day.Add(8 * time.Hour), End: day.Add(11 * time.Hour),
		Filters: map[string]string{"service.name": "support-agent"}, Limit: 1000,
	})
	if err != nil {
		t.Fatal(err)
	}
	rep := analysis.Analyze(oncall.Alert{Name: "SupportAgentErrorRate", StartsAt: day.Add(9*time.Hour + 42*time.Minute + 30*time.Second)}, res.Traces,
		analysis.Options{Incident: analysis.Window{Start: onset, End: end}, Baseline: analysis.Window{Start: day.Add(8*time.Hour + 30*time.Minute), End: onset}})
	if len(rep.Clusters) < 2 {
		t.Fatalf("clusters %+v, want the shipping failure and the steady order lookups", rep.Clusters)
	}
	if top := rep.Clusters[0]; top.ToolName != "get_shipping_status" || top.Count < 5 || top.BaselineCount != 0 {
		t.Errorf("top cluster %s %q: %d traces, baseline %d", top.ToolName, top.Error, top.Count, top.BaselineCount)
	}
	var lookups bool
	for _, c := range rep.Clusters[1:] {
		lookups = lookups || (c.ToolName == "lookup_order" && c.BaselineCount > 0)
	}
	if !lookups {
		t.Errorf("the steady lookup_order failures are not below the cause: %+v", rep.Clusters)
	}
}

// serviceTraces is the set of trace ids of one service in a store.
func serviceTraces(t *testing.T, path, service string) map[string]bool {
	t.Helper()
	src, err := jsonl.New(jsonl.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	res, err := src.Search(context.Background(), oncall.TraceQuery{Filters: map[string]string{"service.name": service}, Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Traces) == 0 {
		t.Fatalf("no %s traces in %s", service, path)
	}
	ids := make(map[string]bool, len(res.Traces))
	for _, tr := range res.Traces {
		ids[tr.TraceID] = true
	}
	return ids
}

// Traces the command cannot read stop it with an error that names them;
// it never reports "no traces" for a store it could not read.
func TestTriageRefusesTracesItCannotRead(t *testing.T) {
	unknown := t.TempDir()
	if err := os.WriteFile(filepath.Join(unknown, "events.jsonl"), []byte(`{"event":"login","user":"u1"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "spans.parquet"), []byte("PAR1"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, traces string
		want         []string
	}{
		{"a path that does not exist", "/does/not/exist", []string{"/does/not/exist", "no such file"}},
		{"a file of unknown records", unknown, []string{"events.jsonl", "could not be read"}},
		{"no trace file", other, []string{"no trace files", "spans.parquet"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut strings.Builder
			args := []string{"triage", "--alert", filepath.Join(realSDK, "alert.json"), "--traces", tt.traces, "--offline"}
			err := run(context.Background(), args, func(string) string { return "" }, &out, &errOut)
			if err == nil {
				t.Fatalf("triage succeeded:\n%s", out.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}
