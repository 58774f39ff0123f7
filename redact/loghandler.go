package redact

import (
	"context"
	"log/slog"
)

// LogHandler returns a handler that passes records to next with every
// string attribute and the text of every error attribute made safe:
// redacted by r (when r is not nil) and shown with Printable, as is the
// message (a constant, so not redacted).
// Log lines carry error messages of trace stores and model providers and
// incident keys from alerts, all untrusted text; values marked Generated
// are only shown with Printable. It is safe for
// concurrent use when next is.
func LogHandler(next slog.Handler, r *Redactor) slog.Handler {
	return &logHandler{next: next, r: r}
}

// Generated is a log attribute value the product made itself, such as a
// job id it generated, a route name from its configuration or a status
// it normalised to one of its own words: never text taken from a request,
// a trace or a model. LogHandler shows it with Printable but does not run
// the redactor over it, which costs microseconds a value on lines logged
// for every alert. Other handlers log it as its string.
type Generated string

// LogValue implements slog.LogValuer.
func (g Generated) LogValue() slog.Value { return slog.StringValue(string(g)) }

type logHandler struct {
	next slog.Handler
	r    *Redactor
}

func (h *logHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *logHandler) Handle(ctx context.Context, rec slog.Record) error {
	// Messages are constants (STYLE.md): only their characters are checked.
	out := slog.NewRecord(rec.Time, rec.Level, Printable(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	safe := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		safe[i] = h.attr(a)
	}
	return &logHandler{next: h.next.WithAttrs(safe), r: h.r}
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	return &logHandler{next: h.next.WithGroup(name), r: h.r}
}

func (h *logHandler) text(s string) string {
	if h.r != nil {
		s = h.r.String(s)
	}
	return Printable(s)
}

func (h *logHandler) attr(a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindLogValuer {
		if g, ok := a.Value.LogValuer().(Generated); ok {
			return slog.String(a.Key, Printable(string(g)))
		}
	}
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.text(v.String()))
	case slog.KindGroup:
		group := v.Group()
		safe := make([]slog.Attr, len(group))
		for i, g := range group {
			safe[i] = h.attr(g)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(safe...)}
	case slog.KindAny:
		if err, ok := v.Any().(error); ok && err != nil {
			return slog.String(a.Key, h.text(err.Error()))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
