package otlp

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/tracesource/semconv"
)

// Encode writes traces as one OTLP/JSON ExportTraceServiceRequest with one
// resourceSpans entry per trace and service. See WriteJSONL for what is
// written.
func Encode(traces []oncall.Trace) ([]byte, error) {
	var req exportRequest
	for i := range traces {
		req.ResourceSpans = append(req.ResourceSpans, encodeTrace(&traces[i])...)
	}
	if req.ResourceSpans == nil {
		req.ResourceSpans = []resourceSpans{}
	}
	b, err := json.Marshal(&req)
	if err != nil {
		return nil, fmt.Errorf("encode otlp json: %w", err)
	}
	return b, nil
}

// WriteJSONL writes each trace as one line holding an OTLP/JSON
// ExportTraceServiceRequest. Ids are written as they are (OTel ids are
// lowercase hex); attributes are sorted by key, token counts and costs are
// typed numbers, timestamps decimal nanosecond strings.
//
// The canonical span fields are written as attributes (kind as
// openinference.span.kind, model as llm.model_name and
// gen_ai.request.model, tokens as llm.token_count.* and gen_ai.usage.*,
// cost as llm.cost.total, tool as tool.name/gen_ai.tool.call.arguments,
// input/output as input.value/output.value, a warning as
// langfuse.observation.level) and override a span attribute of the same
// key; the trace's attributes are added to its root span. Decode therefore
// reproduces the canonical fields, with span attributes a superset of the
// originals.
func WriteJSONL(w io.Writer, traces []oncall.Trace) error {
	bw := bufio.NewWriter(w)
	for i := range traces {
		req := exportRequest{ResourceSpans: encodeTrace(&traces[i])}
		b, err := json.Marshal(&req)
		if err != nil {
			return fmt.Errorf("encode trace %s: %w", traces[i].TraceID, err)
		}
		b = append(b, '\n')
		if _, err := bw.Write(b); err != nil {
			return fmt.Errorf("write trace %s: %w", traces[i].TraceID, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write traces: %w", err)
	}
	return nil
}

// encodeTrace builds one resourceSpans per service of the trace, in order of
// the services' first spans. The resource carries service.name and the
// resource attributes (semconv.IsResource) every span of that service
// shares with the same value.
func encodeTrace(t *oncall.Trace) []resourceSpans {
	var rootID string
	if r := t.Root(); r != nil {
		rootID = r.SpanID
	}
	var services []string
	groups := make(map[string][]int)
	for i := range t.Spans {
		svc := t.Spans[i].Service
		if svc == "" {
			svc = t.Service
		}
		if _, ok := groups[svc]; !ok {
			services = append(services, svc)
		}
		groups[svc] = append(groups[svc], i)
	}
	out := make([]resourceSpans, 0, len(services))
	for _, svc := range services {
		idx := groups[svc]
		attrs := make([]map[string]string, len(idx))
		for n, i := range idx {
			s := &t.Spans[i]
			attrs[n] = canonicalAttributes(s)
			if s.SpanID == rootID {
				addTraceAttributes(attrs[n], t, s)
			}
		}
		res := sharedResource(svc, attrs)
		spans := make([]wireSpan, len(idx))
		for n, i := range idx {
			for k, v := range res {
				if attrs[n][k] == v {
					delete(attrs[n], k)
				}
			}
			spans[n] = encodeSpan(&t.Spans[i], attrs[n])
		}
		out = append(out, resourceSpans{
			Resource:   resource{Attributes: keyValues(res)},
			ScopeSpans: []scopeSpans{{Spans: spans}},
		})
	}
	return out
}

// sharedResource picks service.name and the resource attributes all spans
// agree on.
func sharedResource(service string, attrs []map[string]string) map[string]string {
	res := make(map[string]string)
	if service != "" {
		res["service.name"] = service
	}
	if len(attrs) == 0 {
		return res
	}
	for k, v := range attrs[0] {
		if k == "service.name" || !semconv.IsResource(k) {
			continue
		}
		shared := true
		for _, a := range attrs[1:] {
			if a[k] != v {
				shared = false
				break
			}
		}
		if shared {
			res[k] = v
		}
	}
	return res
}

func addTraceAttributes(attrs map[string]string, t *oncall.Trace, root *oncall.Span) {
	for k, v := range t.Attributes {
		if _, ok := attrs[k]; !ok {
			attrs[k] = v
		}
	}
	if t.Name != "" && t.Name != root.Name {
		attrs[semconv.KeyTraceName] = t.Name
	}
}

// canonicalAttributes is a copy of the span's attributes with its canonical
// fields written under the keys semconv.Apply reads first.
func canonicalAttributes(s *oncall.Span) map[string]string {
	a := make(map[string]string, len(s.Attributes)+16)
	for k, v := range s.Attributes {
		a[k] = v
	}
	if k := semconv.OpenInferenceKind(s.Kind); k != "" {
		a[semconv.KeySpanKind] = k
		if op := semconv.OperationFor(s.Kind); op != "" && semconv.KindFromOperation(a[semconv.KeyOperation]) != s.Kind {
			a[semconv.KeyOperation] = op
		}
	} else {
		// Kinds OpenInference lacks: remove what would classify the span
		// otherwise and name the kind where a convention has a word for it.
		delete(a, semconv.KeySpanKind)
		delete(a, semconv.KeyOperation)
		delete(a, semconv.KeyObservationType)
		switch s.Kind {
		case oncall.KindEvent:
			a[semconv.KeyObservationType] = "event"
		case oncall.KindSpan, "":
			a[semconv.KeyObservationType] = "span"
		}
	}
	set := func(key, v string) {
		if v != "" {
			a[key] = v
		}
	}
	setIfAbsent := func(key, v string) {
		if _, ok := a[key]; !ok && v != "" {
			a[key] = v
		}
	}
	count := func(n int64) string {
		if n == 0 {
			return ""
		}
		return strconv.FormatInt(n, 10)
	}
	set(semconv.KeyModel, s.Model)
	setIfAbsent("gen_ai.request.model", s.Model)
	set(semconv.KeyProvider, s.Provider)
	setIfAbsent("gen_ai.provider.name", s.Provider)
	set(semconv.KeyInputTokens, count(s.InputTokens))
	setIfAbsent("gen_ai.usage.input_tokens", count(s.InputTokens))
	set(semconv.KeyOutputTokens, count(s.OutputTokens))
	setIfAbsent("gen_ai.usage.output_tokens", count(s.OutputTokens))
	set(semconv.KeyTotalTokens, count(s.TotalTokens))
	if s.Cost > 0 {
		a[semconv.KeyCost] = strconv.FormatFloat(s.Cost, 'g', -1, 64)
	}
	set(semconv.KeyToolName, s.ToolName)
	setIfAbsent("gen_ai.tool.name", s.ToolName)
	set(semconv.KeyToolArgs, s.ToolArgs)
	set(semconv.KeyInput, s.Input)
	set(semconv.KeyOutput, s.Output)
	// OTLP has no warning status; Langfuse's level carries it. A level
	// contradicting the status would turn into a status when decoded.
	switch {
	case s.Status == oncall.StatusWarning:
		a[semconv.KeyObservationLevel] = "WARNING"
	case s.Status == oncall.StatusUnset && semconv.LevelStatus(a[semconv.KeyObservationLevel]) != oncall.StatusUnset:
		delete(a, semconv.KeyObservationLevel)
	}
	return a
}

func encodeSpan(s *oncall.Span, attrs map[string]string) wireSpan {
	w := wireSpan{
		TraceID:           s.TraceID,
		SpanID:            s.SpanID,
		ParentSpanID:      s.ParentID,
		Name:              s.Name,
		Kind:              spanKindInternal,
		StartTimeUnixNano: nanosOf(s.Start),
		EndTimeUnixNano:   nanosOf(s.End),
		Attributes:        keyValues(attrs),
	}
	switch s.Kind {
	case oncall.KindLLM, oncall.KindEmbedding, oncall.KindHTTP:
		w.Kind = spanKindClient
	}
	st := status{Message: s.StatusMessage}
	switch s.Status {
	case oncall.StatusOK:
		st.Code = statusOK
	case oncall.StatusError:
		st.Code = statusError
	}
	if st != (status{}) {
		w.Status = &st
	}
	for _, e := range s.Events {
		w.Events = append(w.Events, event{
			TimeUnixNano: nanosOf(e.Time),
			Name:         e.Name,
			Attributes:   keyValues(e.Attributes),
		})
	}
	return w
}

func nanosOf(t time.Time) nanos {
	if t.IsZero() || t.Before(time.Unix(0, 0)) {
		return 0
	}
	return nanos(t.UnixNano())
}

// keyValues turns attributes into sorted OTLP key-values, typing the values
// of keys the conventions define as numbers when the string is the
// number's canonical spelling (so flattening gives the same string back).
func keyValues(attrs map[string]string) []keyValue {
	if len(attrs) == 0 {
		return nil
	}
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]keyValue, len(keys))
	for i, k := range keys {
		out[i] = keyValue{Key: k, Value: typedValue(k, attrs[k])}
	}
	return out
}

func typedValue(key, v string) anyValue {
	switch numericType(key) {
	case 'i':
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && strconv.FormatInt(n, 10) == v {
			iv := intString(n)
			return anyValue{IntValue: &iv}
		}
	case 'f':
		if f, err := strconv.ParseFloat(v, 64); err == nil && strconv.FormatFloat(f, 'g', -1, 64) == v {
			d := double(f)
			return anyValue{DoubleValue: &d}
		}
	}
	return anyValue{StringValue: &v}
}

// numericType says whether the conventions type a key as an integer ('i'),
// a double ('f') or something else (0).
func numericType(key string) byte {
	switch {
	case strings.HasPrefix(key, "llm.token_count."),
		strings.HasPrefix(key, "gen_ai.usage.") && strings.HasSuffix(key, "_tokens"),
		key == "http.response.status_code", key == "http.status_code":
		return 'i'
	case strings.HasPrefix(key, "llm.cost."), key == "gen_ai.usage.cost":
		return 'f'
	}
	return 0
}
