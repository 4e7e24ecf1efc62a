package bench

import (
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Point is the number of Ready resources at T seconds after the first create.
type Point struct {
	T     float64
	Ready int
}

// Series is one curve of ready.svg.
type Series struct {
	Name   string
	Points []Point
}

// stepPoints turns completion times into a Ready-over-time series.
func stepPoints(done []time.Duration) []Point {
	d := append([]time.Duration(nil), done...)
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	pts := make([]Point, 0, len(d)+1)
	pts = append(pts, Point{})
	for i, x := range d {
		pts = append(pts, Point{T: x.Seconds(), Ready: i + 1})
	}
	return pts
}

// Chart geometry, in SVG user units (pixels at 100 %).
const (
	svgW, svgH                 = 820, 570
	plotL, plotR, plotT, plotB = 80, 790, 50, 420
	legendTop, legendRow       = 480, 21
)

// seriesStyles are told apart by colour and, for readers without colour, by dash.
var seriesStyles = []struct{ color, dash string }{
	{"#1f77b4", ""},         // blue, solid
	{"#d62728", "8 4"},      // red, dashed
	{"#2ca02c", "2 3"},      // green, dotted
	{"#9467bd", "10 3 2 3"}, // purple, dash-dot
	{"#ff7f0e", "4 2"},      // orange
}

// WriteReadySVG draws the Ready count of each series over time (a step line per series),
// with axes, ticks, labels and a legend: a self-contained SVG 1.1 document, no scripts,
// no external resources. n is the number of resources (the y axis' top).
func WriteReadySVG(w io.Writer, title string, n int, series []Series) error {
	if len(series) == 0 {
		return errors.New("no series to draw")
	}
	tMax := 0.0
	yMax := n
	for _, s := range series {
		for _, p := range s.Points {
			tMax = math.Max(tMax, p.T)
			yMax = max(yMax, p.Ready)
		}
	}
	xStep := niceStep(tMax, 8)
	xTop := math.Ceil(tMax/xStep) * xStep
	if xTop <= 0 {
		xTop = xStep
	}
	yStep := niceStep(float64(yMax), 5)
	yTop := math.Ceil(float64(yMax)/yStep) * yStep
	if yTop <= 0 {
		yTop = 1
	}
	px := func(t float64) float64 { return plotL + t/xTop*(plotR-plotL) }
	py := func(r float64) float64 { return plotB - r/yTop*(plotB-plotT) }

	bw := bufio.NewWriter(w)
	// bufio keeps the first write error; Flush below returns it.
	p := func(format string, args ...any) { _, _ = fmt.Fprintf(bw, format, args...) }
	p(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	p(`<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="13">`+"\n", svgW, svgH, svgW, svgH)
	p(`<title>%s</title>`+"\n", esc(title))
	p(`<rect x="0" y="0" width="%d" height="%d" fill="white"/>`+"\n", svgW, svgH)
	p(`<text x="%d" y="28" text-anchor="middle" font-size="16">%s</text>`+"\n", (plotL+plotR)/2, esc(title))

	// Grid and ticks.
	p(`<g class="grid" stroke="#dddddd" stroke-width="1">` + "\n")
	for x := 0.0; x <= xTop+xStep/2; x += xStep {
		p(`<line x1="%s" y1="%d" x2="%s" y2="%d"/>`+"\n", f1(px(x)), plotT, f1(px(x)), plotB)
	}
	for y := 0.0; y <= yTop+yStep/2; y += yStep {
		p(`<line x1="%d" y1="%s" x2="%d" y2="%s"/>`+"\n", plotL, f1(py(y)), plotR, f1(py(y)))
	}
	p("</g>\n")
	p(`<g class="axes" stroke="black" stroke-width="1.5" fill="none">` + "\n")
	p(`<line x1="%d" y1="%d" x2="%d" y2="%d"/>`+"\n", plotL, plotB, plotR, plotB)
	p(`<line x1="%d" y1="%d" x2="%d" y2="%d"/>`+"\n", plotL, plotB, plotL, plotT)
	p("</g>\n")
	p(`<g class="ticks" fill="black">` + "\n")
	for x := 0.0; x <= xTop+xStep/2; x += xStep {
		p(`<text x="%s" y="%d" text-anchor="middle">%s</text>`+"\n", f1(px(x)), plotB+18, tickLabel(x, xStep))
	}
	for y := 0.0; y <= yTop+yStep/2; y += yStep {
		p(`<text x="%d" y="%s" text-anchor="end">%s</text>`+"\n", plotL-8, f1(py(y)+4), tickLabel(y, yStep))
	}
	p("</g>\n")
	p(`<text class="xlabel" x="%d" y="%d" text-anchor="middle">seconds since the first ManagedSecret was created</text>`+"\n", (plotL+plotR)/2, plotB+40)
	p(`<text class="ylabel" x="20" y="%d" text-anchor="middle" transform="rotate(-90 20 %d)">resources Ready</text>`+"\n", (plotT+plotB)/2, (plotT+plotB)/2)

	// Curves: steps, thinned to what the plot can show (one vertical run per pixel).
	for i, s := range series {
		st := seriesStyles[i%len(seriesStyles)]
		dash := ""
		if st.dash != "" {
			dash = fmt.Sprintf(` stroke-dasharray="%s"`, st.dash)
		}
		p(`<polyline class="series" data-name="%s" fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`+"\n",
			esc(s.Name), st.color, dash, stepPath(s.Points, px, py))
	}

	// Legend below the plot, one row per series.
	p(`<g class="legend">` + "\n")
	for i, s := range series {
		st := seriesStyles[i%len(seriesStyles)]
		x := plotL
		y := legendTop + i*legendRow
		dash := ""
		if st.dash != "" {
			dash = fmt.Sprintf(` stroke-dasharray="%s"`, st.dash)
		}
		last := "not finished"
		if len(s.Points) > 0 {
			lp := s.Points[len(s.Points)-1]
			last = fmt.Sprintf("%d in %.1f s", lp.Ready, lp.T)
		}
		p(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/>`+"\n", x, y-4, x+30, y-4, st.color, dash)
		p(`<text x="%d" y="%d">%s (%s)</text>`+"\n", x+38, y, esc(s.Name), esc(last))
	}
	p("</g>\n</svg>\n")
	return bw.Flush()
}

// stepPath renders points as a step line ("x,y x,y …"): the count holds until the next
// event, then jumps. The events of one pixel column collapse into one vertical run (the
// count held from the left, then the column's last count), so a curve has at most two
// points per column whatever N is.
func stepPath(pts []Point, px, py func(float64) float64) string {
	type xy struct{ x, y float64 }
	var out []xy
	for _, pt := range pts {
		x := math.Round(px(pt.T))
		y := math.Round(py(float64(pt.Ready))*2) / 2
		switch n := len(out); {
		case n == 0:
			out = append(out, xy{x, y})
		case out[n-1].x == x:
			if n >= 2 && out[n-2].x == x {
				out[n-1].y = y // extend this column's run
			} else if out[n-1].y != y {
				out = append(out, xy{x, y})
			}
		default:
			if out[n-1].y != y {
				out = append(out, xy{x, out[n-1].y}, xy{x, y})
			} else {
				out = append(out, xy{x, y})
			}
		}
	}
	var b strings.Builder
	for i, p := range out {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f1(p.x))
		b.WriteByte(',')
		b.WriteString(f1(p.y))
	}
	return b.String()
}

// niceStep is a 1, 2 or 5 × 10^k step giving about `ticks` intervals over span.
func niceStep(span float64, ticks int) float64 {
	if span <= 0 || ticks <= 0 {
		return 1
	}
	raw := span / float64(ticks)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*mag {
			return m * mag
		}
	}
	return 10 * mag
}

func tickLabel(v, step float64) string {
	if step >= 1 {
		return strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	}
	dec := int(math.Ceil(-math.Log10(step)))
	return strconv.FormatFloat(v, 'f', dec, 64)
}

func f1(x float64) string { return strconv.FormatFloat(x, 'f', 1, 64) }

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
