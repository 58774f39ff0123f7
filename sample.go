package oncall

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"
)

// A window of a busy fleet holds more runs than a triage reads. Sampling
// keeps what the analysis is about (every failing and every slow run, up
// to a cap of their own) and a uniform sample of the healthy ones, and
// gives each kept run the number of runs it stands for, so that rates
// computed with those weights do not move because of the cap.

// minRunsForSlow is the fewest runs a window needs before its slowest
// twentieth counts as slow: below it there is no tail to speak of.
const minRunsForSlow = 20

// Sample is the outcome of SampleRuns.
type Sample struct {
	// Traces are the kept runs, in their input order.
	Traces []Trace
	// Weights gives each kept run the number of runs it stands for; nil
	// when nothing was left out (every run stands for itself).
	Weights map[string]float64
	// Kept and Of count runs kept and offered per stratum.
	FailingKept, Failing int
	SlowKept, Slow       int
	HealthyKept, Healthy int
}

// Sampled reports whether some runs were left out.
func (s Sample) Sampled() bool {
	return s.FailingKept < s.Failing || s.SlowKept < s.Slow || s.HealthyKept < s.Healthy
}

// Note says in a sentence what was sampled and how, or "" when nothing was.
func (s Sample) Note() string {
	if !s.Sampled() {
		return ""
	}
	var parts []string
	for _, p := range []struct {
		kept, of int
		what     string
	}{{s.FailingKept, s.Failing, "failing"}, {s.SlowKept, s.Slow, "slow (above the window's p95)"}, {s.HealthyKept, s.Healthy, "healthy"}} {
		switch {
		case p.of == 0:
		case p.kept == p.of:
			parts = append(parts, fmt.Sprintf("all %d %s", p.of, p.what))
		default:
			parts = append(parts, fmt.Sprintf("%d of %d %s chosen uniformly (each counts as %.1f)", p.kept, p.of, p.what, float64(p.of)/float64(max(p.kept, 1))))
		}
	}
	return fmt.Sprintf("read %d of %d runs: %s; rates count each run with its weight",
		s.FailingKept+s.SlowKept+s.HealthyKept, s.Failing+s.Slow+s.Healthy, strings.Join(parts, ", "))
}

// Run is what sampling needs to know of a run before reading it all:
// stores that list runs (a search hit, a trace summary) fill it from
// their listing.
type Run struct {
	TraceID  string
	Duration time.Duration
	Failed   bool
}

// SampleRuns keeps every failing and every slow run (those above the
// window's 95th percentile of duration), up to keep of them (failing runs
// first, chosen uniformly when they overflow it), and up to healthy of the
// others, chosen uniformly; slow runs beyond the keep cap are sampled with
// the healthy ones. The choice hashes trace ids, so the same window gives
// the same sample. A non-positive keep or healthy means no cap on that
// stratum.
func SampleRuns(traces []Trace, keep, healthy int) Sample {
	runs := make([]Run, len(traces))
	for i := range traces {
		runs[i] = Run{TraceID: traces[i].TraceID, Duration: traces[i].Duration(), Failed: traces[i].Failed()}
	}
	s, chosen := SampleSummaries(runs, keep, healthy)
	for i := range traces {
		if chosen[i] {
			s.Traces = append(s.Traces, traces[i])
		}
	}
	return s
}

// SampleSummaries is SampleRuns over runs not read yet: it says which to
// read (chosen, by index) with the counts and weights; Traces is nil.
func SampleSummaries(runs []Run, keep, healthy int) (s Sample, chosen []bool) {
	var failing, slow, rest []int
	threshold := slowThreshold(runs)
	for i := range runs {
		switch {
		case runs[i].Failed:
			failing = append(failing, i)
		case threshold > 0 && runs[i].Duration > threshold:
			slow = append(slow, i)
		default:
			rest = append(rest, i)
		}
	}
	// Failing runs take the keep cap first; slow ones get what is left,
	// and those that do not fit are sampled with the healthy ones, so
	// that every run left out is stood for by one kept.
	keepFailing := capOr(keep, len(failing))
	if keep > 0 && len(slow) > keep-keepFailing {
		picked := pickUniform(runs, slow, keep-keepFailing)
		rest = append(rest, without(slow, picked)...)
		slices.Sort(rest)
		slow = picked
	}
	s = Sample{Failing: len(failing), Slow: len(slow), Healthy: len(rest)}
	chosen = make([]bool, len(runs))
	weights := map[string]float64{}
	for _, st := range []struct {
		idx  []int
		n    int
		kept *int
	}{{failing, keepFailing, &s.FailingKept}, {slow, len(slow), &s.SlowKept}, {rest, capOr(healthy, len(rest)), &s.HealthyKept}} {
		picked := pickUniform(runs, st.idx, st.n)
		*st.kept = len(picked)
		for _, i := range picked {
			chosen[i] = true
			if len(picked) < len(st.idx) {
				weights[runs[i].TraceID] = float64(len(st.idx)) / float64(len(picked))
			}
		}
	}
	if len(weights) > 0 {
		s.Weights = weights
	}
	return s, chosen
}

// without returns the indexes of all not in some (both sorted).
func without(all, some []int) []int {
	var out []int
	for _, i := range all {
		if _, found := slices.BinarySearch(some, i); !found {
			out = append(out, i)
		}
	}
	return out
}

func capOr(limit, n int) int {
	if limit <= 0 {
		return n
	}
	return min(limit, n)
}

// slowThreshold is the 95th percentile of the runs' durations, or zero
// when there are too few runs or no durations.
func slowThreshold(runs []Run) time.Duration {
	if len(runs) < minRunsForSlow {
		return 0
	}
	d := make([]time.Duration, 0, len(runs))
	for i := range runs {
		if x := runs[i].Duration; x > 0 {
			d = append(d, x)
		}
	}
	if len(d) < minRunsForSlow {
		return 0
	}
	slices.Sort(d)
	return d[len(d)*95/100]
}

// pickUniform returns n of idx, those whose trace ids hash lowest: a
// uniform choice that does not depend on the order runs arrived in.
func pickUniform(runs []Run, idx []int, n int) []int {
	if n >= len(idx) {
		return idx
	}
	type ranked struct {
		i int
		h uint64
	}
	r := make([]ranked, len(idx))
	for k, i := range idx {
		r[k] = ranked{i, SampleRank(runs[i].TraceID)}
	}
	slices.SortFunc(r, func(a, b ranked) int {
		switch {
		case a.h < b.h:
			return -1
		case a.h > b.h:
			return 1
		}
		return a.i - b.i
	})
	out := make([]int, n)
	for k := range out {
		out[k] = r[k].i
	}
	slices.Sort(out)
	return out
}

// SampleRank is the rank of a trace id in a uniform choice: of the runs
// of a stratum, sampling keeps those of lowest rank. Sources that must
// drop runs before they know which will be kept drop the highest first.
func SampleRank(traceID string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(traceID))
	return mix(h.Sum64())
}

// mix spreads FNV's bits (splitmix64's finaliser), so ids that differ in
// their last characters only do not hash close together.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
