package slacktest

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Channel is a conversation the fake workspace has.
type Channel struct {
	ID         string // C… (public), G… or C… (private), D… (direct message); assigned when empty
	Name       string // without the #, lower case as Slack keeps it
	IsPrivate  bool
	IsMember   bool // whether the bot is in it
	IsArchived bool
}

// channelRule says how a method takes its channel argument, after
// Slack's documentation of each method (api.slack.com/methods/NAME):
// only chat.postMessage and chat.postEphemeral resolve a channel name;
// every newer method answers channel_not_found to a name, which Slack's
// SDK maintainers confirm is a server-side rule
// (github.com/slackapi/python-slack-sdk/issues/696 for chat.update,
// issues/1495: "The channel name param is only available in the most
// long-lived APIs such as chat.postMessage").
type channelRule struct {
	param      string // the argument that names the channel
	names      bool   // a #name or name is accepted
	member     bool   // the bot must be in the channel: not_in_channel otherwise
	unarchived bool   // is_archived for an archived channel
}

var channelRules = map[string]channelRule{
	// api.slack.com/methods/chat.postMessage: "channel: An encoded ID or
	// channel name"; errors channel_not_found, not_in_channel,
	// is_archived. (Without chat:write.public, which the app does not
	// ask for, a bot posts only where it is a member.)
	"chat.postMessage": {param: "channel", names: true, member: true, unarchived: true},
	// api.slack.com/methods/chat.postEphemeral: channel "ID or name";
	// errors channel_not_found, not_in_channel, is_archived.
	"chat.postEphemeral": {param: "channel", names: true, member: true, unarchived: true},
	// api.slack.com/methods/chat.update: "channel: Channel containing
	// the message to be updated" — an ID; a name is channel_not_found.
	"chat.update": {param: "channel", member: true, unarchived: true},
	// api.slack.com/methods/reactions.add and reactions.remove: channel
	// ID; errors channel_not_found, is_archived, not_in_channel.
	"reactions.add":    {param: "channel", member: true, unarchived: true},
	"reactions.remove": {param: "channel", member: true, unarchived: true},
	// api.slack.com/methods/conversations.history and .replies:
	// "Conversation ID"; a bot outside the channel gets not_in_channel.
	"conversations.history": {param: "channel", member: true},
	"conversations.replies": {param: "channel", member: true},
	// api.slack.com/methods/conversations.info: "Conversation ID";
	// answers for public channels the bot is not in, with is_member
	// false; a private one it is not in is channel_not_found.
	"conversations.info": {param: "channel"},
	// api.slack.com/methods/files.completeUploadExternal: "channel_id:
	// Channel ID where the file will be shared"; errors
	// channel_not_found, not_in_channel, is_archived.
	"files.completeUploadExternal": {param: "channel_id", member: true, unarchived: true},
}

// AddChannel adds a conversation to the workspace and returns it with its
// id. Once a channel has been added, the workspace holds only the
// channels added (and direct messages): any other id is
// channel_not_found, as in Slack. Before, any id a test makes up names a
// public channel the bot is in, so tests that do not care about channels
// need not declare them.
func (s *Server) AddChannel(c Channel) Channel {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.Name = strings.ToLower(strings.TrimPrefix(c.Name, "#"))
	if c.ID == "" {
		s.seq++
		prefix := "C"
		c.ID = fmt.Sprintf("%s%08d", prefix, s.seq)
	}
	s.declared = true
	s.channels[c.ID] = &c
	return c
}

// SetMember puts the bot in channel id, or takes it out.
func (s *Server) SetMember(id string, member bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.channels[id]; ok {
		c.IsMember = member
	}
}

// Channels returns the conversations the workspace holds.
func (s *Server) Channels() []Channel {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Channel, 0, len(s.channels))
	for _, c := range s.channels {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b Channel) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// isChannelName tells a name from an id: Slack keeps names in lower
// case, and ids are upper case, so a value with a # or starting with
// anything but an upper-case letter is a name.
func isChannelName(v string) bool {
	return strings.HasPrefix(v, "#") || v == "" || v[0] < 'A' || v[0] > 'Z'
}

// channelFor finds the conversation a method's argument names, applying
// the method's rule, and returns its id or the Slack error code. The
// caller holds s.mu.
func (s *Server) channelFor(method string, p url.Values) (id, code string) {
	rule, ok := channelRules[method]
	if !ok {
		return "", ""
	}
	v := p.Get(rule.param)
	if v == "" {
		return "", "channel_not_found"
	}
	var c *Channel
	switch {
	case isChannelName(v):
		if !rule.names {
			return "", "channel_not_found"
		}
		name := strings.TrimPrefix(v, "#")
		for _, have := range s.channels {
			if have.Name == name && !have.IsArchived {
				c = have
				break
			}
		}
		if c == nil {
			for _, have := range s.channels {
				if have.Name == name {
					c = have
				}
			}
		}
	case strings.HasPrefix(v, "D"):
		return v, "" // a direct message with the bot
	default:
		c = s.channels[v]
		if c == nil && !s.declared {
			c = &Channel{ID: v, Name: strings.ToLower(v), IsMember: true}
			s.channels[v] = c
		}
	}
	switch {
	case c == nil, c.IsPrivate && !c.IsMember:
		return "", "channel_not_found"
	case rule.unarchived && c.IsArchived:
		return "", "is_archived"
	case rule.member && !c.IsMember:
		return "", "not_in_channel"
	}
	return c.ID, ""
}

// wireChannel is a conversation as conversations.info and .list return it.
func wireChannel(c Channel) map[string]any {
	return map[string]any{
		"id": c.ID, "name": c.Name, "name_normalized": c.Name, "is_channel": !c.IsPrivate,
		"is_group": false, "is_im": false, "is_private": c.IsPrivate, "is_member": c.IsMember,
		"is_archived": c.IsArchived,
	}
}

// conversationInfo answers conversations.info.
func (s *Server) conversationInfo(p url.Values) map[string]any {
	c, ok := s.channels[p.Get("channel")]
	if !ok {
		return fail("channel_not_found")
	}
	return map[string]any{"ok": true, "channel": wireChannel(*c)}
}

// conversationList answers conversations.list
// (api.slack.com/methods/conversations.list): public channels, and the
// private ones the bot is in, of the types asked (public_channel by
// default), without archived ones when exclude_archived is set, limit at
// a time (100 by default, 1000 at most) with a cursor for the next page.
func (s *Server) conversationList(p url.Values) map[string]any {
	types := map[string]bool{}
	for t := range strings.SplitSeq(p.Get("types"), ",") {
		if t = strings.TrimSpace(t); t != "" {
			types[t] = true
		}
	}
	if len(types) == 0 {
		types["public_channel"] = true
	}
	limit := 100
	if v := p.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fail("invalid_limit")
		}
		limit = min(n, 1000)
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
	var found []Channel
	for _, c := range s.channels {
		switch {
		case c.IsPrivate && (!types["private_channel"] || !c.IsMember),
			!c.IsPrivate && !types["public_channel"],
			c.IsArchived && truthy(p.Get("exclude_archived")):
			continue
		}
		found = append(found, *c)
	}
	slices.SortFunc(found, func(a, b Channel) int { return strings.Compare(a.ID, b.ID) })
	out := []map[string]any{}
	end := min(offset+limit, len(found))
	for i := min(offset, end); i < end; i++ {
		out = append(out, wireChannel(found[i]))
	}
	next := ""
	if end < len(found) {
		next = base64.StdEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(end)))
	}
	return map[string]any{"ok": true, "channels": out, "response_metadata": map[string]any{"next_cursor": next}}
}
