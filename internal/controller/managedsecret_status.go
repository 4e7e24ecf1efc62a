package controller

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/csms"
	"github.com/csms-operator/csms-operator/internal/source"
)

// This file is the last step of a pass: status as a pure function of what the pass
// observed, planned and did. Every condition of a ManagedSecret is set here and nowhere
// else.

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
// (one it does not own, or one that is gone), so status never shows someone else's
// secret, or a secret that no longer exists, as ours.
func clearCloudStatus(st *v1alpha1.ManagedSecretStatus) {
	*st = v1alpha1.ManagedSecretStatus{
		Conditions:         st.Conditions,
		ObservedGeneration: st.ObservedGeneration,
		PlannedChanges:     st.PlannedChanges,
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

// passFailure is what went wrong in a pass, first cause first: the observation, a
// refusal of the plan, a failed change, a value source that could not be read. nil when
// the pass succeeded. With Observe, a refusal of what Manage would do is not a failure.
func passFailure(obs *observation, p plan, res actResult) error {
	switch {
	case obs.err != nil:
		return obs.err
	case p.refusal != nil:
		return p.refusal
	case res.err != nil:
		return res.err
	case p.targetRefusal != nil:
		return p.targetRefusal
	case obs.source.err != nil:
		return obs.source.err
	}
	return nil
}

// computeStatus is the status a pass leaves: the cloud's fields, the version and source
// bookkeeping, the plan (Observe) and every condition. It starts from the status before
// the pass so that unchanged conditions keep their transition times and an unchanged
// pass yields an equal status (no write).
func computeStatus(ms *v1alpha1.ManagedSecret, obs *observation, p plan, res actResult) v1alpha1.ManagedSecretStatus {
	st := *ms.Status.DeepCopy()
	st.ObservedGeneration = ms.Generation

	sec := res.secret
	visible := sec != nil && p.refusal == nil && (obs.own.owned() || res.created || ms.Observing() || applied(p, res, updateTags))
	switch {
	case obs.err != nil:
		// Nothing is known about the cloud in this pass: keep what status last knew.
	case visible:
		setCloudStatus(&st, sec)
		if ours := obs.own.owned() || res.created || applied(p, res, updateTags); !ours {
			// An observed secret that is not this resource's: its ID in status would later
			// pass for proof of ownership (switching to Manage must adopt it, not assume it).
			st.SecretID = ""
		}
		switch {
		case res.versionID != "":
			st.CurrentVersionID = res.versionID
		case obs.source.compared:
			st.CurrentVersionID = obs.source.cloudVersionID
		case obs.versionID != "":
			st.CurrentVersionID = obs.versionID
		}
		if src := obs.source; src.set && src.err == nil {
			if res.created || applied(p, res, putValue) || src.compared && !src.differs {
				st.ObservedSourceVersion, st.ObservedSource = src.version, src.identity
			} else if !src.changed && st.ObservedSource == "" {
				st.ObservedSource = src.identity // a status written before the field existed
			}
		}
	default:
		clearCloudStatus(&st)
	}

	st.CreatePending = createPendingAfter(ms, obs, p, res)
	st.Target = targetStatusOf(ms, obs, p, res)
	st.PlannedChanges = nil
	if ms.Observing() {
		for _, c := range p.manageChanges() {
			st.PlannedChanges = append(st.PlannedChanges, c.String())
		}
	}

	failure := passFailure(obs, p, res)
	ready := readyCondition(ms, obs, p, res, failure)
	conds := &st.Conditions
	set := func(c metav1.Condition) {
		c.ObservedGeneration = ms.Generation
		meta.SetStatusCondition(conds, c)
	}
	set(ready)
	set(syncedCondition(ms, failure))
	if o := classifyOrNil(failure); o != nil && o.stalled {
		set(metav1.Condition{Type: v1alpha1.ConditionTypeStalled, Status: metav1.ConditionTrue, Reason: o.reason, Message: o.message})
	} else {
		meta.RemoveStatusCondition(conds, v1alpha1.ConditionTypeStalled)
	}
	if ready.Status == metav1.ConditionFalse && inProgress(ready.Reason) {
		set(metav1.Condition{Type: v1alpha1.ConditionTypeReconciling, Status: metav1.ConditionTrue, Reason: ready.Reason, Message: ready.Message})
	} else {
		meta.RemoveStatusCondition(conds, v1alpha1.ConditionTypeReconciling)
	}
	return st
}

// createPendingAfter says whether the create intent stays on: only while a secret of
// this name may exist untagged because of this resource (a create whose outcome is
// unknown, or one not tagged yet). A refusal, or a secret now tagged as ours, ends it.
func createPendingAfter(ms *v1alpha1.ManagedSecret, obs *observation, p plan, res actResult) bool {
	switch {
	case !ms.Status.CreatePending && !res.marked:
		return false
	case p.refusal != nil, applied(p, res, updateTags):
		return false
	case obs.secret != nil && obs.own.owned() && obs.tags[v1alpha1.TagKeyManagedBy] == v1alpha1.TagValueManagedBy:
		return false
	}
	return true
}

// inProgress: Ready reasons under which the operator (or CSMS) is making progress.
func inProgress(reason string) bool {
	switch reason {
	case v1alpha1.ReasonCreating, v1alpha1.ReasonUpdating, v1alpha1.ReasonReplicasSyncing:
		return true
	}
	return false
}

// applied reports whether a change of that kind was carried out in this pass.
func applied(p plan, res actResult, kind changeKind) bool {
	for _, c := range p.changes[:res.done] {
		if c.kind == kind {
			return true
		}
	}
	return false
}

// readyCondition reports the cloud: Ready is True only when the secret exists, is
// ENABLED, is this resource's (or observed), matches the spec, holds the desired value
// and every replica is IN_SYNC. A failed pass on a secret that is fine (throttled, the
// source Secret deleted after its value was pushed) leaves it True; Synced tells.
func readyCondition(ms *v1alpha1.ManagedSecret, obs *observation, p plan, res actResult, failure error) metav1.Condition {
	name := ms.CSMSName()
	prev := ms.GetCondition(v1alpha1.ConditionTypeReady)
	ready := func(status metav1.ConditionStatus, reason, format string, args ...any) metav1.Condition {
		return metav1.Condition{Type: v1alpha1.ConditionTypeReady, Status: status, Reason: reason, Message: fmt.Sprintf(format, args...)}
	}
	sec := res.secret
	o := classifyOrNil(failure)
	switch {
	case p.refusal != nil:
		return ready(metav1.ConditionFalse, p.refusal.reason, "%s", p.refusal.message)

	case obs.err != nil:
		// The cloud was not seen: a transient failure does not make a secret that was
		// fine stop being fine.
		if o.transient && prev != nil && prev.Status == metav1.ConditionTrue && prev.Reason == v1alpha1.ReasonAvailable {
			return ready(prev.Status, prev.Reason, "%s", prev.Message)
		}
		return ready(metav1.ConditionFalse, o.reason, "%s", o.message)

	case sec == nil && ms.Observing():
		return ready(metav1.ConditionFalse, v1alpha1.ReasonSecretNotFound,
			"CSMS secret %q does not exist, and managementPolicy Observe never creates it: create it in CSMS, or set spec.managementPolicy: Manage", name)

	case sec == nil && o != nil && !o.transient:
		return ready(metav1.ConditionFalse, o.reason, "%s", o.message)

	case sec == nil && o != nil:
		return ready(metav1.ConditionFalse, v1alpha1.ReasonCreating, "Creating CSMS secret %q: %s", name, o.message)

	case sec == nil:
		return ready(metav1.ConditionFalse, v1alpha1.ReasonCreating, "Creating CSMS secret %q", name)

	case sec.State == csms.StatePendingDelete && ms.Observing():
		return ready(metav1.ConditionFalse, v1alpha1.ReasonPendingDeletion,
			"CSMS secret %q is scheduled for deletion; managementPolicy Observe does not restore it", name)

	case sec.State == csms.StatePendingDelete:
		return ready(metav1.ConditionFalse, v1alpha1.ReasonPendingDeletion,
			"CSMS secret %q is scheduled for deletion; restoring it: %s", name, messageOr(o, "retrying"))

	case sec.State != csms.StateEnabled:
		return ready(metav1.ConditionFalse, v1alpha1.ReasonReconcileError,
			"CSMS reports secret %q as %s; enable it in CSMS to use it", name, sec.State)
	}

	if tr := p.targetRefusal; tr != nil {
		return ready(metav1.ConditionFalse, tr.reason, "%s", tr.message)
	}
	if pending := pendingTarget(p, res); len(pending) > 0 && ms.Observing() {
		msg := fmt.Sprintf("target Secret %q does not hold the current version yet", ms.Spec.Target.Name)
		if o != nil {
			msg += "; last failure: " + o.message
		}
		return ready(metav1.ConditionFalse, v1alpha1.ReasonUpdating, "%s", msg)
	}
	if !ms.Observing() {
		if pending := pendingChanges(p, res, obs); len(pending) > 0 {
			if o != nil && o.stalled {
				return ready(metav1.ConditionFalse, o.reason, "%s", o.message)
			}
			reason := v1alpha1.ReasonUpdating
			if res.created || obs.own == ownedByPendingMark {
				reason = v1alpha1.ReasonCreating
			}
			msg := fmt.Sprintf("CSMS secret %q does not match the spec yet; pending: %s", name, strings.Join(pending, "; "))
			if o != nil {
				msg += "; last failure: " + o.message
			}
			return ready(metav1.ConditionFalse, reason, "%s", msg)
		}
	}

	failed, syncing := replicaState(ms, sec)
	switch {
	case len(failed) > 0:
		return ready(metav1.ConditionFalse, v1alpha1.ReasonReplicaFailed,
			"replication of CSMS secret %q failed in region(s) %s; check that the region exists and that the project ID and KMS key are valid there",
			name, strings.Join(failed, ", "))
	case syncing:
		return ready(metav1.ConditionFalse, v1alpha1.ReasonReplicasSyncing, "CSMS secret %q is available; replicas are still syncing", name)
	case ms.Observing():
		msg := fmt.Sprintf("CSMS secret %q is available and observed (managementPolicy: Observe); nothing is written to it", name)
		if n := len(p.manageChanges()); n > 0 {
			msg += fmt.Sprintf("; Manage would make %d change(s), listed in status.plannedChanges", n)
		}
		if p.manageRefusal != nil {
			msg += fmt.Sprintf("; Manage would be refused (%s): %s", p.manageRefusal.reason, p.manageRefusal.message)
		}
		return ready(metav1.ConditionTrue, v1alpha1.ReasonAvailable, "%s", msg)
	}
	return ready(metav1.ConditionTrue, v1alpha1.ReasonAvailable, "CSMS secret %q is available and matches the spec", name)
}

// pendingChanges lists what a Manage pass left undone: the changes of its plan it did not
// carry out, and a changed source whose value it has not yet settled. A source that is
// gone leaves nothing pending: the cloud keeps the value last pushed.
func pendingChanges(p plan, res actResult, obs *observation) []string {
	var out []string
	for _, c := range p.changes[res.done:] {
		if c.kind != restartWorkload { // restarts follow the Secret; they do not make it wrong
			out = append(out, c.String())
		}
	}
	src := obs.source
	if src.set && obs.secret != nil && !res.created && src.valuePending() && !applied(p, res, putValue) && !errors.Is(src.err, source.ErrNotFound) &&
		!slices.ContainsFunc(p.changes[res.done:], func(c change) bool { return c.kind == putValue }) {
		out = append(out, "CreateSecretVersion: "+src.identity+" changed")
	}
	return out
}

// pendingTarget is the target write a pass left undone.
func pendingTarget(p plan, res actResult) []string {
	var out []string
	for _, c := range p.changes[res.done:] {
		if c.kind == writeTarget {
			out = append(out, c.String())
		}
	}
	return out
}

// syncedCondition reports the last pass.
func syncedCondition(ms *v1alpha1.ManagedSecret, failure error) metav1.Condition {
	c := metav1.Condition{Type: v1alpha1.ConditionTypeSynced, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonReconcileSuccess,
		Message: "The last reconcile succeeded"}
	if ms.Observing() {
		c.Message = "The last observation succeeded; nothing was written to CSMS (managementPolicy: Observe)"
	}
	if o := classifyOrNil(failure); o != nil {
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, o.reason, o.message
	}
	return c
}

func messageOr(o *outcome, fallback string) string {
	if o == nil {
		return fallback
	}
	return o.message
}

// deletingStatus is the status of a resource whose deletion waits for the cloud side:
// Ready False (Deleting), Synced from the last attempt, Stalled when only a change by
// someone can end it.
func deletingStatus(ms *v1alpha1.ManagedSecret, failure error, hint string) v1alpha1.ManagedSecretStatus {
	st := *ms.Status.DeepCopy()
	st.ObservedGeneration = ms.Generation
	set := func(c metav1.Condition) {
		c.ObservedGeneration = ms.Generation
		meta.SetStatusCondition(&st.Conditions, c)
	}
	set(metav1.Condition{Type: v1alpha1.ConditionTypeReady, Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonDeleting,
		Message: fmt.Sprintf("deleting: waiting for CSMS secret %q to be deleted (deletionPolicy: Delete)", ms.CSMSName())})
	o := classifyOrNil(failure)
	if o != nil {
		o.message += hint
	}
	set(syncedCondition(ms, failure))
	if o != nil {
		set(metav1.Condition{Type: v1alpha1.ConditionTypeSynced, Status: metav1.ConditionFalse, Reason: o.reason, Message: o.message})
	}
	if o != nil && o.stalled {
		set(metav1.Condition{Type: v1alpha1.ConditionTypeStalled, Status: metav1.ConditionTrue, Reason: o.reason, Message: o.message})
	} else {
		meta.RemoveStatusCondition(&st.Conditions, v1alpha1.ConditionTypeStalled)
	}
	meta.RemoveStatusCondition(&st.Conditions, v1alpha1.ConditionTypeReconciling)
	return st
}
