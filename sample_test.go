package oncall

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

func sampleFleet(n int) []Trace {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	out := make([]Trace, n)
	for i := range out {
		d := time.Second + time.Duration(i%100)*10*time.Millisecond
		s := Span{TraceID: fmt.Sprintf("t%04d", i), SpanID: "s", Start: t0, End: t0.Add(d)}
		if i%10 == 0 {
			s.Status = StatusError
		}
		out[i] = Trace{TraceID: s.TraceID, Start: t0, End: t0.Add(d), Spans: []Span{s}}
	}
	return out
}

func TestSampleRuns(t *testing.T) {
	tests := []struct {
		name                               string
		n, keep, healthy                   int
		wantFailing, wantSlow, wantHealthy int
		wantWeights                        bool
	}{
		{name: "under the caps nothing is left out", n: 100, keep: 50, healthy: 100, wantFailing: 10, wantSlow: 4, wantHealthy: 86},
		{name: "healthy runs sampled, failing and slow kept", n: 1000, keep: 200, healthy: 100, wantFailing: 100, wantSlow: 40, wantHealthy: 100, wantWeights: true},
		{name: "failing runs over their cap are sampled too", n: 1000, keep: 50, healthy: 100, wantFailing: 50, wantSlow: 0, wantHealthy: 100, wantWeights: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fleet := sampleFleet(tt.n)
			s := SampleRuns(fleet, tt.keep, tt.healthy)
			if s.FailingKept != tt.wantFailing || s.SlowKept != tt.wantSlow || s.HealthyKept != tt.wantHealthy {
				t.Errorf("kept %d failing, %d slow, %d healthy; want %d, %d, %d", s.FailingKept, s.SlowKept, s.HealthyKept, tt.wantFailing, tt.wantSlow, tt.wantHealthy)
			}
			if (s.Weights != nil) != tt.wantWeights || (s.Note() != "") != tt.wantWeights {
				t.Errorf("weights %v, note %q", s.Weights != nil, s.Note())
			}
			// The weights add up to the window.
			total := 0.0
			for _, tr := range s.Traces {
				if w, ok := s.Weights[tr.TraceID]; ok {
					total += w
				} else {
					total++
				}
			}
			if int(total+0.5) != tt.n {
				t.Errorf("weights add up to %.1f runs, want %d", total, tt.n)
			}
			// The same window, in another order, gives the same sample.
			rev := slices.Clone(fleet)
			slices.Reverse(rev)
			a, b := traceIDsOf(s.Traces), traceIDsOf(SampleRuns(rev, tt.keep, tt.healthy).Traces)
			slices.Sort(a)
			slices.Sort(b)
			if !slices.Equal(a, b) {
				t.Error("the sample depends on the order runs arrived in")
			}
		})
	}
}

func traceIDsOf(ts []Trace) []string {
	out := make([]string, len(ts))
	for i := range ts {
		out[i] = ts[i].TraceID
	}
	return out
}
