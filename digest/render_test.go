package digest

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/digest/view"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test ./digest -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the rendering; if the change is intended, run go test ./digest -update\ngot:\n%s", path, got)
	}
}

// quietDigest is a day without incidents or new failures.
func quietDigest() Digest {
	start := fixtureFrom.In(paris)
	return Digest{
		Name: "support-daily", Start: start, End: fixtureFire, Zone: "Europe/Paris", Quiet: true,
		Fleet:   FleetStats{Runs: 1204, Failing: 5, PrevRuns: 1187, PrevFailing: 6, Clusters: []oncall.Cluster{}, Agents: []AgentRate{}},
		Copilot: CopilotStats{},
		Buckets: buckets(start, fixtureFire),
	}
}

// sampleDigest is testdata/sample.json: the fixture's digest with a
// narrative, frozen so that the renderings do not move when the analysis
// does. The build tests check how a digest is computed.
func sampleDigest(t *testing.T) Digest {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "sample.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d Digest
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("decode sample digest: %v", err)
	}
	return d
}

func TestRenderGolden(t *testing.T) {
	full := sampleDigest(t)
	plain := sampleDigest(t)
	plain.Narrative, plain.Name = nil, ""
	plain.Missing = []string{"agent runs of the previous window from jsonl: read /var/traces: permission denied"}
	// The Block Kit renderings of the same digests are bot's.
	cases := []struct {
		name string
		d    Digest
	}{
		{"sample", full},
		{"no_model", plain},
		{"quiet", quietDigest()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkGolden(t, tc.name+".text", RenderText(tc.d))
		})
	}
}

// The sample digest in the README is the golden text rendering.
func TestSampleDoc(t *testing.T) {
	doc, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), RenderText(sampleDigest(t))) {
		t.Error("the README does not show the current text rendering of testdata/sample.json; update it from testdata/sample.text.golden")
	}
}

// Whatever alerts, traces and the model say, the text rendering keeps to
// its lines and steers no terminal (bot checks the Block Kit one).
func TestRenderEscapes(t *testing.T) {
	d := fixtureDigest(t, nil)
	hostile := "<!channel> <@U123> <https://evil.example|click> @here `tick` *bold*\n\x1b[31mred"
	d.Narrative = &Narrative{Text: hostile, Model: "m<odel>"}
	d.Incidents.Noisiest[0].Name = hostile
	d.Incidents.Open[0].Name = hostile
	d.Incidents.Open[0].Severity = "<!here>"
	d.Fleet.Clusters[0].Error = hostile
	d.Fleet.Clusters[0].TraceIDs[0] = "id|<https://evil.example>"
	d.Fleet.Agents[0].Agent = hostile
	d.Missing = []string{hostile}
	text := RenderText(d)
	if strings.Contains(text, "\x1b") {
		t.Error("text carries a terminal escape")
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "red") {
			t.Errorf("untrusted text broke a line: %q", line)
		}
	}
}

func TestFormatting(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{view.Duration(42 * time.Second), "42s"},
		{view.Duration(4*time.Minute + 20*time.Second), "4m"},
		{view.Duration(85 * time.Minute), "1h 25m"},
		{view.Duration(3 * time.Hour), "3h"},
		{view.Duration(50 * time.Hour), "2d 2h"},
		{view.Count(1234567), "1,234,567"},
		{view.Count(999), "999"},
		{view.Percent(0.3333), "33.3%"},
		{view.Percent(0.0004), "0.04%"},
		{view.Percent(0), "0%"},
		{view.Money(0.0075), "$0.0075"},
		{view.Money(0.42), "$0.420"},
		{view.Money(12.5), "$12.50"},
		{view.Money(0.00001), "under $0.0001"},
		{view.Plural(1, "run", "runs"), "1 run"},
		{view.Plural(1200, "run", "runs"), "1,200 runs"},
		{view.Title(Digest{Start: fixtureFrom, End: fixtureFire}), "Daily digest"},
		{view.Title(Digest{Start: fixtureFire.Add(-7 * 24 * time.Hour), End: fixtureFire}), "Weekly digest"},
		{view.Title(Digest{Start: fixtureFire.Add(-6 * time.Hour), End: fixtureFire}), "Digest of the last 6h"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
