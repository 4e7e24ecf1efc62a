package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
)

// Names of the objects the benchmark creates.
const (
	credentialsNamespace = "csms-system"
	sourceKey            = "value"
	// resyncAnnotation is bumped to force a reconcile of every ManagedSecret: the
	// controller's predicate lets annotation changes through, and they leave the
	// generation alone, so the pass is the same as a periodic resync.
	resyncAnnotation = "bench.csms-operator.io/resync"
)

var scheme = runtime.NewScheme()

func init() {
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		panic(err)
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		panic(err)
	}
}

// newClient returns a client for the benchmark's own writes: no client-side rate limit
// (the default of 5 req/s would make the harness, not the operator, the bottleneck).
func newClient(cfg *rest.Config) (client.WithWatch, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS = -1
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("creating the benchmark's client: %w", err)
	}
	return c, nil
}

// parallel runs fn(0..n-1) on workers goroutines and returns the first error.
func parallel(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

func createIgnoreExists(ctx context.Context, c client.Client, o client.Object) error {
	if err := c.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating %T %s/%s: %w", o, o.GetNamespace(), o.GetName(), err)
	}
	return nil
}

// setupProviders creates the namespaces, one credentials Secret and one
// ClusterProviderConfig per shard (bench-<i>), pointing at the emulator. qps 0 means
// unlimited, which the operator has no spelling for (rateLimit unset means its default of
// 10 req/s), so it gets a limit far above anything the machine can do.
func setupProviders(ctx context.Context, c client.Client, endpoint string, shards []Shard, namespaces int) error {
	for i := 0; i < namespaces; i++ {
		if err := createIgnoreExists(ctx, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bench-%d", i)}}); err != nil {
			return err
		}
	}
	if err := createIgnoreExists(ctx, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: credentialsNamespace}}); err != nil {
		return err
	}
	for i, sh := range shards {
		name := fmt.Sprintf("bench-%d", i)
		sec := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: credentialsNamespace, Name: name + "-credentials"},
			StringData: map[string]string{
				v1alpha1.CredentialsKeyAccessKeyID:     sh.AK,
				v1alpha1.CredentialsKeySecretAccessKey: sh.SK,
			},
		}
		if err := createIgnoreExists(ctx, c, sec); err != nil {
			return err
		}
		qps, burst := int32(sh.QPS), int32(sh.burst())
		if qps == 0 {
			qps, burst = 1_000_000, 1_000_000
		}
		cpc := &v1alpha1.ClusterProviderConfig{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: v1alpha1.ClusterProviderConfigSpec{
				ProviderSettings: v1alpha1.ProviderSettings{
					Region:    "cn-north-4",
					ProjectID: sh.ProjectID,
					Endpoint:  endpoint,
					RateLimit: &v1alpha1.RateLimit{QPS: qps, Burst: burst},
				},
				Credentials: v1alpha1.ClusterProviderCredentials{
					Source:    v1alpha1.CredentialsSourceSecret,
					SecretRef: &v1alpha1.NamespacedSecretReference{Namespace: credentialsNamespace, Name: sec.Name},
				},
			},
		}
		if err := createIgnoreExists(ctx, c, cpc); err != nil {
			return err
		}
	}
	return nil
}

// sourceName is the source Secret of an item.
func sourceName(it Item) string { return it.Name + "-src" }

// createSources creates every item's source Secret.
func createSources(ctx context.Context, c client.Client, items []Item) error {
	return parallel(ctx, len(items), 16, func(ctx context.Context, i int) error {
		it := items[i]
		return createIgnoreExists(ctx, c, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: it.Namespace, Name: sourceName(it)},
			Data:       map[string][]byte{sourceKey: []byte(it.Value)},
		})
	})
}

// createManagedSecrets creates one ManagedSecret per item. resync is long so that no
// periodic resync falls into a measurement: the benchmark forces its resync cycles.
func createManagedSecrets(ctx context.Context, c client.Client, items []Item, resync time.Duration) error {
	return parallel(ctx, len(items), createWorkers, func(ctx context.Context, i int) error {
		return createIgnoreExists(ctx, c, newManagedSecret(items[i], resync))
	})
}

// createWorkers is the harness's parallelism when it creates objects, as a user's
// `kubectl apply` of many objects or a GitOps sync would.
const createWorkers = 16

// newManagedSecret is an item's ManagedSecret.
func newManagedSecret(it Item, resync time.Duration) *v1alpha1.ManagedSecret {
	return &v1alpha1.ManagedSecret{
		ObjectMeta: metav1.ObjectMeta{Namespace: it.Namespace, Name: it.Name},
		Spec: v1alpha1.ManagedSecretSpec{
			ProviderConfigRef: v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindCluster, Name: fmt.Sprintf("bench-%d", it.Shard)},
			Value:             &v1alpha1.SecretValueSource{SecretKeyRef: &v1alpha1.SecretKeySelector{Name: sourceName(it), Key: sourceKey}},
			ResyncInterval:    &metav1.Duration{Duration: resync},
		},
	}
}

// annotateAll sets the resync annotation of every ManagedSecret to value (a merge patch
// that touches only that key).
func annotateAll(ctx context.Context, c client.Client, items []Item, value string) error {
	patch := []byte(fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, resyncAnnotation, value))
	return parallel(ctx, len(items), 16, func(ctx context.Context, i int) error {
		ms := &v1alpha1.ManagedSecret{ObjectMeta: metav1.ObjectMeta{Namespace: items[i].Namespace, Name: items[i].Name}}
		if err := c.Patch(ctx, ms, client.RawPatch(types.MergePatchType, patch)); err != nil {
			return fmt.Errorf("annotating %s/%s: %w", ms.Namespace, ms.Name, err)
		}
		return nil
	})
}

// setSourceValue replaces the value of an item's source Secret.
func setSourceValue(ctx context.Context, c client.Client, it Item, value string) error {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: it.Namespace, Name: sourceName(it)}}
	patch, err := jsonMergeData(sourceKey, []byte(value))
	if err != nil {
		return err
	}
	if err := c.Patch(ctx, s, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("updating source Secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	return nil
}

// waitProvidersReady waits until every ClusterProviderConfig reports Ready=True.
func waitProvidersReady(ctx context.Context, c client.Client, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		list := &v1alpha1.ClusterProviderConfigList{}
		if err := c.List(ctx, list); err != nil {
			return fmt.Errorf("listing ClusterProviderConfigs: %w", err)
		}
		ready := 0
		var why string
		for i := range list.Items {
			cond := meta.FindStatusCondition(list.Items[i].Status.Conditions, v1alpha1.ConditionTypeReady)
			if cond != nil && cond.Status == metav1.ConditionTrue {
				ready++
			} else if cond != nil {
				why = fmt.Sprintf("%s: %s: %s", list.Items[i].Name, cond.Reason, cond.Message)
			}
		}
		if ready >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d ClusterProviderConfigs Ready after %s (%s)", ready, n, timeout, why)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// readyTracker follows ManagedSecrets through a watch and records when each became Ready
// (condition Ready=True for the current generation), at the moment the event arrived.
type readyTracker struct {
	c       client.WithWatch
	mu      sync.Mutex
	ready   map[types.NamespacedName]bool
	nReady  int
	state   map[types.NamespacedName]string
	changed chan struct{}
	errs    atomic.Int64
	// history is the Ready count after each change, with the time of the watch event.
	history []readyAt
	// watching is closed once the first watch is open: from then on a change is seen
	// when it happens, not at the next list.
	watching     chan struct{}
	watchingOnce sync.Once
}

type readyAt struct {
	at    time.Time
	ready int
}

func newReadyTracker(c client.WithWatch) *readyTracker {
	return &readyTracker{c: c, ready: map[types.NamespacedName]bool{}, state: map[types.NamespacedName]string{}, changed: make(chan struct{}, 1), watching: make(chan struct{})}
}

// waitWatching waits until the tracker's watch is open. Right after the CRDs are applied
// the list fails until the new resource is served; a phase that started its timer before
// that would see every change at once at the next list.
func (t *readyTracker) waitWatching(ctx context.Context, timeout time.Duration) error {
	select {
	case <-t.watching:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(timeout):
		return fmt.Errorf("the watch of ManagedSecrets did not open within %s (%d failed attempts)", timeout, t.errs.Load())
	}
}

func isReady(ms *v1alpha1.ManagedSecret) (bool, string) {
	cond := ms.GetCondition(v1alpha1.ConditionTypeReady)
	if cond == nil {
		return false, "NoCondition"
	}
	if cond.Status == metav1.ConditionTrue && cond.ObservedGeneration == ms.Generation {
		return true, cond.Reason
	}
	return false, cond.Reason
}

func (t *readyTracker) observe(ms *v1alpha1.ManagedSecret, deleted bool) {
	key := client.ObjectKeyFromObject(ms)
	r, reason := isReady(ms)
	if deleted {
		r, reason = false, ""
	}
	t.mu.Lock()
	if t.ready[key] != r {
		if r {
			t.nReady++
		} else {
			t.nReady--
		}
		t.ready[key] = r
		t.history = append(t.history, readyAt{at: time.Now(), ready: t.nReady})
	}
	if deleted {
		delete(t.ready, key)
		delete(t.state, key)
	} else {
		t.state[key] = reason
	}
	t.mu.Unlock()
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

// run lists and watches until ctx ends, re-listing when the watch closes.
func (t *readyTracker) run(ctx context.Context) {
	for ctx.Err() == nil {
		list := &v1alpha1.ManagedSecretList{}
		if err := t.c.List(ctx, list); err != nil {
			t.errs.Add(1)
			sleepCtx(ctx, 200*time.Millisecond)
			continue
		}
		for i := range list.Items {
			t.observe(&list.Items[i], false)
		}
		w, err := t.c.Watch(ctx, &v1alpha1.ManagedSecretList{}, &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: list.ResourceVersion, AllowWatchBookmarks: true}})
		if err != nil {
			t.errs.Add(1)
			sleepCtx(ctx, 200*time.Millisecond)
			continue
		}
		t.watchingOnce.Do(func() { close(t.watching) })
		t.consume(ctx, w)
		w.Stop()
	}
}

func (t *readyTracker) consume(ctx context.Context, w watch.Interface) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.ResultChan():
			if !ok {
				return
			}
			ms, isMS := ev.Object.(*v1alpha1.ManagedSecret)
			switch {
			case ev.Type == watch.Error:
				return
			case !isMS:
				continue // bookmarks
			case ev.Type == watch.Deleted:
				t.observe(ms, true)
			case ev.Type == watch.Added || ev.Type == watch.Modified:
				t.observe(ms, false)
			}
		}
	}
}

// series is the Ready count over [start, end] in seconds since start, for ready.svg.
func (t *readyTracker) series(start, end time.Time) Series {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := Series{Points: []Point{{T: 0, Ready: 0}}}
	for _, h := range t.history {
		if h.at.Before(start) || h.at.After(end) {
			continue
		}
		s.Points = append(s.Points, Point{T: h.at.Sub(start).Seconds(), Ready: h.ready})
	}
	return s
}

// counts returns how many are Ready and a summary of the reasons of the others.
func (t *readyTracker) counts() (int, map[string]int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	reasons := map[string]int{}
	for k, r := range t.state {
		if !t.ready[k] {
			reasons[r]++
		}
	}
	return t.nReady, reasons
}

// waitAll waits until n are Ready and returns the moment the n-th became Ready. progress
// is called about every 10s.
func (t *readyTracker) waitAll(ctx context.Context, n int, timeout time.Duration, progress func(ready int, reasons map[string]int)) (time.Time, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for {
		ready, reasons := t.counts()
		if ready >= n {
			return time.Now(), nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-deadline.C:
			return time.Time{}, fmt.Errorf("%d of %d ManagedSecrets Ready after %s; not ready by reason: %v", ready, n, timeout, reasons)
		case <-tick.C:
			if progress != nil {
				progress(ready, reasons)
			}
		case <-t.changed:
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
