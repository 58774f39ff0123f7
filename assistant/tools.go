package assistant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/analysis"
)

// Limits of the tools, whatever the model asks.
const (
	maxCallsPerStep = 4
	maxWindow       = 7 * 24 * time.Hour
	maxFilters      = 10
)

// tool is one function the model may call. run returns the result to
// marshal and a few words on it for the list of what was tried; an
// argError is shown to the model as it is, other errors as a failure of
// the trace source.
type tool struct {
	spec oncall.ToolSpec
	run  func(ctx context.Context, c *conversation, args json.RawMessage) (result any, outcome string, err error)
}

// argError is a mistake in the model's arguments, or a lookup that found
// nothing: the model can correct it.
type argError struct{ msg string }

func (e argError) Error() string { return e.msg }

func argErrorf(format string, args ...any) error { return argError{fmt.Sprintf(format, args...)} }

func (a *Assistant) toolset() []tool {
	return []tool{
		a.searchTracesTool(),
		a.getTraceTool(),
		a.getSpanTool(),
		a.listClustersTool(),
		a.compareWindowsTool(),
	}
}

func (a *Assistant) specs() []oncall.ToolSpec {
	out := make([]oncall.ToolSpec, len(a.tools))
	for i, t := range a.tools {
		out[i] = t.spec
	}
	return out
}

// toolTokens is what the tool definitions cost in every call with tools.
func (a *Assistant) toolTokens(specs []oncall.ToolSpec) int {
	n := 0
	for _, s := range specs {
		n += msgOverhead + a.counter.Count(s.Name) + a.counter.Count(s.Description) + a.counter.Count(string(s.Parameters))
	}
	return n
}

// runTool runs one call and adds its result to the conversation. A
// repeated call is not run again, an oversized result is replaced by a
// request to narrow the query.
func (a *Assistant) runTool(ctx context.Context, c *conversation, call oncall.ToolCall, index int) {
	key := canonical(call.Name, call.Arguments)
	use := ToolUse{Name: call.Name, Args: canonicalArgs(call.Arguments)}
	content := ""
	switch prev, repeated := c.seen[key]; {
	case index >= maxCallsPerStep:
		content = errorResult(fmt.Sprintf("not run: at most %d tool calls per step; call it again in the next step if you still need it", maxCallsPerStep))
		use.Outcome = "not run: too many calls in one step"
		key = ""
	case repeated:
		content = errorResult(fmt.Sprintf("not run: this repeats call %d (%s with the same arguments), whose result you already have; use it, or change the arguments", prev+1, call.Name))
		use.Outcome = "repeated, not run"
		key = ""
	default:
		content, use.Outcome = a.execute(ctx, c, call)
	}
	if key != "" {
		c.seen[key] = len(c.tried)
	}
	c.tried = append(c.tried, use)
	c.add(oncall.ChatMessage{Role: oncall.RoleTool, ToolCallID: call.ID, Content: content}, kindToolResult)
	c.msgs[len(c.msgs)-1].callKey = key
}

func (a *Assistant) execute(ctx context.Context, c *conversation, call oncall.ToolCall) (content, outcome string) {
	var t *tool
	for i := range a.tools {
		if a.tools[i].spec.Name == call.Name {
			t = &a.tools[i]
		}
	}
	if t == nil {
		names := make([]string, len(a.tools))
		for i, t := range a.tools {
			names[i] = t.spec.Name
		}
		return errorResult(fmt.Sprintf("unknown tool %q; the tools are %s", clip(call.Name, 60), strings.Join(names, ", "))), "unknown tool"
	}
	args := json.RawMessage(call.Arguments)
	if strings.TrimSpace(call.Arguments) == "" {
		args = json.RawMessage("{}")
	}
	if !json.Valid(args) {
		return errorResult("the arguments are not valid JSON"), "invalid arguments"
	}
	res, outcome, err := t.run(ctx, c, args)
	if err != nil {
		var ae argError
		if errors.As(err, &ae) {
			return errorResult(c.line(ae.msg, 300)), c.line(ae.msg, 100)
		}
		if ctx.Err() != nil {
			return errorResult("cancelled"), "cancelled"
		}
		a.log.Warn("tool failed", "tool", call.Name, "err", err)
		return errorResult("the trace source failed: " + c.line(err.Error(), 200)), "trace source failed"
	}
	b, err := json.Marshal(res)
	if err != nil {
		return errorResult("the result could not be encoded"), "encoding failed"
	}
	content = c.session.String(string(b))
	if n := a.counter.Count(content); n > a.opts.ResultTokens {
		return fmt.Sprintf(`{"error":"result too large: %d tokens, the limit is %d","hint":"narrow your query: a shorter window, more filters, failed_only, a lower limit, or get_span with fewer fields"}`,
			n, a.opts.ResultTokens), fmt.Sprintf("too large (%d tokens), asked to narrow", n)
	}
	return content, outcome
}

func errorResult(msg string) string {
	b, _ := json.Marshal(map[string]string{"error": msg})
	return string(b)
}

// canonical identifies a call: its name and its arguments with keys
// sorted and whitespace dropped, so that equal calls compare equal.
func canonical(name, args string) string { return name + " " + canonicalArgs(args) }

func canonicalArgs(args string) string {
	if strings.TrimSpace(args) == "" {
		return "{}"
	}
	var v any
	if err := json.Unmarshal([]byte(args), &v); err != nil {
		return strings.TrimSpace(args)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return strings.TrimSpace(args)
	}
	return string(b)
}

func decodeArgs(raw json.RawMessage, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return argErrorf("invalid arguments: %v", err)
	}
	return nil
}

// windowArgs is how a tool takes a time window.
type windowArgs struct {
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
	Last  string `json:"last,omitempty"`
}

func (w windowArgs) empty() bool { return w.Start == "" && w.End == "" && w.Last == "" }

// windowSchema is the JSON schema of windowArgs' properties.
const windowSchema = `"start":{"type":"string","description":"window start, RFC 3339"},` +
	`"end":{"type":"string","description":"window end, RFC 3339; default now"},` +
	`"last":{"type":"string","description":"instead of start: a duration back from end, such as 15m, 2h or 1d"}`

// window resolves w; an empty w is the default window: the incident's
// triage window, or the last Options.Window.
func (c *conversation) window(w windowArgs) (analysis.Window, error) {
	if w.empty() {
		return c.defaultWindow(), nil
	}
	end := c.now
	if w.End != "" {
		t, err := parseTime(w.End)
		if err != nil {
			return analysis.Window{}, argErrorf("end: %v", err)
		}
		end = t
	}
	var start time.Time
	switch {
	case w.Last != "":
		d, err := parseDuration(w.Last)
		if err != nil {
			return analysis.Window{}, argErrorf("last: %v", err)
		}
		start = end.Add(-d)
	case w.Start != "":
		t, err := parseTime(w.Start)
		if err != nil {
			return analysis.Window{}, argErrorf("start: %v", err)
		}
		start = t
	default:
		start = end.Add(-c.a.opts.Window)
	}
	switch {
	case !start.Before(end):
		return analysis.Window{}, argErrorf("the window is empty: start %s is not before end %s", stamp(start), stamp(end))
	case end.Sub(start) > maxWindow:
		return analysis.Window{}, argErrorf("the window is %s long; at most %s", end.Sub(start), maxWindow)
	}
	return analysis.Window{Start: start.UTC(), End: end.UTC()}, nil
}

func (c *conversation) defaultWindow() analysis.Window {
	if inc := c.q.Incident; inc != nil && inc.Report != nil && inc.Report.WindowEnd.After(inc.Report.WindowStart) {
		return analysis.Window{Start: inc.Report.WindowStart.UTC(), End: inc.Report.WindowEnd.UTC()}
	}
	return analysis.Window{Start: c.now.Add(-c.a.opts.Window), End: c.now}
}

func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time", clip(s, 40))
}

// parseDuration reads Go durations and whole days (1d, 7d).
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err == nil && n > 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration such as 30m, 2h or 1d", clip(s, 40))
	}
	return d, nil
}

// filters checks the model's attribute filters.
func filters(f map[string]string) (map[string]string, error) {
	if len(f) > maxFilters {
		return nil, argErrorf("at most %d filters", maxFilters)
	}
	out := make(map[string]string, len(f))
	for k, v := range f {
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if k == "" || v == "" {
			return nil, argErrorf("filter %q: attribute and value must not be empty", clip(k, 60))
		}
		out[k] = v
	}
	return out, nil
}

// filtersSchema describes the filters argument.
func (a *Assistant) filtersSchema() string {
	desc := "trace attributes and the exact values they must have"
	if len(a.opts.Filters) > 0 {
		desc += ", such as " + strings.Join(a.opts.Filters, ", ")
	}
	b, _ := json.Marshal(desc)
	return `"filters":{"type":"object","additionalProperties":{"type":"string"},"description":` + string(b) + `}`
}

type windowView struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

func view(w analysis.Window) windowView { return windowView{Start: stamp(w.Start), End: stamp(w.End)} }
