package tempo

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
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/tracesource/otlp"
)

// Trace attributes a partial answer of Tempo's v2 endpoint leaves on the
// trace, so a report can say the trace is incomplete.
const (
	KeyTraceStatus        = "tempo.trace.status"
	KeyTraceStatusMessage = "tempo.trace.status_message"
)

// hit is one trace the search found.
type hit struct {
	id         string
	start, end time.Time
}

// search runs a TraceQL search over the query's window.
func (c *Client) search(ctx context.Context, traceQL string, q oncall.TraceQuery, limit int) ([]hit, error) {
	v := url.Values{}
	v.Set("q", traceQL)
	v.Set("start", strconv.FormatInt(q.Start.Unix(), 10))
	v.Set("end", strconv.FormatInt(ceilUnix(q.End), 10))
	v.Set("limit", strconv.Itoa(limit))
	v.Set("spss", "1")
	const path = "/api/search"
	status, body, err := c.http.Fetch(ctx, path, v)
	if err != nil {
		return nil, err
	}
	if status == http.StatusNotFound {
		return nil, c.http.StatusError(path, status, body)
	}
	hits, err := decodeSearch(body)
	if err != nil {
		return nil, c.http.DecodeError(path, err)
	}
	return hits, nil
}

// get fetches one trace from the v2 endpoint, or from the v1 endpoint when
// Tempo has no v2. start and end, when set, narrow the blocks Tempo reads.
func (c *Client) get(ctx context.Context, id string, start, end time.Time) (oncall.Trace, error) {
	if id == "" {
		return oncall.Trace{}, fmt.Errorf("empty trace id: %w", oncall.ErrNotFound)
	}
	var v url.Values
	if !start.IsZero() && !end.IsZero() {
		v = url.Values{}
		v.Set("start", strconv.FormatInt(start.Add(-time.Minute).Unix(), 10))
		v.Set("end", strconv.FormatInt(ceilUnix(end.Add(time.Minute)), 10))
	}
	if !c.noV2.Load() {
		path := "/api/v2/traces/" + url.PathEscape(id)
		status, body, err := c.http.Fetch(ctx, path, v)
		if err != nil {
			return oncall.Trace{}, err
		}
		if status != http.StatusNotFound {
			return c.decodeOne(id, path, body, true)
		}
		// Ask v1 too: a proxy in front of an older Tempo may answer a
		// missing endpoint with a 404 of its own.
		if routerNotFound(body) {
			c.noV2.Store(true)
		}
	}
	path := "/api/traces/" + url.PathEscape(id)
	status, body, err := c.http.Fetch(ctx, path, v)
	if err != nil {
		return oncall.Trace{}, err
	}
	if status == http.StatusNotFound {
		if routerNotFound(body) {
			return oncall.Trace{}, c.http.StatusError(path, status, body)
		}
		return oncall.Trace{}, c.http.Wrap(path, oncall.ErrNotFound)
	}
	return c.decodeOne(id, path, body, false)
}

func (c *Client) decodeOne(id, path string, body []byte, v2 bool) (oncall.Trace, error) {
	var traces []oncall.Trace
	var err error
	if v2 {
		traces, err = decodeTraceV2(body)
	} else {
		traces, err = decodeTraceV1(body)
	}
	if err != nil {
		return oncall.Trace{}, c.http.DecodeError(path, err)
	}
	for _, t := range traces {
		if t.TraceID == id {
			return t, nil
		}
	}
	return oncall.Trace{}, c.http.Wrap(path, oncall.ErrNotFound)
}

// decodeSearch reads a search answer:
// {"traces": [{"traceID", "startTimeUnixNano", "durationMs", ...}], "metrics": {...}}.
func decodeSearch(body []byte) ([]hit, error) {
	var resp struct {
		Traces []struct {
			TraceID           string          `json:"traceID"`
			RootServiceName   string          `json:"rootServiceName"`
			RootTraceName     string          `json:"rootTraceName"`
			StartTimeUnixNano json.RawMessage `json:"startTimeUnixNano"`
			DurationMs        json.Number     `json:"durationMs"`
		} `json:"traces"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, err
	}
	hits := make([]hit, 0, len(resp.Traces))
	for _, t := range resp.Traces {
		id := NormalizeTraceID(t.TraceID)
		if id == "" {
			return nil, errors.New("search result without traceID")
		}
		ns, err := strconv.ParseInt(strings.Trim(string(t.StartTimeUnixNano), `"`), 10, 64)
		if err != nil || ns < 0 {
			return nil, fmt.Errorf("trace %s: invalid startTimeUnixNano %s", id, t.StartTimeUnixNano)
		}
		h := hit{id: id, start: time.Unix(0, ns).UTC()}
		h.end = h.start
		if t.DurationMs != "" {
			ms, err := t.DurationMs.Int64()
			if err != nil || ms < 0 || ms > int64(time.Duration(1<<62)/time.Millisecond) {
				return nil, fmt.Errorf("trace %s: invalid durationMs %s", id, t.DurationMs)
			}
			h.end = h.start.Add(time.Duration(ms) * time.Millisecond)
		}
		hits = append(hits, h)
	}
	return hits, nil
}

// decodeTraceV2 reads {"trace": {"resourceSpans": [...]}, "status":
// "COMPLETE"|"PARTIAL", "message": ...}.
func decodeTraceV2(body []byte) ([]oncall.Trace, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	var resp struct {
		Trace   json.RawMessage `json:"trace"`
		Status  json.RawMessage `json:"status"`
		Message string          `json:"message"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, err
	}
	if t := bytes.TrimSpace(resp.Trace); len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return nil, nil
	}
	traces, err := decodeOTLP(resp.Trace)
	if err != nil {
		return nil, err
	}
	if status := strings.Trim(string(resp.Status), `"`); status == "PARTIAL" || status == "1" {
		for i := range traces {
			if traces[i].Attributes == nil {
				traces[i].Attributes = map[string]string{}
			}
			traces[i].Attributes[KeyTraceStatus] = "partial"
			if resp.Message != "" {
				traces[i].Attributes[KeyTraceStatusMessage] = resp.Message
			}
		}
	}
	return traces, nil
}

// decodeTraceV1 reads the v1 answer: OTLP/JSON with "batches" (or
// "resourceSpans"), ids in base64 or hex.
func decodeTraceV1(body []byte) ([]oncall.Trace, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	return decodeOTLP(body)
}

func decodeOTLP(data []byte) ([]oncall.Trace, error) {
	spans, err := otlp.Decode(data)
	if err != nil {
		return nil, err
	}
	for i := range spans {
		spans[i].TraceID = NormalizeTraceID(spans[i].TraceID)
	}
	traces := otlp.GroupTraces(spans)
	for i := range traces {
		traces[i].Source = Name
	}
	return traces, nil
}

// NormalizeTraceID returns a trace id as 32 lowercase hex digits: base64
// ids are converted, and hex ids Tempo wrote without their leading zeros
// are padded.
func NormalizeTraceID(id string) string {
	id = otlp.NormalizeID(strings.TrimSpace(id))
	if id == "" || len(id) >= 32 {
		return id
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return id
		}
	}
	return strings.Repeat("0", 32-len(id)) + id
}

// routerNotFound reports whether a 404 came from Tempo's router (no such
// endpoint) rather than from a trace lookup.
func routerNotFound(body []byte) bool {
	return strings.TrimSpace(string(body)) == "404 page not found"
}

func ceilUnix(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}
