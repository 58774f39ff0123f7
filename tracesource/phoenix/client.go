// Package phoenix reads agent traces from Arize Phoenix over its REST API:
// GET /v1/projects/{project}/spans, paged with next_cursor, whose spans
// carry OpenInference attributes (flat or nested) that are mapped onto
// oncall.Span through semconv.
//
// Phoenix lists spans, not traces: Search pages through the spans that
// started in the query's window (up to MaxSpans), groups them into traces
// and applies the filters to the grouped traces, since a trace attribute
// usually sits on one span only. Traces whose root started before the
// window are completed with a trace_id lookup. Phoenix keeps no resource
// attributes per span, so a trace without service.name gets the project
// as its service.
package phoenix

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/retry"
	"github.com/oncall-copilot/oncall-copilot/tracesource/httpjson"
	"github.com/oncall-copilot/oncall-copilot/tracesource/otlp"
)

// Name is how the source names itself in errors and on traces.
const Name = "phoenix"

// Defaults.
const (
	DefaultProject  = "default"
	DefaultLimit    = 100
	DefaultPageSize = 1000 // Phoenix's maximum
	DefaultMaxSpans = 50000
	DefaultTimeout  = httpjson.DefaultTimeout
	DefaultMaxBytes = httpjson.DefaultMaxBytes
)

// Options configure a Client.
type Options struct {
	BaseURL string // e.g. http://phoenix:6006 or https://app.phoenix.arize.com/s/space
	APIKey  string // sent as a bearer token; empty for an open Phoenix
	Project string // name or id; default DefaultProject
	// HTTPClient defaults to a client without its own timeout: every
	// request gets Timeout instead.
	HTTPClient *http.Client
	Retry      retry.Policy  // zero: retry.DefaultPolicy()
	Timeout    time.Duration // per request; default DefaultTimeout
	PageSize   int           // spans per page, at most 1000
	// MaxSpans caps the spans one Search or Get reads.
	MaxSpans         int
	MaxResponseBytes int64 // per response; default DefaultMaxBytes
}

// Client reads traces from one Phoenix project. It is safe for concurrent
// use.
type Client struct {
	http *httpjson.Client
	opts Options
	// noTraceFilter is set once Phoenix ignored a trace_id filter (servers
	// before the filter existed return every span).
	noTraceFilter atomic.Bool
}

// New checks opts and returns a Client.
func New(opts Options) (*Client, error) {
	var problems []error
	base, err := baseURL(opts.BaseURL)
	if err != nil {
		problems = append(problems, fmt.Errorf("phoenix: base URL: %w", err))
	}
	if opts.Project == "" {
		opts.Project = DefaultProject
	}
	if strings.ContainsAny(opts.Project, "/?#") {
		problems = append(problems, errors.New("phoenix: a project name cannot contain /, ? or #"))
	}
	if opts.PageSize < 0 || opts.PageSize > 1000 {
		problems = append(problems, errors.New("phoenix: page size must be between 1 and 1000"))
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	if opts.PageSize == 0 {
		opts.PageSize = DefaultPageSize
	}
	if opts.MaxSpans <= 0 {
		opts.MaxSpans = DefaultMaxSpans
	}
	hc := httpjson.New(httpjson.Client{
		Service: Name, Base: base, HTTPClient: opts.HTTPClient, Retry: opts.Retry,
		Timeout: opts.Timeout, MaxResponseBytes: opts.MaxResponseBytes,
		Authorize: func(req *http.Request) {
			if opts.APIKey != "" {
				req.Header.Set("Authorization", "Bearer "+opts.APIKey)
			}
		},
	})
	return &Client{http: hc, opts: opts}, nil
}

func baseURL(raw string) (*url.URL, error) {
	u, err := httpjson.ParseBaseURL(raw)
	if err == nil && u.User != nil {
		return nil, errors.New("put credentials in APIKey, not in the URL")
	}
	return u, err
}

// Search returns the traces with spans that started in the query's window
// and match its filters, newest first: every failing and slow one up to
// q.KeepLimit and a uniform sample of q.Limit healthy ones, with their
// weights (oncall.SampleRuns). Kept traces whose root started before the
// window are completed, so filters see their root. Matched counts the
// matching traces among the spans read (at most MaxSpans).
func (c *Client) Search(ctx context.Context, q oncall.TraceQuery) (oncall.TraceSearchResult, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	v := url.Values{}
	if !q.Start.IsZero() {
		v.Set("start_time", q.Start.UTC().Format(time.RFC3339Nano))
	}
	if !q.End.IsZero() {
		v.Set("end_time", q.End.UTC().Format(time.RFC3339Nano))
	}
	var spans []oncall.Span
	capped := false
	err := c.pages(ctx, v, func(page []oncall.Span) bool {
		spans = append(spans, page...)
		capped = len(spans) >= c.opts.MaxSpans
		return !capped
	})
	if err != nil {
		return oncall.TraceSearchResult{}, fmt.Errorf("search traces: %w", err)
	}
	res, err := c.sample(ctx, c.group(spans), q, limit)
	if err != nil {
		return oncall.TraceSearchResult{}, fmt.Errorf("search traces: %w", err)
	}
	if len(spans) >= c.opts.MaxSpans {
		res.Sampling = joinNote(res.Sampling, fmt.Sprintf("read the window's newest %d spans only (the cap)", len(spans)))
	}
	return res, nil
}

// Get returns one trace, given its id in hex or base64; the error wraps
// oncall.ErrNotFound when the project has no span of it.
func (c *Client) Get(ctx context.Context, traceID string) (oncall.Trace, error) {
	id := otlp.NormalizeID(strings.TrimSpace(traceID))
	if id == "" {
		return oncall.Trace{}, fmt.Errorf("get trace: empty id: %w", oncall.ErrNotFound)
	}
	spans, err := c.traceSpans(ctx, []string{id})
	if err != nil {
		return oncall.Trace{}, fmt.Errorf("get trace %s: %w", id, err)
	}
	if len(spans) == 0 {
		return oncall.Trace{}, fmt.Errorf("get trace %s from phoenix project %s: %w", id, c.opts.Project, oncall.ErrNotFound)
	}
	return c.group(spans)[0], nil
}

// complete refetches the traces whose root is missing (it started before
// the window) by trace id, and replaces them with what came back.
func (c *Client) complete(ctx context.Context, traces []oncall.Trace) error {
	if c.noTraceFilter.Load() {
		return nil // each lookup would scan the project
	}
	index := map[string]int{}
	var ids []string
	for i := range traces {
		if !wellRooted(&traces[i]) {
			index[traces[i].TraceID] = i
			ids = append(ids, traces[i].TraceID)
		}
	}
	const batch = 50
	for len(ids) > 0 {
		n := min(batch, len(ids))
		spans, err := c.traceSpans(ctx, ids[:n])
		if err != nil {
			return err
		}
		ids = ids[n:]
		for _, t := range c.group(spans) {
			if i, ok := index[t.TraceID]; ok && len(t.Spans) > len(traces[i].Spans) {
				traces[i] = t
			}
		}
	}
	return nil
}

// wellRooted reports whether every span's parent is in the trace.
func wellRooted(t *oncall.Trace) bool {
	ids := make(map[string]bool, len(t.Spans))
	for i := range t.Spans {
		ids[t.Spans[i].SpanID] = true
	}
	for i := range t.Spans {
		if p := t.Spans[i].ParentID; p != "" && !ids[p] {
			return false
		}
	}
	return true
}

// traceSpans returns the spans of the given traces, through the trace_id
// filter; on a Phoenix that ignores the filter it scans the project's
// newest spans, up to MaxSpans.
func (c *Client) traceSpans(ctx context.Context, ids []string) ([]oncall.Span, error) {
	want := make(map[string]bool, len(ids))
	v := url.Values{}
	for _, id := range ids {
		want[id] = true
		v.Add("trace_id", id)
	}
	var out []oncall.Span
	seen := 0
	err := c.pages(ctx, v, func(page []oncall.Span) bool {
		for _, s := range page {
			if want[s.TraceID] {
				out = append(out, s)
			} else {
				c.noTraceFilter.Store(true)
			}
		}
		seen += len(page)
		return seen < c.opts.MaxSpans
	})
	return out, err
}

// group groups spans into finished traces and gives a trace without a
// service the project's name.
func (c *Client) group(spans []oncall.Span) []oncall.Trace {
	traces := otlp.GroupTraces(spans)
	for i := range traces {
		traces[i].Source = Name
		if traces[i].Service == "" {
			traces[i].Service = c.opts.Project
		}
	}
	return traces
}
