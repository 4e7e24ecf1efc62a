package eventrec

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// fakeCreator answers Create with the next error of errs (nil when they run out) and
// keeps what it was given.
type fakeCreator struct {
	mu   sync.Mutex
	errs []error
	got  []*eventsv1.Event
	done chan struct{}
}

func newFake(errs ...error) *fakeCreator {
	return &fakeCreator{errs: errs, done: make(chan struct{}, 100)}
}

func (f *fakeCreator) Create(_ context.Context, obj client.Object, _ ...client.CreateOption) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, obj.(*eventsv1.Event))
	f.done <- struct{}{}
	if len(f.errs) == 0 {
		return nil
	}
	err := f.errs[0]
	f.errs = f.errs[1:]
	return err
}

func (f *fakeCreator) calls() []*eventsv1.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*eventsv1.Event(nil), f.got...)
}

func (f *fakeCreator) wait(t *testing.T, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-f.done:
		case <-time.After(30 * time.Second):
			t.Fatalf("only %d of %d writes happened", i, n)
		}
	}
}

func pod() *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "db", UID: "uid-1", ResourceVersion: "7"}}
}

func start(t *testing.T, s *Sink) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Start(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("Start did not return after its context was cancelled")
		}
	})
}

func TestEventFields(t *testing.T) {
	f := newFake()
	s := NewSink(f, clientgoscheme.Scheme, logr.Discard())
	s.hostname = "host-1"
	at := time.Date(2026, 11, 27, 12, 0, 0, 123000, time.UTC)
	s.now = func() time.Time { return at }
	// Queued before Start: written once the sink runs.
	s.Recorder("managedsecret-controller").Eventf(pod(), nil, corev1.EventTypeNormal, "Created", "Create", "Created CSMS secret %q", "db")
	start(t, s)
	f.wait(t, 1)

	ev := f.calls()[0]
	want := eventsv1.Event{
		ObjectMeta:          metav1.ObjectMeta{Namespace: "team", Name: ev.Name},
		EventTime:           metav1.NewMicroTime(at),
		ReportingController: "managedsecret-controller",
		ReportingInstance:   "managedsecret-controller-host-1",
		Action:              "Create",
		Reason:              "Created",
		Note:                `Created CSMS secret "db"`,
		Type:                corev1.EventTypeNormal,
		Regarding:           corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: "team", Name: "db", UID: "uid-1", ResourceVersion: "7"},
	}
	if !strings.HasPrefix(ev.Name, "db.") {
		t.Errorf("name %q: want db.<hex time>", ev.Name)
	}
	if ev.Regarding != want.Regarding || ev.Note != want.Note || ev.Reason != want.Reason || ev.Action != want.Action ||
		ev.Type != want.Type || ev.ReportingController != want.ReportingController || ev.ReportingInstance != want.ReportingInstance ||
		ev.Namespace != want.Namespace || !ev.EventTime.Equal(&want.EventTime) || ev.Related != nil || ev.Series != nil {
		t.Errorf("event =\n%+v\nwant\n%+v", ev, want)
	}
}

func TestRelatedAndInvalidType(t *testing.T) {
	f := newFake()
	s := NewSink(f, clientgoscheme.Scheme, logr.Discard())
	rec := s.Recorder("c")
	rec.Eventf(pod(), nil, "Bogus", "R", "A", "not sent")
	rel := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "src"}}
	rec.Eventf(pod(), rel, corev1.EventTypeWarning, "R", "A", "sent")
	if n := len(s.queue); n != 1 {
		t.Fatalf("%d Events queued, want only the valid one", n)
	}
	start(t, s)
	f.wait(t, 1)
	got := f.calls()
	if len(got) != 1 || got[0].Note != "sent" || got[0].Related == nil || got[0].Related.Name != "src" || got[0].Related.Kind != "Secret" {
		t.Fatalf("writes = %+v", got)
	}
}

func TestLongNoteIsTruncated(t *testing.T) {
	s := NewSink(newFake(), clientgoscheme.Scheme, logr.Discard())
	r := s.Recorder("c").(*recorder)
	ev, err := r.build(pod(), nil, corev1.EventTypeNormal, "R", "A", strings.Repeat("é", 600)) // 1200 bytes
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Note) > maxNoteBytes || !utf8.ValidString(ev.Note) || !strings.HasSuffix(ev.Note, "...") {
		t.Errorf("note of %d bytes, valid UTF-8 %v", len(ev.Note), utf8.ValidString(ev.Note))
	}
}

func TestUnknownKindIsNotRecorded(t *testing.T) {
	f := newFake()
	s := NewSink(f, runtime.NewScheme(), logr.Discard())
	s.Recorder("c").Eventf(pod(), nil, corev1.EventTypeNormal, "R", "A", "n")
	if len(s.queue) != 0 {
		t.Errorf("an Event about an object the scheme does not know was queued")
	}
}

func TestFullQueueDropsAndCounts(t *testing.T) {
	f := newFake()
	s := NewSink(f, clientgoscheme.Scheme, logr.Discard(), WithQueueSize(2))
	before := testutil.ToFloat64(dropped.WithLabelValues(DropQueueFull))
	rec := s.Recorder("c")
	for i := 0; i < 5; i++ {
		rec.Eventf(pod(), nil, corev1.EventTypeNormal, "R", "A", "n%d", i) // must not block
	}
	if got := testutil.ToFloat64(dropped.WithLabelValues(DropQueueFull)) - before; got != 3 {
		t.Errorf("dropped %v, want 3", got)
	}
	start(t, s)
	f.wait(t, 2)
}

func TestRetries(t *testing.T) {
	gr := schema.GroupResource{Group: "events.k8s.io", Resource: "events"}
	tests := []struct {
		name       string
		errs       []error
		wantWrites int
		dropReason string // counted once, or "" for none
	}{
		{name: "written", wantWrites: 1},
		{name: "server error then written", errs: []error{apierrors.NewInternalError(errors.New("boom"))}, wantWrites: 2},
		{name: "no answer then already there", errs: []error{errors.New("connection reset"), apierrors.NewAlreadyExists(gr, "x")}, wantWrites: 2},
		{name: "throttled three times", errs: []error{apierrors.NewTooManyRequests("slow", 1), apierrors.NewTooManyRequests("slow", 1),
			apierrors.NewTooManyRequests("slow", 1)}, wantWrites: 3, dropReason: DropFailed},
		{name: "refused", errs: []error{apierrors.NewForbidden(gr, "x", errors.New("namespace terminating"))}, wantWrites: 1, dropReason: DropRejected},
		{name: "already exists at once is refused", errs: []error{apierrors.NewAlreadyExists(gr, "x")}, wantWrites: 1, dropReason: DropRejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(tt.errs...)
			s := NewSink(f, clientgoscheme.Scheme, logr.Discard(), WithRetryDelay(time.Millisecond))
			s.workers = 1
			counts := func() map[string]float64 {
				return map[string]float64{
					DropFailed:   testutil.ToFloat64(dropped.WithLabelValues(DropFailed)),
					DropRejected: testutil.ToFloat64(dropped.WithLabelValues(DropRejected)),
				}
			}
			before := counts()
			s.Recorder("c").Eventf(pod(), nil, corev1.EventTypeNormal, "R", "A", "n")
			// A second Event behind it shows when the first one is finished (one worker).
			s.Recorder("c").Eventf(pod(), nil, corev1.EventTypeNormal, "Marker", "A", "n")
			start(t, s)
			f.wait(t, tt.wantWrites+1)
			got := f.calls()
			if len(got) != tt.wantWrites+1 || got[len(got)-1].Reason != "Marker" {
				t.Fatalf("%d writes, last %q; want %d then the marker", len(got), got[len(got)-1].Reason, tt.wantWrites)
			}
			after := counts()
			for reason := range after {
				want := 0.0
				if reason == tt.dropReason {
					want = 1
				}
				if d := after[reason] - before[reason]; d != want {
					t.Errorf("dropped{%s} +%v, want +%v", reason, d, want)
				}
			}
		})
	}
}
