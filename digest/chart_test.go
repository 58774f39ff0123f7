package digest

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"strings"
	"testing"
	"time"
)

func TestChart(t *testing.T) {
	d := Digest{Start: fixtureFrom, End: fixtureFire, Zone: "Europe/Paris", Buckets: buckets(fixtureFrom, fixtureFire)}
	d.Buckets[3].Failing = 12
	d.Buckets[4].Failing = 5
	d.Buckets[10].Opened = 1

	c, err := chartPlot(d)
	if err != nil {
		t.Fatal(err)
	}
	p := c.plot
	if p.Title.Text != "Failing agent runs per hour" || p.Y.Label.Text != "failing runs" || !strings.Contains(p.X.Label.Text, "Europe/Paris") {
		t.Errorf("title %q, axes %q and %q", p.Title.Text, p.X.Label.Text, p.Y.Label.Text)
	}
	if ticks := p.Y.Tick.Marker.Ticks(p.Y.Min, p.Y.Max); ticks[len(ticks)-1].Value != 20 {
		t.Errorf("the scale tops at %v, want 12 rounded up to 20", p.Y.Max)
	}
	if strings.Join(c.legend, ",") != "failing runs,incidents opened" {
		t.Errorf("legend %q", c.legend)
	}
	bars, marks := c.bars, c.marks
	if bars == nil || len(bars.Values) != 24 || bars.Values[3] != 12 || bars.Values[4] != 5 || bars.Values[0] != 0 {
		t.Fatalf("bars %v, want the failing runs of 24 hours", bars)
	}
	if marks == nil || len(marks.XYs) != 1 || marks.XYs[0].X != 10 {
		t.Fatalf("incident marks %v, want one under hour 10", marks)
	}

	raw, err := Chart(d)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(raw, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("chart does not start with the PNG signature")
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("decode chart: %v", err)
	}
	if b := img.Bounds(); b.Dx() != chartW || b.Dy() != chartH {
		t.Fatalf("chart is %v, want %dx%d", b, chartW, chartH)
	}
	// Two bars are drawn, bar 3 about 12/5 as high as bar 4.
	hs := barHeights(img, chartFailing)
	if len(hs) != 2 {
		t.Fatalf("%d bars drawn, want 2: %v", len(hs), hs)
	}
	if r := float64(hs[0]) / float64(hs[1]); r < 2.2 || r > 2.6 {
		t.Errorf("bars are %d and %d px high, ratio %.2f; want about 12/5", hs[0], hs[1], r)
	}
	if !hasColor(img, img.Bounds(), chartIncident) {
		t.Error("no incident mark drawn")
	}
	alt := ChartAlt(d)
	for _, want := range []string{"17 failing runs", "most (12) from Mon 2 Mar 12:00", "1 incident opened"} {
		if !strings.Contains(alt, want) {
			t.Errorf("alt text %q lacks %q", alt, want)
		}
	}
}

// The README shows the chart of the sample digest; it is the golden
// image, rewritten with -update.
func TestSampleChartGolden(t *testing.T) {
	got, err := Chart(sampleDigest(t))
	if err != nil {
		t.Fatal(err)
	}
	const path = "sample-chart.png"
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the chart of testdata/sample.json; if the change is intended, run go test ./digest -update", path)
	}
}

func TestChartDeterministic(t *testing.T) {
	d := Digest{Start: fixtureFrom, End: fixtureFire, Buckets: buckets(fixtureFrom, fixtureFire)}
	d.Buckets[7].Failing = 3
	a, _ := Chart(d)
	b, _ := Chart(d)
	if !bytes.Equal(a, b) {
		t.Error("two charts of one digest differ")
	}
}

func TestChartOfLongWindow(t *testing.T) {
	start := fixtureFire.Add(-7 * 24 * time.Hour)
	d := Digest{Start: start, End: fixtureFire, Buckets: buckets(start, fixtureFire)}
	if len(d.Buckets) != 42 || d.Buckets[1].Start.Sub(d.Buckets[0].Start) != 4*time.Hour {
		t.Fatalf("a week has %d buckets of %v, want 42 of 4h", len(d.Buckets), d.Buckets[1].Start.Sub(d.Buckets[0].Start))
	}
	d.Buckets[41].Failing = 1
	c, err := chartPlot(d)
	if err != nil {
		t.Fatal(err)
	}
	p := c.plot
	if !strings.HasSuffix(p.Title.Text, "per 4h") || !strings.HasPrefix(p.X.Label.Text, "day") {
		t.Errorf("title %q, x axis %q; want 4-hour buckets labelled by day", p.Title.Text, p.X.Label.Text)
	}
	raw, err := Chart(d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(raw)); err != nil {
		t.Fatalf("decode chart: %v", err)
	}
}

func TestChartOfNothing(t *testing.T) {
	d := Digest{Start: fixtureFrom, End: fixtureFire, Buckets: buckets(fixtureFrom, fixtureFire)}
	if raw, err := Chart(d); raw != nil || err != nil {
		t.Errorf("Chart of a window without failures = %d bytes, %v; want nothing", len(raw), err)
	}
}

func TestNiceCeil(t *testing.T) {
	for in, want := range map[int]int{0: 1, 1: 1, 2: 2, 3: 5, 7: 10, 12: 20, 20: 20, 21: 50, 480: 500, 501: 1000} {
		if got := niceCeil(in); got != want {
			t.Errorf("niceCeil(%d) = %d, want %d", in, got, want)
		}
	}
}

// barHeights finds the bars of colour c, left to right: runs of columns
// holding it, each measured in its middle column. The legend's swatch, in
// the top fifth, is not a bar.
func barHeights(img image.Image, c color.RGBA) []int {
	b := img.Bounds()
	b.Min.Y = b.Dy() / 5
	column := func(x int) int {
		n := 0
		for y := b.Min.Y; y < b.Max.Y; y++ {
			if same(img.At(x, y), c) {
				n++
			}
		}
		return n
	}
	var hs []int
	start := -1
	for x := b.Min.X; x <= b.Max.X; x++ {
		in := x < b.Max.X && column(x) > 0
		switch {
		case in && start < 0:
			start = x
		case !in && start >= 0:
			hs = append(hs, column((start+x-1)/2))
			start = -1
		}
	}
	return hs
}

func hasColor(img image.Image, r image.Rectangle, c color.RGBA) bool {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if same(img.At(x, y), c) {
				return true
			}
		}
	}
	return false
}

func same(a color.Color, b color.RGBA) bool {
	r, g, bl, al := a.RGBA()
	r2, g2, b2, a2 := b.RGBA()
	return r == r2 && g == g2 && bl == b2 && al == a2
}
