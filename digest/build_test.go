package digest

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

func TestBuildIncidents(t *testing.T) {
	d := fixtureDigest(t, nil)
	in := d.Incidents
	if in.Opened != 2 || in.Resolved != 2 || in.StillOpen != 2 {
		t.Errorf("opened/resolved/still open = %d/%d/%d, want 2/2/2", in.Opened, in.Resolved, in.StillOpen)
	}
	if want := (Durations{Count: 2, Median: 8 * time.Minute, Max: 12 * time.Minute}); in.TimeToAck != want {
		t.Errorf("time to ack = %+v, want %+v", in.TimeToAck, want)
	}
	// inc-a: 1h25m; inc-c, opened the day before: 13h30m.
	if want := (Durations{Count: 2, Median: (85*time.Minute + 810*time.Minute) / 2, Max: 810 * time.Minute}); in.TimeToResolve != want {
		t.Errorf("time to resolve = %+v, want %+v", in.TimeToResolve, want)
	}
	if want := []AlertNoise{{Name: "SupportAgentErrorRate", Incidents: 2, Fires: 7}}; !equalJSON(in.Noisiest, want) {
		t.Errorf("noisiest = %+v, want %+v", in.Noisiest, want)
	}
	var open []string
	for _, o := range in.Open {
		open = append(open, o.Key)
	}
	if got := strings.Join(open, ","); got != "inc-d,inc-b" {
		t.Errorf("open incidents = %s, want inc-d,inc-b (longest open first)", got)
	}
	if !in.Open[1].Acked || in.Open[0].Acked {
		t.Errorf("acked flags = %v,%v, want false,true", in.Open[0].Acked, in.Open[1].Acked)
	}
	c := d.Copilot
	if c.Triages != 2 || c.Usage.PromptTokens != 11600 || c.Usage.CompletionTokens != 1500 || c.Helpful != 1 || c.Unhelpful != 1 {
		t.Errorf("copilot = %+v, want 2 triages, 11600+1500 tokens, 1 helpful, 1 not", c)
	}
	if d.Quiet {
		t.Error("a day with incidents is quiet")
	}
}

func TestBuildFleet(t *testing.T) {
	d := fixtureDigest(t, nil)
	f := d.Fleet
	if f.Runs != 50 || f.Failing != 11 || f.PrevRuns != 50 || f.PrevFailing != 4 {
		t.Errorf("runs %d failing %d prev runs %d prev failing %d, want 50 11 50 4", f.Runs, f.Failing, f.PrevRuns, f.PrevFailing)
	}
	if f.NewClusters != 1 || len(f.Clusters) == 0 {
		t.Fatalf("new clusters = %d, clusters = %d; want 1 new among several", f.NewClusters, len(f.Clusters))
	}
	top := f.Clusters[0]
	if !top.New || top.Count != 8 || top.ToolName != "lookup" || !strings.Contains(top.Error, "connection refused") {
		t.Errorf("top cluster = %+v, want the new tool failure in 8 runs", top)
	}
	for _, c := range f.Clusters {
		if !failureKind(c.Kind) {
			t.Errorf("cluster of kind %s among failure clusters", c.Kind)
		}
	}
	want := []AgentRate{
		{Agent: "support-agent", Runs: 30, Failing: 10, Rate: 0.3333, PrevRuns: 30, PrevFailing: 3, PrevRate: 0.1, Trend: TrendUp},
		{Agent: "billing-agent", Runs: 20, Failing: 1, Rate: 0.05, PrevRuns: 20, PrevFailing: 1, PrevRate: 0.05, Trend: TrendSteady},
	}
	if !equalJSON(f.Agents, want) {
		t.Errorf("agents = %+v, want %+v", f.Agents, want)
	}
	if len(d.Buckets) != 24 {
		t.Fatalf("%d buckets, want 24", len(d.Buckets))
	}
	var runs, failing, opened int
	for i, b := range d.Buckets {
		if want := fixtureFrom.Add(time.Duration(i) * time.Hour); !b.Start.Equal(want) {
			t.Errorf("bucket %d starts %v, want %v", i, b.Start, want)
		}
		runs, failing, opened = runs+b.Runs, failing+b.Failing, opened+b.Opened
	}
	if runs != 50 || failing != 11 || opened != 2 {
		t.Errorf("buckets hold %d runs, %d failing, %d opened; want 50, 11, 2", runs, failing, opened)
	}
	if len(d.Missing) != 0 {
		t.Errorf("missing = %q, want nothing", d.Missing)
	}
}

func TestBuildIsDeterministic(t *testing.T) {
	a, err := json.Marshal(fixtureDigest(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		b, _ := json.Marshal(fixtureDigest(t, nil))
		if string(a) != string(b) {
			t.Fatalf("two builds of the same data differ:\n%s\n%s", a, b)
		}
	}
}

func TestBuildDegrades(t *testing.T) {
	req := Request{Name: "x", Start: fixtureFrom, End: fixtureFire, Location: paris}
	cases := []struct {
		name        string
		store       IncidentLister
		source      TraceSource
		model       Model
		wantErr     string
		wantMissing string
	}{
		{name: "store down fails the digest", store: &memIncidents{err: errBoom}, source: &memTraces{}, wantErr: "list incidents"},
		{name: "trace source down is noted", store: &memIncidents{}, source: &memTraces{err: errBoom}, wantMissing: "agent runs of this window from jsonl: boom"},
		{name: "no runs are noted", store: &memIncidents{}, source: &memTraces{}, wantMissing: "agent runs: jsonl holds none for this window or the previous one"},
		{name: "no trace source is noted", store: &memIncidents{}, wantMissing: "no trace source configured"},
		{name: "model down is noted", store: &memIncidents{}, source: &memTraces{}, model: &fakeModel{err: errBoom}, wantMissing: "narrative: the model did not answer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := NewBuilder(BuilderOptions{Store: tc.store, Source: tc.source, SourceName: "jsonl", Model: tc.model, Redactor: newRedactor(t)})
			if err != nil {
				t.Fatal(err)
			}
			d, err := b.Build(t.Context(), req)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Build error = %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			if !strings.Contains(strings.Join(d.Missing, "\n"), tc.wantMissing) {
				t.Errorf("missing = %q, want %q", d.Missing, tc.wantMissing)
			}
			if d.Narrative != nil {
				t.Errorf("narrative = %+v, want none", d.Narrative)
			}
		})
	}
}

func TestBuildCapsTraces(t *testing.T) {
	b, err := NewBuilder(BuilderOptions{Store: &memIncidents{}, Source: &memTraces{traces: fixtureTraces()}, Redactor: newRedactor(t), MaxTraces: 10})
	if err != nil {
		t.Fatal(err)
	}
	d, err := b.Build(t.Context(), Request{Start: fixtureFrom, End: fixtureFire})
	if err != nil {
		t.Fatal(err)
	}
	if d.Fleet.Runs != 10 || !strings.Contains(strings.Join(d.Missing, "\n"), "40 of 50 left out by the cap of 10") {
		t.Errorf("runs = %d, missing = %q; want 10 runs and the cap said", d.Fleet.Runs, d.Missing)
	}
}

func TestBuildRejectsBadInput(t *testing.T) {
	if _, err := NewBuilder(BuilderOptions{}); err == nil || !strings.Contains(err.Error(), "store is required") || !strings.Contains(err.Error(), "redactor is required") {
		t.Errorf("NewBuilder without store and redactor: %v", err)
	}
	b := fixtureBuilder(t, nil)
	if _, err := b.Build(t.Context(), Request{Start: fixtureFire, End: fixtureFire}); err == nil {
		t.Error("Build of an empty window succeeded")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := b.Build(ctx, Request{Start: fixtureFrom, End: fixtureFire}); !errors.Is(err, context.Canceled) {
		t.Errorf("Build with a cancelled context = %v, want context.Canceled", err)
	}
}

func TestNarrative(t *testing.T) {
	m := &fakeModel{reply: "  The support agent's lookup tool\nstarted failing on a database error.  "}
	d := fixtureDigest(t, m)
	if d.Narrative == nil {
		t.Fatal("no narrative")
	}
	if want := "The support agent's lookup tool started failing on a database error."; d.Narrative.Text != want {
		t.Errorf("narrative = %q, want %q", d.Narrative.Text, want)
	}
	if d.Narrative.Usage.Calls != 1 || d.Narrative.Model != "gpt-4o-mini-2024-07-18" {
		t.Errorf("narrative usage %+v model %q", d.Narrative.Usage, d.Narrative.Model)
	}
	if len(m.reqs) != 1 {
		t.Fatalf("%d model calls, want 1", len(m.reqs))
	}
	user := m.reqs[0].Messages[1].Content
	for _, want := range []string{"50 runs, 11 failing", "SupportAgentErrorRate", "connection refused"} {
		if !strings.Contains(user, want) {
			t.Errorf("narrative prompt lacks %q:\n%s", want, user)
		}
	}
}

// A secret in a trace's error reaches neither the model nor any rendering.
func TestSecretsAreRedacted(t *testing.T) {
	const secret = "sk-live-4f9a8b7c6d5e4f3a2b1c"
	traces := fixtureTraces()
	leak := agentRun("cur-leak", "leaky-agent@here", fixtureFrom.Add(time.Hour), "tool", "upstream said: auth failed with api_key="+secret)
	traces = append(traces, leak)
	incs := fixtureIncidents()
	incs[1].Alert.Name = "token=" + secret
	m := &fakeModel{reply: "Rotate " + secret + " now."}
	b, err := NewBuilder(BuilderOptions{Store: &memIncidents{incs: incs}, Source: &memTraces{traces: traces}, Redactor: newRedactor(t), Model: m})
	if err != nil {
		t.Fatal(err)
	}
	d, err := b.Build(t.Context(), Request{Start: fixtureFrom, End: fixtureFire})
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(d)
	// The Block Kit rendering (bot's) renders from the same digest.
	for name, out := range map[string]string{"json": string(js), "text": RenderText(d), "prompt": m.reqs[0].Messages[1].Content} {
		if strings.Contains(out, secret) {
			t.Errorf("%s shows the secret", name)
		}
	}
}

func TestTrend(t *testing.T) {
	cur := fixtureFrom
	prevDay := fixtureFrom.Add(-24 * time.Hour)
	mk := func(tag string, from time.Time, n, failing int) []oncall.Trace {
		var out []oncall.Trace
		for i := range n {
			fail := ""
			if i < failing {
				fail = "step failed"
			}
			out = append(out, agentRun(tag+string(rune('a'+i)), "agent-"+tag[:1], from.Add(time.Duration(i)*time.Hour), "tool", fail))
		}
		return out
	}
	cases := []struct {
		name   string
		traces []oncall.Trace
		want   Trend
	}{
		{"up", append(mk("u0", prevDay, 10, 1), mk("u1", cur, 10, 5)...), TrendUp},
		{"down", append(mk("d0", prevDay, 10, 5), mk("d1", cur, 10, 1)...), TrendDown},
		{"steady", append(mk("s0", prevDay, 10, 2), mk("s1", cur, 10, 2)...), TrendSteady},
		{"new", mk("n1", cur, 10, 2), TrendNew},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := NewBuilder(BuilderOptions{Store: &memIncidents{}, Source: &memTraces{traces: tc.traces}, Redactor: newRedactor(t)})
			d, err := b.Build(t.Context(), Request{Start: cur, End: fixtureFire})
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Fleet.Agents) != 1 || d.Fleet.Agents[0].Trend != tc.want {
				t.Errorf("agents = %+v, want one trending %s", d.Fleet.Agents, tc.want)
			}
		})
	}
}

func TestQuiet(t *testing.T) {
	var traces []oncall.Trace
	for i := range 48 {
		traces = append(traces, agentRun("ok"+string(rune('A'+i)), "calm-agent", fixtureFrom.Add(-24*time.Hour+time.Duration(i)*time.Hour), "", ""))
	}
	old := fixtureIncidents()[4] // resolved the day before
	b, _ := NewBuilder(BuilderOptions{Store: &memIncidents{incs: []oncall.Incident{old}}, Source: &memTraces{traces: traces}, Redactor: newRedactor(t)})
	d, err := b.Build(t.Context(), Request{Name: "calm", Start: fixtureFrom, End: fixtureFire, Location: paris})
	if err != nil {
		t.Fatal(err)
	}
	if !d.Quiet || d.Fleet.Runs != 24 || d.Fleet.Failing != 0 {
		t.Fatalf("quiet = %v, runs %d failing %d; want a quiet day of 24 runs", d.Quiet, d.Fleet.Runs, d.Fleet.Failing)
	}
	chart, err := Chart(d)
	if err != nil || chart != nil {
		t.Errorf("chart of a quiet day = %d bytes, %v; want none", len(chart), err)
	}

	// A day whose traces could not be read is not known to be quiet.
	b, _ = NewBuilder(BuilderOptions{Store: &memIncidents{}, Source: &memTraces{err: errBoom}, Redactor: newRedactor(t)})
	d, err = b.Build(t.Context(), Request{Start: fixtureFrom, End: fixtureFire})
	if err != nil || d.Quiet {
		t.Errorf("unreadable traces: quiet = %v, err %v; want not quiet", d.Quiet, err)
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
