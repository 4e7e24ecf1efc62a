package bench

// The targets phase: how soon a value CSMS rotates reaches the Kubernetes Secret a
// ManagedSecret keeps with spec.target, and what a resync of such a resource costs.
//
// A fresh environment (control plane, emulator with one project limited to Q, manager)
// gets M ManagedSecrets with a source Secret, spec.rotation (4h, the shortest period) and
// spec.target. They are created while the emulator's clock is 4h − lead behind real time,
// and the clock is set back right after they converged, so CSMS's first scheduled
// rotation of each falls lead after its create in real time. Then:
//
//   - scheduled: the time from each secret's next_rotation_time (ShowSecret, ms) to the
//     watch event that shows its target Secret holding a new value; nothing is forced,
//     the operator comes back by itself right after status.nextRotationTime;
//   - forced: one at a time, RotateSecret through the SDK, then the resync annotation; the
//     time from the annotation to the watch event of the new value: the operator's own
//     pass for a version made outside it;
//   - steady: K forced resyncs of all M, counting the CSMS reads per secret per resync.
//
// Each new value is checked against CSMS's current value through the SDK; values are
// compared, never printed.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1/model"
	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
)

// targetRotationPeriod is the rotation period of the targets phase: the shortest CSMS
// (and the CRD) allows, so the clock offset that brings the first rotation near is small.
const targetRotationPeriod = 4 * time.Hour

// targetName is an item's target Secret.
func targetName(it Item) string { return it.Name + "-app" }

// newTargetManagedSecret is an item's ManagedSecret with rotation and a target; without a
// template the target holds the value under key "value".
func newTargetManagedSecret(it Item, sh Shard, resync time.Duration) *v1alpha1.ManagedSecret {
	ms := newManagedSecret(it, resync)
	ms.Spec.Rotation = &v1alpha1.RotationSpec{Enabled: true, Period: "4h",
		FunctionURN: "urn:fss:cn-north-4:" + sh.ProjectID + ":function:default:bench-rotate"}
	ms.Spec.Target = &v1alpha1.SecretTarget{Name: targetName(it)}
	return ms
}

// targetWatch follows the target Secrets (label target-of) through a watch and records,
// for each, the value it holds and when that value last changed, at the moment the event
// arrived.
type targetWatch struct {
	c        client.WithWatch
	mu       sync.Mutex
	value    map[types.NamespacedName]string
	at       map[types.NamespacedName]time.Time
	changes  map[types.NamespacedName]int
	changed  chan struct{}
	watching chan struct{}
	once     sync.Once
}

func newTargetWatch(c client.WithWatch) *targetWatch {
	return &targetWatch{c: c, value: map[types.NamespacedName]string{}, at: map[types.NamespacedName]time.Time{},
		changes: map[types.NamespacedName]int{}, changed: make(chan struct{}, 1), watching: make(chan struct{})}
}

// observe records s as seen at now.
func (w *targetWatch) observe(s *corev1.Secret, now time.Time) {
	k := client.ObjectKeyFromObject(s)
	v := string(s.Data[targetValueKey])
	w.mu.Lock()
	old, seen := w.value[k]
	if !seen || old != v {
		w.value[k], w.at[k] = v, now
		if seen {
			w.changes[k]++
		}
	}
	w.mu.Unlock()
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

// targetValueKey is the target Secret's key without a template.
const targetValueKey = "value"

// get returns the value the Secret holds, when it changed to it, and how many changes
// have been seen.
func (w *targetWatch) get(k types.NamespacedName) (string, time.Time, int, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	v, ok := w.value[k]
	return v, w.at[k], w.changes[k], ok
}

func (w *targetWatch) totalChanges() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, c := range w.changes {
		n += c
	}
	return n
}

func (w *targetWatch) run(ctx context.Context) {
	sel := client.HasLabels{v1alpha1.LabelTargetOf}
	for ctx.Err() == nil {
		list := &corev1.SecretList{}
		if err := w.c.List(ctx, list, sel); err != nil {
			sleepCtx(ctx, 200*time.Millisecond)
			continue
		}
		now := time.Now()
		for i := range list.Items {
			w.observe(&list.Items[i], now)
		}
		wi, err := w.c.Watch(ctx, &corev1.SecretList{}, sel, &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: list.ResourceVersion, AllowWatchBookmarks: true}})
		if err != nil {
			sleepCtx(ctx, 200*time.Millisecond)
			continue
		}
		w.once.Do(func() { close(w.watching) })
		w.consume(ctx, wi)
		wi.Stop()
	}
}

func (w *targetWatch) consume(ctx context.Context, wi watch.Interface) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-wi.ResultChan():
			if !ok || ev.Type == watch.Error {
				return
			}
			if s, isSecret := ev.Object.(*corev1.Secret); isSecret && (ev.Type == watch.Added || ev.Type == watch.Modified) {
				w.observe(s, time.Now())
			}
		}
	}
}

// waitUntil waits until done holds (checked at every change and every 250 ms) or the
// timeout passes, and reports whether it held.
func (w *targetWatch) waitUntil(ctx context.Context, timeout time.Duration, done func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for !done() {
		select {
		case <-ctx.Done():
			return false
		case <-deadline.C:
			return done()
		case <-w.changed:
		case <-tick.C:
		}
	}
	return true
}

// latencies returns, for each key with a start time, how long after it the change came,
// and the keys that have no change (missed), sorted.
func latencies(start, changed map[string]time.Time) ([]time.Duration, []string) {
	var out []time.Duration
	var missed []string
	for k, s := range start {
		c, ok := changed[k]
		if !ok {
			missed = append(missed, k)
			continue
		}
		out = append(out, c.Sub(s))
	}
	sort.Strings(missed)
	return out, missed
}

func millis(d time.Duration) float64 { return round(float64(d)/1e6, 1) }

// targetsRun runs the targets phase (see the top of this file).
func (r *runner) targetsRun(ctx context.Context) error {
	m := min(r.cfg.Targets, MaxSecretsPerProject)
	lead := r.cfg.TargetLead
	items := MakeItems(m, 1, r.cfg.Namespaces, "tgt")
	// One project holds them all (M ≤ its quota), so it gets the whole limit Q.
	sh := MakeShards(1, r.cfg.QPS)[0]
	if sh.QPS > 0 {
		sh.Burst = ClientBurst(sh.QPS, r.cfg.ClientBurstPct)
	}
	r.res.TargetItems, r.res.TargetQPS, r.res.TargetLeadS = m, sh.QPS, lead.Seconds()
	ph, err := r.startPhase(ctx, "targets", sh.QPS, []Shard{sh}, items, true)
	if err != nil {
		return err
	}
	defer ph.stop()
	c, err := ph.client()
	if err != nil {
		return err
	}
	tw := newTargetWatch(c)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go tw.run(wctx)
	select {
	case <-tw.watching:
	case <-time.After(time.Minute):
		return fmt.Errorf("targets: the watch of target Secrets did not open within a minute")
	}
	api, err := newSDKClient(ph.em.URL, sh)
	if err != nil {
		return err
	}
	// The harness's own CSMS calls share the project's limit with the operator: half of it.
	lim := rate.NewLimiter(rate.Inf, 1)
	if sh.QPS > 0 {
		lim = rate.NewLimiter(rate.Limit(sh.QPS)/2, 1)
	}
	// A 429 (the operator's passes use the same project) is retried: the gateway refused
	// the call before CSMS saw it.
	call := func(fn func() error) error {
		for attempt := 0; ; attempt++ {
			if err := lim.Wait(ctx); err != nil {
				return err
			}
			err := fn()
			var sre *sdkerr.ServiceResponseError
			if err == nil || !errors.As(err, &sre) || sre.StatusCode != http.StatusTooManyRequests || attempt >= 20 {
				return err
			}
			sleepCtx(ctx, time.Duration(attempt+1)*50*time.Millisecond)
		}
	}
	key := func(it Item) types.NamespacedName {
		return types.NamespacedName{Namespace: it.Namespace, Name: targetName(it)}
	}

	// Create while CSMS's clock is behind, so its first rotation is lead away in real time.
	if err := ph.admin.SetClockOffset(ctx, -(targetRotationPeriod - lead)); err != nil {
		return err
	}
	r.logf("targets: creating %d ManagedSecrets with rotation and a target (emulator clock %s behind)", m, targetRotationPeriod-lead)
	start := time.Now()
	if err := parallel(ctx, len(items), createWorkers, func(ctx context.Context, i int) error {
		return createIgnoreExists(ctx, c, newTargetManagedSecret(items[i], sh, time.Hour))
	}); err != nil {
		return err
	}
	if _, err := ph.tracker.waitAll(ctx, m, r.cfg.ConvergeTimeout, nil); err != nil {
		_ = ph.admin.SetClockOffset(ctx, 0)
		return fmt.Errorf("targets: %w", err)
	}
	holdsSources := tw.waitUntil(ctx, time.Minute, func() bool {
		for _, it := range items {
			if v, _, _, ok := tw.get(key(it)); !ok || v != it.Value {
				return false
			}
		}
		return true
	})
	if err := ph.admin.SetClockOffset(ctx, 0); err != nil {
		return err
	}
	reset := time.Now()
	r.logf("targets: all %d Ready with their target Secrets in %.1fs; emulator clock set back", m, reset.Sub(start).Seconds())
	if !holdsSources {
		return fmt.Errorf("targets: not every target Secret holds its source value a minute after all were Ready")
	}

	// (a) Scheduled rotation: from next_rotation_time to the target holding a new value.
	next := map[string]time.Time{}
	var earliest, latest time.Time
	for _, it := range items {
		var resp *model.ShowSecretResponse
		if err := call(func() (err error) {
			resp, err = api.ShowSecret(&model.ShowSecretRequest{SecretName: it.Name})
			return err
		}); err != nil {
			return fmt.Errorf("targets: reading %s: %w", it.Name, err)
		}
		if resp.Secret == nil || resp.Secret.NextRotationTime == nil {
			return fmt.Errorf("targets: CSMS secret %s has no next_rotation_time", it.Name)
		}
		t := time.UnixMilli(*resp.Secret.NextRotationTime)
		next[it.Name] = t
		if earliest.IsZero() || t.Before(earliest) {
			earliest = t
		}
		if t.After(latest) {
			latest = t
		}
	}
	if reset.After(earliest) {
		r.note("targets: converging took %.1fs, longer than the %s lead: rotations due before the clock was set back happened only then, and their latency includes that wait (use a longer -target-lead)", reset.Sub(start).Seconds(), lead)
	}
	r.logf("targets: scheduled rotations due in %.1f–%.1fs; waiting for them to reach the target Secrets", time.Until(earliest).Seconds(), time.Until(latest).Seconds())
	tw.waitUntil(ctx, time.Until(latest)+3*time.Minute, func() bool {
		for _, it := range items {
			if _, _, n, _ := tw.get(key(it)); n < 1 {
				return false
			}
		}
		return true
	})
	changed := map[string]time.Time{}
	for _, it := range items {
		if _, at, n, _ := tw.get(key(it)); n >= 1 {
			changed[it.Name] = at
		}
	}
	lat, missed := latencies(next, changed)
	if len(missed) > 0 {
		r.note("targets: %d scheduled rotations did not reach their target Secret within 3 min of the last one due: %v", len(missed), missed)
	}
	if err := r.checkTargets(ctx, tw, api, call, items, key, nil); err != nil {
		return err
	}
	r.res.RotationToSecretP50Ms = millis(Percentile(lat, 50))
	r.res.RotationToSecretP99Ms = millis(Percentile(lat, 99))
	r.res.RotationToSecretMaxMs = millis(Percentile(lat, 100))
	r.res.RotationToSecretMissed = len(missed)
	r.logf("targets: scheduled rotation → target Secret: p50 %.0f ms, p99 %.0f ms, max %.0f ms (%d samples)", r.res.RotationToSecretP50Ms, r.res.RotationToSecretP99Ms, r.res.RotationToSecretMaxMs, len(lat))

	// (b) RotateSecret through the SDK, then a forced pass.
	var forced []time.Duration
	versions := map[string]string{}
	forcedMissed := 0
	for i, it := range items {
		if _, err := ph.admin.WaitQuiet(ctx, 200*time.Millisecond, 30*time.Second); err != nil {
			r.note("targets: before forced rotation %d: %v", i, err)
		}
		_, _, before, _ := tw.get(key(it))
		var resp *model.RotateSecretResponse
		if err := call(func() (err error) {
			resp, err = api.RotateSecret(&model.RotateSecretRequest{SecretName: it.Name})
			return err
		}); err != nil {
			return fmt.Errorf("targets: RotateSecret %s: %w", it.Name, err)
		}
		if resp.VersionId != nil {
			versions[it.Name] = *resp.VersionId
		}
		t0 := time.Now()
		if err := annotate(ctx, c, it, fmt.Sprintf("forced-%d", i)); err != nil {
			return err
		}
		if !tw.waitUntil(ctx, 30*time.Second, func() bool { _, _, n, _ := tw.get(key(it)); return n > before }) {
			forcedMissed++
			r.note("targets: forced rotation %d (%s): the target Secret did not change within 30s", i, it.Name)
			continue
		}
		_, at, _, _ := tw.get(key(it))
		forced = append(forced, at.Sub(t0))
	}
	if err := r.checkTargets(ctx, tw, api, call, items, key, versions); err != nil {
		return err
	}
	r.res.ForcedRotationToSecretP50Ms = millis(Percentile(forced, 50))
	r.res.ForcedRotationToSecretP99Ms = millis(Percentile(forced, 99))
	r.res.ForcedRotationToSecretMaxMs = millis(Percentile(forced, 100))
	r.res.ForcedRotationToSecretMissed = forcedMissed
	r.logf("targets: RotateSecret + forced pass → target Secret: p50 %.0f ms, p99 %.0f ms, max %.0f ms (%d samples)", r.res.ForcedRotationToSecretP50Ms, r.res.ForcedRotationToSecretP99Ms, r.res.ForcedRotationToSecretMaxMs, len(forced))

	return r.targetSteady(ctx, ph, c, tw, items)
}

// annotate sets the resync annotation of one item's ManagedSecret.
func annotate(ctx context.Context, c client.Client, it Item, value string) error {
	return annotateAll(ctx, c, []Item{it}, value)
}

// checkTargets reads every item's current version through the SDK and checks that its
// target Secret holds that value (and, given versions, that it is that version).
func (r *runner) checkTargets(ctx context.Context, tw *targetWatch, api sdkShowVersion, call func(func() error) error, items []Item, key func(Item) types.NamespacedName, versions map[string]string) error {
	for _, it := range items {
		var resp *model.ShowSecretVersionResponse
		if err := call(func() (err error) {
			resp, err = api.ShowSecretVersion(&model.ShowSecretVersionRequest{SecretName: it.Name, VersionId: "latest"})
			return err
		}); err != nil {
			return fmt.Errorf("targets: reading back %s: %w", it.Name, err)
		}
		if resp.Version == nil || resp.Version.SecretString == nil || resp.Version.VersionMetadata == nil || resp.Version.VersionMetadata.Id == nil {
			return fmt.Errorf("targets: CSMS secret %s has no current text value", it.Name)
		}
		if want, ok := versions[it.Name]; ok && *resp.Version.VersionMetadata.Id != want {
			return fmt.Errorf("targets: CSMS secret %s is at version %s, RotateSecret made %s", it.Name, *resp.Version.VersionMetadata.Id, want)
		}
		// The target may trail a rotation that landed after the wait gave up; those were
		// counted as missed, so compare only what has changed.
		v, _, n, _ := tw.get(key(it))
		if n > 0 && v != *resp.Version.SecretString {
			return fmt.Errorf("targets: target Secret %s does not hold the current value of CSMS secret %s (version %s)", key(it), it.Name, *resp.Version.VersionMetadata.Id)
		}
	}
	r.logf("targets: every changed target Secret holds its CSMS secret's current value (read back through the SDK)")
	return nil
}

// sdkShowVersion is the one SDK call checkTargets needs.
type sdkShowVersion interface {
	ShowSecretVersion(*model.ShowSecretVersionRequest) (*model.ShowSecretVersionResponse, error)
}

// targetSteady forces K resync cycles of the target items and counts CSMS calls per
// secret per resync, and target Secret rewrites (there should be none).
func (r *runner) targetSteady(ctx context.Context, ph *phase, c client.Client, tw *targetWatch, items []Item) error {
	m := len(items)
	if r.cfg.Cycles <= 0 || m == 0 {
		return nil
	}
	if _, err := ph.admin.WaitQuiet(ctx, 2*time.Second, time.Minute); err != nil {
		r.note("targets: before the steady cycles: %v", err)
	}
	before, err := ph.admin.Stats(ctx)
	if err != nil {
		return err
	}
	rewrites := tw.totalChanges()
	for k := 1; k <= r.cfg.Cycles; k++ {
		cycleStart, err := ph.admin.Stats(ctx)
		if err != nil {
			return err
		}
		if err := annotateAll(ctx, c, items, fmt.Sprintf("steady-%d", k)); err != nil {
			return err
		}
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); sleepCtx(ctx, 100*time.Millisecond) {
			cur, err := ph.admin.Stats(ctx)
			if err != nil {
				return err
			}
			if cur.Sub(cycleStart).Op("ShowSecret") >= m {
				break
			}
		}
		if _, err := ph.admin.WaitQuiet(ctx, 2*time.Second, time.Minute); err != nil {
			r.note("targets: steady cycle %d: %v", k, err)
		}
	}
	after, err := ph.admin.Stats(ctx)
	if err != nil {
		return err
	}
	d := after.Sub(before)
	n := float64(m * r.cfg.Cycles)
	r.res.TargetReadsPerResync = round(float64(d.Reads())/n, 3)
	r.res.TargetReadsPerResyncByOp = map[string]float64{}
	for op, v := range d.ByOp() {
		if IsRead(op) {
			r.res.TargetReadsPerResyncByOp[op] = round(float64(v)/n, 3)
		}
	}
	r.res.TargetSteadyWrites = d.Writes()
	r.res.TargetSteadyRewrites = tw.totalChanges() - rewrites
	r.logf("targets: steady state over %d cycles of %d: %.3f reads / secret / resync (%s), %d CSMS writes, %d target Secret rewrites", r.cfg.Cycles, m, r.res.TargetReadsPerResync, d, r.res.TargetSteadyWrites, r.res.TargetSteadyRewrites)
	return nil
}
