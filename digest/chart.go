package digest

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"time"
)

// Chart geometry, in pixels.
const (
	chartW     = 640
	chartH     = 220
	plotLeft   = 48
	plotRight  = chartW - 12
	plotTop    = 16
	plotBottom = chartH - 40
	glyphScale = 2
)

// Chart colours.
var (
	chartBackground = color.RGBA{0xff, 0xff, 0xff, 0xff}
	chartGrid       = color.RGBA{0xe3, 0xe6, 0xea, 0xff}
	chartAxis       = color.RGBA{0x5f, 0x66, 0x6d, 0xff}
	chartFailing    = color.RGBA{0xd6, 0x45, 0x41, 0xff}
	chartIncident   = color.RGBA{0xf0, 0x8c, 0x00, 0xff}
	chartLabel      = color.RGBA{0x3c, 0x42, 0x48, 0xff}
)

// Chart draws the failing runs of each bucket of the window as bars, with
// an orange mark under the buckets in which incidents were opened, and
// encodes it as PNG. Axis labels are the count at the top of the scale
// and the bucket's hour (or day, for buckets longer than an hour) in the
// digest's zone. It returns nil when there is nothing to draw: no
// failing run and no incident in the window.
func Chart(d Digest) ([]byte, error) {
	bs := d.Buckets
	peak, opened := 0, 0
	for _, b := range bs {
		peak, opened = max(peak, b.Failing), opened+b.Opened
	}
	if len(bs) == 0 || (peak == 0 && opened == 0) {
		return nil, nil
	}
	img := image.NewRGBA(image.Rect(0, 0, chartW, chartH))
	draw.Draw(img, img.Bounds(), &image.Uniform{chartBackground}, image.Point{}, draw.Src)

	top := niceCeil(peak)
	height := plotBottom - plotTop
	for _, v := range []int{0, top / 2, top} {
		if v == top/2 && top%2 != 0 {
			continue
		}
		y := plotBottom - v*height/top
		fill(img, plotLeft, y, plotRight, y+1, chartGrid)
		label := fmt.Sprint(v)
		drawDigits(img, plotLeft-8-textWidth(label), y-5*glyphScale/2, label, chartLabel)
	}

	slot := float64(plotRight-plotLeft) / float64(len(bs))
	barW := max(int(slot*0.7), 1)
	every := (len(bs) + 7) / 8 // at most eight labels
	hourly := len(bs) < 2 || bs[1].Start.Sub(bs[0].Start) <= time.Hour
	loc := zone(d)
	for i, b := range bs {
		x := plotLeft + int(float64(i)*slot+(slot-float64(barW))/2)
		if b.Failing > 0 {
			h := max(b.Failing*height/top, 1)
			fill(img, x, plotBottom-h, x+barW, plotBottom, chartFailing)
		}
		if b.Opened > 0 {
			fill(img, x, plotBottom+3, x+barW, plotBottom+8, chartIncident)
		}
		if i%every == 0 {
			t := b.Start.In(loc)
			label := fmt.Sprintf("%02d", t.Hour())
			if !hourly {
				label = fmt.Sprintf("%02d", t.Day())
			}
			drawDigits(img, x+barW/2-textWidth(label)/2, plotBottom+14, label, chartLabel)
		}
	}
	fill(img, plotLeft, plotBottom, plotRight, plotBottom+1, chartAxis)
	fill(img, plotLeft-1, plotTop, plotLeft, plotBottom+1, chartAxis)

	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("encode digest chart: %w", err)
	}
	return buf.Bytes(), nil
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
		per = duration(bs[1].Start.Sub(bs[0].Start))
	}
	s := fmt.Sprintf("Failing agent runs per %s: %s in the window", per, plural(failing, "failing run", "failing runs"))
	if peak > 0 {
		s += fmt.Sprintf(", most (%d) from %s", peak, when(d, at))
	}
	return s + fmt.Sprintf("; %s opened (orange marks).", plural(opened, "incident", "incidents"))
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

func fill(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	draw.Draw(img, image.Rect(x0, y0, x1, y1), &image.Uniform{c}, image.Point{}, draw.Src)
}

// digits are 3×5 bitmaps of 0–9, one row per 3 bits, top row first.
var digits = [10][5]uint8{
	{7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7}, {5, 5, 7, 1, 1},
	{7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 1, 1, 1}, {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7},
}

func textWidth(s string) int { return len(s)*4*glyphScale - glyphScale }

// drawDigits draws the digits of s with its top left corner at (x, y);
// other characters are left blank.
func drawDigits(img *image.RGBA, x, y int, s string, c color.RGBA) {
	for i := range len(s) {
		ch := s[i]
		if ch < '0' || ch > '9' {
			continue
		}
		g := digits[ch-'0']
		ox := x + i*4*glyphScale
		for row := range 5 {
			for col := range 3 {
				if g[row]&(4>>col) != 0 {
					fill(img, ox+col*glyphScale, y+row*glyphScale, ox+(col+1)*glyphScale, y+(row+1)*glyphScale, c)
				}
			}
		}
	}
}
