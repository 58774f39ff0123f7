package bot

import (
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"github.com/oncall-copilot/oncall-copilot/redact"
)

func TestMessagesLinkTheFullReport(t *testing.T) {
	red, err := redact.New(redact.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const page = "https://oncall.example.com/incidents/"
	var asked []string
	opts := RenderOptions{Redact: red.String, ReportURL: func(key string) string {
		asked = append(asked, key)
		return page + key + "?t=mzq3k0.Q2hhbmdlZC1ieS1hLXNpZ25lci1pbi1jbWQtd2lyaW5n"
	}}
	unescape := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&")
	blocksJSON := func(t *testing.T, b []slack.Block) string { return unescape.Replace(blocksJSON(t, b)) }
	inc := testIncident()
	want := "<" + page + inc.Key + "?t=mzq3k0.Q2hhbmdlZC1ieS1hLXNpZ25lci1pbi1jbWQtd2lyaW5n|Open the full report>"
	if got := blocksJSON(t, RenderParent(inc, opts)); !strings.Contains(got, want) {
		t.Errorf("the parent does not link the page as %s:\n%s", want, got)
	}
	var report string
	for _, m := range RenderReport(inc, testReport(), opts) {
		report += blocksJSON(t, m)
	}
	if !strings.Contains(report, "|:page_facing_up: Open the full report>") || !strings.Contains(report, page+inc.Key+"?t=") {
		t.Errorf("the triage reply does not link the page:\n%s", report)
	}
	for _, k := range asked {
		if k != inc.Key {
			t.Errorf("ReportURL asked for %q, want the incident key %q", k, inc.Key)
		}
	}

	opts.ReportURL = nil
	var without string
	for _, m := range RenderReport(inc, testReport(), opts) {
		without += blocksJSON(t, m)
	}
	without += blocksJSON(t, RenderParent(inc, opts))
	if strings.Contains(without, "full report") {
		t.Error("messages link a page when no page is configured")
	}
	opts.ReportURL = func(string) string { return "javascript:alert(1)" }
	if got := blocksJSON(t, RenderParent(inc, opts)); strings.Contains(got, "full report") {
		t.Error("a link that is not http(s) was posted")
	}
}
