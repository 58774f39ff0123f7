package metrics

import (
	"context"
	"errors"
	"net/http"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/retry"
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

// Model returns next with every call counted under the model name (the
// configured one, which keeps the label bounded).
func (m *Metrics) Model(name string, next Chatter) Chatter {
	return &meteredModel{next: next, name: name, m: m, now: time.Now}
}

type meteredModel struct {
	next Chatter
	name string
	m    *Metrics
	now  func() time.Time
}

func (w *meteredModel) Chat(ctx context.Context, req oncall.ChatRequest) (oncall.ChatResponse, error) {
	start := w.now()
	resp, err := w.next.Chat(ctx, req)
	w.m.ModelCall(w.name, ModelOutcome(err), resp.Usage, w.now().Sub(start))
	return resp, err
}

// ModelOutcome names a model call's result for the outcome label.
func ModelOutcome(err error) string {
	if err == nil {
		return "ok"
	}
	var h *retry.HTTPError
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.As(err, &h):
		switch {
		case h.StatusCode == http.StatusTooManyRequests:
			return "rate_limited"
		case h.StatusCode >= 500:
			return "server_error"
		case h.StatusCode == http.StatusUnauthorized || h.StatusCode == http.StatusForbidden:
			return "unauthorized"
		}
		return "rejected"
	}
	return "error"
}

// TraceSource returns next with every call counted under the source's
// configured name.
func (m *Metrics) TraceSource(name string, next TraceReader) TraceReader {
	return &meteredSource{next: next, name: name, m: m, now: time.Now}
}

type meteredSource struct {
	next TraceReader
	name string
	m    *Metrics
	now  func() time.Time
}

func (w *meteredSource) Search(ctx context.Context, q oncall.TraceQuery) (oncall.TraceSearchResult, error) {
	start := w.now()
	res, err := w.next.Search(ctx, q)
	w.m.TraceStoreCall(w.name, "search", storeOutcome(err), w.now().Sub(start))
	return res, err
}

func (w *meteredSource) Get(ctx context.Context, traceID string) (oncall.Trace, error) {
	start := w.now()
	t, err := w.next.Get(ctx, traceID)
	w.m.TraceStoreCall(w.name, "get", storeOutcome(err), w.now().Sub(start))
	return t, err
}

func storeOutcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, oncall.ErrNotFound):
		return "not_found"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "error"
}
