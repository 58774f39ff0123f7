package bot

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// goldenMessage is how a rendered message is stored in a golden file: the
// fields chat.postMessage receives.
type goldenMessage struct {
	Text   string        `json:"text"`
	Blocks []slack.Block `json:"blocks"`
}

func checkGolden(t *testing.T, name string, msgs []goldenMessage) {
	t.Helper()
	// Unescaped <, > and & keep the files readable; the JSON is the same.
	var buf strings.Builder
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(msgs); err != nil {
		t.Fatalf("marshal: %v", err)
	}
	// Context elements marshal themselves with escaping; undo it too.
	got := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(buf.String())
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
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

func parentMessage(inc oncall.Incident, opts RenderOptions) []goldenMessage {
	return []goldenMessage{{Text: ParentFallback(inc, opts), Blocks: RenderParent(inc, opts)}}
}

func reportMessages(inc oncall.Incident, rep oncall.Report, opts RenderOptions) []goldenMessage {
	blocks, texts := RenderReport(inc, rep, opts), ReportFallback(inc, rep, opts)
	if len(blocks) != len(texts) {
		panic(fmt.Sprintf("RenderReport gave %d messages, ReportFallback %d", len(blocks), len(texts)))
	}
	out := make([]goldenMessage, len(blocks))
	for i := range blocks {
		out[i] = goldenMessage{Text: texts[i], Blocks: blocks[i]}
	}
	return out
}

func parentCases() map[string]oncall.Incident {
	triaging := testIncident()

	triaged := testIncident()
	triaged.TriagedAt = t0.Add(2 * time.Minute)
	triaged.Headline = "Search tool upstream timeouts since 09:12 push the agent into its retry limit."

	acked := triaged
	acked.Status = oncall.IncidentAcknowledged
	acked.AckedBy = "U024BE7LH"
	acked.AckedAt = t0.Add(5 * time.Minute)

	resolved := triaged
	resolved.Status = oncall.IncidentResolved
	resolved.ResolvedAt = t0.Add(42 * time.Minute)
	resolved.Fires = 2
	resolved.Alerts = []oncall.Alert{resolved.Alert, resolved.Alert, resolved.Alert}

	bare := testIncident()
	bare.Alert = oncall.Alert{Source: "generic", Name: "LLM cost budget", Description: "Daily spend above budget", Severity: "whatever", StartsAt: t0}

	return map[string]oncall.Incident{
		"parent_triaging": triaging, "parent_triaged": triaged, "parent_acknowledged": acked,
		"parent_resolved": resolved, "parent_bare": bare, "parent_hostile": hostileIncident(),
	}
}

func reportCases() map[string]struct {
	inc  oncall.Incident
	rep  oncall.Report
	opts RenderOptions
} {
	linked := RenderOptions{TraceURL: testTraceURL, Redact: testRedact}
	offline := testReport()
	offline.Diagnosis = &oncall.Diagnosis{
		Summary:   "Failures concentrate in one new cluster: tool search times out (41 traces, none in the baseline).",
		Causes:    []oncall.Cause{{Title: "New failure: tool search timeouts", Confidence: oncall.ConfidenceMedium, Evidence: []oncall.Evidence{{TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7"}}}},
		NextSteps: []string{"Open the example traces of the top cluster."},
		Offline:   "no model configured",
	}
	offline.Usage = oncall.Usage{}
	offline.EvidenceCut = nil
	empty := testReport()
	empty.Diagnosis, empty.Clusters, empty.Suspects, empty.Missing, empty.EvidenceCut = nil, nil, nil, nil, nil
	empty.FailingTraces, empty.HealthyExample, empty.Usage = 0, "", oncall.Usage{}
	type tc = struct {
		inc  oncall.Incident
		rep  oncall.Report
		opts RenderOptions
	}
	return map[string]tc{
		"report_model":   {testIncident(), testReport(), linked},
		"report_offline": {testIncident(), offline, RenderOptions{}},
		"report_empty":   {testIncident(), empty, RenderOptions{}},
		"report_hostile": {hostileIncident(), hostileReport(), linked},
	}
}

func TestRenderParentGolden(t *testing.T) {
	opts := RenderOptions{TraceURL: testTraceURL, Redact: testRedact}
	for name, inc := range parentCases() {
		t.Run(name, func(t *testing.T) {
			msgs := parentMessage(inc, opts)
			checkLimits(t, msgs)
			checkGolden(t, name, msgs)
		})
	}
}

func TestRenderReportGolden(t *testing.T) {
	for name, c := range reportCases() {
		t.Run(name, func(t *testing.T) {
			msgs := reportMessages(c.inc, c.rep, c.opts)
			checkLimits(t, msgs)
			checkGolden(t, name, msgs)
		})
	}
}

func TestParentStatus(t *testing.T) {
	cases := parentCases()
	tests := []struct {
		name, incident string
		want           []string
		notWant        []string
	}{
		{"triaging says so", "parent_triaging", []string{"🔴", "firing · triaging…", "*Service*\nsupport-agent", "*Agent*\ntriage-bot", "*Environment*\nprod", "<https://alertmanager.example.com/"}, []string{"Diagnosis:", "ml-platform", "support-agent-7d9f"}},
		{"triaged shows the headline", "parent_triaged", []string{"firing · triaged", "*Diagnosis:* Search tool upstream timeouts"}, nil},
		{"acknowledged names who", "parent_acknowledged", []string{"*Status*\nacknowledged by <@U024BE7LH>", "[acknowledged] AgentErrorRate"}, []string{"triaging", "[acknowledged by"}},
		{"resolved shows duration", "parent_resolved", []string{"✅", "resolved after 42m", "3 alerts in this group", "fired 2 times"}, []string{"🔴"}},
		{"unknown severity and no links", "parent_bare", []string{"⚪", "Daily spend above budget"}, []string{"<http"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			all := allText(t, parentMessage(cases[tt.incident], RenderOptions{}))
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("missing %q in:\n%s", w, all)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(all, w) {
					t.Errorf("unexpected %q in:\n%s", w, all)
				}
			}
		})
	}
}

func TestReportContent(t *testing.T) {
	cases := reportCases()
	tests := []struct {
		name, report string
		want         []string
		notWant      []string
	}{
		{"model report cites and links", "report_model", []string{
			"*Probable causes*", "_high confidence_",
			"<https://traces.example.com/trace/4bf92f3577b34da6a3ce929d0e0e4736?span=00f067aa0ba902b7|4bf92f3577b34da6a3ce929d0e0e4736 / 00f067aa0ba902b7>",
			"`tool:search:timeout` — *new*: 41 traces now, none in the baseline",
			"16 traces now (7%) vs 4 in the baseline (0.3%), ×19.7",
			"Examples:", "1 more",
			"`search.region` = `eu-west-2` — in 41/57 failing traces vs 3/183 healthy (healthy traces mostly had `eu-west-1`)",
			"*Tool*: Set the search client timeout", "_(in tools/search.py)_", "*Harness*:", "*Config/infra*:",
			"1. Check the search provider", "phoenix: 2 traces could not be read",
			"Left out of the model's prompt by its token budget: 3 of 8",
			"Model `gpt-4.1-mini`", "18,234 prompt + 912 completion tokens in 2 calls", "$0.0114", "took 14.2s",
			"240 traces examined (1,180 in the baseline)", "Window Mar 14 09:11–09:26 vs baseline from 08:11 UTC", "57 of 240 traces failing (3.8/min)",
		}, []string{"Deterministic", "Part 1"}},
		{"offline report says why", "report_offline", []string{
			"*Deterministic analysis, no model diagnosis* (no model configured)", "Offline analysis: no model configured",
			"`4bf92f3577b34da6a3ce929d0e0e4736 / 00f067aa0ba902b7`",
		}, []string{"<https://traces", "Model `"}},
		{"empty report still answers", "report_empty", []string{"*No diagnosis was produced.*", "No failure clusters were found", "No model diagnosis"}, []string{"*Probable causes*"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cases[tt.report]
			all := allText(t, reportMessages(c.inc, c.rep, c.opts))
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("missing %q in:\n%s", w, all)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(all, w) {
					t.Errorf("unexpected %q in:\n%s", w, all)
				}
			}
		})
	}
}

func TestTopClustersSaysWhatIsLeftOut(t *testing.T) {
	rep := testReport()
	for i := range 7 {
		rep.Clusters = append(rep.Clusters, oncall.Cluster{Signature: fmt.Sprintf("extra-%d", i), Count: 1, BaselineCount: 1})
	}
	all := allText(t, reportMessages(testIncident(), rep, RenderOptions{}))
	if !strings.Contains(all, "top 5 of 9") {
		t.Errorf("no mention of the clusters left out:\n%s", all)
	}
	if !strings.Contains(all, "extra-2") || strings.Contains(all, "extra-3") {
		t.Errorf("want exactly the first 5 clusters shown:\n%s", all)
	}
}

// allowedLink matches the only <…> sequences rendered text may hold: links
// to the URLs the fixtures configure and Slack date formatting.
var allowedLink = regexp.MustCompile(`^<(https://(traces|alertmanager|prometheus)\.example\.com/[^|<>\s]*\|[^<>]*|!date\^\d+\^[^|<>]*\|[^<>]*|@U024BE7LH)>$`)

func TestInjectionIsDefused(t *testing.T) {
	opts := RenderOptions{TraceURL: testTraceURL, Redact: testRedact}
	rendered := map[string][]goldenMessage{
		"parent":       parentMessage(hostileIncident(), opts),
		"report":       reportMessages(hostileIncident(), hostileReport(), opts),
		"acknowledged": parentMessage(func() oncall.Incident { i := hostileIncident(); i.Status = oncall.IncidentAcknowledged; return i }(), opts),
	}
	for name, msgs := range rendered {
		t.Run(name, func(t *testing.T) {
			for i, text := range texts(t, msgs) {
				for _, tag := range regexp.MustCompile(`<[^>]*>?`).FindAllString(text, -1) {
					if !allowedLink.MatchString(tag) {
						t.Errorf("text %d carries %q, which Slack would read as a link or mention", i, tag)
					}
				}
				if m := regexp.MustCompile(`(?i)@(here|channel|everyone)\b`).FindString(text); m != "" {
					t.Errorf("text %d keeps the broadcast word %q", i, m)
				}
				if strings.Contains(text, "<https://evil") {
					t.Errorf("text %d keeps a labelled link from the input: %q", i, text)
				}
				if strings.Contains(text, "sk-live-51HxSECRET") {
					t.Errorf("text %d shows the secret", i)
				}
				if strings.Contains(text, "javascript:") && strings.Contains(text, "<javascript") {
					t.Errorf("text %d links a javascript: URL", i)
				}
			}
			all := allText(t, msgs)
			for _, w := range []string{"&lt;!channel&gt;", "&lt;@U024BE7LH&gt;", "a &amp;amp; b", "[SECRET_1]"} {
				if !strings.Contains(all, w) {
					t.Errorf("missing escaped %q", w)
				}
			}
		})
	}
}

func TestTextObjectsAreVerbatim(t *testing.T) {
	// Verbatim mrkdwn keeps Slack from linking bare URLs and @words.
	msgs := reportMessages(hostileIncident(), hostileReport(), RenderOptions{})
	msgs = append(msgs, parentMessage(hostileIncident(), RenderOptions{})...)
	for _, m := range msgs {
		for _, obj := range textObjects(m.Blocks) {
			if obj.Type != slack.MarkdownType || !obj.Verbatim {
				t.Errorf("text object %q is %s verbatim=%v, want verbatim mrkdwn", obj.Text, obj.Type, obj.Verbatim)
			}
		}
	}
}

func TestLongReportIsSplitNotTruncated(t *testing.T) {
	rep := testReport()
	d := rep.Diagnosis
	for i := range 60 {
		d.Causes = append(d.Causes, oncall.Cause{
			Title: fmt.Sprintf("cause-%02d", i), Confidence: oncall.ConfidenceLow,
			Detail:   strings.Repeat(fmt.Sprintf("detail of cause %02d. ", i), 40),
			Evidence: []oncall.Evidence{{TraceID: fmt.Sprintf("%032d", i), SpanID: fmt.Sprintf("%016d", i)}},
		})
	}
	d.Summary = strings.Repeat("A very long summary sentence & more. ", 120) // over one section
	for i := range 30 {
		d.NextSteps = append(d.NextSteps, fmt.Sprintf("step-%02d %s", i, strings.Repeat("x", 700)))
	}
	msgs := reportMessages(testIncident(), rep, RenderOptions{TraceURL: testTraceURL})
	if len(msgs) < 3 {
		t.Fatalf("long report rendered as %d messages, want several", len(msgs))
	}
	checkLimits(t, msgs)
	all := allText(t, msgs)
	// Every cause appears, once, in order.
	last := -1
	for i := range 60 {
		at := strings.Index(all, fmt.Sprintf("cause-%02d*", i))
		if at < 0 || at < last || strings.Count(all, fmt.Sprintf("cause-%02d*", i)) != 1 {
			t.Fatalf("cause-%02d at %d (previous at %d), want each once and in order", i, at, last)
		}
		last = at
	}
	for i := range 30 {
		if !strings.Contains(all, fmt.Sprintf("step-%02d", i)) {
			t.Errorf("step-%02d lost", i)
		}
	}
	var blocksOnly []goldenMessage
	for _, m := range msgs {
		blocksOnly = append(blocksOnly, goldenMessage{Blocks: m.Blocks})
	}
	all = allText(t, blocksOnly)
	if strings.Contains(all, "truncated") {
		t.Errorf("content was truncated although it could be split")
	}
	if got := strings.Count(strings.Join(strings.Fields(all), " "), "A very long summary sentence &amp; more."); got != 120 {
		t.Errorf("summary sentences = %d, want all 120", got)
	}
	for i, m := range msgs {
		marker := fmt.Sprintf("Part %d of %d", i+1, len(msgs))
		if !strings.Contains(allText(t, []goldenMessage{m}), marker) {
			t.Errorf("message %d lacks %q", i, marker)
		}
		if i > 0 && !strings.Contains(m.Text, fmt.Sprintf("(part %d of %d)", i+1, len(msgs))) {
			t.Errorf("message %d fallback %q lacks its part", i, m.Text)
		}
	}
}

func TestOverlongFieldSaysTruncated(t *testing.T) {
	rep := testReport()
	rep.Diagnosis.Causes[0].Title = strings.Repeat("t", 350)
	all := allText(t, reportMessages(testIncident(), rep, RenderOptions{}))
	if !strings.Contains(all, strings.Repeat("t", 300)+"… _(truncated, 50 more chars)_") {
		t.Errorf("overlong title not marked as truncated:\n%s", all)
	}
}

func TestSplitText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
	}{
		{"at line breaks", strings.Repeat("line of text\n", 50), 100},
		{"never inside an entity", strings.Repeat("&amp;", 100), 33},
		{"never inside a link", strings.Repeat("see <https://x.example/a|trace a> ", 20), 50},
		{"wide runes", strings.Repeat("🔴", 100), 21},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts := splitText(tt.in, tt.max)
			joined := ""
			for _, p := range parts {
				if slackLen(p) > tt.max {
					t.Errorf("part of %d > %d: %q", slackLen(p), tt.max, p)
				}
				if strings.Count(p, "<") != strings.Count(p, ">") {
					t.Errorf("part cuts a link: %q", p)
				}
				if regexp.MustCompile(`&[a-z]*$`).MatchString(p) {
					t.Errorf("part ends inside an entity: %q", p)
				}
				joined += p
			}
			if strings.ReplaceAll(joined, "\n", "") != strings.ReplaceAll(tt.in, "\n", "") {
				t.Errorf("split lost or changed text")
			}
		})
	}
}

// checkLimits fails when a message breaks a Slack limit.
func checkLimits(t *testing.T, msgs []goldenMessage) {
	t.Helper()
	for i, m := range msgs {
		if len(m.Blocks) == 0 || len(m.Blocks) > maxBlocks {
			t.Errorf("message %d has %d blocks", i, len(m.Blocks))
		}
		total := 0
		for _, b := range m.Blocks {
			total += blockText(b)
			if s, ok := b.(*slack.SectionBlock); ok {
				if s.Text != nil && slackLen(s.Text.Text) > maxSectionChars {
					t.Errorf("message %d: section of %d chars", i, slackLen(s.Text.Text))
				}
				if len(s.Fields) > 10 {
					t.Errorf("message %d: %d fields", i, len(s.Fields))
				}
			}
		}
		for _, obj := range textObjects(m.Blocks) {
			if err := obj.Validate(); err != nil {
				t.Errorf("message %d: text object %q: %v", i, obj.Text, err)
			}
		}
		if total > maxMessageChars {
			t.Errorf("message %d carries %d chars of block text", i, total)
		}
		if strings.TrimSpace(m.Text) == "" {
			t.Errorf("message %d has no fallback text", i)
		}
	}
}

func textObjects(blocks []slack.Block) []*slack.TextBlockObject {
	var out []*slack.TextBlockObject
	for _, b := range blocks {
		switch b := b.(type) {
		case *slack.SectionBlock:
			if b.Text != nil {
				out = append(out, b.Text)
			}
			out = append(out, b.Fields...)
		case *slack.ContextBlock:
			for _, e := range b.ContextElements.Elements {
				if o, ok := e.(*slack.TextBlockObject); ok {
					out = append(out, o)
				}
			}
		}
	}
	return out
}

// texts returns every text of the messages as Slack receives them: the
// fallback text and each text object, read back from the JSON.
func texts(t *testing.T, msgs []goldenMessage) []string {
	t.Helper()
	raw, err := json.Marshal(msgs)
	if err != nil {
		t.Fatal(err)
	}
	var decoded []struct {
		Text   string                       `json:"text"`
		Blocks []map[string]json.RawMessage `json:"blocks"`
	}
	if err := json.Unmarshal(raw, &decoded); err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if s, ok := v["text"].(string); ok {
				out = append(out, s)
			}
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	for _, m := range decoded {
		out = append(out, m.Text)
		for _, b := range m.Blocks {
			var v any
			bs, _ := json.Marshal(b)
			_ = json.Unmarshal(bs, &v)
			walk(v)
		}
	}
	return out
}

func allText(t *testing.T, msgs []goldenMessage) string {
	return strings.Join(texts(t, msgs), "\n")
}
