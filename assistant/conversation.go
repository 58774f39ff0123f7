package assistant

import (
	"fmt"
	"strings"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/redact"
	"github.com/oncall-copilot/oncall-copilot/triage"
)

// msgKind says how compaction may treat a message.
type msgKind int

const (
	kindSystem     msgKind = iota // the instructions; always kept
	kindContext                   // the incident; shortened last
	kindHistory                   // earlier thread messages; dropped oldest first
	kindQuestion                  // always kept
	kindTurn                      // the model's tool-calling turns; kept
	kindToolResult                // elided oldest first
	kindNote                      // the last-step note; kept
)

// Caps on text taken from the thread.
const (
	maxHistoryTurns = 20
	maxTurnChars    = 1500
	maxQuestion     = 2000
	msgOverhead     = 4 // tokens a chat message costs besides its content
)

type entry struct {
	msg     oncall.ChatMessage
	kind    msgKind
	tokens  int
	callKey string // tool results: the call's canonical key
	elided  bool
}

// conversation is the state of one question.
type conversation struct {
	a       *Assistant
	q       Question
	now     time.Time
	session *redact.Session
	msgs    []entry
	seen    map[string]int // canonical call → index into tried
	tried   []ToolUse
	known   map[string]bool // id-like tokens the model was shown
}

func (a *Assistant) newConversation(q Question) *conversation {
	c := &conversation{
		a:       a,
		q:       q,
		now:     a.opts.Now().UTC(),
		session: a.opts.Redactor.Session(),
		seen:    map[string]int{},
		known:   map[string]bool{},
	}
	c.add(oncall.ChatMessage{Role: oncall.RoleSystem, Content: systemPrompt(a.opts.MaxSteps, c.now)}, kindSystem)
	if q.Incident != nil {
		c.add(oncall.ChatMessage{Role: oncall.RoleUser, Content: c.incidentContext(*q.Incident)}, kindContext)
	} else {
		c.add(oncall.ChatMessage{Role: oncall.RoleUser, Content: adHocContext}, kindContext)
	}
	hist := q.History
	if len(hist) > maxHistoryTurns {
		hist = hist[len(hist)-maxHistoryTurns:]
	}
	for _, t := range hist {
		text := c.clean(t.Text, maxTurnChars)
		if text == "" {
			continue
		}
		role := oncall.RoleUser
		if t.Assistant {
			role = oncall.RoleAssistant
		} else {
			text = "(earlier message in the thread) " + text
		}
		c.add(oncall.ChatMessage{Role: role, Content: text}, kindHistory)
	}
	question := c.clean(q.Text, maxQuestion)
	c.learn(question)
	c.add(oncall.ChatMessage{Role: oncall.RoleUser, Content: question}, kindQuestion)
	return c
}

// add appends a message and learns the ids it shows the model.
func (c *conversation) add(m oncall.ChatMessage, kind msgKind) {
	if kind == kindContext || kind == kindToolResult || kind == kindHistory {
		c.learn(m.Content)
	}
	c.msgs = append(c.msgs, entry{msg: m, kind: kind, tokens: c.count(m)})
}

func (c *conversation) count(m oncall.ChatMessage) int {
	n := msgOverhead + c.a.counter.Count(m.Content)
	for _, tc := range m.ToolCalls {
		n += msgOverhead + c.a.counter.Count(tc.Name) + c.a.counter.Count(tc.Arguments)
	}
	return n
}

// clean redacts text from the thread or a trace, drops control
// characters and caps its length, saying what it cut.
func (c *conversation) clean(s string, max int) string {
	s = strings.TrimSpace(strings.ToValidUTF8(s, "\uFFFD"))
	if s == "" {
		return ""
	}
	r := []rune(s)
	// Redact a little more than is kept so that a secret cut at the edge
	// is still recognised whole, then cut.
	if len(r) > max+200 {
		r = r[:max+200]
	}
	red := []rune(stripControl(c.session.String(string(r))))
	total := len([]rune(s))
	if len(red) > max {
		return string(red[:max]) + fmt.Sprintf(" …[%d more chars]", total-max)
	}
	if len(r) < total {
		return string(red) + fmt.Sprintf(" …[%d more chars]", total-len(r))
	}
	return string(red)
}

// stripControl removes control and format characters, keeping line
// breaks and tabs.
func stripControl(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return -1
		case r == '\u200b' || r == '\u200e' || r == '\u200f' || (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069') || r == '\ufeff':
			return -1
		}
		return r
	}, s)
}

// learn remembers the ids text shows, so the answer may cite them.
func (c *conversation) learn(text string) {
	for _, id := range triage.IDsIn(text) {
		c.known[id] = true
	}
}

// compact returns the messages of the next call, within the budget:
// the oldest tool results are elided first (their calls may then be
// made again), then the oldest thread history, then the incident
// context is shortened.
func (c *conversation) compact(reserved int) []oncall.ChatMessage {
	total := reserved
	for _, e := range c.msgs {
		total += e.tokens
	}
	budget := c.a.opts.Budget
	lastRound := c.lastRoundStart()
	for i := range c.msgs {
		if total <= budget {
			break
		}
		e := &c.msgs[i]
		if e.kind != kindToolResult || e.elided || i >= lastRound {
			continue
		}
		e.msg.Content = `{"elided":"this result was dropped to stay within the token budget; call the tool again, with narrower arguments, if you still need it"}`
		e.elided = true
		delete(c.seen, e.callKey)
		n := c.count(e.msg)
		total += n - e.tokens
		e.tokens = n
	}
	for i := 0; i < len(c.msgs) && total > budget; i++ {
		if c.msgs[i].kind == kindHistory {
			total -= c.msgs[i].tokens
			c.msgs = append(c.msgs[:i], c.msgs[i+1:]...)
			i--
		}
	}
	if total > budget {
		for i := range c.msgs {
			e := &c.msgs[i]
			if e.kind != kindContext {
				continue
			}
			keep := max(e.tokens-(total-budget), e.tokens/4)
			runes := []rune(e.msg.Content)
			cut := len(runes) * keep / max(e.tokens, 1)
			if cut < len(runes) {
				e.msg.Content = string(runes[:cut]) + "\n…[the rest of the incident context was cut to fit the token budget]"
				n := c.count(e.msg)
				total += n - e.tokens
				e.tokens = n
			}
		}
	}
	out := make([]oncall.ChatMessage, len(c.msgs))
	for i, e := range c.msgs {
		out[i] = e.msg
	}
	return out
}

// lastRoundStart is the index of the latest tool-calling turn: its
// results are what the model has not yet read, so they are never elided.
func (c *conversation) lastRoundStart() int {
	for i := len(c.msgs) - 1; i >= 0; i-- {
		if c.msgs[i].kind == kindTurn {
			return i
		}
	}
	return len(c.msgs)
}

// finish turns the model's last content into the answer: redacted, and
// every id no tool and no incident context showed replaced by
// triage.UnverifiedIDMarker, so an invented id never reaches Slack; for a
// partial answer, what was tried.
func (c *conversation) finish(final string, failure error, forced bool, steps int) (string, []string) {
	text := stripControl(c.session.String(strings.TrimSpace(final)))
	var unverified []string
	seen := map[string]bool{}
	text, _ = triage.GroundText(text, func(id string) bool {
		if c.known[id] {
			return true
		}
		if !seen[id] {
			seen[id] = true
			unverified = append(unverified, id)
		}
		return false
	})
	var b strings.Builder
	switch {
	case text != "":
		b.WriteString(text)
	case failure != nil:
		b.WriteString("I could not finish answering: the model call failed. Ask again in a few minutes.")
	case forced:
		fmt.Fprintf(&b, "I could not reach an answer within %d steps.", steps)
	default:
		b.WriteString("The model gave no answer.")
	}
	if len(unverified) > 0 {
		fmt.Fprintf(&b, "\n\n_%d trace or span %s that nothing I read showed %s removed from this answer._", len(unverified), plural(len(unverified), "id", "ids"), plural(len(unverified), "was", "were"))
	}
	if forced || failure != nil || text == "" {
		b.WriteString("\n\n")
		if forced {
			fmt.Fprintf(&b, "_This is a partial answer: the %d-step budget ran out._\n", steps)
		} else if failure != nil && text != "" {
			b.WriteString("_This is a partial answer: the model call failed._\n")
		}
		if len(c.tried) == 0 {
			b.WriteString("_No tool was called._")
		} else {
			b.WriteString("*What I tried:*")
			for _, t := range c.tried {
				fmt.Fprintf(&b, "\n• %s %s → %s", t.Name, clip(t.Args, 200), t.Outcome)
			}
		}
	}
	return b.String(), unverified
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
