package selftrace_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/retry"
	"github.com/oncall-copilot/oncall-copilot/selftrace"
	"github.com/oncall-copilot/oncall-copilot/tracesource/jsonl"
	"github.com/oncall-copilot/oncall-copilot/tracesource/otlp"
)

// collector is an OTLP/HTTP receiver: it accepts JSON export requests on
// /v1/traces and answers with ExportTraceServiceResponse, after failing
// the first requests with the statuses in fail.
type collector struct {
	mu      sync.Mutex
	fail    []int
	bodies  [][]byte
	headers []http.Header
	paths   []string
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	c.paths = append(c.paths, r.Method+" "+r.URL.Path)
	c.headers = append(c.headers, r.Header.Clone())
	var status int
	if len(c.fail) > 0 {
		status, c.fail = c.fail[0], c.fail[1:]
	}
	if status == 0 {
		c.bodies = append(c.bodies, body)
	}
	c.mu.Unlock()
	if r.URL.Path != "/otlp/v1/traces" || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "unsupported", http.StatusUnsupportedMediaType)
		return
	}
	if status != 0 {
		w.Header().Set("Retry-After", "0")
		http.Error(w, `{"code":14,"message":"unavailable"}`, status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"partialSuccess":{}}`)
}

func exampleTrace(t *testing.T, tr *selftrace.Tracer) string {
	t.Helper()
	ctx, root := tr.Start(t.Context(), "triage", oncall.KindAgent)
	_, llmSpan := tr.Start(ctx, "chat gpt-4o-mini", oncall.KindLLM)
	llmSpan.SetModel("gpt-4o-mini", "openai", oncall.Usage{PromptTokens: 2000, CompletionTokens: 250, Cost: 0.00045})
	llmSpan.OK()
	llmSpan.End()
	_, tool := tr.Start(ctx, "search_traces", oncall.KindTool)
	tool.SetTool("search_traces", `{"source":"jsonl"}`)
	tool.Fail(&retry.HTTPError{Service: "tempo", Endpoint: "GET /api/search", StatusCode: 503})
	tool.End()
	root.OK()
	root.End()
	return root.TraceID()
}

func TestOTLPExportPostsJSONToTheCollector(t *testing.T) {
	col := &collector{fail: []int{http.StatusServiceUnavailable}}
	srv := httptest.NewServer(col)
	defer srv.Close()
	sink, err := selftrace.NewOTLPSink(selftrace.OTLPOptions{
		Endpoint: srv.URL + "/otlp/",
		Headers:  map[string]string{"Authorization": "Bearer otlp-token"},
		Retry:    retry.Policy{Attempts: 2, Initial: time.Millisecond, Max: time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	tr := newTracer(t, sink, selftrace.Options{Attributes: map[string]string{"service.version": "9.9"}})
	id := exampleTrace(t, tr)
	if err := tr.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := tr.Stats(); st.Exported != 3 || st.Failed != 0 {
		t.Fatalf("stats %+v after a 503 and a retry", st)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.paths) != 2 || col.paths[1] != "POST /otlp/v1/traces" || col.headers[1].Get("Authorization") != "Bearer otlp-token" {
		t.Fatalf("collector saw %v with headers %v", col.paths, col.headers)
	}
	body := col.bodies[0]
	var req struct {
		ResourceSpans []struct {
			Resource struct {
				Attributes []struct{ Key string } `json:"attributes"`
			} `json:"resource"`
			ScopeSpans []struct {
				Spans []struct {
					TraceID string `json:"traceId"`
					SpanID  string `json:"spanId"`
					Kind    int    `json:"kind"`
				} `json:"spans"`
			} `json:"scopeSpans"`
		} `json:"resourceSpans"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		t.Fatalf("body is not OTLP/JSON: %v\n%s", err, body)
	}
	if len(req.ResourceSpans) != 1 || len(req.ResourceSpans[0].ScopeSpans[0].Spans) != 3 {
		t.Fatalf("body shape: %s", body)
	}
	for _, s := range req.ResourceSpans[0].ScopeSpans[0].Spans {
		if s.TraceID != id || len(s.SpanID) != 16 || strings.Trim(s.TraceID+s.SpanID, "0123456789abcdef") != "" {
			t.Errorf("ids are not lowercase hex: trace %q span %q", s.TraceID, s.SpanID)
		}
	}
	// What a collector stores, the copilot reads back.
	spans, err := otlp.Decode(body)
	if err != nil {
		t.Fatal(err)
	}
	checkExampleSpans(t, spans)
}

func checkExampleSpans(t *testing.T, spans []oncall.Span) {
	t.Helper()
	var llmSpan, tool *oncall.Span
	for i := range spans {
		switch spans[i].Kind {
		case oncall.KindLLM:
			llmSpan = &spans[i]
		case oncall.KindTool:
			tool = &spans[i]
		}
	}
	if llmSpan == nil || tool == nil {
		t.Fatalf("decoded spans lack the LLM or the tool span: %+v", spans)
	}
	if llmSpan.Model != "gpt-4o-mini" || llmSpan.InputTokens != 2000 || llmSpan.OutputTokens != 250 || llmSpan.Cost != 0.00045 ||
		llmSpan.Attributes["gen_ai.usage.input_tokens"] != "2000" || llmSpan.Attributes["openinference.span.kind"] != "LLM" || llmSpan.Service != selftrace.DefaultService {
		t.Errorf("decoded LLM span = %+v", *llmSpan)
	}
	if tool.ToolName != "search_traces" || tool.Status != oncall.StatusError || !strings.Contains(tool.StatusMessage, "HTTP 503") {
		t.Errorf("decoded tool span = %+v", *tool)
	}
}

func TestOTLPSinkErrorsHideCredentials(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "nope", http.StatusUnauthorized)
	}))
	defer srv.Close()
	u := strings.Replace(srv.URL, "http://", "http://user:hunter2@", 1) + "/v1/traces?api_key=hunter2"
	sink, err := selftrace.NewOTLPSink(selftrace.OTLPOptions{TracesEndpoint: u, Headers: map[string]string{"x-api-key": "hunter2"}})
	if err != nil {
		t.Fatal(err)
	}
	err = sink.Export(t.Context(), []oncall.Trace{{TraceID: "0af7651916cd43dd8448eb211c80319c"}})
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "401") {
		t.Errorf("error = %v", err)
	}
	if _, err := selftrace.NewOTLPSink(selftrace.OTLPOptions{Endpoint: "ftp://user:hunter2@x"}); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("bad endpoint error = %v", err)
	}
}

func TestFileSinkOutputLoadsThroughTheJSONLSource(t *testing.T) {
	path := filepath.Join(t.TempDir(), "self", "traces.jsonl")
	sink, err := selftrace.NewFileSink(path)
	if err != nil {
		t.Fatal(err)
	}
	tr := newTracer(t, sink, selftrace.Options{})
	id := exampleTrace(t, tr)
	exampleTrace(t, tr)
	if err := tr.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	src, err := jsonl.New(jsonl.Options{Path: filepath.Dir(path)})
	if err != nil {
		t.Fatal(err)
	}
	res, err := src.Search(t.Context(), oncall.TraceQuery{Filters: map[string]string{"service.name": selftrace.DefaultService}})
	if err != nil || res.Matched != 2 || src.Skipped() != 0 {
		t.Fatalf("search matched %d (skipped %d): %v", res.Matched, src.Skipped(), err)
	}
	got, err := src.Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "triage" || len(got.Spans) != 3 {
		t.Errorf("trace read back: name %q, %d spans", got.Name, len(got.Spans))
	}
	checkExampleSpans(t, got.Spans)
}

func TestParseHeaders(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    map[string]string
		wantErr bool
	}{
		{"", map[string]string{}, false},
		{"api-key=abc,tenant=a%20b", map[string]string{"api-key": "abc", "tenant": "a b"}, false},
		{" Authorization = Basic%20dXNlcg== ", map[string]string{"Authorization": "Basic dXNlcg=="}, false},
		{"novalue", nil, true},
		{"k=%zz-secret", nil, true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := selftrace.ParseHeaders(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("error quotes the value: %v", err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}
