package controller

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/csms"
	"github.com/csms-operator/csms-operator/internal/source"
)

// actResult is what carrying out a plan did.
type actResult struct {
	// done counts the changes applied, in plan order; the change at done (if any) failed
	// with err and the ones after it were not tried.
	done int
	err  error
	// secret is the latest view of the cloud secret: the observed one, as the writes
	// returned it.
	secret *csms.Secret
	// marked: this pass wrote status.createPending (and it is still set on the server).
	marked bool
	// created: CreateSecret succeeded in this pass.
	created bool
	// versionID is the SYSCURRENT version a write made (v1 on create, the new version on
	// a push); "" when no write made one.
	versionID string
	// restored: RestoreSecret brought the secret back; its value is compared next pass.
	restored bool
	// reobserve: CreateSecret found the name taken, or its outcome is unknown: the pass
	// observes again instead of assuming the secret absent.
	reobserve bool
	// writtenValue is the value CreateSecret or PutValue wrote (for the target Secret).
	writtenValue csms.Value
	// targetVersion and targetRV: what the target Secret got, and its resourceVersion.
	targetVersion, targetRV string
	// deferred: the restart rate limit stopped the plan; look again after this long.
	deferred time.Duration
}

// act carries out the plan in order and stops at the first error. Every write that
// changes the cloud is reported with an Event.
func (r *ManagedSecretReconciler) act(ctx context.Context, ms *v1alpha1.ManagedSecret, obs *observation, p plan) actResult {
	res := actResult{secret: obs.secret}
	for _, c := range p.changes {
		if err := r.apply(ctx, ms, obs, c, &res); err != nil {
			if !errors.Is(err, errRestartDeferred) {
				res.err = err
			}
			return res
		}
		res.done++
	}
	return res
}

// apply makes one change.
func (r *ManagedSecretReconciler) apply(ctx context.Context, ms *v1alpha1.ManagedSecret, obs *observation, c change, res *actResult) error {
	log := logf.FromContext(ctx)
	cli, name := obs.client, ms.CSMSName()
	switch c.kind {
	case markCreatePending:
		if err := r.patchCreatePending(ctx, ms, true); err != nil {
			return step(err, "recording status.createPending before creating")
		}
		res.marked = true

	case addFinalizer:
		return step(r.patchMeta(ctx, ms, true, func(o *v1alpha1.ManagedSecret) {
			controllerutil.AddFinalizer(o, v1alpha1.Finalizer)
		}), "adding the finalizer")

	case createSecret:
		return r.create(ctx, ms, obs, res)

	case restoreSecret:
		sec, err := cli.RestoreSecret(ctx, name)
		if err != nil {
			return step(err, "restoring CSMS secret %q from pending deletion", name)
		}
		res.secret, res.restored = sec, true
		log.Info("Restored secret pending deletion", "secretName", name)
		r.event(ms, corev1.EventTypeNormal, EventRestored, "Restore", "Cancelled the scheduled deletion of CSMS secret %q", name)

	case updateTags:
		if err := cli.UpdateTags(ctx, res.secret.ID, c.set, c.remove); err != nil {
			return step(err, "updating tags of CSMS secret %q", name)
		}
		switch {
		case res.created:
			// Part of the creation, reported by its Created event.
		case c.adopt:
			log.Info("Adopted secret", "secretName", name)
			r.event(ms, corev1.EventTypeNormal, EventAdopted, "Adopt", "Took over the existing CSMS secret %q (adoptionPolicy: Adopt)", name)
		case obs.own == ownedByPendingMark:
			log.Info("Finished tagging a secret created before a restart", "secretName", name)
		default:
			r.event(ms, corev1.EventTypeNormal, EventTagsUpdated, "UpdateTags", "Updated tags of CSMS secret %q (set %s; removed %s)",
				name, keyList(slices.Collect(maps.Keys(c.set))), keyList(c.remove))
		}

	case updateSecret:
		updated, err := cli.UpdateSecret(ctx, name, c.update)
		if err != nil {
			return step(err, "updating %s of CSMS secret %q", strings.Join(c.fields, ", "), name)
		}
		res.secret = mergeUpdated(res.secret, updated)
		log.Info("Updated secret", "secretName", name, "fields", c.fields)
		r.event(ms, corev1.EventTypeNormal, EventUpdated, "Update", "Updated %s of CSMS secret %q", strings.Join(c.fields, ", "), name)

	case createReplica:
		rep := c.replica
		got, err := cli.CreateReplica(ctx, name, csms.ReplicaInput{Region: rep.Region, ProjectID: rep.ProjectID, KmsKeyID: rep.KMSKeyID})
		if errors.Is(err, csms.ErrAlreadyExists) {
			return nil // listed by the next read
		}
		if err != nil {
			return step(err, "creating the replica of CSMS secret %q in region %q", name, rep.Region)
		}
		sec := *res.secret
		sec.Replicas = append(slices.Clone(sec.Replicas), *got)
		res.secret = &sec
		log.Info("Created replica", "secretName", name, "region", rep.Region)
		r.event(ms, corev1.EventTypeNormal, EventReplicaCreated, "CreateReplica", "Created a replica of CSMS secret %q in region %q", name, rep.Region)

	case putValue:
		// On ErrTransient the version may exist; the next pass compares again before
		// writing.
		vid, err := cli.PutValue(ctx, name, obs.source.value)
		if err != nil {
			return step(err, "creating a new version of CSMS secret %q", name)
		}
		res.versionID, res.writtenValue = vid, obs.source.value
		log.Info("Created a new version from the source Secret", "secretName", name, "versionID", vid, "sourceVersion", obs.source.version)
		r.event(ms, corev1.EventTypeNormal, EventVersionCreated, "PutValue",
			"Created version %s of CSMS secret %q from Secret %q", vid, name, obs.source.ref.Name)

	case writeTarget, restartWorkload:
		return r.applyTarget(ctx, ms, obs, c, res)

	default:
		return fmt.Errorf("unknown change %d", c.kind)
	}
	return nil
}

// create calls CreateSecret with the initial value. When CSMS answered and created
// nothing, a create-pending mark set for this call proves nothing and is removed: left
// in place it would make a foreign untagged secret of that name look like ours, and it
// would hold up deletion of a resource that never created anything. Only an ambiguous
// failure (ErrTransient: the response may have been lost) keeps it. A taken name or an
// unknown outcome makes the pass observe again instead of creating again.
func (r *ManagedSecretReconciler) create(ctx context.Context, ms *v1alpha1.ManagedSecret, obs *observation, res *actResult) error {
	name := ms.CSMSName()
	in := createInput(ms)
	if obs.source.set {
		in.Value = obs.source.value
	} else {
		v, err := source.Generate(int(generateLength(ms)))
		if err != nil {
			return step(err, "generating the value")
		}
		in.Value = v
	}
	sec, err := obs.client.CreateSecret(ctx, in)
	if err != nil {
		if res.marked && !errors.Is(err, csms.ErrTransient) {
			if perr := r.patchCreatePending(ctx, ms, false); perr != nil {
				return step(perr, "clearing status.createPending after a refused create")
			}
			res.marked = false
		}
		res.reobserve = errors.Is(err, csms.ErrTransient) || errors.Is(err, csms.ErrAlreadyExists)
		return step(err, "creating CSMS secret %q", name)
	}
	res.secret, res.created, res.versionID, res.writtenValue = sec, true, "v1", in.Value // CreateSecret stores the value as v1, SYSCURRENT
	logf.FromContext(ctx).Info("Created secret", "secretName", name, "secretID", sec.ID)
	r.event(ms, corev1.EventTypeNormal, EventCreated, "Create", "Created CSMS secret %q (%s)", name, sec.SecretType)
	return nil
}

// generateLength is spec.value.generate.length, or its default.
func generateLength(ms *v1alpha1.ManagedSecret) int32 {
	if ms.Spec.Value != nil && ms.Spec.Value.Generate != nil && ms.Spec.Value.Generate.Length > 0 {
		return ms.Spec.Value.Generate.Length
	}
	return v1alpha1.DefaultGenerateLength
}

// mergeUpdated keeps fields of the observed secret that an UpdateSecret response may leave
// out (the SDK model lacks replicas, replica type, domain and last use).
func mergeUpdated(observed, updated *csms.Secret) *csms.Secret {
	if updated == nil {
		return observed
	}
	out := *updated
	if out.ReplicaType == "" {
		out.ReplicaType = observed.ReplicaType
	}
	if out.Replicas == nil {
		out.Replicas = observed.Replicas
	}
	if out.DomainID == "" {
		out.DomainID = observed.DomainID
	}
	if out.LastUsedTime.IsZero() {
		out.LastUsedTime = observed.LastUsedTime
	}
	return &out
}

// patchCreatePending writes status.createPending at once (not with the pass's status):
// the mark must be on the API server before CreateSecret, and off right after a create
// that CSMS refused.
func (r *ManagedSecretReconciler) patchCreatePending(ctx context.Context, ms *v1alpha1.ManagedSecret, on bool) error {
	obj := ms.DeepCopy()
	base := obj.DeepCopy()
	obj.Status.CreatePending = on
	if err := r.Client.Status().Patch(ctx, obj, client.MergeFrom(base)); err != nil {
		return err
	}
	ms.Status.CreatePending = on
	ms.ResourceVersion = obj.ResourceVersion
	return nil
}

// patchMeta applies mutate to the resource's metadata with a merge patch on a copy, and
// takes back only the metadata: the in-memory status of this pass must survive.
//
// A merge patch replaces lists whole, so a patch of the finalizers carries the
// resourceVersion (lock) and fails on a conflict instead of dropping someone else's
// finalizer; an annotation is a map key and needs no lock.
func (r *ManagedSecretReconciler) patchMeta(ctx context.Context, ms *v1alpha1.ManagedSecret, lock bool, mutate func(*v1alpha1.ManagedSecret)) error {
	obj := ms.DeepCopy()
	base := obj.DeepCopy()
	mutate(obj)
	var opts []client.MergeFromOption
	if lock {
		opts = append(opts, client.MergeFromWithOptimisticLock{})
	}
	if err := r.Client.Patch(ctx, obj, client.MergeFromWithOptions(base, opts...)); err != nil {
		return err
	}
	ms.ObjectMeta = *obj.ObjectMeta.DeepCopy()
	return nil
}
