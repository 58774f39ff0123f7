package triage

import (
	"fmt"
	"maps"
	"math"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// Sampling weights: a source that sampled a busy window gives each kept
// run the number of runs it stands for, and the window totals and cluster
// counts the rates divide count runs with them.

// weightOf is the number of runs a trace stands for in its window: its
// sampling weight, or one.
func weightOf(weights map[string]float64, traceID string) float64 {
	if w, ok := weights[traceID]; ok && w > 0 {
		return w
	}
	return 1
}

// weighted is a count of traces with their sampling weights, rounded;
// at least one when any trace was counted.
func weighted(n int, w float64) int {
	if n == 0 {
		return 0
	}
	return max(1, int(math.Round(w)))
}

// capNote says what a window's search left out or sampled, or "".
func (s *Service) capNote(window string, res oncall.TraceSearchResult) string {
	switch {
	case res.Sampling != "":
		return fmt.Sprintf("%s window: %s", window, res.Sampling)
	case res.Matched > len(res.Traces):
		return fmt.Sprintf("%s window: %d of %d matching traces left out by the cap of %d", window, res.Matched-len(res.Traces), res.Matched, s.opts.MaxTraces)
	}
	return ""
}

// addWeights merges a window's sampling weights into all.
func addWeights(all, w map[string]float64) map[string]float64 {
	if len(w) == 0 {
		return all
	}
	if all == nil {
		all = make(map[string]float64, len(w))
	}
	maps.Copy(all, w)
	return all
}

// weightedMean is the mean of what measure gives each run of a window,
// each run counted with its sampling weight: the mean over the window's
// runs, not over the sample. Without weights it is the plain mean.
// Latency leaves out runs without a duration (durationOf gives -1).
func (a *analysis) weightedMean(incident bool, measure func(*traceFacts) float64) float64 {
	var sum, n float64
	for i := range a.facts {
		f := &a.facts[i]
		if f.incident != incident {
			continue
		}
		v := measure(f)
		if v < 0 {
			continue
		}
		sum += v * f.weight
		n += f.weight
	}
	if n == 0 {
		return 0
	}
	return sum / n
}

// durationOf is a run's duration for weightedMean, -1 when it has none.
func durationOf(f *traceFacts) float64 {
	if f.duration > 0 {
		return f.duration
	}
	return -1
}
