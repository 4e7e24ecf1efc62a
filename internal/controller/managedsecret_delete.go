package controller

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/csms"
)

// reconcileDelete finishes the cloud side of a deleted ManagedSecret, then removes the
// finalizer:
//   - managementPolicy Observe and deletionPolicy Retain leave the cloud secret as it is;
//     no credentials are needed, so a lost credentials Secret never wedges the deletion.
//   - Delete touches only a secret this resource owns, proven by its tags just before
//     the write. recoveryWindowDays 0 deletes at once; otherwise deletion is scheduled (a
//     secret already PENDING_DELETE is done). A secret that does not exist (any more) is
//     done; one not owned is never deleted.
func (r *ManagedSecretReconciler) reconcileDelete(ctx context.Context, ms *v1alpha1.ManagedSecret) (ctrl.Result, error) {
	log := logf.FromContext(ctx)
	if !controllerutil.ContainsFinalizer(ms, v1alpha1.Finalizer) {
		r.forget(ms.UID)
		return ctrl.Result{}, nil
	}
	orig := ms.DeepCopy()
	done, err := r.deleteCloudSecret(ctx, ms)
	if err != nil {
		o := classify(err)
		hint := ""
		if o.reason == v1alpha1.ReasonProviderConfigNotReady || o.reason == v1alpha1.ReasonUnauthorized {
			hint = "; the cloud secret cannot be deleted without working credentials: restore them, or set spec.deletionPolicy: Retain to finish the deletion and keep the cloud secret"
		}
		ms.Status = deletingStatus(ms, err, hint)
		if perr := r.patchStatus(ctx, orig, ms); perr != nil && !apierrors.IsNotFound(perr) {
			log.Error(perr, "Patching status")
		}
		if o.retry == retryResync {
			return ctrl.Result{RequeueAfter: r.resync(ms)}, nil
		}
		return ctrl.Result{}, err
	}
	if !done {
		return ctrl.Result{RequeueAfter: r.resync(ms)}, nil
	}
	if err := r.patchMeta(ctx, ms, true, func(o *v1alpha1.ManagedSecret) {
		controllerutil.RemoveFinalizer(o, v1alpha1.Finalizer)
	}); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil
		}
		return retryOnConflict(fmt.Errorf("removing finalizer: %w", err))
	}
	r.forget(ms.UID)
	log.Info("Finalizer removed")
	return ctrl.Result{}, nil
}

// deleteCloudSecret applies the deletion policy; done means the finalizer may go.
func (r *ManagedSecretReconciler) deleteCloudSecret(ctx context.Context, ms *v1alpha1.ManagedSecret) (bool, error) {
	log := logf.FromContext(ctx)
	name := ms.CSMSName()
	switch {
	case ms.Observing():
		if ms.Status.SecretID != "" {
			r.event(ms, corev1.EventTypeNormal, EventRetained, "Delete", "Kept CSMS secret %q (managementPolicy: Observe never deletes)", name)
		}
		return true, nil
	case ms.DeletionPolicyOrDefault() == v1alpha1.DeletionPolicyRetain:
		if ms.Status.SecretID != "" {
			r.event(ms, corev1.EventTypeNormal, EventRetained, "Delete", "Kept CSMS secret %q (deletionPolicy: Retain)", name)
		}
		return true, nil
	}

	// A resource that never created or adopted a secret has nothing in the cloud to
	// delete, so a provider config or credentials that do not work must not keep it:
	// typically they were refused from the start.
	nothingRecorded := neverCreated(ms)
	cli, _, err := r.Providers.ClientFor(ctx, ms.Namespace, ms.ProviderConfigKey())
	if err != nil {
		if nothingRecorded {
			log.Info("Provider config unusable and no cloud secret recorded; nothing to delete", "error", err.Error())
			return true, nil
		}
		return false, err
	}
	sec, err := cli.GetSecret(ctx, name)
	if errors.Is(err, csms.ErrNotFound) {
		return true, nil
	}
	if errors.Is(err, csms.ErrUnauthorized) && nothingRecorded {
		log.Info("Credentials refused and no cloud secret recorded; nothing to delete", "error", err.Error())
		return true, nil
	}
	if err != nil {
		return false, step(err, "reading CSMS secret %q", name)
	}
	// Proof of ownership right before the write: the tags, whatever status says.
	tags, err := cli.ListTags(ctx, sec.ID)
	if err != nil {
		return false, step(err, "reading tags of CSMS secret %q", name)
	}
	own := ownershipOf(ms, sec, tags)
	if own == notOwned || own == ownedByOther {
		if own, err = r.freshOwnership(ctx, ms, sec, tags); err != nil {
			return false, err
		}
	}
	switch {
	case own == ownershipLost:
		log.Info("Not deleting a secret now tagged as another resource's", "secretName", name)
		r.event(ms, corev1.EventTypeWarning, v1alpha1.ReasonOwnershipLost, "Delete",
			"Left CSMS secret %q untouched: it is now tagged as owned by %s", name, ownerName(tags))
		return true, nil
	case !own.owned():
		log.Info("Not deleting a secret this resource does not own", "secretName", name)
		r.event(ms, corev1.EventTypeWarning, EventNotDeleted, "Delete",
			"Left CSMS secret %q untouched: it was not created or adopted by this resource", name)
		return true, nil
	case sec.State == csms.StatePendingDelete:
		return true, nil
	}
	days := ms.RecoveryWindowDays()
	if days == 0 {
		if err := cli.DeleteSecret(ctx, name); err != nil && !errors.Is(err, csms.ErrNotFound) {
			return false, step(err, "deleting CSMS secret %q", name)
		}
		log.Info("Deleted secret", "secretName", name)
		r.event(ms, corev1.EventTypeNormal, EventDeleted, "Delete", "Deleted CSMS secret %q immediately (recoveryWindowDays: 0)", name)
		return true, nil
	}
	if _, err := cli.ScheduleDeletion(ctx, name, days); err != nil && !errors.Is(err, csms.ErrNotFound) {
		return false, step(err, "scheduling the deletion of CSMS secret %q", name)
	}
	log.Info("Scheduled deletion", "secretName", name, "recoveryWindowDays", days)
	r.event(ms, corev1.EventTypeNormal, EventDeletionScheduled, "Delete",
		"Scheduled deletion of CSMS secret %q in %d days; until then it can be restored by re-creating this resource", name, days)
	return true, nil
}
