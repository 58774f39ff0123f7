package slacktest

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// handler answers one Web API method. It runs with s.mu held and returns
// the JSON body, ok or not.
type handler func(p url.Values) map[string]any

func (s *Server) handlers() map[string]handler {
	return map[string]handler{
		"auth.test":                    s.authTest,
		"chat.postMessage":             s.postMessage,
		"chat.update":                  s.update,
		"chat.postEphemeral":           s.postEphemeral,
		"reactions.add":                s.reactionsAdd,
		"reactions.remove":             s.reactionsRemove,
		"conversations.replies":        s.replies,
		"conversations.history":        s.history,
		"files.getUploadURLExternal":   s.getUploadURL,
		"files.completeUploadExternal": s.completeUpload,
		"apps.connections.open":        s.connectionsOpen,
		"conversations.info":           s.conversationInfo,
		"conversations.list":           s.conversationList,
	}
}

func fail(code string) map[string]any { return map[string]any{"ok": false, "error": code} }

func (s *Server) authTest(url.Values) map[string]any {
	return map[string]any{
		"ok": true, "url": "https://slacktest.slack.com/", "team": "Slacktest",
		"user": "oncall-copilot", "team_id": TeamID, "user_id": BotUserID, "bot_id": BotID,
	}
}

// find returns the index of the message ts in channel, or -1. The caller
// holds s.mu.
func (s *Server) find(channel, ts string) int {
	for i, m := range s.messages {
		if m.Channel == channel && m.TS == ts {
			return i
		}
	}
	return -1
}

// messageText validates the content of a posted or updated message.
func messageText(p url.Values) (text string, blocks json.RawMessage, code string) {
	text = p.Get("text")
	if b := p.Get("blocks"); b != "" {
		var list []json.RawMessage
		if err := json.Unmarshal([]byte(b), &list); err != nil {
			return "", nil, "invalid_blocks_format"
		}
		if len(list) > 50 {
			return "", nil, "invalid_blocks"
		}
		blocks = json.RawMessage(b)
	}
	if text == "" && blocks == nil && p.Get("attachments") == "" {
		return "", nil, "no_text"
	}
	if len([]rune(text)) > 40000 {
		return "", nil, "msg_too_long"
	}
	return text, blocks, ""
}

func (s *Server) postMessage(p url.Values) map[string]any {
	channel := p.Get("channel")
	if channel == "" {
		return fail("channel_not_found")
	}
	text, blocks, code := messageText(p)
	if code != "" {
		return fail(code)
	}
	thread := p.Get("thread_ts")
	if thread != "" && s.find(channel, thread) < 0 {
		return fail("thread_not_found")
	}
	m := Message{Channel: channel, TS: s.nextTS(), ThreadTS: thread, User: BotUserID, Text: text, Blocks: blocks, Params: p}
	s.messages = append(s.messages, m)
	return map[string]any{"ok": true, "channel": channel, "ts": m.TS, "message": wireMessage(m, 0)}
}

func (s *Server) update(p url.Values) map[string]any {
	channel, ts := p.Get("channel"), p.Get("ts")
	if channel == "" {
		return fail("channel_not_found")
	}
	i := s.find(channel, ts)
	if i < 0 {
		return fail("message_not_found")
	}
	if s.messages[i].User != BotUserID {
		return fail("cant_update_message")
	}
	m := s.messages[i]
	// Without a blocks field the message keeps its blocks; an empty
	// array removes them.
	if _, ok := p["blocks"]; !ok && m.Blocks != nil {
		p = cloneValues(p)
		p.Set("blocks", string(m.Blocks))
	}
	// Nor does it lose the metadata it was posted with.
	if _, ok := p["metadata"]; !ok && m.Params.Get("metadata") != "" {
		p = cloneValues(p)
		p.Set("metadata", m.Params.Get("metadata"))
	}
	text, blocks, code := messageText(p)
	if code != "" {
		return fail(code)
	}
	if string(blocks) == "[]" {
		blocks = nil
	}
	m.Text, m.Blocks, m.Params = text, blocks, p
	s.messages[i] = m
	s.updates = append(s.updates, m)
	return map[string]any{"ok": true, "channel": channel, "ts": ts, "text": text, "message": wireMessage(m, 0)}
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

func (s *Server) postEphemeral(p url.Values) map[string]any {
	channel, user := p.Get("channel"), p.Get("user")
	if channel == "" {
		return fail("channel_not_found")
	}
	if user == "" {
		return fail("user_not_found")
	}
	text, blocks, code := messageText(p)
	if code != "" {
		return fail(code)
	}
	m := Message{Channel: channel, TS: s.nextTS(), ThreadTS: p.Get("thread_ts"), User: user, Text: text, Blocks: blocks, Params: p}
	s.ephemerals = append(s.ephemerals, m)
	return map[string]any{"ok": true, "message_ts": m.TS}
}

func (s *Server) reaction(p url.Values) (Reaction, int, string) {
	r := Reaction{Channel: p.Get("channel"), TS: p.Get("timestamp"), Name: p.Get("name")}
	if r.Name == "" {
		return r, -1, "invalid_name"
	}
	if s.find(r.Channel, r.TS) < 0 {
		return r, -1, "message_not_found"
	}
	for i, have := range s.reactions {
		if have == r {
			return r, i, ""
		}
	}
	return r, -1, ""
}

func (s *Server) reactionsAdd(p url.Values) map[string]any {
	r, i, code := s.reaction(p)
	switch {
	case code != "":
		return fail(code)
	case i >= 0:
		return fail("already_reacted")
	}
	s.reactions = append(s.reactions, r)
	return map[string]any{"ok": true}
}

func (s *Server) reactionsRemove(p url.Values) map[string]any {
	_, i, code := s.reaction(p)
	switch {
	case code != "":
		return fail(code)
	case i < 0:
		return fail("no_reaction")
	}
	s.reactions = append(s.reactions[:i], s.reactions[i+1:]...)
	return map[string]any{"ok": true}
}

func (s *Server) replies(p url.Values) map[string]any {
	channel, ts := p.Get("channel"), p.Get("ts")
	i := s.find(channel, ts)
	if i < 0 {
		return fail("thread_not_found")
	}
	parent := s.messages[i]
	if parent.ThreadTS != "" && parent.ThreadTS != parent.TS {
		// Asking for a reply's ts answers with the thread it is in.
		ts = parent.ThreadTS
		if j := s.find(channel, ts); j >= 0 {
			parent = s.messages[j]
		}
	}
	var replies []Message
	for _, m := range s.messages {
		if m.Channel == channel && m.ThreadTS == ts && m.TS != ts {
			replies = append(replies, m)
		}
	}
	out := []map[string]any{withMetadata(wireMessage(parent, len(replies)), parent, p)}
	for _, m := range replies {
		out = append(out, withMetadata(wireMessage(m, 0), m, p))
	}
	return map[string]any{"ok": true, "messages": out, "has_more": false,
		"response_metadata": map[string]any{"next_cursor": ""}}
}

// wireMessage is a message as the Web API returns it.
func wireMessage(m Message, replyCount int) map[string]any {
	w := map[string]any{"type": "message", "user": m.User, "text": m.Text, "ts": m.TS}
	if m.User == BotUserID {
		w["bot_id"] = BotID
	}
	if m.ThreadTS != "" {
		w["thread_ts"] = m.ThreadTS
	}
	if replyCount > 0 {
		w["thread_ts"] = m.TS
		w["reply_count"] = replyCount
	}
	if m.Blocks != nil {
		w["blocks"] = m.Blocks
	}
	return w
}

func (s *Server) getUploadURL(p url.Values) map[string]any {
	name := p.Get("filename")
	length, err := strconv.Atoi(p.Get("length"))
	if name == "" || err != nil || length <= 0 {
		return fail("invalid_arguments")
	}
	s.seq++
	id := fmt.Sprintf("F%08d", s.seq)
	s.uploads[id] = &File{ID: id, Name: name}
	return map[string]any{"ok": true, "upload_url": strings.TrimSuffix(s.URL, "/api") + "/upload/" + id, "file_id": id}
}

func (s *Server) completeUpload(p url.Values) map[string]any {
	var list []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	if err := json.Unmarshal([]byte(p.Get("files")), &list); err != nil || len(list) == 0 {
		return fail("invalid_arguments")
	}
	var done []File
	for _, f := range list {
		up, ok := s.uploads[f.ID]
		if !ok || up.Content == nil {
			return fail("file_not_found")
		}
		file := *up
		file.Title = f.Title
		file.Channel = p.Get("channel_id")
		file.ThreadTS = p.Get("thread_ts")
		file.InitialComment = p.Get("initial_comment")
		done = append(done, file)
	}
	summaries := make([]map[string]any, 0, len(done))
	for _, f := range done {
		delete(s.uploads, f.ID)
		s.files = append(s.files, f)
		summaries = append(summaries, map[string]any{"id": f.ID, "title": f.Title})
	}
	return map[string]any{"ok": true, "files": summaries}
}

// serveUpload takes the bytes of a file for an upload URL handed out by
// files.getUploadURLExternal, as a multipart "file" field or a raw body.
func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	content, err := readUpload(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, Call{Method: "upload", Params: url.Values{"file_id": {id}}})
	up, ok := s.uploads[id]
	if !ok || err != nil {
		s.calls[len(s.calls)-1].Status = http.StatusNotFound
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	up.Content = content
	s.calls[len(s.calls)-1].Status = http.StatusOK
	fmt.Fprintf(w, "OK - %d", len(content))
}

func readUpload(r *http.Request) ([]byte, error) {
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		b, err := io.ReadAll(r.Body)
		if b == nil {
			b = []byte{}
		}
		return b, err
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err != nil {
			return nil, fmt.Errorf("read multipart upload: %w", err)
		}
		if part.FormName() == "file" {
			b, err := io.ReadAll(part)
			if b == nil {
				b = []byte{}
			}
			return b, err
		}
	}
}
