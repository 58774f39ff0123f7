// Package jaeger reads agent traces from Jaeger's query service through its
// API v3 over HTTP (GET /api/v3/traces and /api/v3/traces/{trace_id}),
// which answers in OTLP/JSON wrapped as {"result": {...}}.
//
// Jaeger's search needs a service name: the query's service.name filter, or
// Options.Service when the query has none. Other filters are sent as
// query.attributes (Jaeger matches them on span tags and resource
// attributes) and checked again on the decoded traces.
package jaeger

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/retry"
	"github.com/oncall-copilot/oncall-copilot/tracesource/httpjson"
	"github.com/oncall-copilot/oncall-copilot/tracesource/otlp"
)

// Name is how the source names itself in errors and on traces.
const Name = "jaeger"

// Defaults.
const (
	DefaultLimit    = 100
	DefaultTimeout  = httpjson.DefaultTimeout
	DefaultMaxBytes = httpjson.DefaultMaxBytes
)

// Options configure a Client.
type Options struct {
	// QueryURL is the query service's base URL, e.g. http://jaeger:16686.
	QueryURL string
	// Service is searched when a query has no service.name filter.
	Service    string
	HTTPClient *http.Client  // default: a client without its own timeout
	Retry      retry.Policy  // zero: retry.DefaultPolicy()
	Timeout    time.Duration // per request; default DefaultTimeout
	// MaxResponseBytes caps one response body; default DefaultMaxBytes.
	MaxResponseBytes int64
}

// Client reads traces from Jaeger. It is safe for concurrent use.
type Client struct {
	http *httpjson.Client
	opts Options
}

// New checks opts and returns a Client.
func New(opts Options) (*Client, error) {
	base, err := baseURL(opts.QueryURL)
	if err != nil {
		return nil, fmt.Errorf("jaeger: query URL: %w", err)
	}
	hc := httpjson.New(httpjson.Client{
		Service: Name, Base: base, HTTPClient: opts.HTTPClient, Retry: opts.Retry,
		Timeout: opts.Timeout, MaxResponseBytes: opts.MaxResponseBytes,
	})
	return &Client{http: hc, opts: opts}, nil
}

func baseURL(raw string) (*url.URL, error) {
	u, err := httpjson.ParseBaseURL(raw)
	if err != nil {
		return nil, err
	}
	u.User = nil
	return u, nil
}

// Search returns the traces of one service that started in the query's
// window and match its filters, newest first: those with an error span
// (up to q.KeepLimit, searched on their own first) and up to q.Limit of
// all. Jaeger reports no total, so Matched counts the matching traces it
// returned.
func (c *Client) Search(ctx context.Context, q oncall.TraceQuery) (oncall.TraceSearchResult, error) {
	service := q.Filters["service.name"]
	if service == "" {
		service = c.opts.Service
	}
	if service == "" {
		return oncall.TraceSearchResult{}, errors.New("jaeger search: needs a service.name filter or a default service")
	}
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	v := url.Values{}
	v.Set("query.service_name", service)
	v.Set("query.start_time_min", q.Start.UTC().Format(time.RFC3339Nano))
	v.Set("query.start_time_max", q.End.UTC().Format(time.RFC3339Nano))
	v.Set("query.search_depth", strconv.Itoa(limit))
	if attrs := attributeFilters(q.Filters); len(attrs) > 0 {
		b, _ := json.Marshal(attrs) // a map of strings always marshals
		v.Set("query.attributes", string(b))
	}
	keep := q.KeepLimit
	if keep <= 0 {
		keep = limit
	}
	// Jaeger's search depth keeps whichever traces it finds first: ask
	// for the failing ones (error=true, as Jaeger tags spans whose status
	// is an error) on their own, so a busy window cannot crowd them out.
	attrs := attributeFilters(q.Filters)
	attrs["error"] = "true"
	ev := maps.Clone(v)
	ev.Set("query.search_depth", strconv.Itoa(keep))
	b, _ := json.Marshal(attrs) // a map of strings always marshals
	ev.Set("query.attributes", string(b))
	failing, err := c.fetch(ctx, "/api/v3/traces", ev)
	if err != nil && !errors.Is(err, errNoTraces) {
		return oncall.TraceSearchResult{}, fmt.Errorf("search failing traces: %w", err)
	}
	traces, err := c.fetch(ctx, "/api/v3/traces", v)
	if err != nil && !errors.Is(err, errNoTraces) {
		return oncall.TraceSearchResult{}, fmt.Errorf("search traces: %w", err)
	}
	var out []oncall.Trace
	seen := map[string]bool{}
	for i, list := range [][]oncall.Trace{failing, traces} {
		n, capN := 0, []int{keep, limit}[i]
		for _, t := range list {
			if n < capN && !seen[t.TraceID] && t.MatchesFilters(q.Filters) {
				seen[t.TraceID] = true
				out = append(out, t)
				n++
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.After(out[j].Start) })
	res := oncall.TraceSearchResult{Matched: len(out), Traces: out}
	if len(failing) >= keep || len(traces) >= limit {
		res.Sampling = fmt.Sprintf("Jaeger returned its search depth (%d failing, %d in all) and reports no total: the window may hold more", keep, limit)
	}
	return res, nil
}

// Get returns one trace; the error wraps oncall.ErrNotFound when Jaeger
// does not know it.
func (c *Client) Get(ctx context.Context, traceID string) (oncall.Trace, error) {
	id := otlp.NormalizeID(strings.TrimSpace(traceID))
	if id == "" {
		return oncall.Trace{}, fmt.Errorf("get trace: %w: empty trace id", oncall.ErrNotFound)
	}
	traces, err := c.fetch(ctx, "/api/v3/traces/"+url.PathEscape(id), nil)
	if err != nil && !errors.Is(err, errNoTraces) {
		return oncall.Trace{}, fmt.Errorf("get trace %s: %w", id, err)
	}
	for _, t := range traces {
		if t.TraceID == id {
			return t, nil
		}
	}
	return oncall.Trace{}, fmt.Errorf("get trace %s from jaeger: %w", id, oncall.ErrNotFound)
}

// attributeFilters are the filters Jaeger matches as tags: all but the
// service, which has its own parameter.
func attributeFilters(filters map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range filters {
		if k != "service.name" && k != "" {
			out[k] = v
		}
	}
	return out
}

// decodeTraces reads a v3 response: one {"result": ...} object, or a
// stream of them (Jaeger streams large results as consecutive objects).
func decodeTraces(body []byte) ([]oncall.Trace, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	var spans []oncall.Span
	var d otlp.Decoder
	for n := 0; ; n++ {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) && n > 0 {
			break
		}
		if err != nil {
			return nil, err
		}
		if isGatewayError(raw) {
			return nil, errors.New("error object in a successful response")
		}
		s, err := d.Decode(raw)
		if err != nil {
			return nil, err
		}
		spans = append(spans, s...)
	}
	traces := otlp.GroupTraces(spans)
	for i := range traces {
		traces[i].Source = Name
	}
	return traces, nil
}

// isGatewayError reports whether raw is the grpc-gateway error shape
// {"error": {"httpCode": ..., "message": ...}}.
func isGatewayError(raw []byte) bool {
	var e struct {
		Error *struct {
			HTTPCode int    `json:"httpCode"`
			Message  string `json:"message"`
		} `json:"error"`
	}
	return json.Unmarshal(raw, &e) == nil && e.Error != nil
}
