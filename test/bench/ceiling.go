package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/eventrec"
)

// The Kubernetes-side ceiling: the same creates the converge phase makes, plus, for each
// new resource, the writes the operator was measured to make per new resource (verb,
// resource and subresource from the kube-apiserver's own request counters), made by the
// harness with the manager's concurrency and no controller, against a fresh control
// plane started the same way and holding the same objects. Its rate of new resources
// turning Ready is what the operator could reach on this machine if its own work (CSMS
// calls, reconcile logic, caches) cost nothing. Because it replays what was measured, it
// follows the operator when the operator's writes change.

// replayAnnotation is what the replayed metadata writes set and clear, as the operator
// sets and clears a mark.
const replayAnnotation = "bench.csms-operator.io/replay-step"

// replayTemplates hold what the operator wrote to one converged resource, so the replayed
// bodies have the operator's size and shape.
type replayTemplates struct {
	finalizers []any
	status     map[string]any
	// events maps an API group ("" or events.k8s.io) to one Event the operator wrote
	// about a ManagedSecret.
	events map[string]map[string]any
}

// replayKind is one kind of write the ceiling knows how to replay.
type replayKind int

const (
	replayMetaPatch replayKind = iota
	replayMetaUpdate
	replayFinalizersUpdate
	replayEventCreate
	replayStatusPatch
	replayStatusUpdate
)

// replayStep is one kind of write and how many of it a resource gets: total over all
// resources, spread as evenly as integers allow (resource i gets one more when
// i < total mod n).
type replayStep struct {
	key   ReqKey
	kind  replayKind
	total int
}

func (s replayStep) countFor(i, n int) int {
	c := s.total / n
	if i < s.total%n {
		c++
	}
	return c
}

// planReplay splits the measured writes into the steps the ceiling replays, in the order
// a pass makes them (metadata; the Events, handed to the event workers as the operator
// hands them to its sink during the pass; status last), and the writes it cannot replay
// (not of a ManagedSecret nor an Event).
func planReplay(mix ReqCounts) (steps []replayStep, skipped ReqCounts) {
	skipped = ReqCounts{}
	keys := make([]ReqKey, 0, len(mix))
	for k := range mix {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String()+keys[i].Group < keys[j].String()+keys[j].Group })
	for _, k := range keys {
		total := int(math.Round(mix[k]))
		if total <= 0 {
			continue
		}
		kind, ok := replayKindOf(k)
		if !ok {
			skipped[k] = mix[k]
			continue
		}
		steps = append(steps, replayStep{key: k, kind: kind, total: total})
	}
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].kind < steps[j].kind })
	return steps, skipped
}

func replayKindOf(k ReqKey) (replayKind, bool) {
	if k.Resource == "events" && k.Subresource == "" && k.Verb == "POST" && (k.Group == "" || k.Group == "events.k8s.io") {
		return replayEventCreate, true
	}
	if k.Group != v1alpha1.GroupVersion.Group || k.Resource != "managedsecrets" {
		return 0, false
	}
	switch {
	case k.Subresource == "" && k.Verb == "PATCH":
		return replayMetaPatch, true
	case k.Subresource == "" && k.Verb == "PUT":
		return replayMetaUpdate, true
	case k.Subresource == "finalizers" && k.Verb == "PUT":
		return replayFinalizersUpdate, true
	case k.Subresource == "status" && k.Verb == "PATCH":
		return replayStatusPatch, true
	case k.Subresource == "status" && k.Verb == "PUT":
		return replayStatusUpdate, true
	}
	return 0, false
}

// captureTemplates reads a converged ManagedSecret and an Event about one from the
// operator's phase.
func (r *runner) captureTemplates(ctx context.Context, ph *phase) error {
	c, err := ph.client()
	if err != nil {
		return err
	}
	it := r.items[0]
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("ManagedSecret"))
	if err := c.Get(ctx, client.ObjectKey{Namespace: it.Namespace, Name: it.Name}, u); err != nil {
		return fmt.Errorf("reading a converged ManagedSecret for the ceiling's bodies: %w", err)
	}
	t := replayTemplates{events: map[string]map[string]any{}}
	if f, ok, _ := unstructured.NestedSlice(u.Object, "metadata", "finalizers"); ok {
		t.finalizers = f
	}
	if st, ok, _ := unstructured.NestedMap(u.Object, "status"); ok {
		t.status = st
	}
	for _, gv := range []schema.GroupVersion{{Group: "events.k8s.io", Version: "v1"}, {Version: "v1"}} {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gv.WithKind("EventList"))
		if err := c.List(ctx, list, client.InNamespace(it.Namespace), client.Limit(200)); err != nil {
			continue
		}
		for _, ev := range list.Items {
			field := "regarding"
			if gv.Group == "" {
				field = "involvedObject"
			}
			if kind, _, _ := unstructured.NestedString(ev.Object, field, "kind"); kind == "ManagedSecret" {
				t.events[gv.Group] = ev.Object
				break
			}
		}
	}
	r.templates = t
	return nil
}

// statusBody is the status a replayed status write carries: the converged resource's,
// for the current generation; an earlier write of several is not Ready yet.
func (t replayTemplates) statusBody(generation int64, final bool) map[string]any {
	st := runtime.DeepCopyJSON(t.status)
	if st == nil {
		st = map[string]any{"conditions": []any{map[string]any{
			"type": v1alpha1.ConditionTypeReady, "status": "True", "reason": "Replayed", "message": "replayed by the benchmark",
			"lastTransitionTime": time.Now().UTC().Format(time.RFC3339),
		}}}
	}
	if _, ok := st["observedGeneration"]; ok {
		st["observedGeneration"] = generation
	}
	conds, _ := st["conditions"].([]any)
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok {
			continue
		}
		m["observedGeneration"] = generation
		if !final && m["type"] == v1alpha1.ConditionTypeReady {
			m["status"] = "False"
		}
	}
	return st
}

// eventBody is an Event about obj shaped like the operator's.
func (t replayTemplates) eventBody(group string, obj *unstructured.Unstructured, seq int) *unstructured.Unstructured {
	now := time.Now().UTC()
	ref := map[string]any{
		"apiVersion": v1alpha1.GroupVersion.String(), "kind": "ManagedSecret", "namespace": obj.GetNamespace(),
		"name": obj.GetName(), "uid": string(obj.GetUID()), "resourceVersion": obj.GetResourceVersion(),
	}
	ev := runtime.DeepCopyJSON(t.events[group])
	if ev == nil && group == "events.k8s.io" {
		ev = map[string]any{
			"reportingController": "csms-operator.io/managedsecret", "reportingInstance": "bench",
			"action": "Create", "reason": "Created", "type": "Normal", "note": "replayed by the benchmark",
		}
	} else if ev == nil {
		ev = map[string]any{"reason": "Created", "type": "Normal", "message": "replayed by the benchmark",
			"source": map[string]any{"component": "csms-operator"}}
	}
	delete(ev, "series")
	ev["metadata"] = map[string]any{"namespace": obj.GetNamespace(), "name": fmt.Sprintf("%s.replay%d.%d", obj.GetName(), seq, now.UnixNano())}
	if group == "events.k8s.io" {
		ev["apiVersion"], ev["kind"] = "events.k8s.io/v1", "Event"
		ev["regarding"] = ref
		ev["eventTime"] = now.Format(metav1.RFC3339Micro)
		delete(ev, "deprecatedFirstTimestamp")
		delete(ev, "deprecatedLastTimestamp")
		delete(ev, "deprecatedCount")
	} else {
		ev["apiVersion"], ev["kind"] = "v1", "Event"
		ev["involvedObject"] = ref
		ev["firstTimestamp"] = now.Format(time.RFC3339)
		ev["lastTimestamp"] = now.Format(time.RFC3339)
		ev["count"] = int64(1)
		delete(ev, "eventTime")
	}
	return &unstructured.Unstructured{Object: ev}
}

// replayEvent is an Event queued for the event workers.
type replayEvent struct {
	key ReqKey
	ev  *unstructured.Unstructured
}

// replayOne makes one resource's share of the steps, each on the object the previous
// write returned. Events go to the event workers: the operator's reconcile does not wait
// for its Events either (internal/eventrec).
func (r *runner) replayOne(ctx context.Context, c client.Client, obj *unstructured.Unstructured, i int, steps []replayStep, eventQ chan<- replayEvent) error {
	n := r.cfg.N
	metaTotal, statusTotal := 0, 0
	for _, s := range steps {
		switch s.kind {
		case replayMetaPatch, replayMetaUpdate, replayFinalizersUpdate:
			metaTotal += s.countFor(i, n)
		case replayStatusPatch, replayStatusUpdate:
			statusTotal += s.countFor(i, n)
		}
	}
	meta, status, events := 0, 0, 0
	for _, s := range steps {
		for j := 0; j < s.countFor(i, n); j++ {
			var err error
			switch s.kind {
			case replayMetaPatch, replayMetaUpdate, replayFinalizersUpdate:
				meta++
				err = r.replayMeta(ctx, c, obj, s.kind, meta, metaTotal)
			case replayStatusPatch, replayStatusUpdate:
				status++
				body := r.templates.statusBody(obj.GetGeneration(), status == statusTotal)
				if s.kind == replayStatusPatch {
					patch, _ := json.Marshal(map[string]any{"status": body})
					err = c.Status().Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch))
				} else {
					obj.Object["status"] = body
					err = c.Status().Update(ctx, obj)
				}
			case replayEventCreate:
				events++
				select {
				case eventQ <- replayEvent{key: s.key, ev: r.templates.eventBody(s.key.Group, obj, events)}:
				case <-ctx.Done():
					err = ctx.Err()
				}
			}
			if err != nil {
				return fmt.Errorf("replaying %s on %s/%s: %w", s.key, obj.GetNamespace(), obj.GetName(), err)
			}
		}
	}
	return nil
}

// replayMeta is the k-th of total metadata writes of a resource: the first adds the
// operator's finalizers; with more than one, the others set a mark that the last clears,
// as a mark set and cleared would.
func (r *runner) replayMeta(ctx context.Context, c client.Client, obj *unstructured.Unstructured, kind replayKind, k, total int) error {
	fins := r.templates.finalizers
	if len(fins) == 0 {
		fins = []any{v1alpha1.Finalizer}
	}
	var mark any = strconv.Itoa(k)
	if total > 1 && k == total {
		mark = nil
	}
	if kind == replayMetaPatch {
		md := map[string]any{}
		if k == 1 {
			md["finalizers"] = fins
		}
		if total > 1 {
			md["annotations"] = map[string]any{replayAnnotation: mark}
		}
		patch, _ := json.Marshal(map[string]any{"metadata": md})
		return c.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch))
	}
	if k == 1 {
		_ = unstructured.SetNestedSlice(obj.Object, runtime.DeepCopyJSONValue(fins).([]any), "metadata", "finalizers")
	}
	ann := obj.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	if mark == nil {
		delete(ann, replayAnnotation)
	} else {
		ann[replayAnnotation] = mark.(string)
	}
	obj.SetAnnotations(ann)
	if kind == replayFinalizersUpdate {
		return c.SubResource("finalizers").Update(ctx, obj)
	}
	return c.Update(ctx, obj)
}

// ceilingRun starts a fresh control plane without a manager and replays the creates and
// the operator's measured writes (see the top of this file).
func (r *runner) ceilingRun(ctx context.Context) error {
	if len(r.mix) == 0 {
		r.note("ceiling: no operator writes were measured; nothing to replay")
		return nil
	}
	steps, skipped := planReplay(r.mix)
	if len(skipped) > 0 {
		r.note("ceiling: not replayed (neither a ManagedSecret's nor an Event's): %s", skipped)
	}
	ph, err := r.startPhase(ctx, "ceiling", 0, r.shards, r.items, false)
	if err != nil {
		return err
	}
	defer ph.stop()
	c, err := ph.client()
	if err != nil {
		return err
	}
	before, err := ph.kubeSnapshot(ctx)
	if err != nil {
		return err
	}
	type created struct {
		i   int
		obj *unstructured.Unstructured
	}
	work := make(chan created, len(r.items))
	r.logf("ceiling: creating %d ManagedSecrets and replaying %s per resource with %d workers (and %d for Events)", len(r.items), r.mix.perResourceString(r.cfg.N), r.cfg.Concurrency, eventrec.DefaultWorkers)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, r.cfg.Concurrency+eventrec.DefaultWorkers+1)
	start := time.Now()
	go func() {
		defer close(work)
		err := parallel(ctx, len(r.items), createWorkers, func(ctx context.Context, i int) error {
			ms := newManagedSecret(r.items[i], time.Hour)
			if err := c.Create(ctx, ms); err != nil {
				return fmt.Errorf("creating ManagedSecret %s/%s: %w", ms.Namespace, ms.Name, err)
			}
			m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(ms)
			if err != nil {
				return err
			}
			u := &unstructured.Unstructured{Object: m}
			u.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("ManagedSecret"))
			work <- created{i: i, obj: u}
			return nil
		})
		if err != nil {
			errs <- err
		}
	}()
	eventQ := make(chan replayEvent, eventrec.DefaultQueueSize)
	for w := 0; w < r.cfg.Concurrency; w++ {
		go func() {
			for cr := range work {
				if err := r.replayOne(ctx, c, cr.obj, cr.i, steps, eventQ); err != nil {
					errs <- err
					cancel()
					return
				}
			}
		}()
	}
	for w := 0; w < eventrec.DefaultWorkers; w++ {
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case e := <-eventQ:
					if err := c.Create(ctx, e.ev); err != nil {
						errs <- fmt.Errorf("replaying %s: %w", e.key, err)
						cancel()
						return
					}
				}
			}
		}()
	}
	// A failed write ends the wait for all Ready at once, with its error.
	waitCtx, stopWait := context.WithCancelCause(ctx)
	go func() {
		select {
		case err := <-errs:
			stopWait(err)
		case <-waitCtx.Done():
		}
	}()
	done, err := ph.tracker.waitAll(waitCtx, len(r.items), r.cfg.ConvergeTimeout, func(ready int, _ map[string]int) {
		r.logf("ceiling: %d/%d Ready after %.0fs", ready, len(r.items), time.Since(start).Seconds())
	})
	cause := context.Cause(waitCtx)
	stopWait(nil)
	if err != nil {
		if cause != nil && cause != context.Canceled {
			return cause
		}
		return err
	}
	took := done.Sub(start)
	ser := ph.tracker.series(start, done)
	ser.Name = "Kubernetes ceiling: the operator's writes, no controller"
	r.addSeries(ser)
	after, err := r.waitKubeQuiet(ctx, ph, before, 2*time.Second, time.Minute)
	if err != nil {
		r.note("ceiling: %v", err)
	}
	// What the replay wrote as the operator would (the creates are the user's).
	replayed, _, _ := r.operatorWritesSince(kubeSnapshot{api: before.api}, kubeSnapshot{api: after.api})
	allWrites := after.api.Sub(before.api).Filter(ReqKey.IsWrite)
	createKey := ReqKey{Verb: "POST", Group: v1alpha1.GroupVersion.Group, Resource: "managedsecrets"}
	n := float64(r.cfg.N)
	r.res.KubeWriteCeilingS = round(took.Seconds(), 2)
	r.res.KubeWriteCeilingPerS = round(n/took.Seconds(), 1)
	r.res.KubeWriteCeilingWritesPerS = round((replayed.Total()+allWrites[createKey])/took.Seconds(), 1)
	r.res.KubeWriteCeilingReplayed = replayed.PerResource(r.cfg.N)
	if r.res.UnlimitedPerS > 0 && r.res.KubeWriteCeilingPerS > 0 {
		r.res.UnlimitedOfCeiling = round(r.res.UnlimitedPerS/r.res.KubeWriteCeilingPerS, 2)
	}
	r.logf("ceiling: all %d Ready in %.2fs (%.1f/s); replayed writes %s", r.cfg.N, took.Seconds(), r.res.KubeWriteCeilingPerS, replayed)
	want := r.mix.Sub(skipped)
	for k, v := range want {
		if math.Abs(replayed[k]-math.Round(v)) > 0.01*n {
			r.note("ceiling: replayed %s %.0f times, the operator made it %.0f times", k, replayed[k], v)
		}
	}
	return r.write()
}

// perResourceString is the counts per resource, for logs.
func (c ReqCounts) perResourceString(n int) string {
	per := ReqCounts{}
	for k, v := range c {
		per[k] = round(v/float64(n), 3)
	}
	return per.String()
}
