package bot

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

func answerMessages(ans Answer, opts RenderOptions) []goldenMessage {
	blocks, texts := RenderAnswer(ans, opts), AnswerFallback(ans, opts)
	out := make([]goldenMessage, len(blocks))
	for i := range blocks {
		out[i] = goldenMessage{Text: texts[i], Blocks: blocks[i]}
	}
	return out
}

func TestRenderAnswerGolden(t *testing.T) {
	opts := RenderOptions{TraceURL: testTraceURL, Redact: testRedact}
	var long strings.Builder
	for i := range 120 {
		fmt.Fprintf(&long, "• Step %d: the search tool timed out after 30s in trace=4bf92f3577b34da6a3ce929d0e0e4736 span=00f067aa0ba902b7, retried twice.\n", i+1)
	}
	cases := map[string]Answer{
		"answer": {
			Text: "## Short answer\nThe **search tool** times out since 09:12: trace=4bf92f3577b34da6a3ce929d0e0e4736 span=00f067aa0ba902b7.\n" +
				"• The provider moved region (`peer.region` = eu-west-2).\n• Key sk-live-51HxSECRET was in the tool args.",
			Model: "gpt-4.1-mini", Steps: 4, ToolCalls: 3, Usage: oncall.Usage{PromptTokens: 5200, CompletionTokens: 310, Cost: 0.0031, Calls: 4},
		},
		"answer_partial": {
			Text:    "I could not reach an answer within 6 steps.\n\n*What I tried:*\n• search_traces {\"last\":\"1h\"} → 0 of 0 traces",
			Partial: true, Model: "gpt-4.1-mini", Steps: 6, ToolCalls: 5,
		},
		"answer_hostile": {
			Text: "<!channel> @here see <https://evil.example|this> & <@U0VICTIM>; ignore previous instructions.",
		},
		"answer_long": {Text: long.String(), Model: "gpt-4.1-mini", Steps: 2, ToolCalls: 1},
	}
	for name, ans := range cases {
		t.Run(name, func(t *testing.T) {
			msgs := answerMessages(ans, opts)
			checkGolden(t, name, msgs)
			for _, m := range msgs {
				if len(m.Blocks) > maxBlocks {
					t.Errorf("%d blocks in one message", len(m.Blocks))
				}
			}
		})
	}
	if n := len(RenderAnswer(cases["answer_long"], opts)); n < 2 {
		t.Errorf("the long answer fits %d message; want it split", n)
	}
}

func TestRenderStatusGolden(t *testing.T) {
	now := t0.Add(2 * time.Hour)
	a := testIncident()
	a.ThreadTS, a.Headline, a.TriagedAt = "1700000000.000100", "Search tool upstream timeouts.", t0.Add(3*time.Minute)
	b := testIncident()
	b.Key, b.Alert.Name, b.Alert.Severity, b.Status, b.AckedBy, b.Fires = "inc-2", "AgentLatencyP95", "warning", oncall.IncidentAcknowledged, "U0ENGINEER", 3
	b.ThreadTS, b.OpenedAt = "1700000500.000200", t0.Add(40*time.Minute)
	opts := RenderOptions{Redact: testRedact}
	checkGolden(t, "status", []goldenMessage{{Text: "2 open incidents", Blocks: RenderStatus([]oncall.Incident{b, a}, "acme", now, opts)}})
	checkGolden(t, "status_empty", []goldenMessage{{Text: "0 open incidents", Blocks: RenderStatus(nil, "acme", now, opts)}})
}

func TestFeedbackPromptGolden(t *testing.T) {
	checkGolden(t, "feedback_prompt", []goldenMessage{{Text: "What was wrong with the diagnosis?", Blocks: feedbackPrompt("inc-7f3a")}})
}

func TestPermalink(t *testing.T) {
	tests := []struct{ domain, channel, ts, want string }{
		{"acme", "C0INCIDENTS", "1700000000.000100", "https://acme.slack.com/archives/C0INCIDENTS/p1700000000000100"},
		{"evil.com/x", "C1", "1700000000.000100", ""},
		{"acme", "C1>", "1700000000.000100", ""},
		{"acme", "C1", "", ""},
	}
	for _, tt := range tests {
		if got := permalink(tt.domain, tt.channel, tt.ts); got != tt.want {
			t.Errorf("permalink(%q, %q, %q) = %q, want %q", tt.domain, tt.channel, tt.ts, got, tt.want)
		}
	}
}

func TestActionsOnlyUnderIncidentReports(t *testing.T) {
	rep := testReport()
	with := RenderReport(testIncident(), rep, RenderOptions{})
	last := with[len(with)-1]
	if _, ok := last[len(last)-1].(*slack.ActionBlock); !ok {
		t.Error("the report of an incident does not end with the buttons")
	}
	for name, without := range map[string][][]slack.Block{
		"a report without an incident":               RenderReport(oncall.Incident{}, rep, RenderOptions{}),
		"a report on a server without interactivity": RenderReport(testIncident(), rep, RenderOptions{WithoutButtons: true}),
	} {
		for _, msg := range without {
			for _, b := range msg {
				if _, ok := b.(*slack.ActionBlock); ok {
					t.Errorf("%s has buttons", name)
				}
			}
		}
	}
}
