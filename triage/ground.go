package triage

import (
	"regexp"
	"strings"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// UnverifiedIDMarker replaces, in text a model wrote, a trace or span id
// that the evidence did not show.
const UnverifiedIDMarker = "[id not in the evidence, removed]"

// idLike matches what reads as a trace or span id: 32 or 16 hex digits
// (W3C trace and span ids), or a uuid (Langfuse, Phoenix), optionally
// behind 0x.
var idLike = regexp.MustCompile(`(?i)\b(?:0x)?(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}|[0-9a-f]{16})\b`)

// IDsIn returns the id-like tokens of text, lower-cased and without 0x.
func IDsIn(text string) []string {
	var out []string
	for _, id := range idLike.FindAllString(text, -1) {
		out = append(out, normalID(id))
	}
	return out
}

func normalID(id string) string {
	id = strings.ToLower(id)
	return strings.TrimPrefix(id, "0x")
}

// GroundText replaces every id-like token of text that known does not
// accept (known receives it lower-cased, without 0x) by
// UnverifiedIDMarker, and returns how many it replaced. Tokens of 16 hex
// digits made only of decimal digits are left alone: they are numbers
// (an order number, an epoch in nanoseconds) far more often than ids.
// It is safe for concurrent use.
func GroundText(text string, known func(id string) bool) (string, int) {
	n := 0
	out := idLike.ReplaceAllStringFunc(text, func(tok string) string {
		id := normalID(tok)
		if known(id) || (len(id) == 16 && isDecimal(id)) {
			return tok
		}
		n++
		return UnverifiedIDMarker
	})
	return out, n
}

func isDecimal(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// groundProse checks every id the model wrote in prose (summary, causes,
// evidence notes, fixes, next steps) against the ids the evidence showed:
// its trace and span ids and any id its text carries. Unknown ids are
// replaced by UnverifiedIDMarker and counted in d.Dropped, so they never
// reach Slack.
func groundProse(d *oncall.Diagnosis, ev Evidence) {
	known := map[string]bool{}
	for id := range ev.TraceIDs {
		known[normalID(id)] = true
	}
	for id := range ev.SpanIDs {
		known[normalID(id)] = true
	}
	for _, id := range IDsIn(ev.Text) {
		known[id] = true
	}
	ok := func(id string) bool { return known[id] }
	fix := func(s *string) {
		var n int
		*s, n = GroundText(*s, ok)
		d.Dropped += n
	}
	fix(&d.Summary)
	for i := range d.Causes {
		c := &d.Causes[i]
		fix(&c.Title)
		fix(&c.Detail)
		for j := range c.Evidence {
			fix(&c.Evidence[j].Note)
		}
	}
	for i := range d.Fixes {
		fix(&d.Fixes[i].Change)
		fix(&d.Fixes[i].Where)
	}
	for i := range d.NextSteps {
		fix(&d.NextSteps[i])
	}
}
