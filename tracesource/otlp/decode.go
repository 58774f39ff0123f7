// Package otlp decodes and encodes traces in OTLP/JSON, the JSON form of an
// OpenTelemetry ExportTraceServiceRequest (also what Jaeger's v3 API, Tempo
// and the OTel collector's file exporter write).
//
// Decoding turns every span into an oncall.Span: typed OTLP attribute values
// are flattened to strings, the resource's attributes are copied onto each
// span under their own names unless the span sets the same key itself, and
// semconv.Apply maps the OpenInference and GenAI attributes onto the
// canonical fields. Trace and span ids come out as lowercase hex whether the
// input wrote them as hex (OTLP/JSON) or base64 (protojson, Tempo).
//
// Encoding writes the canonical fields back as OpenInference and GenAI
// attributes, so Decode(Encode(t)) reproduces them. All functions are safe
// for concurrent use.
package otlp

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/tracesource/semconv"
)

// Decode reads one OTLP/JSON ExportTraceServiceRequest (or TracesData, or
// Tempo's {"batches": [...]}) and returns its spans in input order. It
// fails on malformed JSON and on spans without a trace or span id.
func Decode(data []byte) ([]oncall.Span, error) {
	var req exportRequest
	if err := json.Unmarshal(data, &req); err != nil {
		return nil, fmt.Errorf("decode otlp json: %w", err)
	}
	return spansOf(&req)
}

func spansOf(req *exportRequest) ([]oncall.Span, error) {
	n := 0
	for _, batch := range [][]resourceSpans{req.ResourceSpans, req.Batches} {
		for i := range batch {
			for _, ss := range [][]scopeSpans{batch[i].ScopeSpans, batch[i].InstrumentationLibrarySpans} {
				for j := range ss {
					n += len(ss[j].Spans)
				}
			}
		}
	}
	out := make([]oncall.Span, 0, n)
	for _, batch := range [][]resourceSpans{req.ResourceSpans, req.Batches} {
		for i := range batch {
			rs := &batch[i]
			res := flattenAttributes(rs.Resource.Attributes, nil)
			service := res["service.name"]
			for _, ss := range [][]scopeSpans{rs.ScopeSpans, rs.InstrumentationLibrarySpans} {
				for j := range ss {
					for k := range ss[j].Spans {
						s, err := convertSpan(&ss[j].Spans[k], res, service)
						if err != nil {
							return nil, fmt.Errorf("resource %d span %d: %w", i, k, err)
						}
						out = append(out, s)
					}
				}
			}
		}
	}
	return out, nil
}

func convertSpan(w *wireSpan, res map[string]string, service string) (oncall.Span, error) {
	s := oncall.Span{
		TraceID:  NormalizeID(w.TraceID),
		SpanID:   NormalizeID(w.SpanID),
		ParentID: NormalizeID(w.ParentSpanID),
		Name:     w.Name,
		Service:  service,
		Start:    timeOf(w.StartTimeUnixNano),
		End:      timeOf(w.EndTimeUnixNano),
	}
	if s.TraceID == "" || s.SpanID == "" {
		return s, fmt.Errorf("span %q has no traceId or spanId", w.Name)
	}
	if isZeroID(s.ParentID) {
		s.ParentID = ""
	}
	attrs := make(map[string]string, len(w.Attributes)+len(res))
	flattenAttributes(w.Attributes, attrs)
	for k, v := range res {
		if _, ok := attrs[k]; !ok {
			attrs[k] = v
		}
	}
	if w.Status != nil {
		switch w.Status.Code {
		case statusOK:
			s.Status = oncall.StatusOK
		case statusError:
			s.Status = oncall.StatusError
		}
		s.StatusMessage = w.Status.Message
	}
	if len(w.Events) > 0 {
		s.Events = make([]oncall.SpanEvent, len(w.Events))
		for i := range w.Events {
			e := &w.Events[i]
			s.Events[i] = oncall.SpanEvent{Name: e.Name, Time: timeOf(e.TimeUnixNano)}
			if len(e.Attributes) > 0 {
				s.Events[i].Attributes = flattenAttributes(e.Attributes, nil)
			}
		}
	}
	if len(attrs) > 0 {
		s.Attributes = attrs
	}
	semconv.Apply(&s, attrs)
	return s, nil
}

func timeOf(n nanos) time.Time {
	if n == 0 || n > 1<<63-1 {
		return time.Time{}
	}
	return time.Unix(0, int64(n)).UTC()
}

// flattenAttributes adds kvs to dst (allocated when nil) with their values
// rendered as strings.
func flattenAttributes(kvs []keyValue, dst map[string]string) map[string]string {
	if dst == nil {
		dst = make(map[string]string, len(kvs))
	}
	for i := range kvs {
		dst[kvs[i].Key] = flatten(&kvs[i].Value)
	}
	return dst
}

// flatten renders an attribute value as a string: strings as they are,
// numbers and booleans in Go's shortest form, arrays and key-value lists as
// compact JSON, bytes as their base64 text.
func flatten(v *anyValue) string {
	switch {
	case v.StringValue != nil:
		return *v.StringValue
	case v.IntValue != nil:
		return strconv.FormatInt(int64(*v.IntValue), 10)
	case v.DoubleValue != nil:
		return strconv.FormatFloat(float64(*v.DoubleValue), 'g', -1, 64)
	case v.BoolValue != nil:
		return strconv.FormatBool(*v.BoolValue)
	case v.BytesValue != nil:
		return *v.BytesValue
	case v.ArrayValue != nil, v.KvlistValue != nil:
		b, err := json.Marshal(native(v))
		if err != nil {
			return ""
		}
		return string(b)
	}
	return ""
}

// native converts an attribute value to the Go value encoding/json writes
// as the corresponding JSON.
func native(v *anyValue) any {
	switch {
	case v.StringValue != nil:
		return *v.StringValue
	case v.IntValue != nil:
		return int64(*v.IntValue)
	case v.DoubleValue != nil:
		return double(*v.DoubleValue)
	case v.BoolValue != nil:
		return *v.BoolValue
	case v.BytesValue != nil:
		return *v.BytesValue
	case v.ArrayValue != nil:
		out := make([]any, len(v.ArrayValue.Values))
		for i := range v.ArrayValue.Values {
			out[i] = native(&v.ArrayValue.Values[i])
		}
		return out
	case v.KvlistValue != nil:
		out := make(map[string]any, len(v.KvlistValue.Values))
		for i := range v.KvlistValue.Values {
			out[v.KvlistValue.Values[i].Key] = native(&v.KvlistValue.Values[i].Value)
		}
		return out
	}
	return nil
}

// NormalizeID returns a trace or span id as lowercase hex. Hex input is
// lowercased; padded base64 that decodes to 8 or 16 bytes (protojson's and
// Tempo's spelling) is converted; anything else is returned unchanged, so
// ids of sources that do not use OTel ids still match themselves.
func NormalizeID(id string) string {
	if id == "" {
		return ""
	}
	if isHex(id) {
		return lowerHex(id)
	}
	if n := len(id); (n == 12 || n == 24) && id[n-1] == '=' {
		if b, err := base64.StdEncoding.DecodeString(id); err == nil && (len(b) == 8 || len(b) == 16) {
			return hex.EncodeToString(b)
		}
	}
	return id
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func lowerHex(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'F' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'F' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

func isZeroID(id string) bool {
	for i := 0; i < len(id); i++ {
		if id[i] != '0' {
			return false
		}
	}
	return true
}
