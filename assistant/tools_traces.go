package assistant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// Limits of the trace tools.
const (
	defaultSearchLimit = 20
	maxSearchLimit     = 50
	maxTraceSpans      = 60
	maxTraceAttrs      = 20
	maxSpanAttrs       = 60
	maxSpanEvents      = 10
	payloadChars       = 3000
	attrChars          = 500
	errorChars         = 300
)

type spanError struct {
	SpanID  string `json:"span_id"`
	Span    string `json:"span"`
	Kind    string `json:"kind,omitempty"`
	Message string `json:"message,omitempty"`
}

type traceSummary struct {
	TraceID    string     `json:"trace_id"`
	Name       string     `json:"name,omitempty"`
	Service    string     `json:"service,omitempty"`
	Start      string     `json:"start"`
	DurationMS int64      `json:"duration_ms"`
	Failed     bool       `json:"failed"`
	Spans      int        `json:"spans"`
	Error      *spanError `json:"error,omitempty"`
}

type searchResult struct {
	Window   windowView     `json:"window"`
	Matched  int            `json:"matched"`
	Returned int            `json:"returned"`
	Traces   []traceSummary `json:"traces"`
	Note     string         `json:"note,omitempty"`
}

func (a *Assistant) searchTracesTool() tool {
	return tool{
		spec: oncall.ToolSpec{
			Name:        "search_traces",
			Description: "Find agent runs (traces) in a time window, newest first: id, name, service, duration, whether it failed and its first error. Default window: the incident's triage window, or the last hour.",
			Parameters: json.RawMessage(`{"type":"object","properties":{` + windowSchema + `,` + a.filtersSchema() + `,` +
				`"failed_only":{"type":"boolean","description":"only runs that failed"},` +
				`"trace_id_prefix":{"type":"string","description":"only traces whose id starts with this"},` +
				`"limit":{"type":"integer","minimum":1,"maximum":50,"description":"traces to return, default 20"}}}`),
		},
		run: func(ctx context.Context, c *conversation, raw json.RawMessage) (any, string, error) {
			var args struct {
				windowArgs
				Filters       map[string]string `json:"filters"`
				FailedOnly    bool              `json:"failed_only"`
				TraceIDPrefix string            `json:"trace_id_prefix"`
				Limit         int               `json:"limit"`
			}
			if err := decodeArgs(raw, &args); err != nil {
				return nil, "", err
			}
			w, err := c.window(args.windowArgs)
			if err != nil {
				return nil, "", err
			}
			f, err := filters(args.Filters)
			if err != nil {
				return nil, "", err
			}
			limit := args.Limit
			if limit <= 0 {
				limit = defaultSearchLimit
			}
			limit = min(limit, maxSearchLimit)
			prefix := strings.ToLower(strings.TrimSpace(args.TraceIDPrefix))
			q := oncall.TraceQuery{Start: w.Start, End: w.End, Filters: f, Limit: limit}
			narrowed := args.FailedOnly || prefix != ""
			if narrowed {
				q.Limit = c.a.opts.MaxTraces // filtered here, so read more
			}
			res, err := c.a.opts.Source.Search(ctx, q)
			if err != nil {
				return nil, "", fmt.Errorf("search traces: %w", err)
			}
			out := searchResult{Window: view(w), Matched: res.Matched, Traces: []traceSummary{}}
			kept := 0
			for i := range res.Traces {
				t := &res.Traces[i]
				if args.FailedOnly && !t.Failed() || prefix != "" && !strings.HasPrefix(strings.ToLower(t.TraceID), prefix) {
					continue
				}
				kept++
				if len(out.Traces) < limit {
					out.Traces = append(out.Traces, c.summary(t))
				}
			}
			if narrowed {
				out.Matched = kept
				if res.Matched > len(res.Traces) {
					out.Note = fmt.Sprintf("only the newest %d of %d traces in the window were searched", len(res.Traces), res.Matched)
				}
			}
			out.Returned = len(out.Traces)
			if out.Matched > out.Returned && out.Note == "" {
				out.Note = fmt.Sprintf("%d more traces matched; narrow the window or add filters to see others", out.Matched-out.Returned)
			}
			return out, fmt.Sprintf("%d of %d traces", out.Returned, out.Matched), nil
		},
	}
}

func (c *conversation) summary(t *oncall.Trace) traceSummary {
	s := traceSummary{
		TraceID:    t.TraceID,
		Name:       c.line(t.Name, 120),
		Service:    c.line(t.Service, 80),
		Start:      stamp(t.Start),
		DurationMS: t.Duration().Milliseconds(),
		Failed:     t.Failed(),
		Spans:      len(t.Spans),
	}
	if sp := originError(t); sp != nil {
		s.Error = &spanError{SpanID: sp.SpanID, Span: c.line(sp.Name, 120), Kind: string(sp.Kind), Message: c.line(spanMessage(sp), errorChars)}
	}
	return s
}

// originError is the earliest failed span none of whose children failed:
// where the failure started rather than where it surfaced.
func originError(t *oncall.Trace) *oncall.Span {
	failedChild := map[string]bool{}
	for i := range t.Spans {
		if t.Spans[i].Failed() && t.Spans[i].ParentID != "" {
			failedChild[t.Spans[i].ParentID] = true
		}
	}
	var best *oncall.Span
	for i := range t.Spans {
		s := &t.Spans[i]
		if !s.Failed() || failedChild[s.SpanID] {
			continue
		}
		if best == nil || s.Start.Before(best.Start) {
			best = s
		}
	}
	return best
}

// spanMessage is a span's error: its status message or its first
// exception's message.
func spanMessage(s *oncall.Span) string {
	if s.StatusMessage != "" {
		return s.StatusMessage
	}
	for _, e := range s.Exceptions() {
		if m := e.Attributes["exception.message"]; m != "" {
			return m
		}
		if m := e.Attributes["exception.type"]; m != "" {
			return m
		}
	}
	return ""
}

type spanLine struct {
	SpanID     string `json:"span_id"`
	ParentID   string `json:"parent_id,omitempty"`
	Depth      int    `json:"depth"`
	Name       string `json:"name"`
	Kind       string `json:"kind,omitempty"`
	Status     string `json:"status,omitempty"`
	DurationMS int64  `json:"duration_ms"`
	Tool       string `json:"tool,omitempty"`
	Model      string `json:"model,omitempty"`
	Tokens     int64  `json:"tokens,omitempty"`
	Error      string `json:"error,omitempty"`
}

type traceView struct {
	traceSummary
	Attributes map[string]string `json:"attributes,omitempty"`
	SpanList   []spanLine        `json:"span_tree"`
	Omitted    int               `json:"omitted_spans,omitempty"`
	Note       string            `json:"note"`
}

func (a *Assistant) getTraceTool() tool {
	return tool{
		spec: oncall.ToolSpec{
			Name:        "get_trace",
			Description: "Read one trace condensed: its span tree with names, kinds, status, durations, tools, models and errors, failed spans first when the tree is large. Inputs and outputs are left out; read them with get_span.",
			Parameters:  json.RawMessage(`{"type":"object","properties":{"trace_id":{"type":"string"}},"required":["trace_id"]}`),
		},
		run: func(ctx context.Context, c *conversation, raw json.RawMessage) (any, string, error) {
			var args struct {
				TraceID string `json:"trace_id"`
			}
			if err := decodeArgs(raw, &args); err != nil {
				return nil, "", err
			}
			t, err := c.getTrace(ctx, args.TraceID)
			if err != nil {
				return nil, "", err
			}
			v := traceView{traceSummary: c.summary(&t), Note: "read a span's input, output and attributes with get_span"}
			v.Attributes = c.attrs(t.Attributes, maxTraceAttrs, 200)
			v.SpanList, v.Omitted = c.condense(&t)
			return v, fmt.Sprintf("%d spans", len(t.Spans)), nil
		},
	}
}

func (c *conversation) getTrace(ctx context.Context, id string) (oncall.Trace, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return oncall.Trace{}, argErrorf("trace_id is required")
	}
	t, err := c.a.opts.Source.Get(ctx, id)
	if errors.Is(err, oncall.ErrNotFound) {
		return oncall.Trace{}, argErrorf("trace %s not found; search_traces lists the traces that exist", clip(id, 80))
	}
	if err != nil {
		return oncall.Trace{}, fmt.Errorf("get trace: %w", err)
	}
	return t, nil
}

// condense lists the trace's spans depth first. A trace larger than
// maxTraceSpans keeps its failed spans with their ancestors, then the
// earliest others.
func (c *conversation) condense(t *oncall.Trace) ([]spanLine, int) {
	n := len(t.Spans)
	index := make(map[string]int, n)
	for i := range t.Spans {
		if _, dup := index[t.Spans[i].SpanID]; !dup {
			index[t.Spans[i].SpanID] = i
		}
	}
	parent := make([]int, n)
	for i := range t.Spans {
		parent[i] = -1
		if p, ok := index[t.Spans[i].ParentID]; ok && p != i {
			parent[i] = p
		}
	}
	keep := make([]bool, n)
	kept := 0
	mark := func(i int) {
		for steps := 0; i >= 0 && !keep[i] && steps <= n; steps++ {
			keep[i] = true
			kept++
			i = parent[i]
		}
	}
	if n <= maxTraceSpans {
		for i := range keep {
			keep[i] = true
		}
		kept = n
	} else {
		for i := range t.Spans {
			if t.Spans[i].Failed() && kept < maxTraceSpans {
				mark(i)
			}
		}
		order := make([]int, n)
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int { return t.Spans[a].Start.Compare(t.Spans[b].Start) })
		for _, i := range order {
			if kept >= maxTraceSpans {
				break
			}
			mark(i)
		}
	}
	children := make([][]int, n)
	var roots []int
	for i := range t.Spans {
		if !keep[i] {
			continue
		}
		if p := parent[i]; p >= 0 && keep[p] {
			children[p] = append(children[p], i)
		} else {
			roots = append(roots, i)
		}
	}
	byStart := func(a, b int) int { return t.Spans[a].Start.Compare(t.Spans[b].Start) }
	slices.SortStableFunc(roots, byStart)
	var out []spanLine
	visited := make([]bool, n)
	var walk func(i, depth int)
	walk = func(i, depth int) {
		if visited[i] {
			return
		}
		visited[i] = true
		s := &t.Spans[i]
		out = append(out, spanLine{
			SpanID: s.SpanID, ParentID: s.ParentID, Depth: depth, Name: c.line(s.Name, 120), Kind: string(s.Kind),
			Status: string(s.Status), DurationMS: s.Duration().Milliseconds(), Tool: c.line(s.ToolName, 80),
			Model: c.line(s.Model, 80), Tokens: s.TotalTokens, Error: c.line(spanMessage(s), 200),
		})
		slices.SortStableFunc(children[i], byStart)
		for _, ch := range children[i] {
			walk(ch, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
	// Spans in a parent cycle have no root; list them at the top level.
	for i := range t.Spans {
		if keep[i] && !visited[i] {
			walk(i, 0)
		}
	}
	return out, n - kept
}

func (c *conversation) attrs(m map[string]string, maxKeys, maxValue int) map[string]string {
	if len(m) == 0 {
		return nil
	}
	keys := slices.Sorted(maps.Keys(m))
	out := make(map[string]string, min(len(keys), maxKeys)+1)
	for _, k := range keys[:min(len(keys), maxKeys)] {
		out[c.line(k, 100)] = c.clean(m[k], maxValue)
	}
	if len(keys) > maxKeys {
		out["(omitted)"] = fmt.Sprintf("%d more attributes", len(keys)-maxKeys)
	}
	return out
}

type eventView struct {
	Name       string            `json:"name"`
	Time       string            `json:"time,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

type spanView struct {
	TraceID       string            `json:"trace_id"`
	SpanID        string            `json:"span_id"`
	ParentID      string            `json:"parent_id,omitempty"`
	Name          string            `json:"name"`
	Kind          string            `json:"kind,omitempty"`
	Service       string            `json:"service,omitempty"`
	Start         string            `json:"start"`
	DurationMS    int64             `json:"duration_ms"`
	Status        string            `json:"status,omitempty"`
	StatusMessage string            `json:"status_message,omitempty"`
	Model         string            `json:"model,omitempty"`
	Provider      string            `json:"provider,omitempty"`
	InputTokens   int64             `json:"input_tokens,omitempty"`
	OutputTokens  int64             `json:"output_tokens,omitempty"`
	Cost          float64           `json:"cost_usd,omitempty"`
	Tool          string            `json:"tool,omitempty"`
	ToolArgs      string            `json:"tool_args,omitempty"`
	Input         string            `json:"input,omitempty"`
	Output        string            `json:"output,omitempty"`
	Attributes    map[string]string `json:"attributes,omitempty"`
	Events        []eventView       `json:"events,omitempty"`
	OmittedEvents int               `json:"omitted_events,omitempty"`
}

// spanFields are the large fields get_span may leave out.
var spanFields = []string{"input", "output", "tool_args", "attributes", "events"}

func (a *Assistant) getSpanTool() tool {
	return tool{
		spec: oncall.ToolSpec{
			Name:        "get_span",
			Description: "Read one span in full: status and error, model and token usage, tool and its arguments, input, output, attributes and events (secrets redacted; long values cut with a marker).",
			Parameters: json.RawMessage(`{"type":"object","properties":{"trace_id":{"type":"string"},"span_id":{"type":"string"},` +
				`"fields":{"type":"array","items":{"type":"string","enum":["input","output","tool_args","attributes","events"]},"description":"large fields to include; default all"}},"required":["trace_id","span_id"]}`),
		},
		run: func(ctx context.Context, c *conversation, raw json.RawMessage) (any, string, error) {
			var args struct {
				TraceID string   `json:"trace_id"`
				SpanID  string   `json:"span_id"`
				Fields  []string `json:"fields"`
			}
			if err := decodeArgs(raw, &args); err != nil {
				return nil, "", err
			}
			want := map[string]bool{}
			for _, f := range args.Fields {
				if !slices.Contains(spanFields, f) {
					return nil, "", argErrorf("unknown field %q; the fields are %s", clip(f, 40), strings.Join(spanFields, ", "))
				}
				want[f] = true
			}
			if len(want) == 0 {
				for _, f := range spanFields {
					want[f] = true
				}
			}
			t, err := c.getTrace(ctx, args.TraceID)
			if err != nil {
				return nil, "", err
			}
			s := t.Span(strings.TrimSpace(args.SpanID))
			if s == nil {
				return nil, "", argErrorf("trace %s has no span %s; get_trace lists its spans", clip(t.TraceID, 80), clip(args.SpanID, 80))
			}
			return c.spanView(s, want), "found", nil
		},
	}
}

func (c *conversation) spanView(s *oncall.Span, want map[string]bool) spanView {
	v := spanView{
		TraceID: s.TraceID, SpanID: s.SpanID, ParentID: s.ParentID, Name: c.line(s.Name, 200), Kind: string(s.Kind),
		Service: c.line(s.Service, 100), Start: stamp(s.Start), DurationMS: s.Duration().Milliseconds(), Status: string(s.Status),
		StatusMessage: c.clean(s.StatusMessage, 1000), Model: c.line(s.Model, 100), Provider: c.line(s.Provider, 100),
		InputTokens: s.InputTokens, OutputTokens: s.OutputTokens, Cost: s.Cost, Tool: c.line(s.ToolName, 100),
	}
	if want["tool_args"] {
		v.ToolArgs = c.clean(s.ToolArgs, payloadChars)
	}
	if want["input"] {
		v.Input = c.clean(s.Input, payloadChars)
	}
	if want["output"] {
		v.Output = c.clean(s.Output, payloadChars)
	}
	if want["attributes"] {
		v.Attributes = c.attrs(s.Attributes, maxSpanAttrs, attrChars)
	}
	if want["events"] {
		for i, e := range s.Events {
			if i == maxSpanEvents {
				v.OmittedEvents = len(s.Events) - maxSpanEvents
				break
			}
			ev := eventView{Name: c.line(e.Name, 100), Attributes: c.attrs(e.Attributes, 10, attrChars)}
			if !e.Time.IsZero() {
				ev.Time = stamp(e.Time)
			}
			v.Events = append(v.Events, ev)
		}
	}
	return v
}
