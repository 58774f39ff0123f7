// Package slacktest is a fake Slack Web API for tests: an httptest server
// that speaks the real wire format (form-encoded or JSON requests, bearer
// or form tokens, {"ok":...} responses, 429 with Retry-After), records what
// it received and can be told to fail.
//
// It refuses what Slack refuses: a channel name anywhere but
// chat.postMessage and chat.postEphemeral is channel_not_found, a
// channel the bot is not in is not_in_channel, an archived one
// is_archived, a wrong token invalid_auth (see channels.go, with the
// documentation each rule follows). Messages are recorded under the
// channel's id, as Slack keeps them.
//
// Point a slack-go client at it with slack.OptionAPIURL(srv.URL + "/").
// A Server is safe for concurrent use.
package slacktest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Token is the token a Server accepts unless told otherwise.
const Token = "xoxb-slacktest-token"

// AppToken is the app-level token (Socket Mode) a Server accepts for
// apps.connections.open unless told otherwise.
const AppToken = "xapp-slacktest-token"

// Identity of the bot the fake answers as.
const (
	BotUserID = "U0FAKEBOT"
	BotID     = "B0FAKEBOT"
	TeamID    = "T0FAKETEAM"
)

// Message is a message the server holds: posted, updated or ephemeral.
type Message struct {
	Channel  string
	TS       string
	ThreadTS string // empty for a top-level message
	User     string // BotUserID for messages posted through the API
	Text     string
	Blocks   json.RawMessage // the blocks as sent, nil when none
	Params   url.Values      // every parameter of the request that wrote it
}

// Reaction is an emoji on a message.
type Reaction struct {
	Channel string
	TS      string
	Name    string
}

// File is an upload completed with files.completeUploadExternal.
type File struct {
	ID             string
	Name           string
	Title          string
	Content        []byte
	Channel        string
	ThreadTS       string
	InitialComment string
}

// Call is one request the server answered, failed ones included.
type Call struct {
	At     time.Time // when it was answered, on the pacing clock (see SetPacing)
	Method string
	Params url.Values
	Status int    // HTTP status answered
	Error  string // the "error" of an ok:false answer
}

// Fault is a failure to answer instead of handling a call.
type Fault struct {
	Status     int           // HTTP status; 200 when zero
	RetryAfter time.Duration // sent as a Retry-After header in whole seconds when set
	Error      string        // the "error" of an {"ok":false} body; empty for a non-JSON body
}

// RateLimited is Slack's answer to a caller over its rate limit: HTTP 429
// with a Retry-After header in seconds and {"ok":false,"error":"ratelimited"}
// (api.slack.com/apis/rate-limits: "a HTTP 429 Too Many Requests error,
// and a Retry-After HTTP header containing the number of seconds until
// you can retry").
func RateLimited(retryAfter time.Duration) Fault {
	return Fault{Status: http.StatusTooManyRequests, RetryAfter: retryAfter, Error: "ratelimited"}
}

// HTTPStatus is a bare HTTP failure such as a 500 or 503 from Slack's edge.
func HTTPStatus(code int) Fault { return Fault{Status: code} }

// APIError is an {"ok":false,"error":code} answer with HTTP 200, as Slack
// sends for channel_not_found, not_in_channel, invalid_auth and the like.
func APIError(code string) Fault { return Fault{Status: http.StatusOK, Error: code} }

// Server is the fake Slack Web API.
type Server struct {
	// URL is the API base, like https://slack.com/api without the
	// trailing slash.
	URL string
	// Token is the token requests must carry; Token by default.
	Token string
	// AppToken is the token apps.connections.open must carry; AppToken
	// by default.
	AppToken string

	srv *httptest.Server

	mu         sync.Mutex
	seq        int
	messages   []Message // every message posted, in order
	updates    []Message
	ephemerals []Message
	reactions  []Reaction
	uploads    map[string]*File // by file id, before completion
	files      []File
	calls      []Call
	faults     map[string][]Fault
	socketURL  string
	responses  []Response
	clock      func() time.Time // see UseClock; nil: synthetic timestamps
	lastMicros int64            // the latest ts handed out under clock
	channels   map[string]*Channel
	declared   bool // AddChannel was called: only added channels exist
	pacing     Pacing
	paced      map[string]time.Time // channel id → when its bucket is full again
}

// NewServer starts a fake Slack API that closes when the test ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{Token: Token, AppToken: AppToken, uploads: map[string]*File{}, faults: map[string][]Fault{}, channels: map[string]*Channel{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/{method}", s.serveAPI)
	mux.HandleFunc("GET /api/{method}", s.serveAPI)
	mux.HandleFunc("POST /upload/{id}", s.serveUpload)
	mux.HandleFunc("POST /respond/{id}", s.serveResponse)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL + "/api"
	t.Cleanup(s.srv.Close)
	return s
}

// Fail makes the next n calls of method (e.g. "chat.postMessage") answer
// with f instead of being handled. Faults queue up in the order given.
func (s *Server) Fail(method string, n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults[method] = append(s.faults[method], f)
	}
}

// Messages returns the messages posted with chat.postMessage (and thread
// replies added with AddReply), in order, with updates applied.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.messages)
}

// Replies returns the replies in the thread of ts, in order.
func (s *Server) Replies(channel, ts string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.messages {
		if m.Channel == channel && m.ThreadTS == ts && m.TS != ts {
			out = append(out, m)
		}
	}
	return out
}

// Updates returns every chat.update the server applied, in order, each
// as the message's new content.
func (s *Server) Updates() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.updates)
}

// Ephemerals returns the messages posted with chat.postEphemeral; User is
// the user they were shown to.
func (s *Server) Ephemerals() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ephemerals)
}

// Reactions returns the reactions currently on messages.
func (s *Server) Reactions() []Reaction {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reactions)
}

// Files returns the completed uploads, in order.
func (s *Server) Files() []File {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.files)
}

// Calls returns every request answered, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// CallCount returns how many requests of method were answered, failed
// ones included.
func (s *Server) CallCount(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if c.Method == method {
			n++
		}
	}
	return n
}

// AddReply puts a message from user in the thread of threadTS, as if a
// person had answered there, and returns its ts.
func (s *Server) AddReply(channel, threadTS, user, text string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := Message{Channel: channel, TS: s.nextTS(), ThreadTS: threadTS, User: user, Text: text}
	s.messages = append(s.messages, m)
	return m.TS
}

// WaitFor polls cond until it holds, failing the test when timeout passes
// first. It is meant for end-to-end tests where work happens on other
// goroutines.
func WaitFor(t testing.TB, cond func() bool, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// WaitForMessages waits until at least n messages were posted and returns
// them.
func (s *Server) WaitForMessages(t testing.TB, n int, timeout time.Duration) []Message {
	t.Helper()
	WaitFor(t, func() bool { return len(s.Messages()) >= n }, timeout)
	return s.Messages()
}

// nextTS returns a new unique message timestamp, increasing like Slack's.
// The caller holds s.mu.
func (s *Server) nextTS() string {
	s.seq++
	if s.clock != nil {
		return s.clockTS()
	}
	micros := int64(s.seq) * 100
	return fmt.Sprintf("%d.%06d", 1700000000+micros/1_000_000, micros%1_000_000)
}

// takeFault pops the next fault queued for method. The caller holds s.mu.
func (s *Server) takeFault(method string) (Fault, bool) {
	q := s.faults[method]
	if len(q) == 0 {
		return Fault{}, false
	}
	s.faults[method] = q[1:]
	return q[0], true
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	method := r.PathValue("method")
	params, err := readParams(r)
	if err != nil {
		s.answer(w, method, params, http.StatusOK, map[string]any{"ok": false, "error": "invalid_form_data"})
		return
	}
	// The token is checked but never recorded.
	formToken := params.Get("token")
	params.Del("token")
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.takeFault(method); ok {
		s.answerFault(w, method, params, f)
		return
	}
	want := s.Token
	if method == "apps.connections.open" {
		want = s.AppToken
	}
	if code := checkAuth(r, formToken, want); code != "" {
		s.answer(w, method, params, http.StatusOK, map[string]any{"ok": false, "error": code})
		return
	}
	h, ok := s.handlers()[method]
	if !ok {
		s.answer(w, method, params, http.StatusOK, map[string]any{"ok": false, "error": "unknown_method"})
		return
	}
	if id, code := s.channelFor(method, params); code != "" {
		s.answer(w, method, params, http.StatusOK, map[string]any{"ok": false, "error": code})
		return
	} else if id != "" {
		params.Set(channelRules[method].param, id)
	}
	if f, over := s.paceFault(method, params.Get("channel")); over {
		s.answerFault(w, method, params, f)
		return
	}
	body := h(params)
	s.answer(w, method, params, http.StatusOK, body)
}

// checkAuth returns the Slack error code for a request without the right
// token, or "". Slack takes the token as a bearer header or a form field,
// and answers HTTP 200 with not_authed when there is none and
// invalid_auth when it is wrong (the error list of every method at
// api.slack.com/methods, auth.test's among them).
func checkAuth(r *http.Request, formToken, want string) string {
	tok := formToken
	if h := r.Header.Get("Authorization"); h != "" {
		if len(h) < 7 || h[:7] != "Bearer " {
			return "invalid_auth"
		}
		tok = h[7:]
	}
	switch tok {
	case "":
		return "not_authed"
	case want:
		return ""
	default:
		return "invalid_auth"
	}
}

func (s *Server) answerFault(w http.ResponseWriter, method string, params url.Values, f Fault) {
	status := f.Status
	if status == 0 {
		status = http.StatusOK
	}
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((f.RetryAfter+time.Second-1)/time.Second)))
	}
	if f.Error == "" {
		s.calls = append(s.calls, Call{At: s.callTime(), Method: method, Params: params, Status: status})
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		fmt.Fprintf(w, "<html><body>%d %s</body></html>", status, http.StatusText(status))
		return
	}
	s.answer(w, method, params, status, map[string]any{"ok": false, "error": f.Error})
}

// answer writes body as JSON and records the call. The caller holds s.mu.
func (s *Server) answer(w http.ResponseWriter, method string, params url.Values, status int, body map[string]any) {
	errCode, _ := body["error"].(string)
	s.calls = append(s.calls, Call{At: s.callTime(), Method: method, Params: params, Status: status, Error: errCode})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// readParams reads a form-encoded or JSON request into url.Values. JSON
// values that are not strings (blocks, attachments, booleans) are kept as
// their JSON text, as a form would carry them.
func readParams(r *http.Request) (url.Values, error) {
	ct := r.Header.Get("Content-Type")
	if len(ct) >= 16 && ct[:16] == "application/json" {
		var m map[string]json.RawMessage
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil && !errors.Is(err, io.EOF) {
			return url.Values{}, fmt.Errorf("decode json body: %w", err)
		}
		v := url.Values{}
		for k, raw := range m {
			var s string
			if json.Unmarshal(raw, &s) == nil {
				v.Set(k, s)
			} else {
				v.Set(k, string(raw))
			}
		}
		return v, nil
	}
	if err := r.ParseForm(); err != nil {
		return url.Values{}, fmt.Errorf("parse form: %w", err)
	}
	return r.Form, nil
}
