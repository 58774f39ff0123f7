package incidentpage

import (
	"fmt"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// onsetChart is the geometry of the onset chart, drawn as inline SVG by
// the template: stacked bars of failing runs per step, one colour per top
// cluster and grey for the other failing runs.
type onsetChart struct {
	W, H                   int
	Left, Top, Right, Base float64 // the plot area
	Baseline               *band   // the baseline window, shaded
	Bars                   []bar
	Marks                  []mark
	YTicks, XTicks         []tick
	Legend                 []legendItem
	Empty                  bool
	Steps                  int
	Step                   string
}

type band struct{ X, W float64 }

type bar struct {
	X, Y, W, H float64
	Class      string
	Title      string
}

type mark struct {
	X      float64
	Label  string
	Class  string
	LabelX float64
	LabelY float64
	Anchor string
}

type tick struct {
	X, Y  float64
	Label string
}

type legendItem struct{ Class, Label string }

var seriesClass = []string{"c0", "c1", "c2"}

func buildOnset(o oncall.Onset, windowStart time.Time, red func(string) string) onsetChart {
	c := onsetChart{W: 960, H: 260, Left: 48, Top: 30, Right: 944, Base: 220, Steps: len(o.Failing)}
	n := len(o.Failing)
	if n == 0 || o.Step <= 0 {
		c.Empty = true
		return c
	}
	c.Step = o.Step.String()
	stack := make([][]int, n) // per step: each cluster, then the others
	peak := 1
	for k := 0; k < n; k++ {
		sum := 0
		for _, s := range o.Clusters {
			if k < len(s.Counts) {
				stack[k] = append(stack[k], s.Counts[k])
				sum += s.Counts[k]
			}
		}
		stack[k] = append(stack[k], max(o.Failing[k]-sum, 0))
		peak = max(peak, sum+stack[k][len(stack[k])-1])
	}
	peak = niceCeil(peak)
	width := c.Right - c.Left
	bw := width / float64(n)
	xOf := func(t time.Time) float64 {
		return c.Left + width*float64(t.Sub(o.Start))/float64(o.Step*time.Duration(n))
	}
	yOf := func(v int) float64 { return c.Base - (c.Base-c.Top)*float64(v)/float64(peak) }
	if ws := windowStart; !ws.IsZero() && ws.After(o.Start) {
		c.Baseline = &band{X: c.Left, W: xOf(ws) - c.Left}
	}
	for k := 0; k < n; k++ {
		at := o.Start.Add(time.Duration(k) * o.Step).UTC().Format("15:04")
		acc := 0
		for i, v := range stack[k] {
			if v == 0 {
				continue
			}
			class, label := "other", "other failing runs"
			if i < len(o.Clusters) {
				class, label = seriesClass[i%len(seriesClass)], red(o.Clusters[i].Signature)
			}
			y0, y1 := yOf(acc), yOf(acc+v)
			c.Bars = append(c.Bars, bar{X: c.Left + float64(k)*bw + 0.5, Y: y1, W: max(bw-1, 0.5), H: y0 - y1, Class: class,
				Title: fmt.Sprintf("%s: %d × %s", at, v, label)})
			acc += v
		}
	}
	for _, v := range []int{0, peak / 2, peak} {
		c.YTicks = append(c.YTicks, tick{X: c.Left - 6, Y: yOf(v), Label: fmt.Sprint(v)})
	}
	every := max(n/8, 1)
	for k := 0; k <= n; k += every {
		c.XTicks = append(c.XTicks, tick{X: c.Left + float64(k)*bw, Y: c.Base + 16, Label: o.Start.Add(time.Duration(k) * o.Step).UTC().Format("15:04")})
	}
	addMark := func(t time.Time, label, class string, y float64) {
		if t.IsZero() || t.Before(o.Start) {
			return
		}
		x := min(xOf(t), c.Right)
		m := mark{X: x, Label: label + " " + t.UTC().Format("15:04"), Class: class, LabelX: x + 4, LabelY: y, Anchor: "start"}
		if x > c.Right-140 {
			m.LabelX, m.Anchor = x-4, "end"
		}
		c.Marks = append(c.Marks, m)
	}
	addMark(o.At, "onset", "onset", 44)
	addMark(o.FiringAt, "alert fired", "firing", 60)
	for i, s := range o.Clusters {
		c.Legend = append(c.Legend, legendItem{Class: seriesClass[i%len(seriesClass)], Label: clip(red(s.Signature), 60)})
	}
	c.Legend = append(c.Legend, legendItem{Class: "other", Label: "other failing runs"})
	return c
}

// niceCeil rounds a count up to 1, 2 or 5 times a power of ten, so the
// axis reads well.
func niceCeil(v int) int {
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if m*p >= v {
				return m * p
			}
		}
	}
}
