package otlp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The structs below mirror the protobuf JSON mapping of
// opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest. They are
// written by hand because protojson would read the hex trace and span ids
// that OTLP/JSON mandates as base64.

type exportRequest struct {
	ResourceSpans []resourceSpans `json:"resourceSpans"`
	// Batches is how Tempo's trace-by-id API names resourceSpans.
	Batches []resourceSpans `json:"batches,omitempty"`
}

type resourceSpans struct {
	Resource   resource     `json:"resource"`
	ScopeSpans []scopeSpans `json:"scopeSpans,omitempty"`
	// InstrumentationLibrarySpans is the pre-1.0 name of ScopeSpans.
	InstrumentationLibrarySpans []scopeSpans `json:"instrumentationLibrarySpans,omitempty"`
}

type resource struct {
	Attributes []keyValue `json:"attributes"`
}

type scopeSpans struct {
	Scope *scope     `json:"scope,omitempty"`
	Spans []wireSpan `json:"spans"`
}

type scope struct {
	Name    string `json:"name,omitempty"`
	Version string `json:"version,omitempty"`
}

type wireSpan struct {
	TraceID           string     `json:"traceId"`
	SpanID            string     `json:"spanId"`
	ParentSpanID      string     `json:"parentSpanId,omitempty"`
	Name              string     `json:"name"`
	Kind              enumCode   `json:"kind,omitempty"`
	StartTimeUnixNano nanos      `json:"startTimeUnixNano"`
	EndTimeUnixNano   nanos      `json:"endTimeUnixNano"`
	Attributes        []keyValue `json:"attributes,omitempty"`
	Events            []event    `json:"events,omitempty"`
	Status            *status    `json:"status,omitempty"`
}

type event struct {
	TimeUnixNano nanos      `json:"timeUnixNano"`
	Name         string     `json:"name"`
	Attributes   []keyValue `json:"attributes,omitempty"`
}

type status struct {
	Message string   `json:"message,omitempty"`
	Code    enumCode `json:"code,omitempty"`
}

type keyValue struct {
	Key   string   `json:"key"`
	Value anyValue `json:"value"`
}

type anyValue struct {
	StringValue *string     `json:"stringValue,omitempty"`
	BoolValue   *bool       `json:"boolValue,omitempty"`
	IntValue    *intString  `json:"intValue,omitempty"`
	DoubleValue *double     `json:"doubleValue,omitempty"`
	ArrayValue  *arrayValue `json:"arrayValue,omitempty"`
	KvlistValue *kvlist     `json:"kvlistValue,omitempty"`
	BytesValue  *string     `json:"bytesValue,omitempty"`
}

type arrayValue struct {
	Values []anyValue `json:"values"`
}

type kvlist struct {
	Values []keyValue `json:"values"`
}

// Status codes and span kinds of the OTLP protocol.
const (
	statusUnset = 0
	statusOK    = 1
	statusError = 2

	spanKindInternal = 1
	spanKindClient   = 3
)

// enumNames maps the protobuf enum names protojson may write instead of
// numbers.
func enumNumber(name string) (int, bool) {
	switch name {
	case "STATUS_CODE_UNSET", "SPAN_KIND_UNSPECIFIED":
		return 0, true
	case "STATUS_CODE_OK", "SPAN_KIND_INTERNAL":
		return 1, true
	case "STATUS_CODE_ERROR", "SPAN_KIND_SERVER":
		return 2, true
	case "SPAN_KIND_CLIENT":
		return 3, true
	case "SPAN_KIND_PRODUCER":
		return 4, true
	case "SPAN_KIND_CONSUMER":
		return 5, true
	}
	return 0, false
}

// enumCode is a protobuf enum written as a number or as its name.
type enumCode int

func (c *enumCode) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if n, ok := enumNumber(s); ok {
			*c = enumCode(n)
			return nil
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("unknown enum value %q", s)
		}
		*c = enumCode(n)
		return nil
	}
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	n, err := strconv.Atoi(string(b))
	if err != nil {
		return fmt.Errorf("enum value %s: %w", b, err)
	}
	*c = enumCode(n)
	return nil
}

// nanos is a fixed64 timestamp, written by protojson as a decimal string
// but accepted as a bare number too.
type nanos uint64

func (n nanos) MarshalJSON() ([]byte, error) {
	return strconv.AppendQuote(nil, strconv.FormatUint(uint64(n), 10)), nil
}

func (n *nanos) UnmarshalJSON(b []byte) error {
	s := unquote(b)
	if s == "" || s == "null" {
		*n = 0
		return nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		// Some exporters write floats such as 1.7e18.
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f < 0 || f >= math.MaxUint64 {
			return fmt.Errorf("timestamp %s: %w", b, err)
		}
		v = uint64(f)
	}
	*n = nanos(v)
	return nil
}

// intString is an int64 attribute value, a decimal string in protojson.
type intString int64

func (n intString) MarshalJSON() ([]byte, error) {
	return strconv.AppendQuote(nil, strconv.FormatInt(int64(n), 10)), nil
}

func (n *intString) UnmarshalJSON(b []byte) error {
	s := unquote(b)
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != math.Trunc(f) || math.Abs(f) > math.MaxInt64 {
			return fmt.Errorf("int value %s: %w", b, err)
		}
		v = int64(f)
	}
	*n = intString(v)
	return nil
}

// double is a float64 attribute value; protojson writes the non-finite
// values as the strings "NaN", "Infinity" and "-Infinity".
type double float64

func (d double) MarshalJSON() ([]byte, error) {
	f := float64(d)
	switch {
	case math.IsNaN(f):
		return []byte(`"NaN"`), nil
	case math.IsInf(f, 1):
		return []byte(`"Infinity"`), nil
	case math.IsInf(f, -1):
		return []byte(`"-Infinity"`), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

func (d *double) UnmarshalJSON(b []byte) error {
	s := unquote(b)
	switch s {
	case "NaN":
		*d = double(math.NaN())
		return nil
	case "Infinity":
		*d = double(math.Inf(1))
		return nil
	case "-Infinity":
		*d = double(math.Inf(-1))
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("double value %s: %w", b, err)
	}
	*d = double(f)
	return nil
}

// unquote strips the quotes of a JSON string without escapes, which is all
// the numeric encodings above use.
func unquote(b []byte) string {
	s := string(b)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return strings.TrimSpace(s[1 : len(s)-1])
	}
	return s
}
