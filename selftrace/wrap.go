package selftrace

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// Chatter is a chat model, as triage and the assistant use one.
type Chatter interface {
	Chat(ctx context.Context, req oncall.ChatRequest) (oncall.ChatResponse, error)
}

// TraceReader is a trace store, as triage and the assistant use one.
type TraceReader interface {
	Search(ctx context.Context, q oncall.TraceQuery) (oncall.TraceSearchResult, error)
	Get(ctx context.Context, traceID string) (oncall.Trace, error)
}

// Model returns next with every call recorded as an LLM span named
// "chat MODEL" (the GenAI convention) carrying the model, provider, token
// usage and cost, the number of messages and tools offered, and the names
// of the tools the model asked for. Neither prompts nor answers are
// recorded. On a nil Tracer it returns next.
func (t *Tracer) Model(next Chatter, model, provider string) Chatter {
	if t == nil {
		return next
	}
	return &tracedModel{t: t, next: next, model: model, provider: provider}
}

type tracedModel struct {
	t               *Tracer
	next            Chatter
	model, provider string
}

func (m *tracedModel) Chat(ctx context.Context, req oncall.ChatRequest) (oncall.ChatResponse, error) {
	ctx, sp := m.t.Start(ctx, "chat "+m.model, oncall.KindLLM)
	defer sp.End()
	sp.Set("gen_ai.request.model", m.model, "gen_ai.system", m.provider,
		"llm.input_messages.count", strconv.Itoa(len(req.Messages)), "llm.tools.count", strconv.Itoa(len(req.Tools)))
	if req.MaxTokens > 0 {
		sp.SetInt("gen_ai.request.max_tokens", req.MaxTokens)
	}
	if req.SchemaName != "" {
		sp.Set("gen_ai.output.type", "json", "llm.response_schema", req.SchemaName)
	}
	resp, err := m.next.Chat(ctx, req)
	model := resp.Model
	if model == "" {
		model = m.model
	}
	sp.SetModel(model, m.provider, resp.Usage)
	if err != nil {
		sp.Fail(err)
		return resp, err
	}
	sp.Set("gen_ai.response.model", model)
	if len(resp.ToolCalls) > 0 {
		names := make([]string, len(resp.ToolCalls))
		for i, c := range resp.ToolCalls {
			names[i] = c.Name
		}
		sp.Set("gen_ai.response.tool_calls", strings.Join(names, ","), "gen_ai.response.finish_reasons", "tool_calls")
	}
	sp.OK()
	return resp, nil
}

// TraceSource returns next with every call recorded as a tool span
// (search_traces, get_trace) under the source's name, with the query's
// window, limit and filter names (never their values) as arguments and
// what came back. On a nil Tracer it returns next.
func (t *Tracer) TraceSource(name string, next TraceReader) TraceReader {
	if t == nil {
		return next
	}
	return &tracedSource{t: t, next: next, name: name}
}

type tracedSource struct {
	t    *Tracer
	next TraceReader
	name string
}

func (s *tracedSource) Search(ctx context.Context, q oncall.TraceQuery) (oncall.TraceSearchResult, error) {
	ctx, sp := s.t.Start(ctx, "search_traces", oncall.KindTool)
	defer sp.End()
	keys := make([]string, 0, len(q.Filters))
	for k := range q.Filters {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	args, _ := json.Marshal(struct {
		Source  string   `json:"source"`
		Start   string   `json:"start,omitempty"`
		End     string   `json:"end,omitempty"`
		Limit   int      `json:"limit,omitempty"`
		Filters []string `json:"filters,omitempty"`
	}{s.name, stamp(q.Start), stamp(q.End), q.Limit, keys})
	sp.SetTool("search_traces", string(args))
	sp.Set("trace_store.source", s.name)
	res, err := s.next.Search(ctx, q)
	if err != nil {
		sp.Fail(err)
		return res, err
	}
	sp.Set("trace_store.traces", strconv.Itoa(len(res.Traces)), "trace_store.matched", strconv.Itoa(res.Matched))
	sp.OK()
	return res, nil
}

func (s *tracedSource) Get(ctx context.Context, traceID string) (oncall.Trace, error) {
	ctx, sp := s.t.Start(ctx, "get_trace", oncall.KindTool)
	defer sp.End()
	args, _ := json.Marshal(map[string]string{"source": s.name, "trace_id": clip(traceID, 64)})
	sp.SetTool("get_trace", string(args))
	sp.Set("trace_store.source", s.name)
	tr, err := s.next.Get(ctx, traceID)
	switch {
	case errors.Is(err, oncall.ErrNotFound):
		// An id nobody stored is an answer, not a failure of the store.
		sp.Set("trace_store.found", "false")
		sp.OK()
	case err != nil:
		sp.Fail(err)
	default:
		sp.Set("trace_store.found", "true", "trace_store.spans", strconv.Itoa(len(tr.Spans)))
		sp.OK()
	}
	return tr, err
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
