package otlp

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/tracesource/semconv"
)

// DecodeProtobuf reads one OTLP ExportTraceServiceRequest (or TracesData,
// which has the same encoding) in the protobuf binary encoding, the body
// the OTLP/HTTP exporters send by default and the file exporters write,
// and returns its spans in input order, decoded exactly like Decode's.
// It fails on malformed input, on input that holds no resource spans at
// all (almost always another kind of file), and on spans without a trace
// or span id. It is safe for concurrent use.
func DecodeProtobuf(data []byte) ([]oncall.Span, error) {
	var req tracepb.TracesData
	if err := proto.Unmarshal(data, &req); err != nil {
		return nil, fmt.Errorf("decode otlp protobuf: %w", err)
	}
	if len(req.GetResourceSpans()) == 0 && len(data) > 0 {
		return nil, errors.New("decode otlp protobuf: no resource spans")
	}
	var out []oncall.Span
	for _, rs := range req.GetResourceSpans() {
		res := protoAttributes(nil, rs.GetResource().GetAttributes())
		var service string
		for _, a := range res {
			if a.k == "service.name" {
				service = a.v
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, ps := range ss.GetSpans() {
				sp, err := protoSpan(ps)
				if err != nil {
					return nil, fmt.Errorf("decode otlp protobuf: %w", err)
				}
				sp.Service = service
				for _, a := range res {
					if sp.Attributes == nil {
						sp.Attributes = make(map[string]string, len(res))
					}
					if _, ok := sp.Attributes[a.k]; !ok {
						sp.Attributes[a.k] = a.v
					}
				}
				semconv.Apply(&sp, sp.Attributes)
				out = append(out, sp)
			}
		}
	}
	return out, nil
}

// DecodeProtobufDelimited reads a sequence of OTLP requests in the
// protobuf encoding, each preceded by its length as a big-endian uint32:
// what the OpenTelemetry Collector's file exporter writes with
// format: proto. It fails like DecodeProtobuf, and on a length that runs
// past the end of data.
func DecodeProtobufDelimited(data []byte) ([]oncall.Span, error) {
	var out []oncall.Span
	for n := 0; len(data) > 0; n++ {
		if len(data) < 4 {
			return nil, fmt.Errorf("decode otlp protobuf: message %d: truncated length", n)
		}
		size := binary.BigEndian.Uint32(data)
		data = data[4:]
		if uint64(size) > uint64(len(data)) {
			return nil, fmt.Errorf("decode otlp protobuf: message %d: length %d past the end of the data", n, size)
		}
		spans, err := DecodeProtobuf(data[:size])
		if err != nil {
			return nil, fmt.Errorf("message %d: %w", n, err)
		}
		out = append(out, spans...)
		data = data[size:]
	}
	return out, nil
}

func protoSpan(ps *tracepb.Span) (oncall.Span, error) {
	sp := oncall.Span{
		TraceID: hex.EncodeToString(ps.GetTraceId()),
		SpanID:  hex.EncodeToString(ps.GetSpanId()),
		Name:    ps.GetName(),
		Start:   timeOf(ps.GetStartTimeUnixNano()),
		End:     timeOf(ps.GetEndTimeUnixNano()),
	}
	if isZeroID(sp.TraceID) || isZeroID(sp.SpanID) {
		return sp, fmt.Errorf("span %.64q has no traceId or spanId", sp.Name)
	}
	if p := hex.EncodeToString(ps.GetParentSpanId()); !isZeroID(p) {
		sp.ParentID = p
	}
	if attrs := protoAttributes(nil, ps.GetAttributes()); len(attrs) > 0 {
		sp.Attributes = make(map[string]string, len(attrs)+4)
		for _, a := range attrs {
			sp.Attributes[a.k] = a.v
		}
	}
	for _, pe := range ps.GetEvents() {
		e := oncall.SpanEvent{Name: pe.GetName(), Time: timeOf(pe.GetTimeUnixNano())}
		if attrs := protoAttributes(nil, pe.GetAttributes()); len(attrs) > 0 {
			e.Attributes = make(map[string]string, len(attrs))
			for _, a := range attrs {
				e.Attributes[a.k] = a.v
			}
		}
		sp.Events = append(sp.Events, e)
	}
	switch ps.GetStatus().GetCode() {
	case tracepb.Status_STATUS_CODE_OK:
		sp.Status = oncall.StatusOK
	case tracepb.Status_STATUS_CODE_ERROR:
		sp.Status = oncall.StatusError
	}
	sp.StatusMessage = ps.GetStatus().GetMessage()
	return sp, nil
}

// protoAttributes appends key-values flattened to text the way the JSON
// decoder flattens them.
func protoAttributes(dst []kv, attrs []*commonpb.KeyValue) []kv {
	for _, a := range attrs {
		dst = append(dst, kv{k: a.GetKey(), v: protoText(a.GetValue())})
	}
	return dst
}

func protoText(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_BoolValue:
		return strconv.FormatBool(x.BoolValue)
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_DoubleValue:
		return strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
	case *commonpb.AnyValue_BytesValue:
		return base64.StdEncoding.EncodeToString(x.BytesValue)
	case *commonpb.AnyValue_ArrayValue, *commonpb.AnyValue_KvlistValue:
		b, err := json.Marshal(protoNative(v))
		if err != nil {
			return ""
		}
		return string(b)
	}
	return ""
}

// protoNative is the Go value encoding/json writes as the JSON the
// JSON decoder produces for a nested value.
func protoNative(v *commonpb.AnyValue) any {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_BoolValue:
		return x.BoolValue
	case *commonpb.AnyValue_IntValue:
		return x.IntValue
	case *commonpb.AnyValue_DoubleValue:
		return double(x.DoubleValue)
	case *commonpb.AnyValue_BytesValue:
		return base64.StdEncoding.EncodeToString(x.BytesValue)
	case *commonpb.AnyValue_ArrayValue:
		list := []any{}
		for _, e := range x.ArrayValue.GetValues() {
			list = append(list, protoNative(e))
		}
		return list
	case *commonpb.AnyValue_KvlistValue:
		obj := map[string]any{}
		for _, e := range x.KvlistValue.GetValues() {
			obj[e.GetKey()] = protoNative(e.GetValue())
		}
		return obj
	}
	return nil
}
