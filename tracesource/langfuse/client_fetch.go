package langfuse

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// Endpoints of the public API.
const (
	pathTraces         = "/api/public/traces"
	pathObservationsV2 = "/api/public/v2/observations"
	pathObservations   = "/api/public/observations"
)

// observationFields are the v2 field groups a span needs.
const observationFields = "core,basic,time,io,metadata,model,usage,prompt,metrics"

// errNoEndpoint is a 404 from an endpoint this Langfuse version lacks.
var errNoEndpoint = errors.New("endpoint not available")

// summary is one trace of the trace list.
type summary struct {
	trace  TraceObject
	failed bool // the list marks it with errors
}

// listTraces pages through the trace list of a window, newest first, up
// to MaxListed traces, and returns them with the list's total. It asks
// only for the field groups a trace-level span needs; after the first
// page tells how many there are, the other pages are read Concurrency at
// a time.
func (c *Client) listTraces(ctx context.Context, start, end time.Time, filters url.Values) ([]summary, int, error) {
	q := url.Values{}
	for k, v := range filters {
		q[k] = v
	}
	if !start.IsZero() {
		q.Set("fromTimestamp", start.UTC().Format(time.RFC3339Nano))
	}
	if !end.IsZero() {
		q.Set("toTimestamp", end.UTC().Format(time.RFC3339Nano))
	}
	q.Set("orderBy", "timestamp.desc")
	q.Set("limit", strconv.Itoa(c.opts.PageSize))
	q.Set("fields", traceListFields)
	page := func(ctx context.Context, n int) ([]summary, pageMeta, error) {
		pq := url.Values{}
		for k, v := range q {
			pq[k] = v
		}
		pq.Set("page", strconv.Itoa(n))
		body, err := c.request(ctx, pathTraces, pq)
		if err != nil {
			return nil, pageMeta{}, err
		}
		items, meta, err := decodeTraceList(body)
		if err != nil {
			return nil, pageMeta{}, c.http.DecodeError(pathTraces, err)
		}
		return items, meta, nil
	}
	first, meta, err := page(ctx, 1)
	if err != nil {
		return nil, 0, err
	}
	pages := min(meta.TotalPages, (c.opts.MaxListed+c.opts.PageSize-1)/c.opts.PageSize)
	if len(first) == 0 || pages <= 1 {
		return first[:min(len(first), c.opts.MaxListed)], meta.TotalItems, nil
	}
	rest := make([][]summary, pages+1)
	rest[1] = first
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	next := make(chan int)
	for range min(c.opts.Concurrency, pages-1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range next {
				items, _, err := page(ctx, n)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
						cancel()
					}
					mu.Unlock()
					continue
				}
				rest[n] = items
			}
		}()
	}
feed:
	for n := 2; n <= pages; n++ {
		select {
		case next <- n:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return nil, 0, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	var out []summary
	seen := map[string]bool{}
	for _, items := range rest {
		for _, s := range items {
			// Traces arriving while the pages are read shift the pages:
			// one may show up on two of them.
			if !seen[s.trace.ID] {
				seen[s.trace.ID] = true
				out = append(out, s)
			}
		}
	}
	return out[:min(len(out), c.opts.MaxListed)], meta.TotalItems, nil
}

// observations returns a trace's observations from the v2 endpoint, the
// legacy endpoint, or the trace itself, whichever this Langfuse has.
func (c *Client) observations(ctx context.Context, traceID string) ([]Observation, error) {
	if !c.noV2.Load() {
		obs, err := c.observationsV2(ctx, traceID)
		if !errors.Is(err, errNoEndpoint) {
			return obs, err
		}
		c.noV2.Store(true)
	}
	if !c.noLegacy.Load() {
		obs, err := c.observationsLegacy(ctx, traceID)
		if !errors.Is(err, errNoEndpoint) {
			return obs, err
		}
		c.noLegacy.Store(true)
	}
	detail, err := c.traceDetail(ctx, traceID)
	if errors.Is(err, oncall.ErrNotFound) {
		return nil, nil // gone since it was listed
	}
	return detail.Observations, err
}

func (c *Client) observationsV2(ctx context.Context, traceID string) ([]Observation, error) {
	q := url.Values{}
	q.Set("traceId", traceID)
	q.Set("fields", observationFields)
	q.Set("expandMetadata", "true")
	q.Set("limit", strconv.Itoa(observationsPage))
	var out []Observation
	seen := map[string]bool{}
	for {
		body, status, err := c.requestOr404(ctx, pathObservationsV2, q)
		if err != nil {
			return nil, err
		}
		if status == http.StatusNotFound {
			return nil, errNoEndpoint
		}
		page, cursor, err := decodeObservationsV2(body)
		if err != nil {
			return nil, c.http.DecodeError(pathObservationsV2, err)
		}
		out = append(out, page...)
		if cursor == "" || seen[cursor] || len(page) == 0 {
			return out, nil
		}
		seen[cursor] = true
		q.Set("cursor", cursor)
	}
}

func (c *Client) observationsLegacy(ctx context.Context, traceID string) ([]Observation, error) {
	q := url.Values{}
	q.Set("traceId", traceID)
	q.Set("limit", "100")
	var out []Observation
	for page := 1; ; page++ {
		q.Set("page", strconv.Itoa(page))
		body, status, err := c.requestOr404(ctx, pathObservations, q)
		if err != nil {
			return nil, err
		}
		if status == http.StatusNotFound {
			return nil, errNoEndpoint
		}
		var resp struct {
			Data *Observations `json:"data"`
			Meta pageMeta      `json:"meta"`
		}
		if err := json.Unmarshal(body, &resp); err != nil || resp.Data == nil {
			return nil, c.http.DecodeError(pathObservations, orNoData(err))
		}
		out = append(out, *resp.Data...)
		if len(*resp.Data) == 0 || page >= resp.Meta.TotalPages {
			return out, nil
		}
	}
}

// traceDetail fetches GET /api/public/traces/{id}, which embeds the
// trace's observations.
func (c *Client) traceDetail(ctx context.Context, traceID string) (TraceObject, error) {
	path := pathTraces + "/" + url.PathEscape(traceID)
	body, status, err := c.requestOr404(ctx, path, nil)
	if err != nil {
		return TraceObject{}, err
	}
	if status == http.StatusNotFound {
		return TraceObject{}, c.http.Wrap(path, oncall.ErrNotFound)
	}
	var t TraceObject
	if err := json.Unmarshal(body, &t); err != nil {
		return TraceObject{}, c.http.DecodeError(path, err)
	}
	if t.ID == "" {
		return TraceObject{}, c.http.DecodeError(path, ErrNoTrace)
	}
	return t, nil
}

// pageMeta is the page-based paging of the list endpoints.
type pageMeta struct {
	Page       int `json:"page"`
	Limit      int `json:"limit"`
	TotalItems int `json:"totalItems"`
	TotalPages int `json:"totalPages"`
}

// decodeTraceList reads a trace list page: {"data": [trace, ...], "meta":
// {page, limit, totalItems, totalPages}}. A trace counts as failed when
// the list gives it an errorCount above zero or an ERROR level.
func decodeTraceList(body []byte) ([]summary, pageMeta, error) {
	var resp struct {
		Data *[]json.RawMessage `json:"data"`
		Meta pageMeta           `json:"meta"`
	}
	if err := json.Unmarshal(body, &resp); err != nil || resp.Data == nil {
		return nil, pageMeta{}, orNoData(err)
	}
	out := make([]summary, 0, len(*resp.Data))
	for i, raw := range *resp.Data {
		var s summary
		if err := json.Unmarshal(raw, &s.trace); err != nil {
			return nil, pageMeta{}, fmt.Errorf("trace %d: %w", i, err)
		}
		if s.trace.ID == "" {
			return nil, pageMeta{}, fmt.Errorf("trace %d: %w", i, ErrNoTrace)
		}
		var marks struct {
			ErrorCount float64  `json:"errorCount"`
			Level      string   `json:"level"`
			Levels     []string `json:"levels"`
		}
		_ = json.Unmarshal(raw, &marks) // optional fields of some versions
		s.failed = marks.ErrorCount > 0 || strings.EqualFold(marks.Level, "ERROR")
		for _, l := range marks.Levels {
			s.failed = s.failed || strings.EqualFold(l, "ERROR")
		}
		out = append(out, s)
	}
	return out, resp.Meta, nil
}

// decodeObservationsV2 reads {"data": [observation, ...], "meta":
// {"cursor": ...}}.
func decodeObservationsV2(body []byte) ([]Observation, string, error) {
	var resp struct {
		Data *Observations `json:"data"`
		Meta struct {
			Cursor string `json:"cursor"`
		} `json:"meta"`
	}
	if err := json.Unmarshal(body, &resp); err != nil || resp.Data == nil {
		return nil, "", orNoData(err)
	}
	return *resp.Data, resp.Meta.Cursor, nil
}

func orNoData(err error) error {
	if err != nil {
		return err
	}
	return errors.New(`no "data" list`)
}

// request GETs path and returns the body of a 2xx answer.
func (c *Client) request(ctx context.Context, path string, query url.Values) ([]byte, error) {
	body, status, err := c.requestOr404(ctx, path, query)
	if err == nil && status == http.StatusNotFound {
		err = c.http.StatusError(path, status, body)
	}
	return body, err
}

// requestOr404 GETs path and returns the body, without surrounding
// space, and status of a 2xx or 404 answer.
func (c *Client) requestOr404(ctx context.Context, path string, query url.Values) ([]byte, int, error) {
	status, body, err := c.http.Fetch(ctx, path, query)
	return bytes.TrimSpace(body), status, err
}
