package bench

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestWriteReadySVG draws three series and reads the document back with an XML decoder:
// it must be well-formed SVG with one polyline per series, every point inside the plot,
// each curve ending at its last count, and a legend naming each series (escaped).
func TestWriteReadySVG(t *testing.T) {
	const n = 1000
	var done []time.Duration
	for i := 0; i < n; i++ {
		done = append(done, time.Duration(i)*20*time.Millisecond)
	}
	series := []Series{
		{Name: "operator, 100 req/s", Points: stepPoints(done)},
		{Name: "operator, unlimited", Points: []Point{{0, 0}, {3, 200}, {7.5, 1000}}},
		{Name: `bare SDK <baseline> & "friends"`, Points: []Point{{0, 0}, {19.5, 1000}}},
	}
	var buf bytes.Buffer
	if err := WriteReadySVG(&buf, "Ready over time, N = 1000", n, series); err != nil {
		t.Fatal(err)
	}

	type polyline struct {
		name, points string
	}
	var lines []polyline
	var texts []string
	root := ""
	dec := xml.NewDecoder(bytes.NewReader(buf.Bytes()))
	inText := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, buf.String())
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = el.Name.Local
				if el.Name.Space != "http://www.w3.org/2000/svg" {
					t.Errorf("root namespace %q", el.Name.Space)
				}
			}
			inText = el.Name.Local == "text"
			if el.Name.Local == "polyline" && attr(el, "class") == "series" {
				lines = append(lines, polyline{name: attr(el, "data-name"), points: attr(el, "points")})
			}
		case xml.CharData:
			if inText {
				texts = append(texts, string(el))
			}
		case xml.EndElement:
			inText = false
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q, want svg", root)
	}
	if len(lines) != 3 {
		t.Fatalf("%d series polylines, want 3", len(lines))
	}
	all := strings.Join(texts, "\n")
	for i, s := range series {
		if lines[i].name != s.Name {
			t.Errorf("polyline %d is named %q, want %q", i, lines[i].name, s.Name)
		}
		if !strings.Contains(all, s.Name) {
			t.Errorf("legend lacks %q", s.Name)
		}
		pts := strings.Fields(lines[i].points)
		if len(pts) < 2 {
			t.Fatalf("series %q has %d points", s.Name, len(pts))
		}
		// 1000 events over 710 pixels collapse to at most two points per pixel column.
		if len(pts) > 2*(plotR-plotL)+4 {
			t.Errorf("series %q not thinned: %d points", s.Name, len(pts))
		}
		var lastY float64
		for _, p := range pts {
			xs, ys, ok := strings.Cut(p, ",")
			x, errX := strconv.ParseFloat(xs, 64)
			y, errY := strconv.ParseFloat(ys, 64)
			if !ok || errX != nil || errY != nil {
				t.Fatalf("bad point %q", p)
			}
			if x < plotL || x > plotR || y < plotT || y > plotB {
				t.Errorf("series %q: point %q outside the plot", s.Name, p)
			}
			lastY = y
		}
		// All three end at 1000 = the top of the y axis (1000 is a tick: 5 × 200).
		if lastY != plotT {
			t.Errorf("series %q ends at y=%v, want the top %d", s.Name, lastY, plotT)
		}
	}
	for _, want := range []string{"seconds since the first ManagedSecret was created", "resources Ready", "Ready over time, N = 1000", "1000 in 19.5 s"} {
		if !strings.Contains(all, want) {
			t.Errorf("no text %q", want)
		}
	}
}

func TestWriteReadySVGNoSeries(t *testing.T) {
	if err := WriteReadySVG(io.Discard, "x", 10, nil); err == nil {
		t.Fatal("no error for no series")
	}
}

func TestNiceStep(t *testing.T) {
	for _, tc := range []struct {
		span  float64
		ticks int
		want  float64
	}{{20.4, 8, 5}, {227, 8, 50}, {1000, 5, 200}, {10000, 5, 2000}, {50, 5, 10}, {0.7, 8, 0.1}, {0, 5, 1}} {
		if got := niceStep(tc.span, tc.ticks); got != tc.want {
			t.Errorf("niceStep(%v, %d) = %v, want %v", tc.span, tc.ticks, got, tc.want)
		}
	}
}

func attr(el xml.StartElement, name string) string {
	for _, a := range el.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}
