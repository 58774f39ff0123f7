package bot

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// command sends /oncall text over HTTP, runs what it queues and returns
// the immediate answer.
func (h *harness) command(text, responseID, triggerID string) string {
	h.t.Helper()
	form := url.Values{
		"token": {"legacy"}, "team_id": {"T0FAKETEAM"}, "team_domain": {"acme"}, "channel_id": {"C0INCIDENTS"},
		"channel_name": {"incidents"}, "user_id": {engineer}, "user_name": {"eng"}, "command": {"/oncall"}, "text": {text},
		"api_app_id": {"A0FAKEAPP"}, "response_url": {h.slack.ResponseURL(responseID)}, "trigger_id": {triggerID},
	}
	resp := h.send("/slack/commands", "application/x-www-form-urlencoded", []byte(form.Encode()), nil)
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("/oncall %s: status %d", text, resp.StatusCode)
	}
	body, _ := io.ReadAll(resp.Body)
	h.drain()
	return unescapeJSON(string(body))
}

func TestCommandAnsweredAtOnce(t *testing.T) {
	tests := []struct {
		text string
		want string
	}{
		{"", "/oncall status"},
		{"help", "/oncall triage &lt;trace-id | alert fingerprint&gt;"},
		{"frobnicate", "I do not know that command"},
		{"triage", "Usage: `/oncall triage"},
		{"triage " + strings.Repeat("a", 300), "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			h := newHarness(t, nil)
			got := h.command(tt.text, "r", "trig-"+tt.text)
			if !strings.Contains(got, tt.want) || !strings.Contains(got, `"response_type":"ephemeral"`) {
				t.Errorf("answer %s, want it to say %q", got, tt.want)
			}
			if len(h.slack.Responses()) != 0 {
				t.Error("something was posted to the response URL too")
			}
		})
	}
}

func TestStatusCommand(t *testing.T) {
	h := newHarness(t, nil)
	inc := h.openIncident()
	ctx := context.Background()
	old := testIncident()
	old.Key, old.Status, old.ResolvedAt, old.ThreadTS = "resolved-one", oncall.IncidentResolved, t0.Add(5*time.Minute), "1700000000.000900"
	old.Alert.Name = "OldAlert"
	if _, _, err := h.store.CreateIncident(ctx, old); err != nil {
		t.Fatal(err)
	}
	if got := h.command("status", "status", "trig-status"); got != "" {
		t.Errorf("status answered at once with %q; want the list through the response URL", got)
	}
	r := h.lastResponse("status")
	for _, want := range []string{"*1 open incident*", "AgentErrorRate", "https://acme.slack.com/archives/C0INCIDENTS/p" + strings.Replace(inc.ThreadTS, ".", "", 1), "opened 9m ago"} {
		if !strings.Contains(r, want) {
			t.Errorf("status lacks %q:\n%s", want, r)
		}
	}
	if strings.Contains(r, "OldAlert") {
		t.Error("status lists a resolved incident")
	}
}

func TestDigestCommand(t *testing.T) {
	h := newHarness(t, nil)
	h.command("digest", "digest", "trig-digest")
	if len(h.digests.channels) != 1 || h.digests.channels[0] != "C0INCIDENTS" {
		t.Errorf("digests posted to %v", h.digests.channels)
	}
	if r := h.lastResponse("digest"); !strings.Contains(r, "Digest posted") {
		t.Errorf("answered %s", r)
	}

	off := newHarness(t, func(_ *IntakeOptions, a *AppOptions) { a.Digester = nil })
	off.command("digest", "digest", "trig-digest")
	if r := off.lastResponse("digest"); !strings.Contains(r, "not set up") {
		t.Errorf("without digests answered %s", r)
	}
}

func TestTriageCommandByFingerprint(t *testing.T) {
	h := newHarness(t, nil)
	inc := h.openIncident()
	immediate := h.command("triage `a1b2c3`", "tri", "trig-tri")
	if !strings.Contains(immediate, "Working on it") {
		t.Errorf("immediate answer %s", immediate)
	}
	if !h.incident(inc.Key).TriagedAt.IsZero() {
		t.Error("TriagedAt not cleared")
	}
	if r := h.lastResponse("tri"); !strings.Contains(r, "Re-running the triage of *AgentErrorRate*") || !strings.Contains(r, "https://acme.slack.com/archives/") {
		t.Errorf("answered %s", r)
	}
	if len(h.answers.Questions()) != 0 {
		t.Error("a fingerprint was taken for a trace id")
	}

	if _, err := h.store.UpdateIncident(context.Background(), inc.Key, func(i *oncall.Incident) error {
		i.Status = oncall.IncidentResolved
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	h.command("triage a1b2c3", "tri2", "trig-tri2")
	if r := h.lastResponse("tri2"); !strings.Contains(r, "This incident is resolved") {
		t.Errorf("triage of a resolved incident answered %s", r)
	}
	if len(h.answers.Questions()) != 0 {
		t.Error("the fingerprint of a resolved incident was taken for a trace id")
	}
}

func TestTriageCommandByTraceID(t *testing.T) {
	h := newHarness(t, nil)
	h.command("triage 4bf92f3577b34da6a3ce929d0e0e4736", "tri", "trig-trace")
	qs := h.answers.Questions()
	if len(qs) != 1 || !strings.Contains(qs[0].Text, "4bf92f3577b34da6a3ce929d0e0e4736") || qs[0].Incident != nil || qs[0].User != engineer {
		t.Fatalf("questions %+v", qs)
	}
	r := h.lastResponse("tri")
	if !strings.Contains(r, `"response_type":"in_channel"`) || !strings.Contains(r, "<@U0ENGINEER> asked for the triage of trace") || !strings.Contains(r, "*lookup* tool times out") {
		t.Errorf("answered %s", r)
	}

	h.command("triage not-a-trace!", "bad", "trig-bad")
	if r := h.lastResponse("bad"); !strings.Contains(r, "does not look like a trace id") {
		t.Errorf("answered %s", r)
	}
}

func TestCommandIsQueuedOnce(t *testing.T) {
	h := newHarness(t, nil)
	form := url.Values{"channel_id": {"C0INCIDENTS"}, "user_id": {engineer}, "command": {"/oncall"}, "text": {"status"},
		"response_url": {h.slack.ResponseURL("s")}, "trigger_id": {"same-trigger"}}
	for range 2 {
		h.clock.Advance(time.Second)
		if resp := h.send("/slack/commands", "application/x-www-form-urlencoded", []byte(form.Encode()), nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if n := h.queued(); n != 1 {
		t.Errorf("%d jobs queued, want 1", n)
	}
}
