package slacktest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// UseClock makes the timestamps of new messages follow now, as Slack's
// follow its clock, instead of the synthetic sequence from 1700000000.
// Code that reads history by time (conversations.history with oldest or
// latest) needs it. Timestamps stay unique and increasing. Call it before
// the server is used.
func (s *Server) UseClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock = now
}

// clockTS is the next timestamp under the clock. The caller holds s.mu.
func (s *Server) clockTS() string {
	micros := s.clock().UnixMicro()
	if micros <= s.lastMicros {
		micros = s.lastMicros + 1
	}
	s.lastMicros = micros
	return fmt.Sprintf("%d.%06d", micros/1_000_000, micros%1_000_000)
}

// tsMicros reads a Slack timestamp ("1700000000.000100") as microseconds;
// ok is false for anything else.
func tsMicros(ts string) (int64, bool) {
	sec, frac, _ := strings.Cut(ts, ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil || s < 0 {
		return 0, false
	}
	frac = (frac + "000000")[:6]
	f, err := strconv.ParseInt(frac, 10, 64)
	if err != nil || f < 0 {
		return 0, false
	}
	return s*1_000_000 + f, true
}

// history answers conversations.history: the channel's top-level
// messages, newest first, after oldest and before latest (inclusive when
// asked), limit at a time (100 by default, 999 at most) with a cursor for
// the next page. With include_all_metadata each message carries the
// metadata it was posted with.
func (s *Server) history(p url.Values) map[string]any {
	channel := p.Get("channel")
	if channel == "" {
		return fail("channel_not_found")
	}
	inclusive := truthy(p.Get("inclusive"))
	oldest, latest := int64(0), int64(1<<62)
	if v := p.Get("oldest"); v != "" {
		t, ok := tsMicros(v)
		if !ok {
			return fail("invalid_ts_oldest")
		}
		oldest = t
	}
	if v := p.Get("latest"); v != "" {
		t, ok := tsMicros(v)
		if !ok {
			return fail("invalid_ts_latest")
		}
		latest = t
	}
	limit := 100
	if v := p.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fail("invalid_limit")
		}
		limit = min(n, 999)
	}
	offset := 0
	if c := p.Get("cursor"); c != "" {
		b, err := base64.StdEncoding.DecodeString(c)
		n, ok := strings.CutPrefix(string(b), "offset:")
		if err != nil || !ok {
			return fail("invalid_cursor")
		}
		if offset, err = strconv.Atoi(n); err != nil || offset < 0 {
			return fail("invalid_cursor")
		}
	}

	var found []Message
	for i := len(s.messages) - 1; i >= 0; i-- {
		m := s.messages[i]
		if m.Channel != channel || (m.ThreadTS != "" && m.ThreadTS != m.TS) {
			continue
		}
		t, _ := tsMicros(m.TS)
		if t < oldest || t > latest || (!inclusive && (t == oldest || t == latest)) {
			continue
		}
		found = append(found, m)
	}
	out := []map[string]any{}
	end := min(offset+limit, len(found))
	for i := min(offset, end); i < end; i++ {
		m := found[i]
		out = append(out, withMetadata(wireMessage(m, len(s.threadReplies(channel, m.TS))), m, p))
	}
	next := ""
	if end < len(found) {
		next = base64.StdEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(end)))
	}
	return map[string]any{"ok": true, "messages": out, "has_more": next != "", "pin_count": 0,
		"response_metadata": map[string]any{"next_cursor": next}}
}

// withMetadata adds the metadata m was posted with to its wire form w
// when the request asked for it with include_all_metadata.
func withMetadata(w map[string]any, m Message, p url.Values) map[string]any {
	if meta := m.Params.Get("metadata"); truthy(p.Get("include_all_metadata")) && meta != "" && json.Valid([]byte(meta)) {
		w["metadata"] = json.RawMessage(meta)
	}
	return w
}

// threadReplies returns the replies in the thread of ts. The caller holds
// s.mu.
func (s *Server) threadReplies(channel, ts string) []Message {
	var out []Message
	for _, m := range s.messages {
		if m.Channel == channel && m.ThreadTS == ts && m.TS != ts {
			out = append(out, m)
		}
	}
	return out
}

// truthy reads a Web API boolean argument: 1 or true.
func truthy(v string) bool { return v == "1" || v == "true" }
