package langfuse

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// A window is read in a bounded number of requests, whatever its volume:
// the trace list in pages of 100 (its maximum) with only the field groups
// a trace-level span needs, and every observation that started in the
// window from the v2 observations endpoint in cursor pages of 1,000 (its
// maximum), with only the field groups the analysis reads. A window of
// 2,000 runs of a handful of observations each costs about 30 requests,
// not one a trace. Only traces the range read did not cover are fetched
// one by one, and only when they are kept.

// traceListFields are the trace list's field groups a trace-level span
// needs: core, and io for input, output and metadata (which carries the
// resource attributes of OTel-ingested traces). Scores, observation ids
// and metrics are left out. Groups are documented on GET
// /api/public/traces (fern/apis/server/definition/trace.yml).
const traceListFields = "core,io"

// windowObservationFields are the v2 observation field groups the
// analysis reads: ids, times, levels and status messages (core, basic,
// time), input and output (io: tool arguments, final answers), metadata
// (attributes), model, usage and prompt. Metrics (latency, time to first
// token) are derived from the times; trace_context duplicates the trace
// list.
const windowObservationFields = "core,basic,time,io,metadata,model,usage,prompt"

// Grace defaults of a window read.
const (
	// DefaultGrace is how long after a window's end observations of its
	// traces are still read: a run started in the window keeps starting
	// observations after it.
	DefaultGrace = 10 * time.Minute
	// DefaultMaxObservations bounds the observations one window read
	// takes (100 pages); traces it did not reach are fetched one by one
	// when kept.
	DefaultMaxObservations = 100_000
	// startSkew is how long before a window's start observations of its
	// traces are read: SDKs may date a trace a little after its first
	// observation.
	startSkew = time.Minute
)

// searchWindow reads the window's listed traces with their observations
// in bounded requests and samples them with oncall.SampleRuns. It returns
// errNoEndpoint when this Langfuse has no v2 observations endpoint.
func (c *Client) searchWindow(ctx context.Context, q oncall.TraceQuery, params url.Values, rest map[string]string, limit int) (oncall.TraceSearchResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		summaries []summary
		total     int
		listErr   error
		wg        sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		summaries, total, listErr = c.listTraces(ctx, q.Start, q.End, params)
		if listErr != nil {
			cancel()
		}
	}()
	from := q.Start
	if !from.IsZero() {
		from = from.Add(-startSkew)
	}
	byTrace, covered, cut, obsErr := c.observationsInRange(ctx, from, q.End.Add(c.opts.Grace))
	if obsErr != nil {
		cancel()
	}
	wg.Wait()
	if listErr != nil && !errors.Is(listErr, context.Canceled) {
		return oncall.TraceSearchResult{}, listErr
	}
	if obsErr != nil {
		return oncall.TraceSearchResult{}, obsErr
	}
	if listErr != nil {
		return oncall.TraceSearchResult{}, listErr
	}

	// Build every listed trace from what the range read found. A trace
	// the read did not reach (no observation found, or it started before
	// the oldest observation a capped read got to) is built from what
	// there is for now, and fetched on its own if the sample keeps it.
	traces := make([]oncall.Trace, 0, len(summaries))
	uncovered := map[string]summary{}
	for _, s := range summaries {
		obs, ok := byTrace[s.trace.ID]
		partial := !ok || (cut && s.trace.Timestamp.Before(covered))
		if partial {
			uncovered[s.trace.ID] = s
		}
		t := TraceFromAPI(s.trace, obs)
		if partial || t.MatchesFilters(rest) {
			traces = append(traces, t)
		}
	}
	matched := max(total, len(summaries)) - (len(summaries) - len(traces))

	keep := q.KeepLimit
	if keep <= 0 {
		keep = limit
	}
	sample := oncall.SampleRuns(traces, keep, limit)
	out := sample.Traces
	var fetch []summary
	for _, t := range out {
		if s, ok := uncovered[t.TraceID]; ok {
			fetch = append(fetch, s)
		}
	}
	if len(fetch) > 0 {
		full, err := c.fetchTraces(ctx, fetch)
		if err != nil {
			return oncall.TraceSearchResult{}, err
		}
		byID := make(map[string]oncall.Trace, len(full))
		for _, t := range full {
			byID[t.TraceID] = t
		}
		kept := out[:0]
		for _, t := range out {
			if f, ok := byID[t.TraceID]; ok {
				if !f.MatchesFilters(rest) {
					matched--
					continue
				}
				t = f
			}
			kept = append(kept, t)
		}
		out = kept
	}
	for _, t := range out {
		c.cache.put(t)
	}
	res := oncall.TraceSearchResult{Traces: out, Matched: matched, Weights: sample.Weights, Sampling: sample.Note()}
	if listed := len(summaries); total > listed {
		res.Sampling = joinNote(res.Sampling, fmt.Sprintf("listed %d of %d traces (the cap of %d)", listed, total, c.opts.MaxListed))
	}
	return res, nil
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// observationsInRange reads the observations that started in [from, to)
// from the v2 endpoint, newest first in cursor pages of 1,000, up to
// MaxObservations, grouped by trace. When the cap stopped it (cut),
// covered is the oldest start time read: the read is complete only down
// to it.
func (c *Client) observationsInRange(ctx context.Context, from, to time.Time) (byTrace map[string][]Observation, covered time.Time, cut bool, err error) {
	if c.noV2.Load() {
		return nil, time.Time{}, false, errNoEndpoint
	}
	q := url.Values{}
	q.Set("fields", windowObservationFields)
	q.Set("limit", strconv.Itoa(observationsPage))
	if !from.IsZero() {
		q.Set("fromStartTime", from.UTC().Format(time.RFC3339Nano))
	}
	if !to.IsZero() {
		q.Set("toStartTime", to.UTC().Format(time.RFC3339Nano))
	}
	byTrace = map[string][]Observation{}
	seen := map[string]bool{}
	n := 0
	var oldest time.Time
	for {
		body, status, err := c.requestOr404(ctx, pathObservationsV2, q)
		if err != nil {
			return nil, time.Time{}, false, fmt.Errorf("read observations of the window: %w", err)
		}
		if status == http.StatusNotFound {
			c.noV2.Store(true)
			return nil, time.Time{}, false, errNoEndpoint
		}
		page, cursor, err := decodeObservationsV2(body)
		if err != nil {
			return nil, time.Time{}, false, c.http.DecodeError(pathObservationsV2, err)
		}
		for _, o := range page {
			byTrace[o.TraceID] = append(byTrace[o.TraceID], o)
			if oldest.IsZero() || o.StartTime.Before(oldest) {
				oldest = o.StartTime
			}
		}
		n += len(page)
		if cursor == "" || seen[cursor] || len(page) == 0 {
			return byTrace, from, false, nil
		}
		if n >= c.opts.MaxObservations {
			// Cut short: traces that started before the oldest read may
			// miss observations; the caller fetches those it keeps.
			return byTrace, oldest, true, nil
		}
		seen[cursor] = true
		q.Set("cursor", cursor)
	}
}
