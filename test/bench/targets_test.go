package bench

import (
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestLatencies(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	start := map[string]time.Time{"a": t0, "b": t0.Add(time.Second), "c": t0}
	changed := map[string]time.Time{"a": t0.Add(2 * time.Second), "b": t0.Add(1500 * time.Millisecond), "x": t0}
	lat, missed := latencies(start, changed)
	slices.Sort(lat)
	if !slices.Equal(lat, []time.Duration{500 * time.Millisecond, 2 * time.Second}) {
		t.Errorf("latencies = %v", lat)
	}
	if !slices.Equal(missed, []string{"c"}) {
		t.Errorf("missed = %v, want [c] (a change without a start is not a sample)", missed)
	}
}

// TestTargetWatchCountsValueChanges: the first sight of a Secret is its baseline; only a
// different value counts as a change and moves its time; other updates (labels, a
// resourceVersion) do not.
func TestTargetWatchCountsValueChanges(t *testing.T) {
	w := newTargetWatch(nil)
	k := types.NamespacedName{Namespace: "n", Name: "s-app"}
	sec := func(v, rv string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: k.Namespace, Name: k.Name, ResourceVersion: rv},
			Data: map[string][]byte{targetValueKey: []byte(v)}}
	}
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	w.observe(sec("one", "1"), t0)
	w.observe(sec("one", "2"), t0.Add(time.Second))
	if v, at, n, ok := w.get(k); !ok || v != "one" || !at.Equal(t0) || n != 0 {
		t.Fatalf("after the baseline and a same-value update: %q %v %d %v", v, at, n, ok)
	}
	w.observe(sec("two", "3"), t0.Add(2*time.Second))
	if v, at, n, _ := w.get(k); v != "two" || !at.Equal(t0.Add(2*time.Second)) || n != 1 {
		t.Fatalf("after a new value: %q %v %d", v, at, n)
	}
	if w.totalChanges() != 1 {
		t.Errorf("totalChanges = %d", w.totalChanges())
	}
}
