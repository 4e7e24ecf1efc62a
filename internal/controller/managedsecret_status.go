package controller

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/csms"
)

// This file turns what CSMS reports into status, and outcomes into the Ready and Synced
// conditions. Everything here is pure.

// metaTime converts a cloud time; the zero time (not set by CSMS) becomes nil.
func metaTime(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	mt := metav1.NewTime(t.UTC().Truncate(time.Second))
	return &mt
}

// sameTime compares a status time with a cloud time at the second precision that status
// keeps.
func sameTime(st *metav1.Time, t time.Time) bool {
	if st == nil || st.IsZero() {
		return t.IsZero()
	}
	return !t.IsZero() && st.Unix() == t.Unix()
}

// setCloudStatus copies every field of the status contract that CSMS reports from sec.
// CurrentVersionID, ObservedSourceVersion and the conditions are not CSMS metadata and are
// set by the caller.
func setCloudStatus(st *v1alpha1.ManagedSecretStatus, sec *csms.Secret) {
	st.Name = sec.Name
	st.SecretID = sec.ID
	st.State = v1alpha1.SecretState(sec.State)
	st.KMSKeyID = sec.KmsKeyID
	st.SecretType = v1alpha1.SecretType(sec.SecretType)
	st.DomainID = sec.DomainID
	st.EnterpriseProjectID = sec.EnterpriseProjectID
	st.CreateTime = metaTime(sec.CreateTime)
	st.UpdateTime = metaTime(sec.UpdateTime)
	st.ScheduledDeleteTime = metaTime(sec.ScheduledDeleteTime)
	st.LastUsedTime = metaTime(sec.LastUsedTime)
	st.AutoRotation = sec.AutoRotation
	st.RotationPeriod = sec.RotationPeriod
	st.RotationTime = metaTime(sec.RotationTime)
	st.NextRotationTime = metaTime(sec.NextRotationTime)
	st.RotationFuncURN = sec.RotationFuncURN
	st.EventSubscriptions = slices.Clone(sec.EventSubscriptions)
	st.ReplicaType = v1alpha1.ReplicaType(sec.ReplicaType)
	st.Replicas = nil
	for _, r := range sec.Replicas {
		st.Replicas = append(st.Replicas, v1alpha1.ReplicaStatus{
			ID:          r.ID,
			Region:      r.Region,
			ProjectID:   r.ProjectID,
			KMSKeyID:    r.KmsKeyID,
			ReplicaType: v1alpha1.ReplicaType(r.ReplicaType),
			Status:      v1alpha1.ReplicaSyncStatus(r.Status),
			CreatedAt:   metaTime(r.CreatedAt),
			UpdatedAt:   metaTime(r.UpdatedAt),
		})
	}
	// A stable order keeps the status patch empty when nothing changed.
	sort.Slice(st.Replicas, func(i, j int) bool { return st.Replicas[i].Region < st.Replicas[j].Region })
}

// clearCloudStatus forgets cloud fields that do not describe a secret of this resource
// (e.g. one it does not own), so status never shows someone else's secret as ours.
func clearCloudStatus(st *v1alpha1.ManagedSecretStatus) {
	*st = v1alpha1.ManagedSecretStatus{
		Conditions:         st.Conditions,
		ObservedGeneration: st.ObservedGeneration,
		LastSyncTime:       st.LastSyncTime,
	}
}

// replicaState summarises replica sync: the regions whose replica FAILED and whether any
// replica (or a spec replica not yet listed by CSMS) is still syncing.
func replicaState(ms *v1alpha1.ManagedSecret, sec *csms.Secret) (failed []string, syncing bool) {
	listed := map[string]bool{}
	for _, r := range sec.Replicas {
		listed[r.Region] = true
		switch r.Status {
		case csms.ReplicaStatusFailed:
			failed = append(failed, r.Region)
		case csms.ReplicaStatusInSync:
		default:
			syncing = true
		}
	}
	for _, r := range ms.Spec.Replicas {
		if !listed[r.Region] {
			syncing = true
		}
	}
	sort.Strings(failed)
	return failed, syncing
}

// setReadyFromCloud sets Ready from the observed secret after a successful reconcile:
// True only when the secret is ENABLED and every replica is IN_SYNC.
func setReadyFromCloud(ms *v1alpha1.ManagedSecret, sec *csms.Secret) {
	c := metav1.Condition{Type: v1alpha1.ConditionTypeReady}
	failed, syncing := replicaState(ms, sec)
	switch {
	case sec.State == csms.StatePendingDelete:
		c.Status, c.Reason = metav1.ConditionFalse, v1alpha1.ReasonPendingDeletion
		c.Message = fmt.Sprintf("CSMS secret %q is scheduled for deletion", sec.Name)
	case sec.State != csms.StateEnabled:
		c.Status, c.Reason = metav1.ConditionFalse, v1alpha1.ReasonReconcileError
		c.Message = fmt.Sprintf("CSMS reports secret %q as %s; enable it in CSMS to use it", sec.Name, sec.State)
	case len(failed) > 0:
		c.Status, c.Reason = metav1.ConditionFalse, v1alpha1.ReasonReplicaFailed
		c.Message = fmt.Sprintf("replication of CSMS secret %q failed in region(s) %s; check that the region exists and that the project ID and KMS key are valid there",
			sec.Name, strings.Join(failed, ", "))
	case syncing:
		c.Status, c.Reason = metav1.ConditionFalse, v1alpha1.ReasonReplicasSyncing
		c.Message = fmt.Sprintf("CSMS secret %q is available; replicas are still syncing", sec.Name)
	default:
		c.Status, c.Reason = metav1.ConditionTrue, v1alpha1.ReasonAvailable
		c.Message = fmt.Sprintf("CSMS secret %q is available and matches the spec", sec.Name)
	}
	ms.SetCondition(c)
}

// setSyncedCondition marks the last reconcile as successful.
func setSyncedCondition(ms *v1alpha1.ManagedSecret) {
	ms.SetCondition(metav1.Condition{
		Type:    v1alpha1.ConditionTypeSynced,
		Status:  metav1.ConditionTrue,
		Reason:  v1alpha1.ReasonReconcileSuccess,
		Message: "The last reconcile succeeded",
	})
}

// setFailureConditions records a failed reconcile: Synced=False with reason and message.
// Ready goes False too, except for transient failures (throttling, network) of a resource
// that was Ready: the cloud secret did not stop existing because one call failed, and a
// Ready condition that flaps on every 429 would page people for nothing.
func setFailureConditions(ms *v1alpha1.ManagedSecret, reason, message string, transient bool) {
	ms.SetCondition(metav1.Condition{
		Type: v1alpha1.ConditionTypeSynced, Status: metav1.ConditionFalse, Reason: reason, Message: message,
	})
	if ready := ms.GetCondition(v1alpha1.ConditionTypeReady); transient && ready != nil && ready.Status == metav1.ConditionTrue {
		return
	}
	ms.SetCondition(metav1.Condition{
		Type: v1alpha1.ConditionTypeReady, Status: metav1.ConditionFalse, Reason: reason, Message: message,
	})
}

// setDeletingCondition records that deletion waits for the cloud side.
func setDeletingCondition(ms *v1alpha1.ManagedSecret, message string) {
	ms.SetCondition(metav1.Condition{
		Type: v1alpha1.ConditionTypeReady, Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonDeleting, Message: message,
	})
}
