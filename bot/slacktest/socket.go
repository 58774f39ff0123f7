package slacktest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Sign returns the X-Slack-Signature Slack sends with body at timestamp
// (Unix seconds, as in X-Slack-Request-Timestamp), signed with secret.
func Sign(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + timestamp + ":"))
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// SetSocketURL is the WebSocket URL apps.connections.open hands out,
// usually a SocketServer's URL.
func (s *Server) SetSocketURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.socketURL = u
}

func (s *Server) connectionsOpen(url.Values) map[string]any {
	if s.socketURL == "" {
		return fail("internal_error")
	}
	return map[string]any{"ok": true, "url": s.socketURL}
}

// Response is a message posted to a response_url.
type Response struct {
	ID   string          // the id in the URL
	Body json.RawMessage // the JSON posted
}

// ResponseURL returns a response_url for interaction and slash command
// payloads; what is posted to it is recorded under id.
func (s *Server) ResponseURL(id string) string {
	return strings.TrimSuffix(s.URL, "/api") + "/respond/" + url.PathEscape(id)
}

// Responses returns what was posted to response URLs, in order.
func (s *Server) Responses() []Response {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.responses)
}

func (s *Server) serveResponse(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil || !json.Valid(body) {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.responses = append(s.responses, Response{ID: r.PathValue("id"), Body: body})
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, "ok")
}

// Envelope is one Socket Mode message from Slack to the app.
type Envelope struct {
	EnvelopeID             string `json:"envelope_id"`
	Type                   string `json:"type"` // events_api, interactive, slash_commands
	Payload                any    `json:"payload"`
	AcceptsResponsePayload bool   `json:"accepts_response_payload"`
	RetryAttempt           int    `json:"retry_attempt"`
	RetryReason            string `json:"retry_reason"`
}

// Ack is the app's acknowledgement of an envelope.
type Ack struct {
	EnvelopeID string          `json:"envelope_id"`
	Payload    json.RawMessage `json:"payload,omitempty"`
}

// SocketServer is a fake Socket Mode WebSocket endpoint: it greets each
// connection with hello, sends the envelopes it is given and records the
// acknowledgements. Hand its URL out with Server.SetSocketURL.
type SocketServer struct {
	URL string // ws://…

	srv      *httptest.Server
	mu       sync.Mutex
	conn     *websocket.Conn
	writeMu  sync.Mutex
	conns    int
	acks     []Ack
	received []json.RawMessage
}

// NewSocketServer starts a Socket Mode endpoint that closes when the
// test ends.
func NewSocketServer(t testing.TB) *SocketServer {
	t.Helper()
	s := &SocketServer{}
	// Slack's clients send Origin: https://api.slack.com.
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conn = conn
		s.conns++
		s.mu.Unlock()
		s.write(conn, map[string]any{
			"type": "hello", "num_connections": 1,
			"connection_info": map[string]any{"app_id": "A0FAKEAPP"},
			"debug_info":      map[string]any{"host": "slacktest", "approximate_connection_time": 3600},
		})
		for {
			_, msg, err := conn.ReadMessage()
			if err != nil {
				return
			}
			var ack Ack
			s.mu.Lock()
			s.received = append(s.received, msg)
			if json.Unmarshal(msg, &ack) == nil && ack.EnvelopeID != "" {
				s.acks = append(s.acks, ack)
			}
			s.mu.Unlock()
		}
	}))
	s.URL = "ws" + strings.TrimPrefix(s.srv.URL, "http") + "/link/?ticket=slacktest"
	t.Cleanup(func() {
		s.mu.Lock()
		if s.conn != nil {
			_ = s.conn.Close()
		}
		s.mu.Unlock()
		s.srv.Close()
	})
	return s
}

func (s *SocketServer) write(conn *websocket.Conn, v any) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return conn.WriteJSON(v)
}

// Send waits up to timeout for an app to connect and sends it env.
func (s *SocketServer) Send(t testing.TB, env Envelope, timeout time.Duration) {
	t.Helper()
	var conn *websocket.Conn
	WaitFor(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		conn = s.conn
		return conn != nil
	}, timeout)
	if err := s.write(conn, env); err != nil {
		t.Fatalf("slacktest: send envelope %s: %v", env.EnvelopeID, err)
	}
}

// Acks returns the acknowledgements received, in order.
func (s *SocketServer) Acks() []Ack {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.acks)
}

// Connections counts the connections the app opened.
func (s *SocketServer) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// WaitAck waits until the envelope is acknowledged and returns the ack.
func (s *SocketServer) WaitAck(t testing.TB, envelopeID string, timeout time.Duration) Ack {
	t.Helper()
	var got Ack
	WaitFor(t, func() bool {
		for _, a := range s.Acks() {
			if a.EnvelopeID == envelopeID {
				got = a
				return true
			}
		}
		return false
	}, timeout)
	return got
}
