// Package eventrec records Kubernetes Events (events.k8s.io/v1) for the operator's
// controllers.
//
// It stands in for client-go's events broadcaster, which keeps every Event it sent in
// memory for six minutes so that it can fold repeats into a series. This operator emits an
// Event only when something changed in the cloud, or when a resource first runs into a
// refusal, so there is nothing to fold; but after a bulk create that cache held one Event
// per resource: 11 MB of live heap at 10,000 ManagedSecrets (docs/performance.md). Here
// Events go through a bounded queue to a few workers, are written once (with a short retry
// when the API server is briefly unavailable) and are then forgotten.
package eventrec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/tools/record/util"
	"k8s.io/client-go/tools/reference"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

const (
	// DefaultQueueSize bounds the Events waiting to be written (client-go's broadcaster
	// queues 1000 too). When it is full new Events are dropped and counted.
	DefaultQueueSize = 1000
	// DefaultWorkers is how many Events are written at once.
	DefaultWorkers = 4
	// maxAttempts bounds the writes of one Event when the API server fails transiently.
	maxAttempts = 3
	// maxNoteBytes is the longest note events.k8s.io/v1 accepts.
	maxNoteBytes = 1024
	// maxInstanceLen is the longest reportingInstance events.k8s.io/v1 accepts.
	maxInstanceLen = 128
)

// Reasons an Event was not written (label of the dropped counter).
const (
	DropQueueFull = "queue_full"
	DropRejected  = "rejected"
	DropFailed    = "failed"
)

var dropped = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "csms_operator_events_dropped_total",
	Help: "Kubernetes Events the operator did not write, by reason: queue_full (the API server was too slow to keep up), rejected (the API server refused the Event), failed (retries exhausted).",
}, []string{"reason"})

func init() {
	if err := ctrlmetrics.Registry.Register(dropped); err != nil {
		var already prometheus.AlreadyRegisteredError
		if !errors.As(err, &already) {
			panic(err)
		}
	}
	// Every reason is exported from the start, at 0: a series that appears only with the
	// first drop makes rate() and alerts blind to it, and dashboards show "no data".
	for _, r := range []string{DropQueueFull, DropRejected, DropFailed} {
		dropped.WithLabelValues(r)
	}
}

// Creator is the one client call the sink needs (a controller-runtime client.Client).
type Creator interface {
	Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error
}

// Sink writes Events. Add it to the manager (it is a manager.Runnable) and hand its
// Recorders to the controllers.
type Sink struct {
	client     Creator
	scheme     *runtime.Scheme
	log        logr.Logger
	queue      chan *eventsv1.Event
	workers    int
	retryDelay time.Duration
	hostname   string
	now        func() time.Time
}

// Option changes a Sink.
type Option func(*Sink)

// WithQueueSize sets how many Events may wait to be written.
func WithQueueSize(n int) Option {
	return func(s *Sink) { s.queue = make(chan *eventsv1.Event, max(1, n)) }
}

// WithRetryDelay sets the pause before the second write of an Event (doubled before the
// third).
func WithRetryDelay(d time.Duration) Option { return func(s *Sink) { s.retryDelay = d } }

// NewSink returns a Sink writing with c. scheme resolves the kind of the objects Events
// are about.
func NewSink(c Creator, scheme *runtime.Scheme, log logr.Logger, opts ...Option) *Sink {
	host, _ := os.Hostname()
	s := &Sink{
		client:     c,
		scheme:     scheme,
		log:        log,
		queue:      make(chan *eventsv1.Event, DefaultQueueSize),
		workers:    DefaultWorkers,
		retryDelay: time.Second,
		hostname:   host,
		now:        time.Now,
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Recorder returns an EventRecorder whose Events carry reportingController = controller.
func (s *Sink) Recorder(controller string) events.EventRecorder {
	instance := controller + "-" + s.hostname
	if len(instance) > maxInstanceLen {
		instance = instance[:maxInstanceLen]
	}
	return &recorder{sink: s, controller: controller, instance: instance}
}

// NeedLeaderElection is false: Events queued by any replica are written.
func (s *Sink) NeedLeaderElection() bool { return false }

// Start writes queued Events until ctx is done. Events recorded before Start wait in the
// queue.
func (s *Sink) Start(ctx context.Context) error {
	var wg sync.WaitGroup
	for range s.workers {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case ev := <-s.queue:
					s.write(ctx, ev)
				}
			}
		})
	}
	wg.Wait()
	return nil
}

// write creates ev, retrying only failures that may pass (throttling, timeouts, server
// errors, no answer).
func (s *Sink) write(ctx context.Context, ev *eventsv1.Event) {
	log := s.log.WithValues("reason", ev.Reason, "object", ev.Regarding.Namespace+"/"+ev.Regarding.Name)
	delay := s.retryDelay
	for attempt := 1; ; attempt++ {
		err := s.client.Create(ctx, ev.DeepCopy())
		switch {
		case err == nil:
			return
		case attempt > 1 && apierrors.IsAlreadyExists(err):
			return // an earlier attempt was written although its answer was lost
		case !retriable(err):
			dropped.WithLabelValues(DropRejected).Inc()
			log.Error(err, "The API server refused an Event")
			return
		case attempt >= maxAttempts:
			dropped.WithLabelValues(DropFailed).Inc()
			log.Error(err, "Could not write an Event", "attempts", attempt)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay *= 2
	}
}

func retriable(err error) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return true // no answer from the API server
	}
	return apierrors.IsTooManyRequests(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) ||
		apierrors.IsInternalError(err) || apierrors.IsServiceUnavailable(err) || apierrors.IsUnexpectedServerError(err)
}

type recorder struct {
	sink                 *Sink
	controller, instance string
}

// Eventf queues an Event about regarding (and optionally related). It never blocks: when
// the queue is full the Event is dropped and counted.
func (r *recorder) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	s := r.sink
	ev, err := r.build(regarding, related, eventtype, reason, action, fmt.Sprintf(note, args...))
	if err != nil {
		s.log.Error(err, "Could not build an Event", "reason", reason)
		return
	}
	s.log.V(1).Info(ev.Note, "type", ev.Type, "object", ev.Regarding, "reason", ev.Reason)
	select {
	case s.queue <- ev:
	default:
		dropped.WithLabelValues(DropQueueFull).Inc()
		s.log.V(1).Info("Event queue full, dropping an Event", "reason", reason)
	}
}

func (r *recorder) build(regarding, related runtime.Object, eventtype, reason, action, note string) (*eventsv1.Event, error) {
	if eventtype != corev1.EventTypeNormal && eventtype != corev1.EventTypeWarning {
		return nil, fmt.Errorf("unsupported Event type %q", eventtype)
	}
	ref, err := reference.GetReference(r.sink.scheme, regarding)
	if err != nil {
		return nil, fmt.Errorf("referencing the object of the Event: %w", err)
	}
	var relRef *corev1.ObjectReference
	if related != nil {
		if relRef, err = reference.GetReference(r.sink.scheme, related); err != nil {
			return nil, fmt.Errorf("referencing the related object of the Event: %w", err)
		}
	}
	if len(note) > maxNoteBytes {
		note = truncate(note, maxNoteBytes)
	}
	now := r.sink.now()
	ns := ref.Namespace
	if ns == "" {
		ns = metav1.NamespaceDefault
	}
	return &eventsv1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: util.GenerateEventName(ref.Name, now.UnixNano()), Namespace: ns},
		EventTime:           metav1.NewMicroTime(now),
		ReportingController: r.controller,
		ReportingInstance:   r.instance,
		Action:              action,
		Reason:              reason,
		Regarding:           *ref,
		Related:             relRef,
		Note:                note,
		Type:                eventtype,
	}, nil
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence, ending in "...".
func truncate(s string, n int) string {
	cut := n - 3
	for cut > 0 && cut < len(s) && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "..."
}
