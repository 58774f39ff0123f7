package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/redact"
	"github.com/oncall-copilot/oncall-copilot/tracesource/langfuse"
	"github.com/oncall-copilot/oncall-copilot/triage"
)

// The Langfuse figure: a triage reading a Langfuse project that holds
// 2,000 runs in the incident window and 2,000 in its baseline, served by a
// local fake speaking the public API (trace list in pages of at most 100,
// v2 observations by time range in cursor pages of at most 1,000, legacy
// observations by trace). The baseline is the same triage against a
// Langfuse without the v2 endpoint, which reads observations trace by
// trace, as every triage did before the range read.

var (
	lfAlertAt = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	lfKey     = "pk-lf-bench"
	lfSecret  = "sk-lf-bench"
)

// lfLatency is how long the fake takes to answer a request.
const lfLatency = 5 * time.Millisecond

// lfObservation is one observation of the fake, pre-encoded.
type lfObservation struct {
	traceID, id string
	start       time.Time
	raw         json.RawMessage
}

// fakeLangfuseStore is a Langfuse project in memory.
type fakeLangfuseStore struct {
	traces   []map[string]any // newest first
	obs      []lfObservation  // newest first
	byTrace  map[string][]json.RawMessage
	noV2     bool
	requests atomic.Int64
}

// newFakeLangfuse holds n runs in each window of an agent calling a model
// and a tool; one in ten fails on a tool timeout in the incident window,
// one in a hundred on a rate limit in the baseline.
func newFakeLangfuse(n int, noV2 bool) *fakeLangfuseStore {
	f := &fakeLangfuseStore{byTrace: map[string][]json.RawMessage{}, noV2: noV2}
	windows := []struct {
		start, end time.Time
		prefix     string
		fails      func(i int) bool
		msg        string
	}{
		{lfAlertAt.Add(-30 * time.Minute), lfAlertAt, "inc", func(i int) bool { return i%10 == 3 }, "TimeoutError: lookup_order timed out after 30s"},
		{lfAlertAt.Add(-90 * time.Minute), lfAlertAt.Add(-30 * time.Minute), "base", func(i int) bool { return i%100 == 7 }, "RateLimitError: 429 from orders API"},
	}
	for _, w := range windows {
		step := w.end.Sub(w.start) / time.Duration(n)
		for i := range n {
			start := w.start.Add(time.Duration(i) * step)
			id := fmt.Sprintf("%s%06d", w.prefix, i)
			ts := func(d time.Duration) string { return start.Add(d).UTC().Format("2006-01-02T15:04:05.000Z") }
			f.traces = append(f.traces, map[string]any{
				"id": id, "projectId": "p1", "name": "checkout-assistant", "timestamp": ts(0), "environment": "production",
				"tags": []string{"checkout"}, "release": "2026.03.01", "userId": fmt.Sprintf("u-%d", i%50), "sessionId": nil,
				"input": "Where is my order?", "output": "It ships tomorrow.", "metadata": `{"resourceAttributes":{"service.name":"checkout-agent"}}`,
				"observations": []string{}, "scores": []string{}, "latency": -1, "totalCost": -1, "public": false, "bookmarked": false,
			})
			level, status := "DEFAULT", any(nil)
			if w.fails(i) {
				level, status = "ERROR", w.msg
			}
			obs := []struct {
				id    string
				start time.Duration
				v     map[string]any
			}{
				{id + "-a", 0, map[string]any{"type": "AGENT", "name": "checkout-assistant", "endTime": ts(2500 * time.Millisecond),
					"parentObservationId": nil, "level": "DEFAULT", "output": "It ships tomorrow."}},
				{id + "-g", 10 * time.Millisecond, map[string]any{"type": "GENERATION", "name": "plan", "endTime": ts(900 * time.Millisecond),
					"parentObservationId": id + "-a", "level": "DEFAULT", "providedModelName": "gpt-4o-mini",
					"usageDetails": map[string]any{"input": 400, "output": 40, "total": 440}, "costDetails": map[string]any{"total": 0.0004}}},
				{id + "-t", time.Second, map[string]any{"type": "TOOL", "name": "lookup_order", "endTime": ts(2 * time.Second),
					"parentObservationId": id + "-a", "level": level, "statusMessage": status, "input": `{"order":"A-1"}`}},
			}
			for _, o := range obs {
				o.v["id"], o.v["traceId"], o.v["startTime"] = o.id, id, ts(o.start)
				raw, _ := json.Marshal(o.v) // maps of plain values always marshal
				f.obs = append(f.obs, lfObservation{traceID: id, id: o.id, start: start.Add(o.start), raw: raw})
				f.byTrace[id] = append(f.byTrace[id], raw)
			}
		}
	}
	slices.SortFunc(f.traces, func(a, b map[string]any) int { return cmp.Compare(b["timestamp"].(string), a["timestamp"].(string)) })
	slices.SortFunc(f.obs, func(a, b lfObservation) int {
		return cmp.Or(b.start.Compare(a.start), cmp.Compare(b.traceID, a.traceID), cmp.Compare(b.id, a.id))
	})
	return f
}

func (f *fakeLangfuseStore) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	time.Sleep(lfLatency)
	if u, p, ok := r.BasicAuth(); !ok || u != lfKey || p != lfSecret {
		lfJSON(w, http.StatusUnauthorized, map[string]any{"message": "Invalid credentials"})
		return
	}
	q := r.URL.Query()
	switch {
	case r.URL.Path == "/api/public/traces":
		f.list(w, q)
	case r.URL.Path == "/api/public/v2/observations" && !f.noV2:
		f.observationsV2(w, q)
	case r.URL.Path == "/api/public/observations":
		f.observationsLegacy(w, q)
	default:
		lfJSON(w, http.StatusNotFound, map[string]any{"message": "Route not found"})
	}
}

func (f *fakeLangfuseStore) list(w http.ResponseWriter, q lfQuery) {
	from, _ := time.Parse(time.RFC3339Nano, q.Get("fromTimestamp"))
	to, _ := time.Parse(time.RFC3339Nano, q.Get("toTimestamp"))
	page, limit := lfAtoi(q.Get("page"), 1), lfAtoi(q.Get("limit"), 50)
	if limit > 100 {
		lfJSON(w, http.StatusBadRequest, map[string]any{"message": "limit must be at most 100"})
		return
	}
	var hits []map[string]any
	for _, tr := range f.traces {
		ts, _ := time.Parse(time.RFC3339Nano, tr["timestamp"].(string))
		if !ts.Before(from) && ts.Before(to) {
			hits = append(hits, tr)
		}
	}
	lo, hi := min(len(hits), (page-1)*limit), min(len(hits), page*limit)
	lfJSON(w, http.StatusOK, map[string]any{"data": hits[lo:hi],
		"meta": map[string]any{"page": page, "limit": limit, "totalItems": len(hits), "totalPages": (len(hits) + limit - 1) / limit}})
}

func (f *fakeLangfuseStore) observationsV2(w http.ResponseWriter, q lfQuery) {
	limit := lfAtoi(q.Get("limit"), 50)
	if limit > 1000 {
		lfJSON(w, http.StatusBadRequest, map[string]any{"message": "limit must be at most 1000"})
		return
	}
	var from, to time.Time
	if s := q.Get("fromStartTime"); s != "" {
		from, _ = time.Parse(time.RFC3339Nano, s)
	}
	if s := q.Get("toStartTime"); s != "" {
		to, _ = time.Parse(time.RFC3339Nano, s)
	}
	offset := 0
	if c := q.Get("cursor"); c != "" {
		b, _ := base64.StdEncoding.DecodeString(c)
		offset = lfAtoi(strings.TrimPrefix(string(b), "offset:"), 0)
	}
	var data []json.RawMessage
	if id := q.Get("traceId"); id != "" {
		data = f.byTrace[id]
	} else {
		for _, o := range f.obs {
			if (from.IsZero() || !o.start.Before(from)) && (to.IsZero() || !o.start.After(to)) {
				data = append(data, o.raw)
			}
		}
	}
	lo, hi := min(len(data), offset), min(len(data), offset+limit)
	meta := map[string]any{}
	if hi < len(data) {
		meta["cursor"] = base64.StdEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(hi)))
	}
	lfJSON(w, http.StatusOK, map[string]any{"data": nonNilRaw(data[lo:hi]), "meta": meta})
}

func (f *fakeLangfuseStore) observationsLegacy(w http.ResponseWriter, q lfQuery) {
	all := f.byTrace[q.Get("traceId")]
	page, limit := lfAtoi(q.Get("page"), 1), lfAtoi(q.Get("limit"), 50)
	lo, hi := min(len(all), (page-1)*limit), min(len(all), page*limit)
	lfJSON(w, http.StatusOK, map[string]any{"data": nonNilRaw(all[lo:hi]),
		"meta": map[string]any{"page": page, "limit": limit, "totalItems": len(all), "totalPages": (len(all) + limit - 1) / limit}})
}

type lfQuery = neturl.Values

func nonNilRaw(v []json.RawMessage) []json.RawMessage {
	if v == nil {
		return []json.RawMessage{}
	}
	return v
}

func lfJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func lfAtoi(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil && n > 0 {
		return n
	}
	return def
}

// langfuseRun is what one triage against the fake cost.
type langfuseRun struct {
	Seconds  float64 `json:"seconds"`
	Traces   int     `json:"traces"`
	Top      string  `json:"top"`
	TopRate  float64 `json:"top_rate"`
	Requests int64   `json:"-"`
	PeakRSS  int64   `json:"-"`
}

// runLangfuseTriage is the child process of one Langfuse run: it triages
// the fake's alert against the Langfuse at -url and prints a langfuseRun.
func runLangfuseTriage(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("langfuse-triage", flag.ContinueOnError)
	host := fs.String("url", "", "the fake Langfuse")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := langfuse.New(langfuse.Options{Host: *host, PublicKey: lfKey, SecretKey: lfSecret})
	if err != nil {
		return err
	}
	red, err := redact.New(redact.Options{})
	if err != nil {
		return err
	}
	svc, err := triage.NewService(triage.ServiceOptions{Sources: map[string]triage.TraceSource{"langfuse": c}, Redactor: red})
	if err != nil {
		return err
	}
	start := time.Now()
	p, err := svc.Prepare(ctx, oncall.TriageRequest{Alert: oncall.Alert{Name: "checkout errors", StartsAt: lfAlertAt}})
	if err != nil {
		return err
	}
	run := langfuseRun{Seconds: time.Since(start).Seconds(), Traces: len(p.Traces)}
	if len(p.Report.Clusters) > 0 {
		run.Top, run.TopRate = p.Report.Clusters[0].Signature, p.Report.Clusters[0].Rate
	}
	return json.NewEncoder(stdout).Encode(run)
}

// langfuseTriage serves a fake Langfuse of n runs a window and runs one
// triage against it in a child process.
func langfuseTriage(ctx context.Context, n int, noV2 bool) (langfuseRun, error) {
	f := newFakeLangfuse(n, noV2)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	u, err := serve(ctx, f)
	if err != nil {
		return langfuseRun{}, err
	}
	self, err := os.Executable()
	if err != nil {
		return langfuseRun{}, err
	}
	cmd := exec.CommandContext(ctx, self, "langfuse-triage", "-url", u)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Run(); err != nil {
		return langfuseRun{}, fmt.Errorf("langfuse triage: %w", err)
	}
	var run langfuseRun
	if err := json.NewDecoder(bufio.NewReader(strings.NewReader(out.String()))).Decode(&run); err != nil {
		return langfuseRun{}, fmt.Errorf("langfuse triage output: %w", err)
	}
	run.Requests = f.requests.Load()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		run.PeakRSS = ru.Maxrss << 10
	}
	return run, nil
}

// langfuseRows measures a triage over a Langfuse holding n runs a window,
// against the trace-by-trace reading as baseline, alternating them.
func langfuseRows(ctx context.Context, n, rounds int) ([]row, error) {
	var cur, base []langfuseRun
	for range rounds {
		r, err := langfuseTriage(ctx, n, false)
		if err != nil {
			return nil, err
		}
		b, err := langfuseTriage(ctx, n, true)
		if err != nil {
			return nil, err
		}
		cur, base = append(cur, r), append(base, b)
	}
	med := func(runs []langfuseRun) langfuseRun {
		slices.SortFunc(runs, func(a, b langfuseRun) int { return cmp.Compare(a.Seconds, b.Seconds) })
		return runs[len(runs)/2]
	}
	c, b := med(cur), med(base)
	fig := fmt.Sprintf("Triage over Langfuse, %d runs in the incident window and %d in the baseline", n, n)
	note := fmt.Sprintf("range read: %d traces kept of %d, top cluster %q at rate %.3f; trace by trace: top %q at rate %.3f (%d traces); peak RSS %d MB vs %d MB; the fake answers each request after %s; median of %d alternating runs",
		c.Traces, 2*n, c.Top, c.TopRate, b.Top, b.TopRate, b.Traces, c.PeakRSS>>20, b.PeakRSS>>20, lfLatency, rounds)
	return []row{
		{Figure: fig + ", requests", Target: "<= 100", Measured: strconv.FormatInt(c.Requests, 10),
			Baseline: strconv.FormatInt(b.Requests, 10) + " (observations trace by trace)", Ratio: ratio(float64(c.Requests), float64(b.Requests)), Met: met(c.Requests <= 100), Note: note},
		{Figure: fig + ", time", Measured: fmt.Sprintf("%.2f s", c.Seconds),
			Baseline: fmt.Sprintf("%.2f s (observations trace by trace)", b.Seconds), Ratio: ratio(c.Seconds, b.Seconds)},
		{Figure: fig + ", peak RSS", Measured: fmt.Sprintf("%d MB", c.PeakRSS>>20),
			Baseline: fmt.Sprintf("%d MB (observations trace by trace)", b.PeakRSS>>20), Ratio: ratio(float64(c.PeakRSS), float64(b.PeakRSS))},
	}, nil
}
