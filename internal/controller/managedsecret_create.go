package controller

import (
	"context"
	"errors"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/csms"
)

// create creates the cloud secret safely: the finalizer (if missing) and the pending mark
// are recorded on the resource in one write before CreateSecret, the ownership tags right
// after it. When the outcome of CreateSecret is unknown (ErrTransient) or the name turned
// out to be taken, it re-observes instead of creating again and returns created=false
// with the secret it found, so that the caller proves ownership through the normal path.
func (r *ManagedSecretReconciler) create(ctx context.Context, cli csms.Client, ms *v1alpha1.ManagedSecret) (*csms.Secret, bool, error) {
	log := logf.FromContext(ctx)
	name := ms.CSMSName()
	val, sourceRV, err := r.initialValue(ctx, ms)
	if err != nil {
		return nil, false, err
	}
	markedHere := !hasPendingMark(ms)
	// The finalizer and the mark go on together, in one write before CreateSecret. A
	// change of the finalizer list carries the resourceVersion (see patchMeta).
	addFinalizer := !controllerutil.ContainsFinalizer(ms, v1alpha1.Finalizer)
	if markedHere || addFinalizer {
		if err := r.patchMeta(ctx, ms, addFinalizer, func(o *v1alpha1.ManagedSecret) {
			controllerutil.AddFinalizer(o, v1alpha1.Finalizer)
			if o.Annotations == nil {
				o.Annotations = map[string]string{}
			}
			o.Annotations[v1alpha1.AnnotationCreatePending] = "true"
		}); err != nil {
			return nil, false, step(err, "recording the finalizer and the %s annotation before creating", v1alpha1.AnnotationCreatePending)
		}
	}
	in := createInput(ms)
	in.Value = val
	sec, err := cli.CreateSecret(ctx, in)
	if err != nil && !errors.Is(err, csms.ErrTransient) && markedHere {
		// CSMS answered and created nothing (the name is taken, the request was refused or
		// throttled): the mark set for this call proves nothing. Left in place it would
		// make a foreign untagged secret of that name look like ours on the next pass, and
		// it would hold up deletion of a resource that never created anything. Only an
		// ambiguous failure (ErrTransient: the response may have been lost) keeps it.
		if perr := r.patchMeta(ctx, ms, false, func(o *v1alpha1.ManagedSecret) {
			delete(o.Annotations, v1alpha1.AnnotationCreatePending)
		}); perr != nil {
			return nil, false, step(perr, "removing the %s annotation after a refused create", v1alpha1.AnnotationCreatePending)
		}
	}
	if errors.Is(err, csms.ErrTransient) || errors.Is(err, csms.ErrAlreadyExists) {
		found, gerr := cli.GetSecret(ctx, name)
		if gerr != nil {
			// Not there (or unknown): the next pass observes again before creating.
			return nil, false, step(err, "creating CSMS secret %q", name)
		}
		log.Info("CreateSecret failed but the secret exists; checking ownership", "error", err.Error())
		return found, false, nil
	}
	if err != nil {
		return nil, false, step(err, "creating CSMS secret %q", name)
	}
	// Record the ID at once: if tagging fails the deferred status patch still proves the
	// secret is ours on the next pass.
	ms.Status.SecretID = sec.ID
	ms.Status.ObservedSourceVersion = sourceRV
	if ref, ok := sourceRef(ms.Spec.Value); ok {
		ms.Status.ObservedSource = sourceIdentity(ref)
	}
	ms.Status.CurrentVersionID = "v1" // CreateSecret stores the value as v1, SYSCURRENT
	if err := cli.UpdateTags(ctx, sec.ID, desiredTags(ms), nil); err != nil {
		return nil, false, step(err, "tagging the new CSMS secret %q", name)
	}
	log.Info("Created secret", "secretName", name, "secretID", sec.ID)
	r.event(ms, corev1.EventTypeNormal, EventCreated, "Create", "Created CSMS secret %q (%s)", name, sec.SecretType)
	return sec, true, nil
}

// recheckOwnership is called before a secret is declared foreign: the cached resource may
// lag behind this reconciler's own writes (status.secretID, the create-pending mark), so it
// looks again at the resource as the API server has it.
func (r *ManagedSecretReconciler) recheckOwnership(ctx context.Context, ms *v1alpha1.ManagedSecret, sec *csms.Secret, tags map[string]string) (ownership, error) {
	if r.APIReader == nil {
		return notOwned, nil
	}
	fresh := &v1alpha1.ManagedSecret{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(ms), fresh); err != nil {
		return notOwned, step(err, "re-reading the ManagedSecret")
	}
	if fresh.UID != ms.UID {
		return notOwned, nil
	}
	own := ownershipOf(fresh, sec, tags)
	if own.owned() {
		// Continue with what the API server knows.
		ms.Annotations = fresh.Annotations
		ms.ResourceVersion = fresh.ResourceVersion
		if ms.Status.SecretID == "" {
			ms.Status.SecretID = fresh.Status.SecretID
		}
	}
	return own, nil
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

// neverCreated reports whether this resource has never created (or tried to create) a
// cloud secret: no secret ID in status and no create-pending mark. A crash after
// CreateSecret leaves the mark, so such a resource is observed first.
func neverCreated(ms *v1alpha1.ManagedSecret) bool {
	return ms.Status.SecretID == "" && !hasPendingMark(ms)
}

// hasPendingMark reports whether the resource carries the create-pending mark.
func hasPendingMark(ms *v1alpha1.ManagedSecret) bool {
	_, ok := ms.Annotations[v1alpha1.AnnotationCreatePending]
	return ok
}
