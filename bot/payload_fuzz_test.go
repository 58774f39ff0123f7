package bot

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// memQueue and memOnce are the queue and once-store of the payload
// fuzzers: in memory, never failing, so that every error a handler
// returns is about the payload.
type memQueue struct {
	mu   sync.Mutex
	jobs []oncall.Job
}

func (q *memQueue) Enqueue(_ context.Context, job oncall.Job) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.jobs = append(q.jobs, job)
	return nil
}

type memOnce struct {
	mu   sync.Mutex
	keys map[string]bool
}

func (o *memOnce) Once(_ context.Context, key string, _ time.Duration) (bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.keys[key] {
		return false, nil
	}
	o.keys[key] = true
	return true, nil
}

func (o *memOnce) Forget(_ context.Context, key string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.keys, key)
	return nil
}

const fuzzSigningSecret = "8f742231b10e8888abcd99yyyzzz85a5"

var fuzzNow = time.Unix(1700000000, 0)

func fuzzIntake(t testing.TB) (*Intake, *memQueue) {
	q := &memQueue{}
	in, err := NewIntake(IntakeOptions{Queue: q, Once: &memOnce{keys: map[string]bool{}}, SigningSecret: fuzzSigningSecret,
		BotUserID: "U0FAKEBOT", Now: func() time.Time { return fuzzNow }})
	if err != nil {
		t.Fatal(err)
	}
	return in, q
}

// FuzzHandleEvent feeds arbitrary Events API payloads to the intake: it
// never panics, refuses only with ErrMalformed, and queues only message
// jobs that name a channel and a ts.
func FuzzHandleEvent(f *testing.F) {
	f.Add([]byte(`{"type":"url_verification","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","token":"x"}`))
	f.Add([]byte(`{"type":"event_callback","event_id":"Ev1","authorizations":[{"user_id":"U0FAKEBOT","is_bot":true}],"event":{"type":"app_mention","user":"U1","text":"<@U0FAKEBOT> why?","ts":"1700000001.000100","channel":"C1"}}`))
	f.Add([]byte(`{"type":"event_callback","event_id":"Ev2","event":{"type":"message","user":"U1","text":"and now?","ts":"1700000002.000100","thread_ts":"1700000000.000100","channel":"C1","channel_type":"channel"}}`))
	f.Add([]byte(`{"type":"event_callback","event_id":"Ev3","event":{"type":"message","subtype":"message_changed","channel":"C1","ts":"1"}}`))
	f.Add([]byte(`{"type":"event_callback","event_id":"Ev4","event":{"type":"message","bot_id":"B1","text":"hi","ts":"1","channel":"D1","channel_type":"im"}}`))
	f.Add([]byte(`{"type":"app_rate_limited","minute_rate_limited":1518467820}`))
	f.Add([]byte(`{"type":"event_callback","event_id":"","event":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		in, q := fuzzIntake(t)
		challenge, err := in.HandleEvent(context.Background(), body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not marked malformed: %v", err)
			}
			return
		}
		if challenge != "" && len(q.jobs) > 0 {
			t.Fatal("a url_verification queued a job")
		}
		for _, j := range q.jobs {
			var ev eventJob
			if j.Kind != JobSlackEvent || json.Unmarshal(j.Payload, &ev) != nil || ev.Channel == "" || ev.TS == "" || j.Channel != ev.Channel {
				t.Fatalf("queued %+v", j)
			}
		}
		// The same payload again is a retry: nothing more is queued.
		n := len(q.jobs)
		if _, err := in.HandleEvent(context.Background(), body); err != nil || len(q.jobs) != n {
			t.Fatalf("a retried event: err %v, %d jobs after %d", err, len(q.jobs), n)
		}
	})
}

// FuzzHandleInteraction feeds arbitrary interactivity payloads to the
// intake: it never panics, refuses only with ErrMalformed, and queues only
// the copilot's own actions, each with a user and a channel.
func FuzzHandleInteraction(f *testing.F) {
	f.Add([]byte(`{"type":"block_actions","user":{"id":"U1"},"container":{"type":"message","message_ts":"1700000000.000100","channel_id":"C1","thread_ts":"1700000000.000100"},"channel":{"id":"C1"},"response_url":"https://hooks.slack.com/actions/T1/1/x","actions":[{"action_id":"oncall_ack","block_id":"b1","value":"inc1","type":"button","action_ts":"1700000100.000001"}]}`))
	f.Add([]byte(`{"type":"block_actions","user":{"id":"U1"},"container":{"type":"message","is_ephemeral":true,"channel_id":"C1"},"actions":[{"action_id":"oncall_reason","block_id":"oncall_reason:inc1","type":"plain_text_input","value":"wrong tool"},{"action_id":"other_app","value":"x"}]}`))
	f.Add([]byte(`{"type":"view_submission","user":{"id":"U1"},"view":{"id":"V1"}}`))
	f.Add([]byte(`{"type":"block_actions","user":{"id":""},"actions":[null]}`))
	f.Add([]byte(`{"type":"shortcut","callback_id":"x"}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		in, q := fuzzIntake(t)
		if err := in.HandleInteraction(context.Background(), payload); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not marked malformed: %v", err)
			}
			return
		}
		for _, j := range q.jobs {
			var act actionJob
			if j.Kind != JobSlackAction || json.Unmarshal(j.Payload, &act) != nil ||
				!strings.HasPrefix(act.ActionID, actionPrefix) || act.User == "" || act.Channel == "" {
				t.Fatalf("queued %+v", j)
			}
		}
	})
}

// FuzzHandleCommand feeds arbitrary /oncall invocations to the intake:
// it never panics, answers or queues every well-formed one, and never
// queues an argument longer than the cap.
func FuzzHandleCommand(f *testing.F) {
	f.Add("U1", "C1", "", "")
	f.Add("U1", "C1", "help", "1337.42")
	f.Add("U1", "C1", "status", "1337.43")
	f.Add("U1", "C1", "triage `4bf92f3577b34da6a3ce929d0e0e4736`", "1337.44")
	f.Add("U1", "C1", "TRIAGE   fa8f56adb43297c3  extra words", "")
	f.Add("", "C1", "digest", "x")
	f.Add("U1", "C1", "triage "+strings.Repeat("a", 300), "t")
	f.Fuzz(func(t *testing.T, user, channel, text, trigger string) {
		in, q := fuzzIntake(t)
		reply, err := in.HandleCommand(context.Background(), slack.SlashCommand{
			UserID: user, ChannelID: channel, Text: text, TriggerID: trigger, Command: "/oncall",
			ResponseURL: "https://hooks.slack.com/commands/T1/1/x",
		})
		if err != nil {
			if !errors.Is(err, ErrMalformed) || (user != "" && channel != "") {
				t.Fatalf("HandleCommand(%q, %q, %q): %v", user, channel, text, err)
			}
			return
		}
		if reply == nil && len(q.jobs) == 0 {
			t.Fatal("a command neither answered nor queued")
		}
		for _, j := range q.jobs {
			var c commandJob
			// JSON keeps valid UTF-8 only; Slack's user ids are ASCII.
			if j.Kind != JobSlackCommand || json.Unmarshal(j.Payload, &c) != nil || len(c.Arg) > maxCommandArg ||
				(utf8.ValidString(user) && c.User != user) {
				t.Fatalf("queued %+v", j)
			}
		}
	})
}

// FuzzVerifySignature checks that only the right HMAC of the body under
// the timestamp is accepted, whatever the headers hold.
func FuzzVerifySignature(f *testing.F) {
	f.Add("1700000000", "", []byte(`token=x&team_id=T1`), true)
	f.Add("1700000000", "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503", []byte("x"), false)
	f.Add(" 1700000000 ", "v1=00", []byte{}, false)
	f.Add("-1", "v0=zz", []byte("{}"), false)
	f.Add("99999999999999999999", "v0=", []byte("a"), true)
	f.Fuzz(func(t *testing.T, ts, sig string, body []byte, sign bool) {
		if sign {
			mac := hmac.New(sha256.New, []byte(fuzzSigningSecret))
			mac.Write([]byte("v0:" + strings.TrimSpace(ts) + ":"))
			mac.Write(body)
			sig = "v0=" + hex.EncodeToString(mac.Sum(nil))
		}
		h := http.Header{}
		h.Set("X-Slack-Request-Timestamp", ts)
		h.Set("X-Slack-Signature", sig)
		err := VerifySignature(fuzzSigningSecret, h, body, fuzzNow)
		if err != nil {
			if !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrStaleRequest) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		// Accepted: the timestamp is recent and the signature is the
		// HMAC of exactly this body.
		n, perr := strconv.ParseInt(strings.TrimSpace(h.Get("X-Slack-Request-Timestamp")), 10, 64)
		if perr != nil || fuzzNow.Sub(time.Unix(n, 0)).Abs() > SignatureWindow {
			t.Fatalf("accepted timestamp %q", ts)
		}
		mac := hmac.New(sha256.New, []byte(fuzzSigningSecret))
		mac.Write([]byte("v0:" + strings.TrimSpace(h.Get("X-Slack-Request-Timestamp")) + ":"))
		mac.Write(body)
		if strings.TrimSpace(h.Get("X-Slack-Signature")) != "v0="+hex.EncodeToString(mac.Sum(nil)) {
			t.Fatalf("accepted signature %q for body %q", sig, body)
		}
	})
}

// FuzzSlackEndpoints sends arbitrary signed bodies to the three HTTP
// endpoints: the answer is 200 or 400, never a 5xx (the queue never
// fails here) and never a panic.
func FuzzSlackEndpoints(f *testing.F) {
	f.Add(uint8(0), []byte(`{"type":"url_verification","challenge":"c"}`))
	f.Add(uint8(1), []byte(`payload=%7B%22type%22%3A%22block_actions%22%2C%22user%22%3A%7B%22id%22%3A%22U1%22%7D%2C%22channel%22%3A%7B%22id%22%3A%22C1%22%7D%2C%22actions%22%3A%5B%7B%22action_id%22%3A%22oncall_ack%22%7D%5D%7D`))
	f.Add(uint8(2), []byte(`token=x&team_id=T1&team_domain=acme&channel_id=C1&user_id=U1&command=%2Foncall&text=triage+4bf92f3577b34da6a3ce929d0e0e4736&trigger_id=1.2&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1`))
	f.Add(uint8(1), []byte(`payload=%ZZ`))
	f.Add(uint8(2), []byte(`;;;&&&=`))
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		in, _ := fuzzIntake(t)
		mux := http.NewServeMux()
		if err := in.Register(mux); err != nil {
			t.Fatal(err)
		}
		path, ct := "/slack/events", "application/json"
		switch which % 3 {
		case 1:
			path, ct = "/slack/interactions", "application/x-www-form-urlencoded"
		case 2:
			path, ct = "/slack/commands", "application/x-www-form-urlencoded"
		}
		ts := strconv.FormatInt(fuzzNow.Unix(), 10)
		mac := hmac.New(sha256.New, []byte(fuzzSigningSecret))
		mac.Write([]byte("v0:" + ts + ":"))
		mac.Write(body)
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(string(body)))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("X-Slack-Request-Timestamp", ts)
		req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest && rec.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("%s answered %d: %s", path, rec.Code, rec.Body)
		}
	})
}
