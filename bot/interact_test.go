package bot

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// press sends one button press (or typed reason) over HTTP and runs the
// job it queues.
func (h *harness) press(inc oncall.Incident, user, actionID, blockID, value, responseID string, ephemeral bool) {
	h.t.Helper()
	respURL := ""
	if responseID != "" {
		respURL = h.slack.ResponseURL(responseID)
	}
	payload := h.blockActions(user, inc.Channel, inc.ThreadTS, inc.ThreadTS, actionID, blockID, value, respURL, ephemeral)
	body := []byte(url.Values{"payload": {string(payload)}}.Encode())
	if resp := h.send("/slack/interactions", "application/x-www-form-urlencoded", body, nil); resp.StatusCode != http.StatusOK {
		h.t.Fatalf("%s: status %d", actionID, resp.StatusCode)
	}
	h.drain()
}

// lastNote is the text of the last reply in the incident's thread.
func (h *harness) lastNote(inc oncall.Incident) string {
	h.t.Helper()
	r := h.slack.Replies(inc.Channel, inc.ThreadTS)
	return unescapeJSON(string(r[len(r)-1].Blocks))
}

// unescapeJSON undoes the escaping of <, > and & that encoding/json does,
// so that assertions read like Slack mrkdwn.
func unescapeJSON(s string) string {
	return strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(s)
}

// lastResponse is the last body posted to response URL id.
func (h *harness) lastResponse(id string) string {
	h.t.Helper()
	var last string
	for _, r := range h.slack.Responses() {
		if r.ID == id {
			last = string(r.Body)
		}
	}
	return unescapeJSON(last)
}

func TestAcknowledgeButton(t *testing.T) {
	h := newHarness(t, nil)
	inc := h.openIncident()
	h.clock.Advance(3 * time.Minute) // 12m after the alert started, 11m after the incident opened
	h.press(inc, engineer, ActionAcknowledge, "oncall_actions", inc.Key, "ack1", false)

	got := h.incident(inc.Key)
	if got.Status != oncall.IncidentAcknowledged || got.AckedBy != engineer || !got.AckedAt.Equal(h.clock.Now()) {
		t.Errorf("incident status %s, acked by %q at %v", got.Status, got.AckedBy, got.AckedAt)
	}
	if note := h.lastNote(inc); !strings.Contains(note, "<@U0ENGINEER> acknowledged") || !strings.Contains(note, "Time to acknowledge: *12m*") {
		t.Errorf("note %s", note)
	}
	updates := h.slack.Updates()
	if len(updates) == 0 || updates[len(updates)-1].TS != inc.ThreadTS || !strings.Contains(unescapeJSON(string(updates[len(updates)-1].Blocks)), "acknowledged by <@U0ENGINEER>") {
		t.Errorf("parent not updated to show the acknowledgement: %+v", updates)
	}

	// A second press says who was first and changes nothing.
	h.press(inc, engineer2, ActionAcknowledge, "oncall_actions", inc.Key, "ack2", false)
	if got := h.incident(inc.Key); got.AckedBy != engineer {
		t.Errorf("acked by %q after a second press, want still %s", got.AckedBy, engineer)
	}
	if r := h.lastResponse("ack2"); !strings.Contains(r, "Already acknowledged by <@U0ENGINEER>") {
		t.Errorf("second press answered %s", r)
	}
}

func TestRerunButton(t *testing.T) {
	h := newHarness(t, nil)
	inc := h.openIncident()
	h.press(inc, engineer, ActionRerun, "oncall_actions", inc.Key, "rerun1", false)

	got := h.incident(inc.Key)
	if !got.TriagedAt.IsZero() {
		t.Error("TriagedAt not cleared: incident.Service would skip the triage")
	}
	// The queued alert job was run by drain as a non-Slack job; look at
	// what the note and the queue saw instead.
	if note := h.lastNote(inc); !strings.Contains(note, "<@U0ENGINEER> asked for a new triage") {
		t.Errorf("note %s", note)
	}

	// A second press within moments queues nothing more.
	h.press(inc, engineer2, ActionRerun, "oncall_actions", inc.Key, "rerun2", false)
	if r := h.lastResponse("rerun2"); !strings.Contains(r, "on its way") {
		t.Errorf("second press answered %s", r)
	}
}

func TestRerunQueuesTheIncidentsAlertGroup(t *testing.T) {
	h := newHarness(t, nil)
	inc := h.openIncident()
	msg, err := h.app.rerun(context.Background(), inc, engineer)
	if err != nil || msg != "" {
		t.Fatalf("rerun: %q, %v", msg, err)
	}
	d, err := h.store.Dequeue(context.Background(), "test", 0)
	if err != nil || d == nil {
		t.Fatalf("no job queued: %v", err)
	}
	j := d.Job
	if j.Kind != oncall.JobAlert || j.Route != inc.Route || j.Channel != inc.Channel || oncall.IncidentKey(j.Route, j.GroupKey) != inc.Key || len(j.Alerts) != 1 {
		t.Errorf("queued %+v; want an alert job for incident %s", j, inc.Key)
	}

	t.Run("resolved incident", func(t *testing.T) {
		resolved := inc
		resolved.Status = oncall.IncidentResolved
		if msg, err := h.app.rerun(context.Background(), resolved, engineer); err != nil || !strings.Contains(msg, "resolved") {
			t.Errorf("rerun of a resolved incident: %q, %v", msg, err)
		}
	})
	t.Run("unknown group", func(t *testing.T) {
		odd := inc
		odd.Alert.GroupKey, odd.Alerts = "other", nil
		if msg, err := h.app.rerun(context.Background(), odd, engineer); err != nil || !strings.Contains(msg, "group is unknown") {
			t.Errorf("rerun without the group key: %q, %v", msg, err)
		}
	})
}

func TestResolveButton(t *testing.T) {
	h := newHarness(t, nil)
	inc := h.openIncident()
	h.clock.Advance(time.Hour)
	h.press(inc, engineer, ActionResolve, "oncall_actions", inc.Key, "res1", false)
	got := h.incident(inc.Key)
	if got.Status != oncall.IncidentResolved || !got.ResolvedAt.Equal(h.clock.Now()) {
		t.Errorf("status %s, resolved at %v", got.Status, got.ResolvedAt)
	}
	if note := h.lastNote(inc); !strings.Contains(note, "<@U0ENGINEER> marked this incident resolved after 1h9m") {
		t.Errorf("note %s", note)
	}
	updates := h.slack.Updates()
	if len(updates) == 0 || !strings.Contains(string(updates[len(updates)-1].Blocks), "✅") {
		t.Error("parent not updated to resolved")
	}
	h.press(inc, engineer2, ActionResolve, "oncall_actions", inc.Key, "res2", false)
	if r := h.lastResponse("res2"); !strings.Contains(r, "already resolved") {
		t.Errorf("second press answered %s", r)
	}
	if !h.incident(inc.Key).ResolvedAt.Equal(got.ResolvedAt) {
		t.Error("a second press moved the resolution time")
	}
}

func TestFeedbackButtons(t *testing.T) {
	h := newHarness(t, nil)
	inc := h.openIncident()
	h.press(inc, engineer, ActionHelpful, "oncall_actions", inc.Key, "fb1", false)
	h.press(inc, engineer2, ActionUnhelpful, "oncall_actions", inc.Key, "fb2", false)

	fb := h.incident(inc.Key).Feedback
	if len(fb) != 2 || fb[0].User != engineer || !fb[0].Helpful || fb[1].User != engineer2 || fb[1].Helpful {
		t.Fatalf("feedback %+v", fb)
	}
	if r := h.lastResponse("fb1"); !strings.Contains(r, "noted as helpful") {
		t.Errorf("👍 answered %s", r)
	}
	// 👎 asks why, in an input only that engineer sees.
	eph := h.slack.Ephemerals()
	if len(eph) != 1 || eph[0].User != engineer2 || eph[0].ThreadTS != inc.ThreadTS {
		t.Fatalf("ephemerals %+v", eph)
	}
	var blocks []struct {
		Type           string `json:"type"`
		BlockID        string `json:"block_id"`
		DispatchAction bool   `json:"dispatch_action"`
		Element        struct {
			ActionID string `json:"action_id"`
		} `json:"element"`
	}
	if err := json.Unmarshal(eph[0].Blocks, &blocks); err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 2 || blocks[1].Type != "input" || !blocks[1].DispatchAction || blocks[1].Element.ActionID != ActionReason || blocks[1].BlockID != ActionReason+":"+inc.Key {
		t.Fatalf("reason prompt %s", eph[0].Blocks)
	}

	// The reason comes back as an action from the ephemeral message.
	h.press(inc, engineer2, ActionReason, blocks[1].BlockID, "it blamed the search tool but the <b>deploy</b> broke it", "reason", true)
	fb = h.incident(inc.Key).Feedback
	if len(fb) != 2 || fb[1].Reason != "it blamed the search tool but the <b>deploy</b> broke it" {
		t.Errorf("feedback after the reason %+v", fb)
	}
	r := h.lastResponse("reason")
	if !strings.Contains(r, "Thanks, noted") || !strings.Contains(r, `"replace_original":true`) || strings.Contains(r, "<b>") {
		t.Errorf("reason answered %s", r)
	}

	// Changing one's mind replaces the verdict.
	h.press(inc, engineer2, ActionHelpful, "oncall_actions", inc.Key, "fb3", false)
	fb = h.incident(inc.Key).Feedback
	if len(fb) != 2 || !fb[1].Helpful || fb[1].Reason != "" {
		t.Errorf("feedback after a change of mind %+v", fb)
	}
}

func TestActionOnUnknownIncident(t *testing.T) {
	h := newHarness(t, nil)
	inc := h.openIncident()
	h.press(inc, engineer, ActionAcknowledge, "oncall_actions", "no-such-incident", "gone", false)
	if r := h.lastResponse("gone"); !strings.Contains(r, "could not find this incident") {
		t.Errorf("answered %s", r)
	}
	if h.incident(inc.Key).AckedBy != "" {
		t.Error("another incident was acknowledged")
	}
}

func TestForeignActionsAreIgnored(t *testing.T) {
	h := newHarness(t, nil)
	inc := h.openIncident()
	payload := h.blockActions(engineer, inc.Channel, inc.ThreadTS, inc.ThreadTS, "some_other_app_button", "b", "v", "", false)
	body := []byte(url.Values{"payload": {string(payload)}}.Encode())
	if resp := h.send("/slack/interactions", "application/x-www-form-urlencoded", body, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if n := h.queued(); n != 0 {
		t.Errorf("%d jobs queued", n)
	}
}

func TestLongAnswerIsSplit(t *testing.T) {
	h := newHarness(t, nil)
	var sb strings.Builder
	for range 250 {
		sb.WriteString("• step " + strings.Repeat("x", 40) + " checked in trace=4bf92f3577b34da6a3ce929d0e0e4736\n")
	}
	h.answers.answer = func(Question) (Answer, error) { return Answer{Text: sb.String(), Model: "gpt-4o-mini"}, nil }
	top := h.slack.AddReply("C0ELSEWHERE", "", engineer, "<@U0FAKEBOT> list every step")
	h.sendEvent(messageEvent("EvLong", "app_mention", "", engineer, "", "<@U0FAKEBOT> list every step", "C0ELSEWHERE", top, ""), nil)
	h.drain()
	replies := h.slack.Replies("C0ELSEWHERE", top)
	if len(replies) < 3 {
		t.Fatalf("%d replies, want the answer split over several", len(replies))
	}
	total := 0
	for i, r := range replies {
		if !strings.Contains(string(r.Blocks), "Part ") {
			t.Errorf("reply %d is not marked as a part", i+1)
		}
		var blocks []json.RawMessage
		_ = json.Unmarshal(r.Blocks, &blocks)
		if len(blocks) > 50 {
			t.Errorf("reply %d has %d blocks", i+1, len(blocks))
		}
		total += strings.Count(string(r.Blocks), "• step")
	}
	if total != 250 {
		t.Errorf("%d of 250 lines arrived", total)
	}
	if !strings.Contains(string(replies[len(replies)-1].Blocks), "Model `gpt-4o-mini`") {
		t.Error("the footer is not at the end of the last part")
	}
}
