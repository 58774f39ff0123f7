// Package tempo reads agent traces from Grafana Tempo over its HTTP API:
// GET /api/search with a TraceQL query built from the filters, then each
// trace by id from /api/v2/traces/{id}, falling back to /api/traces/{id}
// on Tempo versions without the v2 endpoint.
//
// Filters become one spanset per filter joined with &&, so each may be met
// by a different span of the trace: resource attributes (service.name,
// deployment.environment, ...) are scoped to the resource, the others are
// unscoped and match a span or its resource. Fetched traces are checked
// against the filters again.
package tempo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/retry"
	"github.com/oncall-copilot/oncall-copilot/tracesource"
	"github.com/oncall-copilot/oncall-copilot/tracesource/httpjson"
	"github.com/oncall-copilot/oncall-copilot/tracesource/semconv"
)

// Name is how the source names itself in errors and on traces.
const Name = "tempo"

// Defaults.
const (
	DefaultLimit       = 100
	DefaultSearchLimit = 1000
	DefaultConcurrency = 4
	DefaultTimeout     = httpjson.DefaultTimeout
	DefaultMaxBytes    = httpjson.DefaultMaxBytes
)

// Options configure a Client. At most one of BearerToken and BasicUser may
// be set.
type Options struct {
	URL           string // e.g. http://tempo:3200
	BearerToken   string
	BasicUser     string
	BasicPassword string
	OrgID         string // sent as X-Scope-OrgID for multi-tenant Tempo
	HTTPClient    *http.Client
	Retry         retry.Policy  // zero: retry.DefaultPolicy()
	Timeout       time.Duration // per request; default DefaultTimeout
	// SearchLimit is how many trace ids one search asks for, so that
	// Matched can say how many were left out; never below the query's
	// limit. Default DefaultSearchLimit.
	SearchLimit int
	// Concurrency bounds the trace fetches in flight; default
	// DefaultConcurrency.
	Concurrency      int
	MaxResponseBytes int64 // per response; default DefaultMaxBytes
}

// Client reads traces from Tempo. It is safe for concurrent use.
type Client struct {
	http *httpjson.Client
	opts Options
	// noV2 is set once Tempo answered that it has no /api/v2/traces.
	noV2 atomic.Bool
}

// New checks opts and returns a Client.
func New(opts Options) (*Client, error) {
	var problems []error
	base, err := baseURL(opts.URL)
	if err != nil {
		problems = append(problems, fmt.Errorf("tempo: URL: %w", err))
	}
	if opts.BearerToken != "" && opts.BasicUser != "" {
		problems = append(problems, errors.New("tempo: set a bearer token or basic auth, not both"))
	}
	if opts.BasicPassword != "" && opts.BasicUser == "" {
		problems = append(problems, errors.New("tempo: basic auth password without a user"))
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	if opts.SearchLimit <= 0 {
		opts.SearchLimit = DefaultSearchLimit
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	hc := httpjson.New(httpjson.Client{
		Service: Name, Base: base, HTTPClient: opts.HTTPClient, Retry: opts.Retry,
		Timeout: opts.Timeout, MaxResponseBytes: opts.MaxResponseBytes,
		Authorize: func(req *http.Request) {
			switch {
			case opts.BearerToken != "":
				req.Header.Set("Authorization", "Bearer "+opts.BearerToken)
			case opts.BasicUser != "":
				req.SetBasicAuth(opts.BasicUser, opts.BasicPassword)
			}
			if opts.OrgID != "" {
				req.Header.Set("X-Scope-OrgID", opts.OrgID)
			}
		},
	})
	return &Client{http: hc, opts: opts}, nil
}

func baseURL(raw string) (*url.URL, error) {
	u, err := httpjson.ParseBaseURL(raw)
	if err == nil && u.User != nil {
		return nil, errors.New("put credentials in BasicUser and BasicPassword, not in the URL")
	}
	return u, err
}

// Search finds the traces of the query's window that match its filters
// and fetches a sample of them: TraceQL asks first for the traces with an
// error span in the window (`{ status = error }`), then for all of them;
// every failing and slow trace is fetched up to q.KeepLimit and a uniform
// sample of q.Limit healthy ones, with their weights
// (oncall.SampleSummaries). Matched counts the traces the searches found
// (at most SearchLimit each), less any that were gone or turned out not
// to match once fetched.
func (c *Client) Search(ctx context.Context, q oncall.TraceQuery) (oncall.TraceSearchResult, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	keep := q.KeepLimit
	if keep <= 0 {
		keep = limit
	}
	failing, err := c.search(ctx, TraceQL(q.Filters)+" && "+errorSpans, q, max(keep, c.opts.SearchLimit))
	if err != nil {
		return oncall.TraceSearchResult{}, fmt.Errorf("search failing traces: %w", err)
	}
	all, err := c.search(ctx, TraceQL(q.Filters), q, max(limit, c.opts.SearchLimit))
	if err != nil {
		return oncall.TraceSearchResult{}, fmt.Errorf("search traces: %w", err)
	}
	hits, runs := mergeHits(failing, all)
	sample, chosen := oncall.SampleSummaries(runs, keep, limit)
	var pick []hit
	for i, h := range hits {
		if chosen[i] {
			pick = append(pick, h)
		}
	}
	sort.SliceStable(pick, func(i, j int) bool { return pick[i].start.After(pick[j].start) })
	matched := len(hits)
	traces, err := c.fetchAll(ctx, pick)
	if err != nil {
		return oncall.TraceSearchResult{}, fmt.Errorf("search traces: %w", err)
	}
	var out []oncall.Trace
	for _, t := range traces {
		if t.TraceID != "" && t.MatchesFilters(q.Filters) {
			out = append(out, t)
		} else {
			matched--
		}
	}
	res := oncall.TraceSearchResult{Traces: out, Matched: matched, Weights: sample.Weights, Sampling: sample.Note()}
	if len(all) >= max(limit, c.opts.SearchLimit) {
		note := fmt.Sprintf("Tempo's search returned its limit of %d traces; the window may hold more", len(all))
		if res.Sampling != "" {
			note = res.Sampling + "; " + note
		}
		res.Sampling = note
	}
	return res, nil
}

// errorSpans is the TraceQL spanset of spans that ended in error.
const errorSpans = "{ status = error }"

// mergeHits lists each trace of the two searches once, failing ones
// marked, with the summaries sampling chooses from.
func mergeHits(failing, all []hit) ([]hit, []oncall.Run) {
	isFailing := make(map[string]bool, len(failing))
	for _, h := range failing {
		isFailing[h.id] = true
	}
	seen := make(map[string]bool, len(all)+len(failing))
	var hits []hit
	var runs []oncall.Run
	for _, list := range [][]hit{failing, all} {
		for _, h := range list {
			if seen[h.id] {
				continue
			}
			seen[h.id] = true
			hits = append(hits, h)
			runs = append(runs, oncall.Run{TraceID: h.id, Duration: h.end.Sub(h.start), Failed: isFailing[h.id]})
		}
	}
	return hits, runs
}

// fetchAll fetches the hits' traces, at most Concurrency at a time, in
// the hits' order. A trace gone since the search is left zero.
func (c *Client) fetchAll(ctx context.Context, hits []hit) ([]oncall.Trace, error) {
	out := make([]oncall.Trace, len(hits))
	err := tracesource.FetchAll(ctx, len(hits), c.opts.Concurrency, func(ctx context.Context, i int) error {
		h := hits[i]
		t, err := c.get(ctx, h.id, h.start, h.end)
		switch {
		case errors.Is(err, oncall.ErrNotFound):
		case err != nil:
			return fmt.Errorf("fetch trace %s: %w", h.id, err)
		default:
			out[i] = t
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Get returns one trace, given its id in hex or base64; the error wraps
// oncall.ErrNotFound when Tempo does not have it.
func (c *Client) Get(ctx context.Context, traceID string) (oncall.Trace, error) {
	t, err := c.get(ctx, NormalizeTraceID(traceID), time.Time{}, time.Time{})
	if err != nil {
		return oncall.Trace{}, fmt.Errorf("get trace %s: %w", strings.TrimSpace(traceID), err)
	}
	return t, nil
}

// TraceQL builds the search query for filters: one spanset per filter,
// joined with &&, keys in sorted order; "{}" when there are none.
func TraceQL(filters map[string]string) string {
	keys := make([]string, 0, len(filters))
	for k, v := range filters {
		if k != "" && v != "" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return "{}"
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = "{ " + selector(k) + " = " + strconv.Quote(filters[k]) + " }"
	}
	return strings.Join(parts, " && ")
}

// selector is the TraceQL attribute for a filter key, quoted when the key
// has characters TraceQL does not allow in a bare attribute name.
func selector(key string) string {
	scope := "."
	if semconv.IsResource(key) {
		scope = "resource."
	}
	if bareName(key) {
		return scope + key
	}
	return scope + strconv.Quote(key)
}

func bareName(key string) bool {
	for _, r := range key {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-', r == '/':
		default:
			return false
		}
	}
	return key[0] != '.'
}
