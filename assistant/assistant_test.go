package assistant

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/oncall-copilot/oncall-copilot/llm/llmtest"
	"github.com/oncall-copilot/oncall-copilot/triage"
)

// toolMessages returns the tool results of a request, in order.
func toolMessages(r llmtest.Request) []llmtest.Message {
	var out []llmtest.Message
	for _, m := range r.Messages {
		if m.Role == "tool" {
			out = append(out, m)
		}
	}
	return out
}

func TestAnswerCallsToolsWithinLimits(t *testing.T) {
	srv := llmtest.NewServer(t)
	srv.Enqueue(
		llmtest.Tools(call("search_traces", `{"failed_only":true,"last":"30m","limit":3,"trace_id_prefix":"4bf9"}`)),
		llmtest.Tools(
			call("get_trace", `{"trace_id":"`+failingTrace+`"}`),
			// The same call with its keys in another order is a repeat.
			call("search_traces", `{"limit":3, "trace_id_prefix":"4bf9", "last":"30m", "failed_only":true}`),
		),
		llmtest.Tools(
			call("get_span", `{"trace_id":"`+failingTrace+`","span_id":"`+failingSpan+`","fields":["output"]}`),
			call("get_span", `{"trace_id":"`+failingTrace+`","span_id":"`+failingLLM+`","fields":["input"]}`),
		),
		llmtest.Text("The lookup_order tool times out after 30s: trace="+failingTrace+" span="+failingSpan+
			". The same happens in trace=ffffffffffffffffffffffffffffffff."),
	)
	a := newTestAssistant(t, srv, func(o *Options) { o.ResultTokens = 700 })
	inc := testIncident()
	ans, err := a.Answer(context.Background(), Question{Text: "why is lookup failing?", Incident: &inc})
	if err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if len(reqs) != 4 || ans.Steps != 4 || ans.Usage.Calls != 4 {
		t.Fatalf("got %d requests, %d steps, %d calls; want 4", len(reqs), ans.Steps, ans.Usage.Calls)
	}
	for i, r := range reqs {
		if len(r.Tools) != 5 {
			t.Errorf("request %d offers %d tools, want 5 (the budget was not reached)", i+1, len(r.Tools))
		}
		if strings.Contains(string(r.Raw), testSecret) {
			t.Errorf("request %d carries the secret from the traces", i+1)
		}
	}

	res := toolMessages(reqs[1])
	if len(res) != 1 || !strings.Contains(res[0].Content, `"trace_id":"`+failingTrace+`"`) || !strings.Contains(res[0].Content, "upstream timeout") {
		t.Errorf("search result does not list the failing trace and its error:\n%v", res)
	}
	res = toolMessages(reqs[2])
	if len(res) != 3 {
		t.Fatalf("request 3 has %d tool results, want 3", len(res))
	}
	if !strings.Contains(res[1].Content, `"span_tree"`) || !strings.Contains(res[1].Content, failingSpan) {
		t.Errorf("get_trace result is not the condensed trace:\n%s", res[1].Content)
	}
	if !strings.Contains(res[2].Content, "not run: this repeats call 1") {
		t.Errorf("repeated call was not refused:\n%s", res[2].Content)
	}
	res = toolMessages(reqs[3])
	if len(res) != 5 {
		t.Fatalf("request 4 has %d tool results, want 5", len(res))
	}
	if !strings.Contains(res[3].Content, "result too large") || !strings.Contains(res[3].Content, "narrow your query") {
		t.Errorf("oversized result was not replaced by a request to narrow the query:\n%s", res[3].Content)
	}
	if !strings.Contains(res[4].Content, "[SECRET_1]") || !strings.Contains(res[4].Content, "order 1182") {
		t.Errorf("span input is not shown redacted:\n%s", res[4].Content)
	}

	if ans.Partial {
		t.Error("answer marked partial, want complete")
	}
	var outcomes []string
	for _, u := range ans.Tried {
		outcomes = append(outcomes, u.Name+": "+u.Outcome)
	}
	want := []string{"search_traces: 1 of 1 traces", "get_trace: 3 spans", "search_traces: repeated, not run", "get_span: too large", "get_span: found"}
	if len(outcomes) != len(want) {
		t.Fatalf("tried %q, want %q", outcomes, want)
	}
	for i := range want {
		if !strings.HasPrefix(outcomes[i], want[i]) {
			t.Errorf("tool use %d: %q, want it to start with %q", i+1, outcomes[i], want[i])
		}
	}
	if !slices.Equal(ans.Unverified, []string{"ffffffffffffffffffffffffffffffff"}) {
		t.Errorf("unverified ids %q, want only the one no tool showed", ans.Unverified)
	}
	if !strings.Contains(ans.Text, "trace="+failingTrace) || strings.Contains(strings.ToLower(ans.Text), "ffffffffffffffffffffffffffffffff") ||
		!strings.Contains(ans.Text, triage.UnverifiedIDMarker) || !strings.Contains(ans.Text, "1 trace or span id that nothing I read showed was removed") {
		t.Errorf("answer text:\n%s", ans.Text)
	}
}

func TestAnswerBudgetGivesPartialAnswer(t *testing.T) {
	srv := llmtest.NewServer(t)
	srv.Enqueue(
		llmtest.Tools(call("search_traces", `{"failed_only":true,"limit":2}`)),
		llmtest.Tools(call("get_trace", `{"trace_id":"`+failingTrace+`"}`)),
		llmtest.Text("So far: the lookup_order tool fails in trace="+failingTrace+"."),
	)
	a := newTestAssistant(t, srv, func(o *Options) { o.MaxSteps = 3 })
	ans, err := a.Answer(context.Background(), Question{Text: "what failed in the support agent in the last hour?"})
	if err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	if len(reqs[0].Tools) == 0 || len(reqs[1].Tools) == 0 {
		t.Error("the steps before the last offer no tools")
	}
	last := reqs[2]
	if len(last.Tools) != 0 {
		t.Errorf("the last step offers %d tools, want none", len(last.Tools))
	}
	if m := last.Messages[len(last.Messages)-1]; m.Role != "system" || !strings.Contains(m.Content, "last step") {
		t.Errorf("the last step does not say so: %+v", m)
	}
	if !ans.Partial {
		t.Error("answer not marked partial")
	}
	for _, s := range []string{"So far", "partial answer: the 3-step budget ran out", "What I tried", "search_traces", "get_trace", "3 spans"} {
		if !strings.Contains(ans.Text, s) {
			t.Errorf("partial answer lacks %q:\n%s", s, ans.Text)
		}
	}
}

func TestAnswerModelFailureGivesPartialAnswer(t *testing.T) {
	srv := llmtest.NewServer(t)
	srv.Enqueue(
		llmtest.Tools(call("search_traces", `{"limit":1}`)),
		llmtest.Status(500, "", "overloaded"),
	)
	a := newTestAssistant(t, srv, nil)
	ans, err := a.Answer(context.Background(), Question{Text: "anything failing?"})
	if err != nil {
		t.Fatal(err)
	}
	if !ans.Partial || !strings.Contains(ans.Text, "the model call failed") || !strings.Contains(ans.Text, "search_traces") {
		t.Errorf("partial: %v, text:\n%s", ans.Partial, ans.Text)
	}
}

func TestAnswerCompactsUnderBudget(t *testing.T) {
	srv := llmtest.NewServer(t)
	first := `{"last":"1h","limit":4}`
	srv.Enqueue(
		llmtest.Tools(call("search_traces", first)),
		llmtest.Tools(call("search_traces", `{"last":"30m","limit":4,"failed_only":true}`)),
		llmtest.Tools(call("search_traces", `{"last":"2h","limit":4}`)),
		// The first result was elided, so asking for it again is allowed.
		llmtest.Tools(call("search_traces", first)),
		llmtest.Text("done"),
	)
	a := newTestAssistant(t, srv, func(o *Options) { o.ResultTokens = 700; o.Budget = 2600 })
	var history []Turn
	for i := range 20 {
		history = append(history, Turn{Assistant: i%2 == 1, Text: fmt.Sprintf("turn-%02d %s", i, strings.Repeat("chatter ", 150))})
	}
	ans, err := a.Answer(context.Background(), Question{Text: "which runs failed?", History: history})
	if err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if len(reqs) != 5 {
		t.Fatalf("%d requests, want 5", len(reqs))
	}
	counter := a.counter
	for i, r := range reqs {
		total := a.toolTokens(a.specs())
		for _, m := range r.Messages {
			total += msgOverhead + counter.Count(m.Content)
			for _, tc := range m.ToolCalls {
				total += msgOverhead + counter.Count(tc.Function.Name) + counter.Count(tc.Function.Arguments)
			}
		}
		if total > 2600 {
			t.Errorf("request %d is %d tokens, over the budget of 2600", i+1, total)
		}
	}
	res := toolMessages(reqs[3])
	if len(res) != 3 || !strings.Contains(res[0].Content, `"elided"`) {
		t.Fatalf("the oldest result was not elided in request 4:\n%v", res)
	}
	if first := string(reqs[0].Raw); strings.Contains(first, "turn-00") || !strings.Contains(first, "turn-19") {
		t.Error("the oldest thread history was not the first to go, or the latest went too")
	}
	if got := ans.Tried[3].Outcome; strings.Contains(got, "repeated") {
		t.Errorf("a call whose result was elided was refused as a repeat: %q", got)
	}
}

func TestFirstRequestGolden(t *testing.T) {
	srv := llmtest.NewServer(t)
	srv.Enqueue(llmtest.Text("ok"))
	a := newTestAssistant(t, srv, nil)
	inc := testIncident()
	_, err := a.Answer(context.Background(), Question{
		Text:     "<@U0FAKEBOT> is this the same as last week's lookup outage?",
		Incident: &inc,
		History: []Turn{
			{Text: "I restarted the order service, no change"},
			{Assistant: true, Text: "Noted: failures continued after 09:45 in trace=" + failingTrace + "."},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := srv.Requests()[0]
	var b strings.Builder
	for _, m := range r.Messages {
		b.WriteString("=== " + m.Role + " ===\n" + m.Content + "\n")
	}
	b.WriteString("=== tools ===\n")
	for _, tl := range r.Tools {
		var schema any
		_ = json.Unmarshal(tl.Function.Parameters, &schema)
		s, _ := json.Marshal(schema)
		b.WriteString(tl.Function.Name + ": " + tl.Function.Description + "\n  " + string(s) + "\n")
	}
	got := b.String()
	if strings.Contains(got, "oncall@example.com") {
		t.Error("the diagnosis' email address reached the model")
	}
	checkGolden(t, "request_incident", got)
}

func TestNewChecksOptions(t *testing.T) {
	srv := llmtest.NewServer(t)
	good := newTestAssistant(t, srv, nil).opts
	tests := []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"no model", func(o *Options) { o.Model = nil }, "a model is required"},
		{"no source", func(o *Options) { o.Source = nil }, "a trace source is required"},
		{"no redactor", func(o *Options) { o.Redactor = nil }, "a redactor is required"},
		{"one step", func(o *Options) { o.MaxSteps = 1 }, "at least 2"},
		{"budget below three results", func(o *Options) { o.Budget = 1000; o.ResultTokens = 500 }, "at least three tool results"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := good
			tt.edit(&o)
			_, err := New(o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: %v, want an error saying %q", err, tt.want)
			}
		})
	}
	if _, err := New(good); err != nil {
		t.Errorf("New with good options: %v", err)
	}
}

func TestEmptyQuestion(t *testing.T) {
	a := newTestAssistant(t, llmtest.NewServer(t), nil)
	if _, err := a.Answer(context.Background(), Question{Text: "  "}); err == nil {
		t.Error("empty question answered")
	}
}
