package otlp

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// The same request in the protobuf encoding decodes to exactly the spans
// the JSON decoder makes of it.
func TestDecodeProtobufMatchesJSON(t *testing.T) {
	data, err := os.ReadFile("testdata/request.json")
	if err != nil {
		t.Fatal(err)
	}
	want, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	pb := toProtobuf(t, data)
	got, err := DecodeProtobuf(pb)
	if err != nil {
		t.Fatalf("DecodeProtobuf: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		for i := range min(len(got), len(want)) {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Errorf("span %d:\n got %+v\nwant %+v", i, got[i], want[i])
			}
		}
		t.Fatalf("got %d spans, want %d", len(got), len(want))
	}
}

// toProtobuf encodes an OTLP/JSON request as protobuf. protojson reads
// ids as base64, OTLP/JSON writes them as hex, so hex ids are converted
// first.
func toProtobuf(t *testing.T, data []byte) []byte {
	t.Helper()
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				switch k {
				case "instrumentationLibrarySpans":
					// The pre-1.0 name; the protobuf types know only scopeSpans.
					delete(x, k)
					x["scopeSpans"] = e
					walk(e)
				case "traceId", "spanId", "parentSpanId":
					// Ids already in base64 (as protojson writes them) stay.
					if s, ok := e.(string); ok && isHex(s) {
						b, err := hex.DecodeString(s)
						if err != nil {
							t.Fatalf("%s %q: %v", k, s, err)
						}
						x[k] = base64.StdEncoding.EncodeToString(b)
					}
				default:
					walk(e)
				}
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(doc)
	js, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var req tracepb.TracesData
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(js, &req); err != nil {
		t.Fatalf("protojson: %v", err)
	}
	pb, err := proto.Marshal(&req)
	if err != nil {
		t.Fatal(err)
	}
	return pb
}

// The collector's file exporter (format: proto) writes each request after
// its length as a big-endian uint32.
func TestDecodeProtobufDelimited(t *testing.T) {
	data := mustRead(t, "testdata/request.json")
	want, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	pb := toProtobuf(t, data)
	var stream []byte
	for range 2 {
		stream = binary.BigEndian.AppendUint32(stream, uint32(len(pb)))
		stream = append(stream, pb...)
	}
	if _, err := DecodeProtobuf(stream); err == nil {
		t.Error("DecodeProtobuf read a length-delimited stream as one request")
	}
	got, err := DecodeProtobufDelimited(stream)
	if err != nil {
		t.Fatalf("DecodeProtobufDelimited: %v", err)
	}
	if len(got) != 2*len(want) {
		t.Fatalf("got %d spans, want %d", len(got), 2*len(want))
	}
	if _, err := DecodeProtobufDelimited(stream[:len(stream)-3]); err == nil {
		t.Error("a truncated stream decoded without error")
	}
}

func TestDecodeProtobufRefusesOtherData(t *testing.T) {
	for name, data := range map[string][]byte{
		"json":      []byte(`{"resourceSpans":[]}`),
		"text":      []byte("hello, this is not protobuf\n"),
		"truncated": toProtobuf(t, mustRead(t, "testdata/request.json"))[:40],
	} {
		t.Run(name, func(t *testing.T) {
			if spans, err := DecodeProtobuf(data); err == nil {
				t.Errorf("decoded %d spans from %s, want an error", len(spans), name)
			}
		})
	}
}

// Export requests the OpenTelemetry JS SDK's OTLP/HTTP protobuf exporter
// sent (testdata/realsdk, see its README) decode into LangChain spans
// whose kinds are only in their attributes (every span is INTERNAL).
func TestDecodeProtobufFromTheJSExporter(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/realsdk/protobuf/*.pb")
	if len(files) == 0 {
		t.Fatal("no protobuf exports in ../../testdata/realsdk/protobuf")
	}
	kinds := map[oncall.SpanKind]int{}
	var failedTools int
	for _, f := range files {
		spans, err := DecodeProtobuf(mustRead(t, f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, s := range spans {
			kinds[s.Kind]++
			if s.Service != "support-agent" || s.Attributes["deployment.environment.name"] != "production" {
				t.Errorf("%s: span %s: service %q, environment %q", f, s.Name, s.Service, s.Attributes["deployment.environment.name"])
			}
			if s.Kind == oncall.KindTool && s.Failed() {
				failedTools++
			}
			if s.Kind == oncall.KindLLM && (s.Model == "" || s.InputTokens == 0) {
				t.Errorf("%s: llm span %s without model or tokens: %q %d", f, s.SpanID, s.Model, s.InputTokens)
			}
		}
	}
	if kinds[oncall.KindChain] == 0 || kinds[oncall.KindLLM] == 0 || kinds[oncall.KindTool] == 0 || kinds[oncall.KindSpan] != 0 {
		t.Errorf("span kinds %v, want chain, llm and tool spans and no unclassified ones", kinds)
	}
	if failedTools == 0 {
		t.Error("no failing tool span in the incident's exports")
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
