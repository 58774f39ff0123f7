package bot

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/digest/view"
)

// checkDigestGolden compares a digest's blocks with
// testdata/digest_<name>.blocks.golden.
func checkDigestGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "digest_"+name+".blocks.golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test ./bot -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the rendering; if the change is intended, run go test ./bot -update\ngot:\n%s", path, got)
	}
}

func digestBlocksJSON(t *testing.T, d view.Digest, opts RenderOptions) string {
	t.Helper()
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(RenderDigest(d, opts)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func digestTraceUI(traceID, spanID string) string {
	return "https://traces.example.com/trace/" + traceID + "?span=" + spanID
}

// sampleDigest is digest's testdata/sample.json: a digest with a
// narrative, frozen so that the renderings do not move when the analysis
// does.
func sampleDigest(t *testing.T) view.Digest {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "digest", "testdata", "sample.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d view.Digest
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("decode sample digest: %v", err)
	}
	return d
}

// quietDigest is a day without incidents or new failures.
func quietDigest(t *testing.T) view.Digest {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	end := time.Date(2026, 3, 3, 9, 0, 0, 0, paris)
	return view.Digest{
		Name: "support-daily", Start: end.Add(-24 * time.Hour), End: end, Zone: "Europe/Paris", Quiet: true,
		Fleet: view.FleetStats{Runs: 1204, Failing: 5, PrevRuns: 1187, PrevFailing: 6, Clusters: []oncall.Cluster{}, Agents: []view.AgentRate{}},
	}
}

func TestRenderDigestGolden(t *testing.T) {
	full := sampleDigest(t)
	plain := sampleDigest(t)
	plain.Narrative, plain.Name = nil, ""
	plain.Missing = []string{"agent runs of the previous window from jsonl: read /var/traces: permission denied"}
	cases := []struct {
		name string
		d    view.Digest
		opts RenderOptions
	}{
		{"sample", full, RenderOptions{TraceURL: digestTraceUI}},
		{"no_model", plain, RenderOptions{}},
		{"quiet", quietDigest(t), RenderOptions{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkDigestGolden(t, tc.name, digestBlocksJSON(t, tc.d, tc.opts))
			checkDigestLimits(t, tc.d, tc.opts)
		})
	}
}

// checkDigestLimits holds a rendering to Slack's limits on blocks.
func checkDigestLimits(t *testing.T, d view.Digest, opts RenderOptions) {
	t.Helper()
	blocks := RenderDigest(d, opts)
	if len(blocks) > 50 {
		t.Errorf("%d blocks, Slack takes 50", len(blocks))
	}
	raw, _ := json.Marshal(blocks)
	var decoded []struct {
		Type string `json:"type"`
		Text *struct {
			Text string `json:"text"`
		} `json:"text"`
		Fields []struct {
			Text string `json:"text"`
		} `json:"fields"`
	}
	if err := json.Unmarshal(raw, &decoded); err != nil {
		t.Fatal(err)
	}
	for i, b := range decoded {
		if b.Text != nil && len([]rune(b.Text.Text)) > 3000 {
			t.Errorf("block %d text is %d chars, Slack takes 3000", i, len(b.Text.Text))
		}
		if b.Type == "header" && len([]rune(b.Text.Text)) > 150 {
			t.Errorf("header is %d chars, Slack takes 150", len(b.Text.Text))
		}
		if len(b.Fields) > 10 {
			t.Errorf("block %d has %d fields, Slack takes 10", i, len(b.Fields))
		}
	}
	if fb := DigestFallback(d); fb == "" || strings.Contains(fb, "\n") {
		t.Errorf("fallback %q is not one line", fb)
	}
}

// Whatever alerts, traces and the model say, a digest's blocks link and
// mention nothing.
func TestRenderDigestEscapes(t *testing.T) {
	d := sampleDigest(t)
	hostile := "<!channel> <@U123> <https://evil.example|click> @here `tick` *bold*\n\x1b[31mred"
	d.Narrative = &view.Narrative{Text: hostile, Model: "m<odel>"}
	d.Incidents.Noisiest[0].Name = hostile
	d.Incidents.Open[0].Name = hostile
	d.Incidents.Open[0].Severity = "<!here>"
	d.Fleet.Clusters[0].Error = hostile
	d.Fleet.Clusters[0].TraceIDs[0] = "id|<https://evil.example>"
	d.Fleet.Agents[0].Agent = hostile
	d.Missing = []string{hostile}
	raw, _ := json.Marshal(RenderDigest(d, RenderOptions{TraceURL: digestTraceUI}))
	var blocks []map[string]any
	_ = json.Unmarshal(raw, &blocks)
	var texts []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if s, ok := v["text"].(string); ok {
				texts = append(texts, s)
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(blocks)
	all := strings.Join(texts, "\n")
	for _, bad := range []string{"<!", "<@", "<https://evil", "@here", "\x1b"} {
		if strings.Contains(all, bad) {
			t.Errorf("blocks carry %q:\n%s", bad, all)
		}
	}
}
