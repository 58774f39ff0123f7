package phoenix

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/tracesource/otlp"
	"github.com/oncall-copilot/oncall-copilot/tracesource/semconv"
)

// wireSpan is a span as GET /v1/projects/{project}/spans returns it.
// Attributes are OpenInference attributes, flattened to dotted keys by
// current Phoenix versions and nested objects by older ones; Phoenix moves
// openinference.span.kind into span_kind.
type wireSpan struct {
	ID      string `json:"id"` // Phoenix's own id, not the OTel one
	Name    string `json:"name"`
	Context struct {
		TraceID string `json:"trace_id"`
		SpanID  string `json:"span_id"`
	} `json:"context"`
	SpanKind      string          `json:"span_kind"`
	ParentID      *string         `json:"parent_id"`
	StartTime     string          `json:"start_time"`
	EndTime       *string         `json:"end_time"`
	StatusCode    string          `json:"status_code"`
	StatusMessage *string         `json:"status_message"`
	Attributes    map[string]any  `json:"attributes"`
	Events        []wireSpanEvent `json:"events"`
}

type wireSpanEvent struct {
	Name       string         `json:"name"`
	Timestamp  string         `json:"timestamp"`
	Attributes map[string]any `json:"attributes"`
}

// span maps the wire span onto an oncall.Span.
func (w *wireSpan) span() (oncall.Span, error) {
	s := oncall.Span{
		TraceID: otlp.NormalizeID(w.Context.TraceID),
		SpanID:  otlp.NormalizeID(w.Context.SpanID),
		Name:    w.Name,
	}
	if s.TraceID == "" || s.SpanID == "" {
		return s, errors.New("no context.trace_id or context.span_id")
	}
	if w.ParentID != nil {
		s.ParentID = otlp.NormalizeID(*w.ParentID)
	}
	var err error
	if s.Start, err = parseTime(w.StartTime); err != nil {
		return s, fmt.Errorf("start_time: %w", err)
	}
	if w.EndTime != nil && *w.EndTime != "" {
		if s.End, err = parseTime(*w.EndTime); err != nil {
			return s, fmt.Errorf("end_time: %w", err)
		}
	}
	switch strings.ToUpper(w.StatusCode) {
	case "OK":
		s.Status = oncall.StatusOK
	case "ERROR":
		s.Status = oncall.StatusError
	}
	if w.StatusMessage != nil {
		s.StatusMessage = *w.StatusMessage
	}
	attrs := make(map[string]string, len(w.Attributes)+1)
	flatten("", w.Attributes, attrs)
	if k := strings.ToUpper(w.SpanKind); k != "" && k != "UNKNOWN" {
		if _, ok := attrs[semconv.KeySpanKind]; !ok {
			attrs[semconv.KeySpanKind] = k
		}
	}
	if len(attrs) > 0 {
		s.Attributes = attrs
	}
	s.Service = attrs["service.name"]
	for _, e := range w.Events {
		ev := oncall.SpanEvent{Name: e.Name}
		if e.Timestamp != "" {
			if ev.Time, err = parseTime(e.Timestamp); err != nil {
				return s, fmt.Errorf("event %q timestamp: %w", e.Name, err)
			}
		}
		if len(e.Attributes) > 0 {
			ev.Attributes = make(map[string]string, len(e.Attributes))
			flatten("", e.Attributes, ev.Attributes)
		}
		s.Events = append(s.Events, ev)
	}
	semconv.Apply(&s, attrs)
	return s, nil
}

// parseTime reads an ISO 8601 time; one without a zone is UTC.
func parseTime(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse("2006-01-02T15:04:05.999999999", v)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid time %q", v)
	}
	return t, nil
}

// flatten writes v's leaves into out under dotted keys, the way
// OpenInference spells flat attributes: nested objects and lists of
// objects are walked (list items under their index), lists of plain values
// become compact JSON, numbers keep their text, nulls are dropped.
func flatten(prefix string, v any, out map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			flatten(join(prefix, k), x[k], out)
		}
	case []any:
		if prefix == "" {
			return
		}
		if hasObjects(x) {
			for i, item := range x {
				flatten(join(prefix, strconv.Itoa(i)), item, out)
			}
			return
		}
		if b, err := json.Marshal(x); err == nil {
			out[prefix] = string(b)
		}
	case string:
		if prefix != "" {
			out[prefix] = x
		}
	case json.Number:
		out[prefix] = x.String()
	case bool:
		out[prefix] = strconv.FormatBool(x)
	case float64:
		out[prefix] = strconv.FormatFloat(x, 'g', -1, 64)
	}
}

func hasObjects(list []any) bool {
	for _, item := range list {
		if _, ok := item.(map[string]any); ok {
			return true
		}
	}
	return false
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}
