package bot

import (
	"context"
	"strings"
	"testing"
)

func TestThreadAnswersAreKeptForTheIncidentPage(t *testing.T) {
	h := newHarness(t, nil)
	inc := h.openIncident()
	const email = "sk-live-51HxSECRET"
	question := "<@U0FAKEBOT> did the lookup tool fail for " + email + "?"
	qts := h.slack.AddReply(inc.Channel, inc.ThreadTS, engineer, question)
	h.sendEvent(messageEvent("Ev0KEEP", "app_mention", "", engineer, "", question, inc.Channel, qts, inc.ThreadTS), nil)
	h.drain()
	if len(h.answers.Questions()) != 1 {
		t.Fatalf("%d questions answered, want 1", len(h.answers.Questions()))
	}
	got, err := h.store.GetIncident(context.Background(), inc.Key)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Answers) != 1 {
		t.Fatalf("%d answers kept, want 1", len(got.Answers))
	}
	a := got.Answers[0]
	if a.TS != qts || a.User != engineer || !strings.Contains(a.Question, "did the lookup tool fail") || a.Answer == "" || a.At.IsZero() {
		t.Errorf("kept %+v", a)
	}
	if strings.Contains(a.Question, email) {
		t.Errorf("the kept question is not redacted: %q", a.Question)
	}
}
