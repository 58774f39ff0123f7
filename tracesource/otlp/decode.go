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
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/tracesource/semconv"
)

// Decode reads one OTLP/JSON ExportTraceServiceRequest (or TracesData,
// Tempo's {"batches": [...]} or {"trace": {...}}, or Jaeger's
// {"result": {...}}) and returns its
// spans in input order. Field names are accepted in lowerCamelCase and in
// the protobuf snake_case; enums as numbers or names; 64-bit numbers as
// strings or numbers. It fails on malformed JSON and on spans without a
// trace or span id.
func Decode(data []byte) ([]oncall.Span, error) {
	var d Decoder
	return d.Decode(data)
}

// Decoder decodes OTLP/JSON like Decode, reusing its buffers and sharing
// the strings of repeated attribute keys and names across calls. A Decoder
// is not safe for concurrent use; the zero value is ready.
type Decoder struct {
	s       scanner
	strs    map[string]string
	scratch []kv
	res     []kv
}

type kv struct{ k, v string }

// maxInterned bounds the strings a Decoder keeps for sharing.
const maxInterned = 8192

// Decode is the package-level Decode using d's buffers.
func (d *Decoder) Decode(data []byte) ([]oncall.Span, error) {
	d.s.reset(data)
	if d.s.peek() == 0 {
		return nil, fmt.Errorf("decode otlp json: %w", errEmpty)
	}
	// Counting the span ids up front saves growing the result, which
	// otherwise costs a tenth of the decoding time.
	n := bytes.Count(data, []byte(`"spanId"`)) + bytes.Count(data, []byte(`"span_id"`))
	out := make([]oncall.Span, 0, n)
	out = d.request(out)
	d.s.end()
	if d.s.err != nil {
		return nil, fmt.Errorf("decode otlp json: %w", d.s.err)
	}
	return out, nil
}

func (d *Decoder) request(out []oncall.Span) []oncall.Span {
	s := &d.s
	if !s.beginObject() {
		return out
	}
	for first := true; ; first = false {
		k, ok := s.key(first)
		if !ok {
			return out
		}
		switch string(k) {
		case "resourceSpans", "resource_spans", "batches":
			if !s.beginArray() {
				continue
			}
			for first := true; s.elem(first); first = false {
				out = d.resourceSpans(out)
			}
		case "result", "trace":
			// Jaeger's v3 API answers {"result": ...}, Tempo's v2 trace
			// endpoint {"trace": ...}.
			out = d.request(out)
		default:
			s.skip()
		}
	}
}

// resourceSpans decodes one resource's spans, then gives each the resource
// attributes it does not set itself and maps the conventions.
func (d *Decoder) resourceSpans(out []oncall.Span) []oncall.Span {
	s := &d.s
	from := len(out)
	d.res = d.res[:0]
	if !s.beginObject() {
		return out
	}
	for first := true; ; first = false {
		k, ok := s.key(first)
		if !ok {
			break
		}
		switch string(k) {
		case "resource":
			if !s.beginObject() {
				continue
			}
			for first := true; ; first = false {
				k, ok := s.key(first)
				if !ok {
					break
				}
				if string(k) == "attributes" {
					d.res = d.attributes(d.res[:0])
				} else {
					s.skip()
				}
			}
		case "scopeSpans", "scope_spans", "instrumentationLibrarySpans", "instrumentation_library_spans":
			if !s.beginArray() {
				continue
			}
			for first := true; s.elem(first); first = false {
				out = d.scopeSpans(out)
			}
		default:
			s.skip()
		}
	}
	if s.err != nil {
		return out
	}
	var service string
	for _, a := range d.res {
		if a.k == "service.name" {
			service = a.v
		}
	}
	for i := from; i < len(out); i++ {
		sp := &out[i]
		sp.Service = service
		if sp.TraceID == "" || sp.SpanID == "" {
			s.fail("span %.64q has no traceId or spanId", sp.Name)
			return out
		}
		for _, a := range d.res {
			if sp.Attributes == nil {
				sp.Attributes = make(map[string]string, len(d.res))
			}
			if _, ok := sp.Attributes[a.k]; !ok {
				sp.Attributes[a.k] = a.v
			}
		}
		semconv.Apply(sp, sp.Attributes)
	}
	return out
}

func (d *Decoder) scopeSpans(out []oncall.Span) []oncall.Span {
	s := &d.s
	if !s.beginObject() {
		return out
	}
	for first := true; ; first = false {
		k, ok := s.key(first)
		if !ok {
			return out
		}
		if string(k) != "spans" {
			s.skip()
			continue
		}
		if !s.beginArray() {
			continue
		}
		for first := true; s.elem(first); first = false {
			out = append(out, oncall.Span{})
			d.span(&out[len(out)-1])
		}
	}
}

func (d *Decoder) span(sp *oncall.Span) {
	s := &d.s
	if !s.beginObject() {
		return
	}
	for first := true; ; first = false {
		k, ok := s.key(first)
		if !ok {
			break
		}
		switch string(k) {
		case "traceId", "trace_id":
			sp.TraceID = d.id(sp.TraceID)
		case "spanId", "span_id":
			sp.SpanID = d.id("")
		case "parentSpanId", "parent_span_id":
			if sp.ParentID = d.id(""); isZeroID(sp.ParentID) {
				sp.ParentID = ""
			}
		case "name":
			sp.Name = d.intern(s.rawString(), 128)
		case "startTimeUnixNano", "start_time_unix_nano":
			sp.Start = d.time()
		case "endTimeUnixNano", "end_time_unix_nano":
			sp.End = d.time()
		case "attributes":
			d.scratch = d.attributes(d.scratch[:0])
			if len(d.scratch) > 0 {
				sp.Attributes = make(map[string]string, len(d.scratch)+len(d.res)+4)
				for _, a := range d.scratch {
					sp.Attributes[a.k] = a.v
				}
			}
		case "events":
			d.events(sp)
		case "status":
			d.status(sp)
		case "kind":
			d.enum()
		default:
			s.skip()
		}
	}
}

// id reads a trace or span id, reusing prev when it is the same id.
func (d *Decoder) id(prev string) string {
	if d.s.null() {
		return ""
	}
	b := d.s.rawString()
	if prev != "" && string(b) == prev {
		return prev
	}
	return NormalizeID(string(b))
}

func (d *Decoder) time() time.Time {
	b := d.s.scalarText()
	if len(b) == 0 {
		return time.Time{}
	}
	n, ok := parseUint(b)
	if !ok {
		d.s.fail("invalid timestamp %.32q", b)
		return time.Time{}
	}
	return timeOf(n)
}

func (d *Decoder) enum() int {
	s := &d.s
	switch s.peek() {
	case '"':
		b := s.rawString()
		if n, ok := enumNumber(string(b)); ok {
			return n
		}
		if n, err := strconv.Atoi(string(b)); err == nil {
			return n
		}
		s.fail("unknown enum value %.32q", b)
		return 0
	case 'n':
		s.literal("null")
		return 0
	}
	n, err := strconv.Atoi(string(s.number()))
	if err != nil {
		s.fail("invalid enum value")
	}
	return n
}

func (d *Decoder) status(sp *oncall.Span) {
	s := &d.s
	if !s.beginObject() {
		return
	}
	for first := true; ; first = false {
		k, ok := s.key(first)
		if !ok {
			return
		}
		switch string(k) {
		case "code":
			switch d.enum() {
			case statusOK:
				sp.Status = oncall.StatusOK
			case statusError:
				sp.Status = oncall.StatusError
			default:
				sp.Status = oncall.StatusUnset
			}
		case "message":
			sp.StatusMessage = s.str()
		default:
			s.skip()
		}
	}
}

func (d *Decoder) events(sp *oncall.Span) {
	s := &d.s
	if !s.beginArray() {
		return
	}
	for first := true; s.elem(first); first = false {
		var e oncall.SpanEvent
		if s.beginObject() {
			for first := true; ; first = false {
				k, ok := s.key(first)
				if !ok {
					break
				}
				switch string(k) {
				case "name":
					e.Name = d.intern(s.rawString(), 128)
				case "timeUnixNano", "time_unix_nano":
					e.Time = d.time()
				case "attributes":
					d.scratch = d.attributes(d.scratch[:0])
					if len(d.scratch) > 0 {
						e.Attributes = make(map[string]string, len(d.scratch))
						for _, a := range d.scratch {
							e.Attributes[a.k] = a.v
						}
					}
				default:
					s.skip()
				}
			}
		}
		sp.Events = append(sp.Events, e)
	}
}

// attributes appends the key-values of an OTLP attribute list to dst,
// values flattened to strings.
func (d *Decoder) attributes(dst []kv) []kv {
	s := &d.s
	if !s.beginArray() {
		return dst
	}
	for first := true; s.elem(first); first = false {
		if !s.beginObject() {
			continue
		}
		var a kv
		for first := true; ; first = false {
			k, ok := s.key(first)
			if !ok {
				break
			}
			switch string(k) {
			case "key":
				a.k = d.intern(s.rawString(), 256)
			case "value":
				a.v = d.value()
			default:
				s.skip()
			}
		}
		dst = append(dst, a)
	}
	return dst
}

func timeOf(n uint64) time.Time {
	if n == 0 || n > math.MaxInt64 {
		return time.Time{}
	}
	return time.Unix(0, int64(n)).UTC()
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
