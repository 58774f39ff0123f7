package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update if the change is right):\n%s", name, got)
	}
}

func TestBenchOutputBecomesTheTable(t *testing.T) {
	f, err := os.Open("testdata/go-bench.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parseBench(f)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := res.get("PromptAtVolume/1000traces", "prompt-tokens"); v != 3164 {
		t.Errorf("PromptAtVolume/1000traces prompt-tokens = %v", v)
	}
	if v, _ := res.get("DecodeLines", "MB/s"); v != 206.22 {
		t.Errorf("DecodeLines MB/s = %v, want the median of three runs", v)
	}
	if _, ok := res["Broken"]; ok {
		t.Error("a failed benchmark was read as a result")
	}
	rows := benchRows(res)
	rows = append(rows, row{Figure: "Memory", Target: "<= 300 MB", Measured: "not run", Met: "NO", Note: "redis unreachable"})
	var text, md bytes.Buffer
	writeTable(&text, rows)
	writeMarkdown(&md, rows)
	golden(t, "table.golden", text.Bytes())
	golden(t, "table.md.golden", md.Bytes())

	met := map[string]string{}
	for _, r := range rows {
		met[r.Figure] = r.Met
	}
	for fig, want := range map[string]string{
		"Triage overhead, 200 traces x 100 spans (model and trace store excluded)":        "yes",
		"Webhook to parent Slack message at 100 alerts/s, every one opening a group, p50": "NO",
		"Webhook to parent Slack message at 100 alerts/s, 1 in 10 opening a group, p99":   "yes",
		"JSONL decoding (example scenarios, OTLP/JSON lines)":                             "yes",
		"Prompt size at 20, 200 and 1000 traces x 100 spans":                              "yes",
	} {
		if met[fig] != want {
			t.Errorf("%q met = %q, want %q", fig, met[fig], want)
		}
	}
}

func TestMissingBenchmarksAreSaidNotHidden(t *testing.T) {
	rows := benchRows(benchResults{})
	if len(rows) == 0 {
		t.Fatal("no rows")
	}
	for _, r := range rows {
		if r.Measured != "not run" || r.Met != "NO" {
			t.Errorf("row %q without its benchmark: %+v", r.Figure, r)
		}
	}
}

func TestAlertBodiesAreOneAlertOfItsOwnGroup(t *testing.T) {
	body, err := alertBodies("../../examples/quickstart/alert.json")
	if err != nil {
		t.Fatal(err)
	}
	var a, b struct {
		GroupKey string `json:"groupKey"`
		Alerts   []struct {
			Labels map[string]string `json:"labels"`
		} `json:"alerts"`
	}
	if err := json.Unmarshal(body(7), &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(body(8), &b); err != nil {
		t.Fatal(err)
	}
	if len(a.Alerts) != 1 || a.Alerts[0].Labels["bench_id"] != "7" || !strings.HasSuffix(a.GroupKey, ":7") || a.GroupKey == b.GroupKey {
		t.Errorf("bodies: %+v and %+v", a, b)
	}
}

func TestQuantile(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for q, want := range map[float64]time.Duration{0.5: 50 * time.Millisecond, 0.99: 99 * time.Millisecond, 1: 100 * time.Millisecond, 0: time.Millisecond} {
		if got := quantile(ds, q); got != want {
			t.Errorf("quantile %.2f = %v, want %v", q, got, want)
		}
	}
	if quantile(nil, 0.5) != 0 {
		t.Error("quantile of nothing")
	}
}

func TestReplicaMovesTimesAndIDs(t *testing.T) {
	base := time.Date(2025, 6, 2, 12, 0, 0, 0, time.UTC)
	const id = "0af7651916cd43dd8448eb211c80319c"
	traces := []oncall.Trace{{TraceID: id, Start: base, End: base.Add(time.Second), Spans: []oncall.Span{{
		TraceID: id, SpanID: "00f067aa0ba902b7", Start: base, End: base.Add(time.Second), Events: []oncall.SpanEvent{{Name: "exception", Time: base}},
	}}}}
	if got := replica(traces, 0); got[0].TraceID != id {
		t.Error("copy 0 is not the original")
	}
	r1, r4 := replica(traces, 1), replica(traces, 4)
	if want := "00000001" + id[8:]; r1[0].TraceID != want || r1[0].Spans[0].TraceID != want {
		t.Errorf("copy 1 ids: %s / %s, want %s", r1[0].TraceID, r1[0].Spans[0].TraceID, want)
	}
	if d := base.Sub(r1[0].Spans[0].Start); d != 3*time.Hour || !r1[0].Spans[0].Events[0].Time.Equal(r1[0].Spans[0].Start) {
		t.Errorf("copy 1 moved by %v, want 3h back with its events", d)
	}
	if d := r4[0].Spans[0].Start.Sub(base); d < -time.Minute || d > time.Minute {
		t.Errorf("copy 4 moved by %v, want within a minute", d)
	}
	if !traces[0].Spans[0].Start.Equal(base) || !traces[0].Spans[0].Events[0].Time.Equal(base) {
		t.Error("replica changed the original")
	}
}

func TestGroupedAlertBodiesSpreadAlertsOverGroups(t *testing.T) {
	body, err := groupedAlertBodies("../../examples/quickstart/alert.json", 200)
	if err != nil {
		t.Fatal(err)
	}
	type payload struct {
		GroupKey string `json:"groupKey"`
		Alerts   []struct {
			Fingerprint string            `json:"fingerprint"`
			Labels      map[string]string `json:"labels"`
		} `json:"alerts"`
	}
	groups, alerts := map[string]bool{}, map[string]bool{}
	for i := range 4000 {
		var p payload
		if err := json.Unmarshal(body(i), &p); err != nil {
			t.Fatal(err)
		}
		groups[p.GroupKey] = true
		alerts[p.Alerts[0].Fingerprint] = true
	}
	if len(groups) != 200 || len(alerts) != 4000 {
		t.Errorf("4000 bodies made %d groups and %d distinct alerts, want 200 and 4000", len(groups), len(alerts))
	}
}
