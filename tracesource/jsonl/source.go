// Package jsonl is the trace source for files: JSON Lines (or whole JSON
// documents) holding OTLP/JSON export requests, Langfuse trace exports or
// flat span objects such as Phoenix's span export. It streams every file
// under a path on each query, so it needs no index and no server, and its
// memory stays bounded by the traces a query asks for, not by the size of
// the files.
package jsonl

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/tracesource/otlp"
	"github.com/oncall-copilot/oncall-copilot/tracesource/semconv"
)

// Defaults for Options.
const (
	DefaultLimit            = 500
	DefaultMaxLineBytes     = 64 << 20
	DefaultMaxDocumentBytes = 256 << 20
	// SourceName is what Trace.Source says for traces read here.
	SourceName = "jsonl"
)

// Options configure a Source.
type Options struct {
	// Path is a trace file or a directory searched recursively for
	// *.jsonl, *.ndjson and *.json files, gzipped or not. Required.
	Path string
	// MaxLineBytes caps one line; longer lines are skipped and counted.
	// Default DefaultMaxLineBytes.
	MaxLineBytes int
	// MaxDocumentBytes caps a file holding a single pretty-printed
	// document. Default DefaultMaxDocumentBytes.
	MaxDocumentBytes int64
	// Logger receives a warning per skipped record (file and line, never
	// its content). Default: discard.
	Logger *slog.Logger
}

// Source reads traces from files. It is safe for concurrent use.
type Source struct {
	path    string
	maxLine int
	maxDoc  int64
	log     *slog.Logger
	skipped atomic.Int64
}

// New checks opts and returns a Source. The path is not opened until a
// query runs, so a file another process has yet to write is fine.
func New(opts Options) (*Source, error) {
	var errs []error
	if strings.TrimSpace(opts.Path) == "" {
		errs = append(errs, errors.New("path is required"))
	}
	if opts.MaxLineBytes < 0 {
		errs = append(errs, errors.New("max line bytes must not be negative"))
	}
	if opts.MaxDocumentBytes < 0 {
		errs = append(errs, errors.New("max document bytes must not be negative"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("jsonl: %w", errors.Join(errs...))
	}
	if opts.MaxLineBytes == 0 {
		opts.MaxLineBytes = DefaultMaxLineBytes
	}
	if opts.MaxDocumentBytes == 0 {
		opts.MaxDocumentBytes = DefaultMaxDocumentBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Source{
		path:    opts.Path,
		maxLine: opts.MaxLineBytes,
		maxDoc:  opts.MaxDocumentBytes,
		log:     opts.Logger.With("component", "tracesource.jsonl"),
	}, nil
}

// Skipped counts the records (lines or files) skipped so far because they
// were malformed, too long or of an unknown shape.
func (s *Source) Skipped() int64 { return s.skipped.Load() }

// Search returns the traces overlapping [q.Start, q.End) whose spans match
// every filter, newest first: every failing and slow one up to q.KeepLimit
// (default q.Limit) and a uniform sample of at most q.Limit (default
// DefaultLimit) healthy ones, with their weights (oncall.SampleSummaries);
// Matched counts all matches. A zero Start or End leaves that side
// open. A filter matches a span attribute with that exact value; the keys
// service.name and trace.name also match the span's service and the root
// span's (or Langfuse trace's) name. Malformed records are skipped and
// counted, and said in Unreadable; a path that does not exist or holds no
// trace file, a file that cannot be read, and files none of whose records
// decode fail the search.
func (s *Source) Search(ctx context.Context, q oncall.TraceQuery) (oncall.TraceSearchResult, error) {
	qq, err := newQuery(q)
	if err != nil {
		return oncall.TraceSearchResult{}, fmt.Errorf("jsonl: search: %w", err)
	}
	c := newCollector(qq)
	inv, err := s.scan(ctx, nil, c.add)
	if err != nil {
		return oncall.TraceSearchResult{}, fmt.Errorf("jsonl: search %s: %w", s.path, err)
	}
	chosen, matched, refetch, sample := c.result()
	if len(refetch) > 0 {
		_, err := s.scan(ctx, nil, func(spans []oncall.Span) {
			for _, sp := range spans {
				if cand := refetch[sp.TraceID]; cand != nil {
					cand.spans = append(cand.spans, sp)
				}
			}
		})
		if err != nil {
			return oncall.TraceSearchResult{}, fmt.Errorf("jsonl: search %s: %w", s.path, err)
		}
	}
	res := oncall.TraceSearchResult{Matched: matched, Traces: make([]oncall.Trace, 0, len(chosen)), Weights: sample.Weights, Sampling: sample.Note(), Unreadable: inv.unreadable()}
	for _, cand := range chosen {
		res.Traces = append(res.Traces, buildTrace(cand.id, cand.spans))
	}
	return res, nil
}

// Get returns the trace with the given id (any case; base64 ids are
// normalised to hex like the spans'), or an error wrapping
// oncall.ErrNotFound when no file holds it.
func (s *Source) Get(ctx context.Context, traceID string) (oncall.Trace, error) {
	id := otlp.NormalizeID(strings.TrimPrefix(strings.TrimSpace(traceID), "0x"))
	if id == "" {
		return oncall.Trace{}, fmt.Errorf("jsonl: get trace %q: %w", traceID, oncall.ErrNotFound)
	}
	var spans []oncall.Span
	_, err := s.scan(ctx, idFilter(id), func(got []oncall.Span) {
		for _, sp := range got {
			if sp.TraceID == id {
				spans = append(spans, sp)
			}
		}
	})
	if err != nil {
		return oncall.Trace{}, fmt.Errorf("jsonl: get trace %s: %w", id, err)
	}
	if len(spans) == 0 {
		return oncall.Trace{}, fmt.Errorf("jsonl: get trace %s: %w", id, oncall.ErrNotFound)
	}
	return buildTrace(id, spans), nil
}

// idFilter returns a cheap test that a record may mention id, in any of
// the spellings decoding normalises (lowercase or uppercase hex, base64),
// so records about other traces are not decoded.
func idFilter(id string) func([]byte) bool {
	needles := [][]byte{[]byte(id), []byte(strings.ToUpper(id))}
	if b, err := hex.DecodeString(id); err == nil {
		needles = append(needles, []byte(base64.StdEncoding.EncodeToString(b)))
	}
	return func(data []byte) bool {
		for _, n := range needles {
			if bytes.Contains(data, n) {
				return true
			}
		}
		return false
	}
}

// buildTrace assembles a trace from its spans. A span id seen twice (the
// same trace exported into two files) keeps its first occurrence.
func buildTrace(id string, spans []oncall.Span) oncall.Trace {
	seen := make(map[string]bool, len(spans))
	uniq := spans[:0]
	for _, sp := range spans {
		if !seen[sp.SpanID] {
			seen[sp.SpanID] = true
			uniq = append(uniq, sp)
		}
	}
	t := oncall.Trace{TraceID: id, Spans: uniq, Source: SourceName}
	semconv.FinishTrace(&t)
	return t
}

// scan decodes every record of every file, passing the spans to fn.
// Records for which want (when set) reports false are not decoded. It
// fails when the path does not exist, holds no trace file, or holds trace
// files none of whose records could be read; the returned inventory says
// what it could not read when it read the rest.
func (s *Source) scan(ctx context.Context, want func([]byte) bool, fn func([]oncall.Span)) (inventory, error) {
	paths, others, err := files(s.path)
	if err != nil {
		return inventory{}, err
	}
	inv := inventory{root: s.path, others: others}
	if len(paths) == 0 {
		return inv, inv.noTraceFiles(s.path)
	}
	var dec lineDecoder
	for _, p := range paths {
		var bad fileProblem
		err := readFile(ctx, p, s.maxLine, s.maxDoc, func(r record, err error) bool {
			if err == nil && want != nil && !want(r.data) {
				return true
			}
			var spans []oncall.Span
			if err == nil {
				spans, err = dec.decodeRecord(r)
			}
			if err != nil {
				s.skipped.Add(1)
				s.log.Warn("skipped trace record", "file", r.file, "line", r.line, "err", err)
				if !r.retry {
					// The lines of a document that did not decode whole
					// are tried one by one; the document counts once.
					bad.add(r.line, err)
				}
				return false
			}
			inv.records++
			fn(spans)
			return true
		})
		if err != nil {
			return inv, fmt.Errorf("%s: %w", p, err)
		}
		if bad.records > 0 {
			bad.file = p
			inv.bad = append(inv.bad, bad)
		}
	}
	if err := ctx.Err(); err != nil {
		return inv, err
	}
	if want == nil && inv.records == 0 && len(inv.bad) > 0 {
		return inv, fmt.Errorf("no trace could be read: %s", strings.Join(inv.unreadable(), "; "))
	}
	return inv, nil
}

// query is a TraceQuery prepared for matching spans.
type query struct {
	start, end time.Time
	limit      int
	keep       int // failing and slow traces kept besides limit
	keys, vals []string
	allFilters uint64
}

func newQuery(q oncall.TraceQuery) (query, error) {
	if len(q.Filters) > 64 {
		return query{}, fmt.Errorf("%d filters, at most 64 are supported", len(q.Filters))
	}
	if !q.Start.IsZero() && !q.End.IsZero() && !q.Start.Before(q.End) {
		return query{}, fmt.Errorf("empty window [%s, %s)", q.Start.Format(time.RFC3339), q.End.Format(time.RFC3339))
	}
	qq := query{start: q.Start, end: q.End, limit: q.Limit}
	if qq.limit <= 0 {
		qq.limit = DefaultLimit
	}
	qq.keep = q.KeepLimit
	if qq.keep <= 0 {
		qq.keep = qq.limit
	}
	for k, v := range q.Filters {
		qq.keys = append(qq.keys, k)
		qq.vals = append(qq.vals, v)
	}
	qq.allFilters = 1<<len(qq.keys) - 1
	return qq, nil
}

// overlaps reports whether [start, end] meets [q.start, q.end).
func (q *query) overlaps(start, end time.Time) bool {
	if end.Before(start) {
		end = start
	}
	return (q.end.IsZero() || start.Before(q.end)) && (q.start.IsZero() || !end.Before(q.start))
}

// matches returns the bits of the filters span satisfies.
func (q *query) matches(s *oncall.Span) uint64 {
	var m uint64
	for i, k := range q.keys {
		v := q.vals[i]
		ok := s.Attributes[k] == v && (v != "" || hasAttr(s.Attributes, k))
		switch k {
		case "service.name":
			ok = ok || s.Service == v
		case "trace.name":
			ok = ok || s.Attributes[semconv.KeyTraceName] == v || (s.ParentID == "" && s.Name == v)
		}
		if ok {
			m |= 1 << i
		}
	}
	return m
}

func hasAttr(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}
