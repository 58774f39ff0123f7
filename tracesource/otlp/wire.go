package otlp

import (
	"math"
	"strconv"
)

// The structs below mirror the protobuf JSON mapping of
// opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest for
// encoding. They are written by hand because protojson would write ids as
// base64 where OTLP/JSON mandates hex. Decoding uses the scanner in scan.go.

type exportRequest struct {
	ResourceSpans []resourceSpans `json:"resourceSpans"`
}

type resourceSpans struct {
	Resource   resource     `json:"resource"`
	ScopeSpans []scopeSpans `json:"scopeSpans"`
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

// enumNumber maps the protobuf enum names protojson may write instead of
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

// enumCode is a protobuf enum, written as its number.
type enumCode int

// nanos is a fixed64 timestamp, written as a decimal string as protojson
// does.
type nanos uint64

func (n nanos) MarshalJSON() ([]byte, error) {
	return strconv.AppendQuote(nil, strconv.FormatUint(uint64(n), 10)), nil
}

// intString is an int64 attribute value, written as a decimal string as
// protojson does.
type intString int64

func (n intString) MarshalJSON() ([]byte, error) {
	return strconv.AppendQuote(nil, strconv.FormatInt(int64(n), 10)), nil
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
