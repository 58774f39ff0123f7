package bot

import (
	"maps"
	"slices"
)

// Scopes are the bot token scopes the copilot's Web API calls and events
// need, each with what needs it. The app manifests in slack/ ask for
// exactly these (a test checks).
var Scopes = map[string]string{
	"chat:write":        "chat.postMessage, chat.update, chat.postEphemeral: threads, reports, notes, answers",
	"reactions:write":   "reactions.add and .remove: the 👀 on a question being answered",
	"files:write":       "files.getUploadURLExternal and .completeUploadExternal: digest charts",
	"app_mentions:read": "app_mention events",
	"channels:history":  "message.channels events; conversations.history and .replies in public channels",
	"groups:history":    "message.groups events; the same in private channels",
	"im:history":        "message.im events: direct messages",
	"channels:read":     "conversations.list and .info: channel names to ids, membership checks",
	"groups:read":       "the same for private channels",
	"commands":          "the /oncall slash command",
}

// BotEvents are the events the app subscribes to.
var BotEvents = []string{"app_mention", "message.channels", "message.groups", "message.im"}

// ScopeNames returns the names of Scopes, sorted.
func ScopeNames() []string {
	return slices.Sorted(maps.Keys(Scopes))
}
