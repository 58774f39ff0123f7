package bot

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/oncall-copilot/oncall-copilot/redact"
)

// Slack's limits on what one message may carry.
const (
	maxBlocks       = 50    // blocks per message
	maxSectionChars = 3000  // text of one section block
	maxFieldChars   = 2000  // one section field or context element
	maxMessageChars = 12000 // block text of one message, so the client shows it whole
)

// RenderOptions are what rendering needs besides the incident.
type RenderOptions struct {
	// TraceURL links a trace (and a span in it, when spanID is set) in
	// the trace UI. Nil, or an answer that is not an http(s) URL, renders
	// ids as code instead of links.
	TraceURL func(traceID, spanID string) string
	// Redact hides secrets in text that comes from alerts, traces or the
	// model before it is rendered. Nil leaves text as it is.
	Redact func(string) string
	// WithoutButtons leaves the buttons out from under a diagnosis: set
	// it when no interactivity endpoint (Socket Mode or the Events API)
	// is configured, as clicks would go nowhere.
	WithoutButtons bool
	// ReportURL returns the address of the full report page of the
	// incident with the given key, or "" when there is none; nil links
	// no page.
	ReportURL func(incidentKey string) string
}

// renderer turns untrusted text into safe Slack mrkdwn.
type renderer struct{ opts RenderOptions }

// broadcastWord matches the plain words Slack may turn into broadcast
// mentions when a message is parsed with parse=full or link_names.
var broadcastWord = regexp.MustCompile(`(?i)([@＠])(here|channel|everyone)\b`)

// linkableID matches the trace and span ids that may go into a trace UI
// link: hex, uuids and similar. Anything else is shown as code, unlinked.
var linkableID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// mrkdwnEscaper escapes Slack's three control characters. With < and >
// escaped, text cannot open a link (<url|label>), a user, channel or
// group mention (<@U…>, <#C…>, <!subteam^…>) or a broadcast (<!here>).
var mrkdwnEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// safe prepares text from alerts, traces or the model for mrkdwn:
// redacted, control and format characters (bidi overrides, zero-width
// characters, NUL) shown as code points, broadcast words defused with a
// zero-width space after the @, mrkdwn's control characters escaped.
// Every piece of untrusted text in a message goes through it.
func (r renderer) safe(s string) string {
	if r.opts.Redact != nil {
		s = r.opts.Redact(s)
	}
	s = redact.Printable(s)
	s = broadcastWord.ReplaceAllString(s, "$1\u200b$2")
	return mrkdwnEscaper.Replace(s)
}

// clip is safe(s) limited to max characters of the original text; what
// it cuts is said in the text, never dropped silently.
func (r renderer) clip(s string, max int) string {
	s = strings.TrimSpace(s)
	if r.opts.Redact != nil {
		// Redact before measuring so a secret is never cut in half and
		// half-shown.
		s = r.opts.Redact(s)
	}
	// Likewise, a code point is never cut in half.
	s = redact.Printable(s)
	n := utf8.RuneCountInString(s)
	if n <= max {
		return renderer{}.safe(s)
	}
	cut := string([]rune(s)[:max])
	return renderer{}.safe(cut) + fmt.Sprintf("… _(truncated, %d more chars)_", n-max)
}

// line is clip for text shown on one line: line breaks become spaces.
func (r renderer) line(s string, max int) string {
	return r.clip(strings.Join(strings.Fields(s), " "), max)
}

// code shows untrusted s in inline code. Backticks and line breaks, which
// would end the code span, are replaced.
func (r renderer) code(s string, max int) string {
	s = strings.NewReplacer("`", "'", "\n", " ", "\r", " ").Replace(s)
	if strings.TrimSpace(s) == "" {
		return "`-`"
	}
	return "`" + r.clip(s, max) + "`"
}

// traceRef cites a trace, and a span in it, as a link to the trace UI
// when one is configured, else as code.
func (r renderer) traceRef(traceID, spanID string) string {
	label := traceID
	if spanID != "" {
		label += " / " + spanID
	}
	if r.opts.TraceURL != nil && linkableID.MatchString(traceID) && (spanID == "" || linkableID.MatchString(spanID)) {
		if u := linkURL(r.opts.TraceURL(traceID, spanID)); u != "" {
			return "<" + u + "|" + r.line(label, 120) + ">"
		}
	}
	return r.code(label, 120)
}

// link renders a link to a URL we chose to show (an alert's source, a
// trace UI), or just the label when the URL is not usable.
func link(rawURL, label string) string {
	u := linkURL(rawURL)
	if u == "" {
		return label
	}
	return "<" + u + "|" + label + ">"
}

// linkURL checks that raw is an absolute http(s) URL and makes it safe
// inside <url|label>: the characters that end the URL or start the label
// are percent-encoded. It returns "" for anything else.
func linkURL(raw string) string {
	raw = strings.TrimSpace(raw)
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	u.User = nil // credentials never go into a message
	return strings.NewReplacer("|", "%7C", "<", "%3C", ">", "%3E", " ", "%20", "\n", "", "\r", "").Replace(u.String())
}

// slackLen is the length of s as Slack counts it, in UTF-16 code units.
func slackLen(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// splitText cuts safe mrkdwn s into pieces of at most max (slackLen),
// preferring line breaks, then spaces, and never cutting inside an entity
// (&amp;) or a link (<url|label>).
func splitText(s string, max int) []string {
	var out []string
	for slackLen(s) > max {
		cut := prefixWithin(s, max)
		if i := strings.LastIndexByte(s[:cut], '\n'); i > cut/2 {
			cut = i + 1
		} else if i := strings.LastIndexByte(s[:cut], ' '); i > cut/2 {
			cut = i + 1
		}
		if open := strings.LastIndexByte(s[:cut], '<'); open > strings.LastIndexByte(s[:cut], '>') && open > 0 {
			cut = open
		}
		if amp := strings.LastIndexByte(s[:cut], '&'); amp >= 0 && !strings.Contains(s[amp:cut], ";") && amp > 0 {
			cut = amp
		}
		out = append(out, strings.TrimRight(s[:cut], "\n"))
		s = s[cut:]
	}
	if s != "" || len(out) == 0 {
		out = append(out, s)
	}
	return out
}

// prefixWithin returns the byte length of the longest prefix of s whose
// slackLen is at most max (at least one rune).
func prefixWithin(s string, max int) int {
	n := 0
	for i, r := range s {
		n += utf16.RuneLen(r)
		if n > max {
			if i == 0 {
				return utf8.RuneLen(r)
			}
			return i
		}
	}
	return len(s)
}

// mrkdwn is a text object for safe mrkdwn. Verbatim stops Slack from
// turning bare URLs, channel names and @words into links or mentions:
// the only links are the ones written as <url|label> by this package.
func mrkdwn(s string) *slack.TextBlockObject {
	return &slack.TextBlockObject{Type: slack.MarkdownType, Text: s, Verbatim: true}
}

func section(s string) *slack.SectionBlock {
	return slack.NewSectionBlock(mrkdwn(s), nil, nil)
}

func contextBlock(parts ...string) *slack.ContextBlock {
	s := strings.Join(nonEmpty(parts), "  ·  ")
	if slackLen(s) > maxFieldChars {
		s = splitText(s, maxFieldChars-40)[0] + " _(footer truncated)_"
	}
	return slack.NewContextBlock("", mrkdwn(s))
}

func nonEmpty(parts []string) []string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// blockText is the text a block carries, as counted against the
// per-message budget.
func blockText(b slack.Block) int {
	switch b := b.(type) {
	case *slack.SectionBlock:
		n := 0
		if b.Text != nil {
			n += slackLen(b.Text.Text)
		}
		for _, f := range b.Fields {
			n += slackLen(f.Text)
		}
		return n
	case *slack.ContextBlock:
		n := 0
		for _, e := range b.ContextElements.Elements {
			if t, ok := e.(*slack.TextBlockObject); ok {
				n += slackLen(t.Text)
			}
		}
		return n
	}
	return 0
}
