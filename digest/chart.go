package digest

import (
	"bytes"
	"fmt"
	"image/color"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/oncall-copilot/oncall-copilot/digest/view"
)

// Chart size, in pixels at chartDPI.
const (
	chartW   = 800
	chartH   = 300
	chartDPI = 96
)

// Chart colours.
var (
	chartFailing  = color.RGBA{0xd6, 0x45, 0x41, 0xff}
	chartIncident = color.RGBA{0xf0, 0x8c, 0x00, 0xff}
)

// Chart draws the failing runs of each bucket of the window as bars, with
// an orange mark under the buckets in which incidents were opened, and
// encodes it as PNG: a title, titled axes (the count, and the bucket's
// hour or day in the digest's zone) and a legend, drawn with
// gonum.org/v1/plot. It returns nil when there is nothing to draw: no
// failing run and no incident in the window.
func Chart(d Digest) ([]byte, error) {
	parts, err := chartPlot(d)
	if err != nil || parts == nil {
		return nil, err
	}
	p := parts.plot
	px := func(n int) vg.Length { return vg.Length(n) * vg.Inch / chartDPI }
	c := vgimg.NewWith(vgimg.UseWH(px(chartW), px(chartH)), vgimg.UseDPI(chartDPI), vgimg.UseBackgroundColor(color.White))
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("encode digest chart: %w", err)
	}
	return buf.Bytes(), nil
}

// chart is a laid-out chart and what it holds.
type chart struct {
	plot   *plot.Plot
	bars   *plotter.BarChart
	marks  *plotter.Scatter // nil without incidents
	legend []string
}

// chartPlot lays the chart out; nil when there is nothing to draw.
func chartPlot(d Digest) (*chart, error) {
	bs := d.Buckets
	peak, opened := 0, 0
	for _, b := range bs {
		peak, opened = max(peak, b.Failing), opened+b.Opened
	}
	if len(bs) == 0 || (peak == 0 && opened == 0) {
		return nil, nil
	}
	hourly := len(bs) < 2 || bs[1].Start.Sub(bs[0].Start) <= time.Hour
	loc := view.Zone(d)
	per, unit := "hour", "hour"
	if !hourly {
		per, unit = view.Duration(bs[1].Start.Sub(bs[0].Start)), "day"
	}

	p := plot.New()
	p.Title.Text = "Failing agent runs per " + per
	p.X.Label.Text = fmt.Sprintf("%s of the window (%s)", unit, loc)
	p.Y.Label.Text = "failing runs"
	p.Title.TextStyle.Font = sans(14)
	p.Title.Padding = vg.Points(6)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = sans(11)
		a.Tick.Label.Font = sans(10)
	}
	top := niceCeil(peak)
	// Headroom above the scale keeps the legend off the bars.
	p.Y.Min, p.Y.Max = 0, float64(top)*1.25
	p.Y.Tick.Marker = countTicks{top}
	p.Add(plotter.NewGrid())

	failing := make(plotter.Values, len(bs))
	var marks plotter.XYs
	labels := make([]string, len(bs))
	every := (len(bs) + 11) / 12 // at most twelve labels
	for i, b := range bs {
		failing[i] = float64(b.Failing)
		if b.Opened > 0 {
			marks = append(marks, plotter.XY{X: float64(i), Y: 0})
		}
		t := b.Start.In(loc)
		switch {
		case hourly && i%every == 0:
			labels[i] = t.Format("15:04")
		case !hourly && (i == 0 || t.Day() != bs[i-1].Start.In(loc).Day()):
			labels[i] = t.Format("Mon 2") // the first bucket of each day
		}
	}
	bars, err := plotter.NewBarChart(failing, vg.Points(max(4, 420/float64(len(bs)))))
	if err != nil {
		return nil, fmt.Errorf("digest chart: %w", err)
	}
	bars.Color, bars.LineStyle.Width = chartFailing, 0
	p.Add(bars)
	p.Legend.Add("failing runs", bars)
	out := &chart{plot: p, bars: bars, legend: []string{"failing runs"}}
	if len(marks) > 0 {
		s, err := plotter.NewScatter(marks)
		if err != nil {
			return nil, fmt.Errorf("digest chart: %w", err)
		}
		s.GlyphStyle = draw.GlyphStyle{Color: chartIncident, Radius: vg.Points(5), Shape: draw.PyramidGlyph{}}
		p.Add(s)
		p.Legend.Add("incidents opened", s)
		out.marks, out.legend = s, append(out.legend, "incidents opened")
	}
	p.Legend.Top = true
	p.Legend.TextStyle.Font = sans(10)
	p.NominalX(labels...)
	return out, nil
}

// sans is the chart's typeface, Liberation Sans (bundled with
// gonum.org/v1/plot), at size points.
func sans(size float64) font.Font {
	return font.Font{Typeface: "Liberation", Variant: "Sans", Size: vg.Points(size)}
}

// countTicks marks whole counts: zero, the middle when whole, and the
// top of the scale.
type countTicks struct{ top int }

func (c countTicks) Ticks(lo, hi float64) []plot.Tick {
	top := c.top
	ts := []plot.Tick{{Value: 0, Label: "0"}}
	if top%2 == 0 && top > 1 {
		ts = append(ts, plot.Tick{Value: float64(top / 2), Label: fmt.Sprint(top / 2)})
	}
	return append(ts, plot.Tick{Value: float64(top), Label: fmt.Sprint(top)})
}

// ChartAlt describes the chart in words, for people who cannot see it.
func ChartAlt(d Digest) string {
	peak, at, opened, failing := 0, time.Time{}, 0, 0
	for _, b := range d.Buckets {
		if b.Failing > peak {
			peak, at = b.Failing, b.Start
		}
		opened += b.Opened
		failing += b.Failing
	}
	per := "hour"
	if bs := d.Buckets; len(bs) > 1 && bs[1].Start.Sub(bs[0].Start) > time.Hour {
		per = view.Duration(bs[1].Start.Sub(bs[0].Start))
	}
	s := fmt.Sprintf("Failing agent runs per %s: %s in the window", per, view.Plural(failing, "failing run", "failing runs"))
	if peak > 0 {
		s += fmt.Sprintf(", most (%d) from %s", peak, view.When(d, at))
	}
	return s + fmt.Sprintf("; %s opened (orange marks).", view.Plural(opened, "incident", "incidents"))
}

// niceCeil rounds n up to 1, 2 or 5 times a power of ten.
func niceCeil(n int) int {
	if n <= 1 {
		return 1
	}
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if m*p >= n {
				return m * p
			}
		}
	}
}
