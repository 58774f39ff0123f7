package langfuse

import (
	"context"
	"errors"
	"fmt"
	"github.com/oncall-copilot/oncall-copilot/tracesource"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/retry"
	"github.com/oncall-copilot/oncall-copilot/tracesource/httpjson"
)

// Name is how the client names itself in errors.
const Name = "langfuse"

// Client defaults.
const (
	DefaultLimit       = 100
	DefaultConcurrency = 4
	DefaultPageSize    = 100  // the trace list's maximum
	DefaultMaxListed   = 5000 // 50 list pages
	DefaultCacheTTL    = 10 * time.Minute
	DefaultTimeout     = httpjson.DefaultTimeout
	DefaultMaxBytes    = httpjson.DefaultMaxBytes
	observationsPage   = 1000 // the v2 observations maximum
)

// Options configure a Client.
type Options struct {
	Host      string // e.g. https://cloud.langfuse.com
	PublicKey string // basic auth user
	SecretKey string // basic auth password
	// HTTPClient defaults to a client without its own timeout: every
	// request gets Timeout instead.
	HTTPClient *http.Client
	Retry      retry.Policy  // zero: retry.DefaultPolicy()
	Timeout    time.Duration // per request; default DefaultTimeout
	// Concurrency bounds the requests in flight (list pages, and the
	// traces fetched one by one); default DefaultConcurrency. Small
	// Langfuse plans allow about 30 requests a minute: keep it low. A
	// 429 is retried after its Retry-After under Retry.
	Concurrency int
	PageSize    int // traces per list page, at most 100
	// MaxListed caps the trace summaries one Search lists; default
	// DefaultMaxListed.
	MaxListed int
	// Grace is how long after a window's end its traces' observations
	// are still read; default DefaultGrace.
	Grace time.Duration
	// MaxObservations bounds the observations one window read takes;
	// default DefaultMaxObservations.
	MaxObservations int
	// CacheTTL keeps fetched traces for a triage's Search and Get calls;
	// default DefaultCacheTTL, negative disables the cache.
	CacheTTL         time.Duration
	MaxResponseBytes int64 // per response; default DefaultMaxBytes
	Now              func() time.Time
}

// Client reads traces from the Langfuse public API. It is safe for
// concurrent use.
type Client struct {
	http  *httpjson.Client
	opts  Options
	cache *traceCache
	// noV2 and noLegacy are set once Langfuse answered 404 to the v2 and
	// the legacy observations endpoints (older self-hosted versions).
	noV2, noLegacy atomic.Bool
}

// New checks opts and returns a Client.
func New(opts Options) (*Client, error) {
	var problems []error
	base, err := baseURL(opts.Host)
	if err != nil {
		problems = append(problems, fmt.Errorf("langfuse: host: %w", err))
	}
	if opts.PublicKey == "" || opts.SecretKey == "" {
		problems = append(problems, errors.New("langfuse: a public and a secret key are required"))
	}
	if opts.PageSize < 0 || opts.PageSize > 100 {
		problems = append(problems, errors.New("langfuse: page size must be between 1 and 100"))
	}
	if opts.Concurrency < 0 {
		problems = append(problems, errors.New("langfuse: concurrency cannot be negative"))
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	if opts.Concurrency == 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.PageSize == 0 {
		opts.PageSize = DefaultPageSize
	}
	if opts.MaxListed <= 0 {
		opts.MaxListed = DefaultMaxListed
	}
	if opts.Grace <= 0 {
		opts.Grace = DefaultGrace
	}
	if opts.MaxObservations <= 0 {
		opts.MaxObservations = DefaultMaxObservations
	}
	if opts.CacheTTL == 0 {
		opts.CacheTTL = DefaultCacheTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	hc := httpjson.New(httpjson.Client{
		Service: Name, Base: base, HTTPClient: gatedClient(opts.HTTPClient, opts.Now, opts.Retry.Sleep), Retry: opts.Retry,
		Timeout: opts.Timeout, MaxResponseBytes: opts.MaxResponseBytes,
		Authorize: func(req *http.Request) { req.SetBasicAuth(opts.PublicKey, opts.SecretKey) },
	})
	return &Client{http: hc, opts: opts, cache: newTraceCache(opts.CacheTTL, opts.Now)}, nil
}

func baseURL(raw string) (*url.URL, error) {
	u, err := httpjson.ParseBaseURL(raw)
	if err == nil && u.User != nil {
		return nil, errors.New("put credentials in PublicKey and SecretKey, not in the URL")
	}
	return u, err
}

// Search lists the traces of the query's window with the filters Langfuse
// can apply (name, environment, session, user, tags, release) and reads
// the observations that started in the window by time range (see
// searchWindow), in a bounded number of requests; it keeps every failing
// and slow run up to q.KeepLimit and a uniform sample of q.Limit healthy
// ones, with their weights. Filters Langfuse cannot apply are checked on
// the traces. Matched is the list's total less the traces found not to
// match.
//
// A Langfuse without the v2 observations endpoint gets the older way:
// the observations of at most q.Limit traces, one trace at a time, those
// the list marks with errors first, newest first.
func (c *Client) Search(ctx context.Context, q oncall.TraceQuery) (oncall.TraceSearchResult, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	params, rest := mapFilters(q.Filters)
	res, err := c.searchWindow(ctx, q, params, rest, limit)
	if !errors.Is(err, errNoEndpoint) {
		if err != nil {
			return oncall.TraceSearchResult{}, fmt.Errorf("search traces: %w", err)
		}
		return res, nil
	}
	// A Langfuse without the v2 observations endpoint: observations trace
	// by trace, for at most limit traces.
	summaries, total, err := c.listTraces(ctx, q.Start, q.End, params)
	if err != nil {
		return oncall.TraceSearchResult{}, fmt.Errorf("search traces: %w", err)
	}
	sort.SliceStable(summaries, func(i, j int) bool {
		a, b := summaries[i], summaries[j]
		if a.failed != b.failed {
			return a.failed
		}
		return a.trace.Timestamp.After(b.trace.Timestamp)
	})
	matched := max(total, len(summaries))
	var out []oncall.Trace
	for next := 0; len(out) < limit && next < len(summaries); {
		batch := summaries[next:min(len(summaries), next+limit-len(out))]
		next += len(batch)
		traces, err := c.fetchTraces(ctx, batch)
		if err != nil {
			return oncall.TraceSearchResult{}, fmt.Errorf("search traces: %w", err)
		}
		for _, t := range traces {
			if t.MatchesFilters(rest) {
				out = append(out, t)
			} else {
				matched--
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.After(out[j].Start) })
	return oncall.TraceSearchResult{Traces: out, Matched: matched}, nil
}

// Get returns one trace with its observations; the error wraps
// oncall.ErrNotFound when Langfuse does not know it.
func (c *Client) Get(ctx context.Context, traceID string) (oncall.Trace, error) {
	id := strings.TrimSpace(traceID)
	if id == "" {
		return oncall.Trace{}, fmt.Errorf("get trace: empty id: %w", oncall.ErrNotFound)
	}
	if t, ok := c.cache.get(id); ok {
		return t, nil
	}
	detail, err := c.traceDetail(ctx, id)
	if err != nil {
		return oncall.Trace{}, fmt.Errorf("get trace %s: %w", id, err)
	}
	obs := []Observation(detail.Observations)
	if len(obs) == 0 {
		// Some versions list only observation ids in the trace.
		if obs, err = c.observations(ctx, id); err != nil {
			return oncall.Trace{}, fmt.Errorf("get trace %s: %w", id, err)
		}
	}
	t := TraceFromAPI(detail, obs)
	c.cache.put(t)
	return t, nil
}

// fetchTraces turns listed traces into full traces, fetching their
// observations at most Concurrency at a time unless cached; the result is
// in the summaries' order.
func (c *Client) fetchTraces(ctx context.Context, summaries []summary) ([]oncall.Trace, error) {
	out := make([]oncall.Trace, len(summaries))
	var todo []int
	for i, s := range summaries {
		if t, ok := c.cache.get(s.trace.ID); ok {
			out[i] = t
			continue
		}
		todo = append(todo, i)
	}
	err := tracesource.FetchAll(ctx, len(todo), c.opts.Concurrency, func(ctx context.Context, k int) error {
		i := todo[k]
		s := summaries[i]
		obs, err := c.observations(ctx, s.trace.ID)
		if err != nil {
			return fmt.Errorf("fetch observations of trace %s: %w", s.trace.ID, err)
		}
		t := TraceFromAPI(s.trace, obs)
		c.cache.put(t)
		out[i] = t
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// mapFilters splits filters into the trace list's query parameters and
// the filters left to check on fetched traces. Values that cannot go to
// Langfuse (a second spelling of the name with another value) stay in
// rest.
func mapFilters(filters map[string]string) (params url.Values, rest map[string]string) {
	params, rest = url.Values{}, map[string]string{}
	keys := make([]string, 0, len(filters))
	for k := range filters {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := filters[k]
		if v == "" {
			continue
		}
		param := ""
		switch k {
		case "trace.name", "langfuse.trace.name", "gen_ai.agent.name":
			param = "name"
		case "deployment.environment", "deployment.environment.name", "langfuse.environment":
			param = "environment"
		case "session.id", "langfuse.session.id":
			param = "sessionId"
		case "user.id", "langfuse.user.id":
			param = "userId"
		case "langfuse.release":
			param = "release"
		case "tag", "tags", "langfuse.trace.tags":
			params.Add("tags", v)
			continue
		}
		if param == "" || (params.Has(param) && params.Get(param) != v) {
			rest[k] = v
			continue
		}
		params.Set(param, v)
	}
	return params, rest
}
