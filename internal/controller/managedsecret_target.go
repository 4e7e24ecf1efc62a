package controller

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/csms"
	"github.com/csms-operator/csms-operator/internal/source"
	"github.com/csms-operator/csms-operator/internal/target"
)

// This file is spec.target through the four steps: what a pass observes of the target
// Secret, the changes it plans (write the Secret, restart workloads), how they are made,
// and what status says. The value goes into the target Secret and nowhere else.

// targetObservation is what a pass knows of the target Secret.
type targetObservation struct {
	// set: spec.target is set and the pass may act on it (targets enabled, the cloud
	// secret readable).
	set bool
	// disabled: spec.target is set but the manager runs with --enable-targets=false.
	disabled bool
	// exists, ours and resourceVersion are read from the metadata cache.
	exists          bool
	ours            bool
	resourceVersion string
	// conflict says why the Secret may not be written (it is someone else's, or Merge
	// has nothing to merge into).
	conflict string
	// current is the Secret as the API server has it, read only when it may need a write.
	current *corev1.Secret
	// value and versionID are the cloud's SYSCURRENT value, read only when the Secret does
	// not hold the current version (or someone changed it) and this pass writes no
	// version itself.
	value     csms.Value
	versionID string
	// fromWrite: the Secret is due and this pass writes the value to CSMS (create or
	// push), so the value written is what the Secret gets.
	fromWrite bool
}

// currentVersion is the SYSCURRENT version as far as this pass knows before acting.
func currentVersion(ms *v1alpha1.ManagedSecret, obs *observation) string {
	switch {
	case obs.source.compared:
		return obs.source.cloudVersionID
	case obs.versionID != "":
		return obs.versionID
	}
	return ms.Status.CurrentVersionID
}

// targetStatus is status.target, or the zero value.
func targetStatus(ms *v1alpha1.ManagedSecret) v1alpha1.TargetStatus {
	if ms.Status.Target == nil {
		return v1alpha1.TargetStatus{}
	}
	return *ms.Status.Target
}

// observeTarget reads what the target needs: its metadata from the cache (no call), and
// only when it does not hold the current version or someone changed it, the Secret itself
// and the cloud's current value.
func (r *ManagedSecretReconciler) observeTarget(ctx context.Context, ms *v1alpha1.ManagedSecret, obs *observation) error {
	spec := ms.Spec.Target
	t := &obs.out
	if spec == nil || obs.err != nil {
		return nil
	}
	if !r.EnableTargets {
		t.disabled = true
		return nil
	}
	if obs.secret != nil && (!readable(ms, obs) || obs.secret.State == csms.StatePendingDelete) {
		return nil // refused, or restored first
	}
	t.set = true
	key := types.NamespacedName{Namespace: ms.Namespace, Name: spec.Name}
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	if err := r.secretMeta().Get(ctx, key, m); err != nil && !apierrors.IsNotFound(err) {
		return step(err, "reading the metadata of target Secret %q", spec.Name)
	} else if err == nil {
		t.exists, t.resourceVersion = true, m.ResourceVersion
		t.ours = m.Labels[v1alpha1.LabelTargetOf] == ms.Name
	}
	if ref, ok := sourceRef(ms.Spec.Value); ok && ref.Name == spec.Name {
		t.conflict = fmt.Sprintf("spec.target.name %q is the value source Secret; the operator never writes the Secret it reads the value from", spec.Name)
		return nil
	}
	merge := spec.CreationPolicy == v1alpha1.TargetCreationPolicyMerge
	switch {
	case merge && !t.exists:
		t.conflict = fmt.Sprintf("target Secret %q does not exist, and creationPolicy Merge only writes into an existing Secret: create it, or use creationPolicy Owner or Orphan", spec.Name)
		return nil
	case !merge && t.exists && !t.ours:
		t.conflict = fmt.Sprintf("target Secret %q exists and was not created by this resource; it is left untouched: use creationPolicy Merge to write into it, or another spec.target.name", spec.Name)
		return nil
	}

	writes := obs.secret == nil || obs.source.compared && obs.source.differs
	due := func() bool {
		st := targetStatus(ms)
		return writes || !t.exists || t.resourceVersion != st.ResourceVersion || st.Name != spec.Name || st.VersionID == "" ||
			currentVersion(ms, obs) != st.VersionID
	}
	if !due() {
		return nil
	}
	// Whether a version is new to the workloads is decided from status.target, and the
	// cache may not have the previous pass's status patch yet (an event of the source or
	// the target Secret can arrive before it): a stale status.target would take a new
	// version for the first one and skip its restart, or take the first for a new one.
	// Decide from the resource as the API server has it (as freshOwnership does).
	if err := r.freshTargetStatus(ctx, ms); err != nil {
		return err
	}
	if !due() {
		return nil
	}
	if t.exists {
		cur := &corev1.Secret{}
		if err := r.APIReader.Get(ctx, key, cur); err != nil {
			if !apierrors.IsNotFound(err) {
				return step(err, "reading target Secret %q", spec.Name)
			}
			t.exists = false
		} else {
			t.current, t.resourceVersion = cur, cur.ResourceVersion
		}
	}
	if writes && !ms.Observing() {
		t.fromWrite = true
		return nil
	}
	if obs.secret == nil {
		return nil // Observe: nothing to read the value from
	}
	v, vid, err := obs.client.GetCurrentValue(ctx, obs.secret.Name)
	if err != nil {
		return step(err, "reading the current value of CSMS secret %q for target Secret %q", obs.secret.Name, spec.Name)
	}
	t.value, t.versionID = v, vid
	return nil
}

// freshTargetStatus replaces ms's status.target with the API server's.
func (r *ManagedSecretReconciler) freshTargetStatus(ctx context.Context, ms *v1alpha1.ManagedSecret) error {
	if r.APIReader == nil {
		return nil
	}
	fresh := &v1alpha1.ManagedSecret{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(ms), fresh); err != nil {
		return step(err, "re-reading the ManagedSecret")
	}
	if fresh.UID == ms.UID {
		ms.Status.Target = fresh.Status.Target
	}
	return nil
}

// renderTarget renders the target Secret from a value.
func renderTarget(ms *v1alpha1.ManagedSecret, v csms.Value, versionID string) (target.Rendered, error) {
	ref, ok := sourceRef(ms.Spec.Value)
	return target.Render(target.Input{Spec: ms.Spec.Target, Value: v, VersionID: versionID,
		SplitJSON: ok && ref.Kind == source.KindSecret})
}

// planTarget adds the target's changes to a plan: the Secret write when it does not hold
// what the cloud holds, and one restart per listed workload when that is a new version.
// A template error is a refusal: nothing is written.
func planTarget(ms *v1alpha1.ManagedSecret, obs *observation, p *plan) {
	t := obs.out
	switch {
	case t.disabled:
		p.targetRefusal = &conditionError{reason: v1alpha1.ReasonTargetsDisabled, retryAtResync: true, message: fmt.Sprintf(
			"spec.target asks for Secret %q, but the manager runs with --enable-targets=false and may not write Secrets: remove spec.target, or ask the operator's administrator to enable targets", ms.Spec.Target.Name)}
		return
	case t.conflict != "":
		p.targetRefusal = &conditionError{reason: v1alpha1.ReasonTargetConflict, retryAtResync: true, message: t.conflict}
		return
	case !t.set || p.refusal != nil:
		return
	}
	st := targetStatus(ms)
	var write, newVersion bool
	switch {
	case t.fromWrite:
		// The Secret gets what this pass writes to CSMS: a new version.
		write = p.has(createSecret) || p.has(putValue)
		newVersion = write
	case t.versionID != "":
		r, err := renderTarget(ms, t.value, t.versionID)
		if err != nil {
			p.targetRefusal = templateError(err)
			return
		}
		write = !holds(t.current, r, ms.Spec.Target.CreationPolicy == v1alpha1.TargetCreationPolicyMerge)
		newVersion = t.versionID != st.RestartedVersionID
	}
	if write {
		p.changes = append(p.changes, change{kind: writeTarget})
	}
	// The first version a target gets needs no restart: the workloads start with it.
	if newVersion && st.RestartedVersionID != "" {
		for _, w := range ms.Spec.Target.RolloutRestart {
			p.changes = append(p.changes, change{kind: restartWorkload, workload: w})
		}
	}
}

func templateError(err error) *conditionError {
	return &conditionError{reason: v1alpha1.ReasonTemplateError, retryAtResync: true,
		message: err.Error() + "; nothing was written to the target Secret: fix spec.target.template"}
}

// holds reports whether the Secret already holds the rendered content. With Merge only
// the rendered keys count; other keys belong to the Secret's owner.
func holds(cur *corev1.Secret, r target.Rendered, merge bool) bool {
	if cur == nil {
		return false
	}
	for k, v := range r.Data {
		if !bytes.Equal(cur.Data[k], v) {
			return false
		}
	}
	if merge {
		return true
	}
	if len(cur.Data) != len(r.Data) || cur.Type != r.Type {
		return false
	}
	for k, v := range r.Labels {
		if cur.Labels[k] != v {
			return false
		}
	}
	for k, v := range r.Annotations {
		if cur.Annotations[k] != v {
			return false
		}
	}
	return true
}

// errRestartDeferred stops a plan when the restart rate is used up: not a failure; the
// pass is requeued when a restart may go.
var errRestartDeferred = errors.New("workload restarts deferred by the restart rate limit")

// applyTarget makes a target change.
func (r *ManagedSecretReconciler) applyTarget(ctx context.Context, ms *v1alpha1.ManagedSecret, obs *observation, c change, res *actResult) error {
	log := logf.FromContext(ctx)
	spec := ms.Spec.Target
	switch c.kind {
	case writeTarget:
		v, vid := obs.out.value, obs.out.versionID
		if obs.out.fromWrite {
			v, vid = res.writtenValue, res.versionID
		}
		rendered, err := renderTarget(ms, v, vid)
		if err != nil {
			return templateError(err)
		}
		rv, created, err := r.writeTargetSecret(ctx, ms, obs.out.current, rendered)
		if err != nil {
			return step(err, "writing target Secret %q", spec.Name)
		}
		res.targetVersion, res.targetRV = vid, rv
		r.refs.ownTargetWrite(client.ObjectKeyFromObject(ms), rv)
		verb := "Updated"
		if created {
			verb = "Created"
		}
		log.Info("Wrote the target Secret", "target", spec.Name, "versionID", vid, "keys", rendered.Keys())
		r.event(ms, corev1.EventTypeNormal, EventTargetWritten, "WriteTarget", "%s Secret %q with version %s of CSMS secret %q (keys %s)",
			verb, spec.Name, vid, ms.CSMSName(), strings.Join(rendered.Keys(), ", "))
		targetWrites.WithLabelValues(verb).Inc()

	case restartWorkload:
		vid := res.targetVersion
		if vid == "" {
			vid = obs.out.versionID
		}
		if d, ok := r.reserveRestart(); !ok {
			res.deferred = d
			restartsDeferred.Inc()
			return errRestartDeferred
		}
		secretID := ""
		if res.secret != nil {
			secretID = res.secret.ID
		}
		mark := secretID + "/" + vid
		found, err := r.restart(ctx, ms.Namespace, c.workload, mark)
		if err != nil {
			return step(err, "restarting %s %q", c.workload.Kind, c.workload.Name)
		}
		if !found {
			r.event(ms, corev1.EventTypeWarning, EventWorkloadNotFound, "Restart",
				"%s %q in namespace %q was not restarted for version %s: it does not exist", c.workload.Kind, c.workload.Name, ms.Namespace, vid)
			return nil
		}
		log.Info("Restarted workload", "kind", c.workload.Kind, "name", c.workload.Name, "versionID", vid)
		r.event(ms, corev1.EventTypeNormal, EventWorkloadRestarted, "Restart", "Restarted %s %q for version %s of CSMS secret %q",
			c.workload.Kind, c.workload.Name, vid, ms.CSMSName())
		workloadRestarts.WithLabelValues(string(c.workload.Kind)).Inc()
	}
	return nil
}

// writeTargetSecret creates or updates the target Secret with the rendered content and
// returns its new resourceVersion. Owner and Orphan Secrets are the operator's whole;
// with Merge only the rendered keys are written.
func (r *ManagedSecretReconciler) writeTargetSecret(ctx context.Context, ms *v1alpha1.ManagedSecret, cur *corev1.Secret, rd target.Rendered) (string, bool, error) {
	spec := ms.Spec.Target
	if spec.CreationPolicy == v1alpha1.TargetCreationPolicyMerge {
		s := cur.DeepCopy()
		if s.Data == nil {
			s.Data = map[string][]byte{}
		}
		maps.Copy(s.Data, rd.Data)
		s.Labels = mergeMaps(s.Labels, rd.Labels)
		s.Annotations = mergeMaps(s.Annotations, rd.Annotations)
		if err := r.Client.Update(ctx, s); err != nil {
			return "", false, err
		}
		return s.ResourceVersion, false, nil
	}
	labels := mergeMaps(rd.Labels, map[string]string{v1alpha1.LabelTargetOf: ms.Name})
	if cur == nil {
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ms.Namespace, Name: spec.Name, Labels: labels, Annotations: rd.Annotations},
			Type:       rd.Type,
			Data:       rd.Data,
		}
		if spec.CreationPolicy != v1alpha1.TargetCreationPolicyOrphan {
			s.OwnerReferences = []metav1.OwnerReference{ownerReference(ms)}
		}
		if err := r.Client.Create(ctx, s); err != nil {
			return "", false, err
		}
		return s.ResourceVersion, true, nil
	}
	s := cur.DeepCopy()
	s.Labels = mergeMaps(s.Labels, labels)
	s.Annotations = mergeMaps(s.Annotations, rd.Annotations)
	s.Data = rd.Data
	if s.Type != rd.Type {
		// The type of a Secret cannot change in place.
		if err := r.Client.Delete(ctx, cur, client.Preconditions{UID: &cur.UID, ResourceVersion: &cur.ResourceVersion}); err != nil {
			return "", false, err
		}
		return r.writeTargetSecret(ctx, ms, nil, rd)
	}
	if spec.CreationPolicy != v1alpha1.TargetCreationPolicyOrphan {
		s.OwnerReferences = []metav1.OwnerReference{ownerReference(ms)}
	}
	if err := r.Client.Update(ctx, s); err != nil {
		return "", false, err
	}
	return s.ResourceVersion, false, nil
}

func ownerReference(ms *v1alpha1.ManagedSecret) metav1.OwnerReference {
	yes := true
	return metav1.OwnerReference{APIVersion: v1alpha1.GroupVersion.String(), Kind: "ManagedSecret", Name: ms.Name, UID: ms.UID, Controller: &yes}
}

func mergeMaps(a, b map[string]string) map[string]string {
	if len(a) == 0 && len(b) == 0 {
		return nil
	}
	out := maps.Clone(a)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, b)
	return out
}

// restart sets the pod-template annotation of a workload. Setting the value it already has
// changes nothing, so a retried or repeated restart for one version never rolls twice.
func (r *ManagedSecretReconciler) restart(ctx context.Context, ns string, w v1alpha1.WorkloadReference, mark string) (bool, error) {
	var obj client.Object
	switch w.Kind {
	case v1alpha1.WorkloadKindDeployment:
		obj = &appsv1.Deployment{}
	case v1alpha1.WorkloadKindStatefulSet:
		obj = &appsv1.StatefulSet{}
	case v1alpha1.WorkloadKindDaemonSet:
		obj = &appsv1.DaemonSet{}
	default:
		return false, fmt.Errorf("unknown workload kind %q", w.Kind)
	}
	obj.SetNamespace(ns)
	obj.SetName(w.Name)
	patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{%q:%q}}}}}`, v1alpha1.AnnotationRestartedFor, mark)
	if err := r.Client.Patch(ctx, obj, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// reserveRestart takes a token of the restart rate shared by all resources, or says how
// long until one is free.
func (r *ManagedSecretReconciler) reserveRestart() (time.Duration, bool) {
	if r.RestartLimiter == nil {
		return 0, true
	}
	rsv := r.RestartLimiter.Reserve()
	if d := rsv.Delay(); d > 0 {
		rsv.Cancel()
		return d, false
	}
	return 0, true
}

// targetStatusOf is status.target after a pass.
func targetStatusOf(ms *v1alpha1.ManagedSecret, obs *observation, p plan, res actResult) *v1alpha1.TargetStatus {
	if ms.Spec.Target == nil {
		return nil
	}
	prev := targetStatus(ms)
	t := obs.out
	if !t.set || t.conflict != "" {
		if prev.Name != ms.Spec.Target.Name {
			return nil
		}
		return &prev
	}
	st := prev
	st.Name = ms.Spec.Target.Name
	switch {
	case applied(p, res, writeTarget):
		st.VersionID, st.ResourceVersion = res.targetVersion, res.targetRV
	case t.current != nil && t.versionID != "" && !p.has(writeTarget):
		// Checked and found holding the current version.
		st.VersionID, st.ResourceVersion = t.versionID, t.current.ResourceVersion
	}
	restarts := 0
	for _, c := range p.changes {
		if c.kind == restartWorkload {
			restarts++
		}
	}
	doneRestarts := 0
	for _, c := range p.changes[:res.done] {
		if c.kind == restartWorkload {
			doneRestarts++
		}
	}
	if st.VersionID != "" && (st.RestartedVersionID == "" || restarts > 0 && doneRestarts == restarts ||
		restarts == 0 && len(ms.Spec.Target.RolloutRestart) == 0) {
		// The first version a target gets needs no restart: the workloads start with it.
		st.RestartedVersionID = st.VersionID
	}
	return &st
}
