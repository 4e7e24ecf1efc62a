package bench

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0.1, 1 * time.Millisecond}} {
		if got := Percentile(ds, c.p); got != c.want {
			t.Errorf("p%v = %s, want %s", c.p, got, c.want)
		}
	}
	if ds[0] != 100*time.Millisecond {
		t.Error("Percentile sorted its input in place")
	}
	if Percentile(nil, 50) != 0 {
		t.Error("empty input")
	}
	if got := Percentile([]time.Duration{7}, 99); got != 7 {
		t.Errorf("single sample p99 = %s", got)
	}
}
