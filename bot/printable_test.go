package bot

import (
	"strings"
	"testing"
	"unicode"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// unsafeText hides and reorders text: a bidi override that shows
// "Pay\u202eecivreS\u202c down" as "Pay Service down", zero-width
// characters, NUL and a terminal escape.
const unsafeText = "Pay\u202eecivreS\u202c down\u200b\u2066x\u2069 \x00\x1b[31m"

func unsafeIncident() oncall.Incident {
	inc := testIncident()
	inc.Alert.Name = unsafeText
	inc.Alert.Summary = unsafeText
	inc.Alert.Labels["agent"] = unsafeText
	inc.Headline = unsafeText
	return inc
}

func unsafeReport() oncall.Report {
	rep := testReport()
	rep.Alert = unsafeIncident().Alert
	rep.Diagnosis.Summary = unsafeText
	rep.Diagnosis.Causes[0].Title = unsafeText
	rep.Diagnosis.NextSteps = append(rep.Diagnosis.NextSteps, unsafeText)
	c := &rep.Clusters[0]
	c.Error, c.SpanName, c.ToolName = unsafeText, unsafeText, unsafeText
	return rep
}

// TestUnsafeCharactersAreShown: control and format characters from
// alerts, traces and the model reach Slack as visible code points, in the
// blocks and in the notification text.
func TestUnsafeCharactersAreShown(t *testing.T) {
	opts := RenderOptions{TraceURL: testTraceURL, Redact: testRedact}
	rendered := map[string][]goldenMessage{
		"parent": parentMessage(unsafeIncident(), opts),
		"report": reportMessages(unsafeIncident(), unsafeReport(), opts),
		"answer": func() []goldenMessage {
			var out []goldenMessage
			for _, m := range renderAnswer(Answer{Text: unsafeText}, opts) {
				out = append(out, goldenMessage{Text: m.text, Blocks: m.blocks})
			}
			return out
		}(),
	}
	for name, msgs := range rendered {
		t.Run(name, func(t *testing.T) {
			for i, text := range texts(t, msgs) {
				prev := ' '
				for _, r := range text {
					// The one invisible character the renderer adds
					// itself: a zero-width space defusing @here.
					if (unicode.IsControl(r) && r != '\n') || unicode.Is(unicode.Cf, r) && !(r == '\u200b' && (prev == '@' || prev == '＠')) {
						t.Errorf("text %d carries U+%04X: %q", i, r, text)
					}
					prev = r
				}
			}
			if all := allText(t, msgs); !strings.Contains(all, "Pay[U+202E]ecivreS[U+202C] down") {
				t.Errorf("the override is not shown:\n%s", all)
			}
		})
	}
}
