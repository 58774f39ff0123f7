package jsonl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/tracesource/langfuse"
	"github.com/oncall-copilot/oncall-copilot/tracesource/otlp"
	"github.com/oncall-copilot/oncall-copilot/tracesource/semconv"
)

// lineDecoder turns one JSON document (a line, or a whole file) into
// spans. It is not safe for concurrent use; each search has its own.
type lineDecoder struct {
	otlp otlp.Decoder
}

var (
	errUnknownShape  = errors.New("neither an OTLP request, a Langfuse export nor a span")
	errLogsOrMetrics = errors.New("OTLP logs or metrics, not traces")
)

// decodeRecord decodes one record: an OTLP request in the protobuf
// encoding (alone, or length-delimited as the collector's file exporter
// writes them), or a JSON document (see decode).
func (d *lineDecoder) decodeRecord(r record) ([]oncall.Span, error) {
	if !r.protobuf {
		return d.decode(r.data)
	}
	spans, err := otlp.DecodeProtobuf(r.data)
	if err != nil {
		if more, derr := otlp.DecodeProtobufDelimited(r.data); derr == nil {
			return more, nil
		}
		return nil, err
	}
	return spans, nil
}

// decode recognises the document's shape: an OTLP/JSON request (or
// Tempo's {"trace": ...} answer), a Langfuse export ({"trace":...,
// "observations":[...]}), a flat span object (Phoenix's span export, the
// OTel console exporter), or a JSON array of any of those.
func (d *lineDecoder) decode(doc []byte) ([]oncall.Span, error) {
	doc = bytes.TrimSpace(doc)
	if len(doc) == 0 {
		return nil, nil
	}
	if doc[0] == '[' {
		var items []json.RawMessage
		if err := json.Unmarshal(doc, &items); err != nil {
			return nil, err
		}
		var out []oncall.Span
		for i, it := range items {
			spans, err := d.decode(it)
			if err != nil {
				return out, fmt.Errorf("element %d: %w", i, err)
			}
			out = append(out, spans...)
		}
		return out, nil
	}
	if doc[0] != '{' {
		return nil, errUnknownShape
	}
	switch {
	case hasKey(doc, "resourceSpans"), hasKey(doc, "resource_spans"), hasKey(doc, "batches"):
		return d.otlp.Decode(doc)
	case hasKey(doc, "resourceLogs"), hasKey(doc, "resourceMetrics"), hasKey(doc, "resource_logs"), hasKey(doc, "resource_metrics"):
		return nil, errLogsOrMetrics
	case hasKey(doc, "observations"), hasKey(doc, "trace") && !hasKey(doc, "context"):
		t, err := langfuse.DecodeExport(doc)
		if err != nil {
			return nil, err
		}
		return t.Spans, nil
	}
	return decodeFlatSpan(doc)
}

// hasKey is a cheap test for a key anywhere in the document; the decoders
// that follow check the shape for real.
func hasKey(doc []byte, key string) bool {
	i := bytes.Index(doc, []byte(`"`+key+`"`))
	if i < 0 {
		return false
	}
	rest := bytes.TrimLeft(doc[i+len(key)+2:], " \t\r\n")
	return len(rest) > 0 && rest[0] == ':'
}

// decodeFlatSpan reads one span written as a flat object, as Phoenix's span
// export and the OpenTelemetry SDKs' console exporters write them:
//
//	{"name", "context": {"trace_id", "span_id"}, "parent_id", "span_kind",
//	 "start_time", "end_time", "status_code", "status_message",
//	 "attributes": {...}, "events": [{"name", "timestamp", "attributes"}],
//	 "resource": {"attributes": {...}}}
//
// Dotted top-level keys ("context.trace_id", "attributes.llm.model_name")
// as in a flattened data-frame export are read too.
func decodeFlatSpan(doc []byte) ([]oncall.Span, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(doc, &top); err != nil {
		return nil, err
	}
	var ctx map[string]json.RawMessage
	if raw, ok := top["context"]; ok {
		_ = json.Unmarshal(raw, &ctx)
	}
	field := func(names ...string) json.RawMessage {
		for _, n := range names {
			if v, ok := top[n]; ok && !isNull(v) {
				return v
			}
			if c, ok := ctx[strings.TrimPrefix(n, "context.")]; ok && strings.HasPrefix(n, "context.") && !isNull(c) {
				return c
			}
		}
		return nil
	}
	s := oncall.Span{
		TraceID:  spanID(text(field("context.trace_id", "trace_id", "traceId"))),
		SpanID:   spanID(text(field("context.span_id", "span_id", "spanId"))),
		ParentID: spanID(text(field("parent_id", "parentId", "parent_span_id", "parentSpanId"))),
		Name:     text(field("name")),
	}
	if s.TraceID == "" || s.SpanID == "" {
		return nil, errUnknownShape
	}
	var err error
	if s.Start, err = parseTime(field("start_time", "startTime")); err != nil {
		return nil, fmt.Errorf("start_time: %w", err)
	}
	if s.End, err = parseTime(field("end_time", "endTime")); err != nil {
		return nil, fmt.Errorf("end_time: %w", err)
	}

	attrs := make(map[string]string)
	if raw := field("attributes"); raw != nil {
		flattenInto(attrs, "", raw)
	}
	for k, v := range top {
		if strings.HasPrefix(k, "attributes.") && !isNull(v) {
			flattenInto(attrs, strings.TrimPrefix(k, "attributes."), v)
		}
	}
	if k := text(field("span_kind", "spanKind")); k != "" && attrs[semconv.KeySpanKind] == "" && semconv.KindFromOpenInference(k) != "" {
		attrs[semconv.KeySpanKind] = k
	}
	if raw := field("resource"); raw != nil {
		var res struct {
			Attributes json.RawMessage `json:"attributes"`
		}
		if json.Unmarshal(raw, &res) == nil && res.Attributes != nil {
			ra := make(map[string]string)
			flattenInto(ra, "", res.Attributes)
			for k, v := range ra {
				if _, ok := attrs[k]; !ok {
					attrs[k] = v
				}
			}
		}
	}
	s.Service = attrs["service.name"]

	code, msg := text(field("status_code", "statusCode")), text(field("status_message", "statusMessage"))
	if raw := field("status"); raw != nil {
		var st struct {
			StatusCode  string `json:"status_code"`
			Description string `json:"description"`
		}
		if json.Unmarshal(raw, &st) == nil {
			code, msg = firstOf(code, st.StatusCode), firstOf(msg, st.Description)
		}
	}
	switch c := strings.ToUpper(code); {
	case strings.Contains(c, "ERROR"):
		s.Status = oncall.StatusError
	case strings.HasSuffix(c, "OK"):
		s.Status = oncall.StatusOK
	}
	s.StatusMessage = msg

	if raw := field("events"); raw != nil {
		var evs []struct {
			Name       string          `json:"name"`
			Timestamp  json.RawMessage `json:"timestamp"`
			Attributes json.RawMessage `json:"attributes"`
		}
		if err := json.Unmarshal(raw, &evs); err != nil {
			return nil, fmt.Errorf("events: %w", err)
		}
		for _, e := range evs {
			ev := oncall.SpanEvent{Name: e.Name}
			ev.Time, _ = parseTime(e.Timestamp)
			if e.Attributes != nil && !isNull(e.Attributes) {
				ev.Attributes = make(map[string]string)
				flattenInto(ev.Attributes, "", e.Attributes)
			}
			s.Events = append(s.Events, ev)
		}
	}
	if len(attrs) > 0 {
		s.Attributes = attrs
	}
	semconv.Apply(&s, attrs)
	return []oncall.Span{s}, nil
}

// spanID normalises an id, also stripping the 0x the Python SDK's console
// exporter writes.
func spanID(id string) string {
	id = strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(id), "0x"), "0X")
	id = otlp.NormalizeID(id)
	if strings.Trim(id, "0") == "" {
		return ""
	}
	return id
}

// flattenInto adds a JSON value to dst: objects become dotted keys (the
// nested form of OpenInference's flat attribute names), arrays of objects
// indexed keys (llm.input_messages.0.message.role), everything else text
// under prefix.
func flattenInto(dst map[string]string, prefix string, raw json.RawMessage) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || isNull(raw) {
		return
	}
	join := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	switch raw[0] {
	case '{':
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) == nil {
			for k, v := range obj {
				flattenInto(dst, join(k), v)
			}
			return
		}
	case '[':
		var arr []json.RawMessage
		if json.Unmarshal(raw, &arr) == nil && len(arr) > 0 && bytes.HasPrefix(bytes.TrimSpace(arr[0]), []byte("{")) && prefix != "" {
			for i, v := range arr {
				flattenInto(dst, join(strconv.Itoa(i)), v)
			}
			return
		}
	}
	if prefix != "" {
		dst[prefix] = text(raw)
	}
}

// text renders a JSON value: strings as their contents, null as "",
// anything else as compact JSON.
func text(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || isNull(raw) {
		return ""
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return string(raw)
	}
	return buf.String()
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// parseTime reads an ISO 8601 time (with or without zone, "T" or space) or
// a Unix time in seconds, milliseconds, microseconds or nanoseconds, told
// apart by magnitude. A missing time is the zero time.
func parseTime(raw json.RawMessage) (time.Time, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || isNull(raw) {
		return time.Time{}, nil
	}
	if raw[0] != '"' {
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil {
			return time.Time{}, err
		}
		return unixTime(f), nil
	}
	s := text(raw)
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return unixTime(f), nil
	}
	return time.Time{}, fmt.Errorf("unrecognised time %.40q", s)
}

func unixTime(f float64) time.Time {
	switch {
	case f <= 0 || f > 1e19:
		return time.Time{}
	case f >= 1e17:
		return time.Unix(0, int64(f)).UTC()
	case f >= 1e14:
		return time.UnixMicro(int64(f)).UTC()
	case f >= 1e11:
		return time.UnixMilli(int64(f)).UTC()
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC()
}
