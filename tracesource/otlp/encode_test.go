package otlp

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"reflect"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

var update = flag.Bool("update", false, "rewrite golden files")

// sampleTraces builds traces using every span kind and status, with the
// canonical fields set consistently with their attributes.
func sampleTraces(n int) []oncall.Trace {
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var out []oncall.Trace
	for i := 0; i < n; i++ {
		traceID := fmt.Sprintf("%032x", 0xabc000+i)
		start := base.Add(time.Duration(i) * time.Minute)
		span := func(j int, parent int, kind oncall.SpanKind, name string) oncall.Span {
			s := oncall.Span{
				TraceID: traceID,
				SpanID:  fmt.Sprintf("%016x", i*100+j+1),
				Name:    name,
				Kind:    kind,
				Service: "checkout-agent",
				Start:   start.Add(time.Duration(j) * 150 * time.Millisecond),
				End:     start.Add(time.Duration(j)*150*time.Millisecond + 120*time.Millisecond + time.Duration(i)*time.Nanosecond),
				Attributes: map[string]string{
					"service.name":                "checkout-agent",
					"deployment.environment.name": "prod",
				},
			}
			if parent >= 0 {
				s.ParentID = fmt.Sprintf("%016x", i*100+parent+1)
			}
			return s
		}
		root := span(0, -1, oncall.KindAgent, "invoke_agent checkout")
		root.Input = `{"question":"refund order 42"}`
		root.Output = "done"
		root.Status = oncall.StatusOK
		root.Attributes["gen_ai.agent.name"] = "checkout"
		root.End = start.Add(2 * time.Second)

		llm := span(1, 0, oncall.KindLLM, "chat")
		llm.Model, llm.Provider = "gpt-4o-mini", "openai"
		llm.InputTokens, llm.OutputTokens, llm.TotalTokens = int64(100+i), 20, int64(120+i)
		llm.Cost = 0.000123 * float64(i+1)
		llm.Input, llm.Output = `[{"role":"user","content":"refund"}]`, `[{"role":"assistant","content":"calling tool"}]`
		llm.Attributes["llm.invocation_parameters"] = `{"temperature":0}`

		tool := span(2, 0, oncall.KindTool, "execute_tool refund")
		tool.ToolName, tool.ToolArgs = "refund", `{"order":42}`
		tool.Output = "refund failed"
		tool.Status, tool.StatusMessage = oncall.StatusError, "PaymentError: card declined"
		tool.Events = []oncall.SpanEvent{{
			Name: "exception", Time: tool.End,
			Attributes: map[string]string{"exception.type": "PaymentError", "exception.message": "card declined"},
		}}

		http := span(3, 2, oncall.KindHTTP, "POST")
		http.Service = "payments"
		http.Attributes = map[string]string{"service.name": "payments", "http.request.method": "POST", "http.response.status_code": "402", "url.full": "http://payments/refund"}
		http.Status = oncall.StatusError

		guard := span(4, 0, oncall.KindGuardrail, "pii check")
		guard.Status, guard.StatusMessage = oncall.StatusWarning, "pii found in output"
		ret := span(5, 0, oncall.KindRetriever, "search docs")
		emb := span(6, 5, oncall.KindEmbedding, "embed")
		emb.Model, emb.InputTokens, emb.TotalTokens = "text-embedding-3-small", 8, 8
		ev := span(7, 0, oncall.KindEvent, "user feedback")
		plain := span(8, 0, oncall.KindSpan, "bookkeeping")
		chain := span(9, 0, oncall.KindChain, "plan")
		rerank := span(10, 5, oncall.KindReranker, "rerank")
		eval := span(11, 0, oncall.KindEvaluator, "judge")

		tr := oncall.Trace{
			TraceID: traceID,
			Spans:   []oncall.Span{root, llm, tool, http, guard, ret, emb, ev, plain, chain, rerank, eval},
			Attributes: map[string]string{
				"service.name":                "checkout-agent",
				"deployment.environment.name": "prod",
				"gen_ai.agent.name":           "checkout",
				"session.id":                  fmt.Sprintf("session-%d", i%3),
			},
		}
		tr.Finish()
		out = append(out, tr)
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	traces := sampleTraces(3)
	var buf bytes.Buffer
	if err := WriteJSONL(&buf, traces); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 1<<20)
	var got []oncall.Trace
	for sc.Scan() {
		spans, err := Decode(sc.Bytes())
		if err != nil {
			t.Fatalf("Decode line %d: %v", len(got)+1, err)
		}
		tr := GroupTraces(spans)
		if len(tr) != 1 {
			t.Fatalf("line %d holds %d traces, want 1", len(got)+1, len(tr))
		}
		got = append(got, tr[0])
	}
	if len(got) != len(traces) {
		t.Fatalf("got %d lines, want %d", len(got), len(traces))
	}
	for i := range traces {
		want, have := traces[i], got[i]
		t.Run(want.TraceID, func(t *testing.T) {
			if have.Name != want.Name || have.Service != want.Service || !have.Start.Equal(want.Start) || !have.End.Equal(want.End) {
				t.Errorf("trace header: got %q %q %v %v, want %q %q %v %v", have.Name, have.Service, have.Start, have.End, want.Name, want.Service, want.Start, want.End)
			}
			for k, v := range want.Attributes {
				if have.Attributes[k] != v {
					t.Errorf("trace attribute %s = %q, want %q", k, have.Attributes[k], v)
				}
			}
			if len(have.Spans) != len(want.Spans) {
				t.Fatalf("got %d spans, want %d", len(have.Spans), len(want.Spans))
			}
			for j := range want.Spans {
				compareSpan(t, &have.Spans[j], &want.Spans[j])
			}
		})
	}
}

// compareSpan checks that every canonical field survived and that the
// decoded attributes contain the original ones.
func compareSpan(t *testing.T, got, want *oncall.Span) {
	t.Helper()
	attrs := got.Attributes
	g, w := *got, *want
	g.Attributes, w.Attributes = nil, nil
	g.Start, w.Start = g.Start.UTC(), w.Start.UTC()
	g.End, w.End = g.End.UTC(), w.End.UTC()
	if !reflect.DeepEqual(g, w) {
		t.Errorf("span %s:\n got %+v\nwant %+v", want.Name, g, w)
	}
	for k, v := range want.Attributes {
		if attrs[k] != v {
			t.Errorf("span %s attribute %s = %q, want %q", want.Name, k, attrs[k], v)
		}
	}
}

func TestEncodeGolden(t *testing.T) {
	b, err := Encode(sampleTraces(1))
	if err != nil {
		t.Fatal(err)
	}
	var pretty bytes.Buffer
	if err := jsonIndent(&pretty, b); err != nil {
		t.Fatal(err)
	}
	const golden = "testdata/encode.golden"
	if *update {
		if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pretty.Bytes(), want) {
		t.Errorf("Encode output differs from %s; rerun with -update and review the diff", golden)
	}
	spans, err := Decode(b)
	if err != nil {
		t.Fatalf("Decode(Encode()): %v", err)
	}
	if len(spans) != 12 {
		t.Errorf("got %d spans back, want 12", len(spans))
	}
}

func TestEncodeEmpty(t *testing.T) {
	b, err := Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"resourceSpans":[]}` {
		t.Errorf("Encode(nil) = %s", b)
	}
	var buf bytes.Buffer
	if err := WriteJSONL(&buf, nil); err != nil || buf.Len() != 0 {
		t.Errorf("WriteJSONL(nil) wrote %q, err %v", buf.String(), err)
	}
}

func jsonIndent(dst *bytes.Buffer, b []byte) error {
	if err := json.Indent(dst, b, "", "  "); err != nil {
		return err
	}
	dst.WriteByte('\n')
	return nil
}
