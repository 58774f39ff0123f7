package jsonl

import (
	"hash/maphash"
	"sort"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// collector gathers the traces of a search while the files stream by.
//
// Spans arrive in groups (the spans of one trace in one record). A group
// that does not overlap the window is dropped at once unless its trace is
// already a candidate, and its trace id is noted in a fixed-size Bloom
// filter. Candidates keep a summary (interval, which filters matched) for
// as long as the search runs, but their spans only while they are among
// the 2*(limit+keep) candidates the sample is likeliest to keep. Traces chosen at the end whose spans were
// dropped, or may have been, are read again in a second pass. Memory is
// thus bounded by the traces overlapping the window, not by the input.
type collector struct {
	q       query
	cands   map[string]*candidate
	held    []*candidate // candidates holding spans
	maxHeld int
	dropped bloom
}

type candidate struct {
	id         string
	start, end time.Time
	matched    uint64 // bit i: filter i matched some span
	spans      []oncall.Span
	evicted    bool   // spans were dropped to bound memory
	failed     bool   // a span ended in error
	rank       uint64 // oncall.SampleRank of the id
}

func newCollector(q query) *collector {
	return &collector{
		q:       q,
		cands:   make(map[string]*candidate),
		maxHeld: 2 * (q.limit + q.keep),
		dropped: newBloom(),
	}
}

// add takes the spans of one record.
func (c *collector) add(spans []oncall.Span) {
	for len(spans) > 0 {
		n := 1
		for n < len(spans) && spans[n].TraceID == spans[0].TraceID {
			n++
		}
		c.addGroup(spans[:n])
		spans = spans[n:]
	}
}

func (c *collector) addGroup(group []oncall.Span) {
	id := group[0].TraceID
	start, end := interval(group)
	cand := c.cands[id]
	if cand == nil {
		if !c.q.overlaps(start, end) {
			c.dropped.add(id)
			return
		}
		cand = &candidate{id: id, start: start, end: end, rank: oncall.SampleRank(id)}
		c.cands[id] = cand
		c.held = append(c.held, cand)
	} else {
		if start.Before(cand.start) {
			cand.start = start
		}
		if end.After(cand.end) {
			cand.end = end
		}
	}
	for i := range group {
		cand.matched |= c.q.matches(&group[i])
		cand.failed = cand.failed || group[i].Status == oncall.StatusError
	}
	if !cand.evicted {
		cand.spans = append(cand.spans, group...)
	}
	if len(c.held) > c.maxHeld {
		c.evictOldest()
	}
}

// evictOldest drops the spans of the half of the candidates holding spans
// least likely to be kept: healthy before failing, and among them those
// the sample would choose last (highest rank). Their summaries stay, so
// they are still counted and can be read again if they end up chosen.
func (c *collector) evictOldest() {
	sort.Slice(c.held, func(i, j int) bool { return likelier(c.held[i], c.held[j]) })
	keep := c.maxHeld / 2
	for _, cand := range c.held[keep:] {
		cand.spans, cand.evicted = nil, true
	}
	clear(c.held[keep:])
	c.held = c.held[:keep]
}

// result samples the matching traces (oncall.SampleSummaries: every
// failing and slow one up to the keep cap, a uniform sample of the healthy
// ones up to the limit), newest first. refetch lists the chosen ones whose
// spans must be read again.
func (c *collector) result() (chosen []*candidate, matched int, refetch map[string]*candidate, sample oncall.Sample) {
	var all []*candidate
	for _, cand := range c.cands {
		if cand.matched == c.q.allFilters && c.q.overlaps(cand.start, cand.end) {
			all = append(all, cand)
		}
	}
	sort.Slice(all, func(i, j int) bool { return newer(all[i], all[j]) })
	matched = len(all)
	runs := make([]oncall.Run, len(all))
	for i, cand := range all {
		runs[i] = oncall.Run{TraceID: cand.id, Duration: cand.end.Sub(cand.start), Failed: cand.failed}
	}
	sample, keep := oncall.SampleSummaries(runs, c.q.keep, c.q.limit)
	refetch = make(map[string]*candidate)
	for i, cand := range all {
		if !keep[i] {
			continue
		}
		chosen = append(chosen, cand)
		if cand.evicted || c.dropped.has(cand.id) {
			refetch[cand.id] = cand
			cand.spans = nil
		}
	}
	return chosen, matched, refetch, sample
}

// likelier orders candidates by how likely the sample keeps them.
func likelier(a, b *candidate) bool {
	if a.failed != b.failed {
		return a.failed
	}
	return a.rank < b.rank
}

func newer(a, b *candidate) bool {
	if !a.start.Equal(b.start) {
		return a.start.After(b.start)
	}
	return a.id > b.id
}

func interval(spans []oncall.Span) (start, end time.Time) {
	for i := range spans {
		s := &spans[i]
		if !s.Start.IsZero() && (start.IsZero() || s.Start.Before(start)) {
			start = s.Start
		}
		if s.End.After(end) {
			end = s.End
		}
	}
	if end.Before(start) {
		end = start
	}
	return start, end
}

// bloom is a fixed-size Bloom filter of trace ids: 2^23 bits (1 MiB), three
// probes. A false positive only costs an unneeded second read.
type bloom struct {
	seed maphash.Seed
	bits []uint64
}

const bloomBits = 1 << 23

func newBloom() bloom { return bloom{seed: maphash.MakeSeed()} }

func (b *bloom) probes(id string) [3]uint32 {
	h := maphash.String(b.seed, id)
	h1, h2 := uint32(h), uint32(h>>32)|1
	return [3]uint32{h1 % bloomBits, (h1 + h2) % bloomBits, (h1 + 2*h2) % bloomBits}
}

func (b *bloom) add(id string) {
	if b.bits == nil {
		b.bits = make([]uint64, bloomBits/64)
	}
	for _, p := range b.probes(id) {
		b.bits[p/64] |= 1 << (p % 64)
	}
}

func (b *bloom) has(id string) bool {
	if b.bits == nil {
		return false
	}
	for _, p := range b.probes(id) {
		if b.bits[p/64]&(1<<(p%64)) == 0 {
			return false
		}
	}
	return true
}
