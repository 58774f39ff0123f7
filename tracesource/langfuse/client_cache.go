package langfuse

import (
	"maps"
	"sync"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// maxCached bounds the traces the cache holds.
const maxCached = 2000

// traceCache keeps fetched traces for a short time, so the searches and
// lookups of one triage do not spend the rate limit twice on a trace. It
// hands out copies: callers may change what they get. It is safe for
// concurrent use; a zero or negative ttl disables it.
type traceCache struct {
	ttl time.Duration
	now func() time.Time

	mu    sync.Mutex
	items map[string]cached
}

type cached struct {
	trace oncall.Trace
	at    time.Time
}

func newTraceCache(ttl time.Duration, now func() time.Time) *traceCache {
	return &traceCache{ttl: ttl, now: now, items: map[string]cached{}}
}

func (c *traceCache) get(id string) (oncall.Trace, bool) {
	if c.ttl <= 0 {
		return oncall.Trace{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.items[id]
	if !ok {
		return oncall.Trace{}, false
	}
	if c.now().Sub(it.at) >= c.ttl {
		delete(c.items, id)
		return oncall.Trace{}, false
	}
	return cloneTrace(it.trace), true
}

func (c *traceCache) put(t oncall.Trace) {
	if c.ttl <= 0 || t.TraceID == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if len(c.items) >= maxCached {
		oldest, oldestAt := "", now
		for id, it := range c.items {
			if now.Sub(it.at) >= c.ttl {
				delete(c.items, id)
			} else if it.at.Before(oldestAt) || oldest == "" {
				oldest, oldestAt = id, it.at
			}
		}
		if len(c.items) >= maxCached {
			delete(c.items, oldest)
		}
	}
	c.items[t.TraceID] = cached{trace: cloneTrace(t), at: now}
}

// cloneTrace copies a trace deeply enough that changing the copy's spans,
// events or attributes leaves the original alone.
func cloneTrace(t oncall.Trace) oncall.Trace {
	t.Attributes = maps.Clone(t.Attributes)
	spans := make([]oncall.Span, len(t.Spans))
	for i, s := range t.Spans {
		s.Attributes = maps.Clone(s.Attributes)
		if s.Events != nil {
			events := make([]oncall.SpanEvent, len(s.Events))
			for j, e := range s.Events {
				e.Attributes = maps.Clone(e.Attributes)
				events[j] = e
			}
			s.Events = events
		}
		spans[i] = s
	}
	t.Spans = spans
	return t
}
