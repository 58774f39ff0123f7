package digest

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"
	"time"
)

func TestChart(t *testing.T) {
	d := Digest{Start: fixtureFrom, End: fixtureFire, Zone: "Europe/Paris", Buckets: buckets(fixtureFrom, fixtureFire)}
	d.Buckets[3].Failing = 12
	d.Buckets[4].Failing = 5
	d.Buckets[10].Opened = 1
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
	slot := float64(plotRight-plotLeft) / 24
	center := func(i int) int { return plotLeft + int((float64(i)+0.5)*slot) }
	// The bar of bucket 3 reaches the top of the scale (12 rounds up to
	// 20, so 60% of the plot height); bucket 4's is shorter; bucket 0 has
	// none.
	h3, h4, h0 := barHeight(img, center(3)), barHeight(img, center(4)), barHeight(img, center(0))
	height := plotBottom - plotTop
	if want := 12 * height / 20; h3 < want-1 || h3 > want+1 {
		t.Errorf("bar 3 is %d px high, want about %d", h3, want)
	}
	if want := 5 * height / 20; h4 < want-1 || h4 > want+1 {
		t.Errorf("bar 4 is %d px high, want about %d", h4, want)
	}
	if h0 != 0 {
		t.Errorf("bar 0 is %d px high, want none", h0)
	}
	if !same(img.At(center(10), plotBottom+5), chartIncident) {
		t.Error("no incident mark under bucket 10")
	}
	if same(img.At(center(9), plotBottom+5), chartIncident) {
		t.Error("incident mark under bucket 9, where none opened")
	}
	if !hasColor(img, image.Rect(0, plotBottom+10, chartW, chartH), chartLabel) {
		t.Error("no hour labels under the axis")
	}
	alt := ChartAlt(d)
	for _, want := range []string{"17 failing runs", "most (12) from Mon 2 Mar 12:00", "1 incident opened"} {
		if !strings.Contains(alt, want) {
			t.Errorf("alt text %q lacks %q", alt, want)
		}
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
	raw, err := Chart(d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(raw)); err != nil {
		t.Fatalf("decode chart: %v", err)
	}
}

func TestNiceCeil(t *testing.T) {
	for in, want := range map[int]int{0: 1, 1: 1, 2: 2, 3: 5, 7: 10, 12: 20, 20: 20, 21: 50, 480: 500, 501: 1000} {
		if got := niceCeil(in); got != want {
			t.Errorf("niceCeil(%d) = %d, want %d", in, got, want)
		}
	}
}

// barHeight counts the failing-bar pixels in column x.
func barHeight(img image.Image, x int) int {
	n := 0
	for y := plotTop; y < plotBottom; y++ {
		if same(img.At(x, y), chartFailing) {
			n++
		}
	}
	return n
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
