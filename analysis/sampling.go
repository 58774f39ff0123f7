package analysis

import "math"

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

// weightedMean is the mean of what measure gives each run of a window,
// each run counted with its sampling weight: the mean over the window's
// runs, not over the sample. Without weights it is the plain mean.
// Latency leaves out runs without a duration (durationOf gives -1).
func (a *analyzer) weightedMean(incident bool, measure func(*traceFacts) float64) float64 {
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
