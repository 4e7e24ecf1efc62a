// Package controller holds the ManagedSecret reconciler. It orchestrates only: it observes
// the cloud secret through the csms seam, creates or updates it, and writes what it saw
// into status in one patch per reconcile.
package controller

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"golang.org/x/time/rate"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/csms"
	"github.com/csms-operator/csms-operator/internal/provider"
	"github.com/csms-operator/csms-operator/internal/source"
)

// ClientResolver gives the CSMS client of a ManagedSecret's provider config
// (*provider.Resolver).
type ClientResolver interface {
	ClientFor(ctx context.Context, namespace string, ref v1alpha1.ProviderConfigReference) (csms.Client, *provider.Target, error)
}

// ValueReader reads value sources (*source.Reader).
type ValueReader interface {
	Read(ctx context.Context, namespace string, ref source.Ref) (source.Result, error)
	Version(ctx context.Context, namespace, name string) (string, error)
}

// Event reasons. Events are emitted only when something changed in the cloud, when CSMS
// moved the version outside the operator, and when a resource first runs into a refusal
// (its Ready reason: AlreadyExists, OwnedByAnotherResource, PolicyDenied, OwnershipLost,
// VersionLimitReached, InvalidSpec; and NotDeleted).
const (
	EventCreated           = "Created"
	EventUpdated           = "Updated"
	EventVersionCreated    = "VersionCreated"
	EventTagsUpdated       = "TagsUpdated"
	EventReplicaCreated    = "ReplicaCreated"
	EventAdopted           = "Adopted"
	EventRestored          = "Restored"
	EventAlreadyExists     = "AlreadyExists"
	EventDeletionScheduled = "DeletionScheduled"
	EventDeleted           = "Deleted"
	EventRetained          = "Retained"
	EventNotDeleted        = "NotDeleted"
	EventVersionChanged    = "VersionChanged"
	EventTargetWritten     = "TargetWritten"
	EventWorkloadRestarted = "WorkloadRestarted"
	EventWorkloadNotFound  = "WorkloadNotFound"
)

// DefaultReplicaPollInterval is how soon a resource is looked at again while a replica
// is syncing.
const DefaultReplicaPollInterval = 3 * time.Second

// ManagedSecretReconciler reconciles ManagedSecret objects with CSMS.
type ManagedSecretReconciler struct {
	// Client is the manager's client (cached for ManagedSecrets and provider configs).
	Client client.Client
	// APIReader reads directly from the API server; used to rule out a stale cache before
	// declaring a cloud secret foreign.
	APIReader client.Reader
	Recorder  events.EventRecorder
	Providers ClientResolver
	Sources   ValueReader

	// MaxConcurrentReconciles bounds parallel reconciles (default 1).
	MaxConcurrentReconciles int
	// ReplicaPollInterval (default DefaultReplicaPollInterval).
	ReplicaPollInterval time.Duration
	// Jitter spreads resyncs (default ±10 %).
	Jitter func(time.Duration) time.Duration
	// SpreadFirstChecks spreads the first cloud read of in-sync resources after a start
	// over their resync interval (see spreadFirstCheck). The manager sets it.
	SpreadFirstChecks bool
	// EnableTargets lets spec.target write Secrets and restart workloads; without it
	// such resources are TargetsDisabled (the manager then lacks the permissions).
	EnableTargets bool
	// RestartLimiter bounds workload restarts across all resources (nil: unbounded).
	RestartLimiter *rate.Limiter
	// SecretMeta reads Secret metadata (the manager's cache); defaults to APIReader.
	SecretMeta client.Reader

	// seen holds the UIDs this process has reconciled since it started.
	seen uidSet
	// refs is what the watch mappings know of each resource (SetupWithManager makes it).
	refs *refIndex
}

// uidSet is a set of UIDs: a plain map under a mutex. For 10,000 UIDs a sync.Map takes
// 1.2 MB besides the UIDs' own bytes, this 0.4 MB.
type uidSet struct {
	mu sync.Mutex
	m  map[types.UID]struct{}
}

// add adds uid and says whether it was there already.
func (s *uidSet) add(uid types.UID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[uid]; ok {
		return true
	}
	if s.m == nil {
		s.m = map[types.UID]struct{}{}
	}
	s.m[uid] = struct{}{}
	return false
}

func (s *uidSet) remove(uid types.UID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, uid)
}

// +kubebuilder:rbac:groups=secrets.csms-operator.io,resources=managedsecrets,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=secrets.csms-operator.io,resources=managedsecrets/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=secrets.csms-operator.io,resources=managedsecrets/finalizers,verbs=update
// +kubebuilder:rbac:groups=secrets.csms-operator.io,resources=providerconfigs;clusterproviderconfigs,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create

// Reconcile brings one ManagedSecret and its CSMS secret in line. One pass is four
// steps, each in its own file:
//
//  1. observe (managedsecret_observe.go): reads only — the provider config's client, the
//     cloud secret, and only when needed its tags, stage and the value source;
//  2. plan (managedsecret_plan.go): a pure function of spec and observation — the ordered
//     changes, each one CSMS call or one Kubernetes write, or the refusal that stops them;
//  3. act (managedsecret_act.go): carry out the plan, stop at the first error; skipped
//     with managementPolicy Observe, whose plan goes into status instead;
//  4. status (managedsecret_status.go): a pure function of the three, written in one
//     patch, only when it changed.
//
// Deletion has its own pass (managedsecret_delete.go).
func (r *ManagedSecretReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	// Read from the API server: ManagedSecrets are cached as metadata only (refIndex).
	ms := &v1alpha1.ManagedSecret{}
	if err := r.Client.Get(ctx, req.NamespacedName, ms); err != nil {
		if apierrors.IsNotFound(err) {
			r.refs.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	r.refs.record(ms)
	if !ms.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, ms)
	}
	if d, ok := r.spreadFirstCheck(ctx, ms); ok {
		return ctrl.Result{RequeueAfter: d}, nil
	}
	orig := ms.DeepCopy()

	obs := r.observe(ctx, ms, false)
	p, res := r.planAndAct(ctx, ms, obs)
	if res.reobserve {
		// CreateSecret found the name taken, or its outcome is unknown: look at what is
		// there and decide again in this pass. Nothing found means the create did not
		// happen, and the next pass tries again.
		if again := r.observe(ctx, ms, true); again.err != nil || again.secret != nil {
			obs = again
			p, res = r.planAndAct(ctx, ms, obs)
		}
	}
	if res.done == 0 && apierrors.IsConflict(res.err) {
		// Our first Kubernetes write lost a race (often with one of our own writes, which
		// the watch predicate ignores): nothing was done, so try again shortly.
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}

	// status.createPending is written during act; the pass's patch starts from what the
	// API server holds now, so that clearing it is part of the patch.
	orig.Status.CreatePending = ms.Status.CreatePending
	ms.Status = computeStatus(ms, obs, p, res)
	r.report(ms, orig, obs, res)
	if err := r.patchStatus(ctx, orig, ms); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil
		}
		return retryOnConflict(fmt.Errorf("patching status: %w", err))
	}
	r.refs.record(ms)
	return r.requeue(ctx, ms, obs, p, res)
}

// planAndAct plans from the observation and, with Manage, carries the plan out. A plan
// that writes to an existing secret first proves the secret is still ours (one tag read
// per writing pass, none at steady state).
func (r *ManagedSecretReconciler) planAndAct(ctx context.Context, ms *v1alpha1.ManagedSecret, obs *observation) (plan, actResult) {
	p := planChanges(ms, obs)
	if ms.Observing() {
		p = p.observed()
		return p, r.act(ctx, ms, obs, p)
	}
	if p.writesCloudSecret() && obs.tags == nil {
		if err := r.proveOwnership(ctx, ms, obs); err != nil {
			obs.err = err
		}
		p = planChanges(ms, obs)
	}
	return p, r.act(ctx, ms, obs, p)
}

// requeue says when to look at the resource again: with backoff after a failure that a
// retry may fix, at the resync interval (jittered) after one only a change can fix and
// at steady state, sooner while something is in progress.
func (r *ManagedSecretReconciler) requeue(ctx context.Context, ms *v1alpha1.ManagedSecret, obs *observation, p plan, res actResult) (ctrl.Result, error) {
	if failure := passFailure(obs, p, res); failure != nil {
		o := classify(failure)
		if o.retry == retryResync {
			logf.FromContext(ctx).Info("Reconcile needs a change to proceed", "reason", o.reason, "message", o.message)
			return ctrl.Result{RequeueAfter: r.resync(ms)}, nil
		}
		if apierrors.IsConflict(failure) {
			return ctrl.Result{RequeueAfter: time.Second}, nil
		}
		return ctrl.Result{}, failure
	}
	if res.restored {
		// The value of a restored secret is compared in the next pass.
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	if res.deferred > 0 {
		return ctrl.Result{RequeueAfter: res.deferred}, nil
	}
	if res.secret != nil {
		if _, syncing := replicaState(ms, res.secret); syncing {
			return ctrl.Result{RequeueAfter: r.replicaPoll()}, nil
		}
	}
	d := r.resync(ms)
	if next, ok := rotationCheck(ms, res.secret, time.Now()); ok && next < d {
		d = next
	}
	return ctrl.Result{RequeueAfter: d}, nil
}

// Rotation follow-up of a kept target: CSMS rotates at nextRotationTime, and the target
// Secret should have the new value seconds later, not a resync later. The pass after that
// time polls briefly until the version moves, then gives up quietly until the resync.
const (
	rotationSlack      = 2 * time.Second
	rotationPoll       = 5 * time.Second
	rotationPollWindow = 2 * time.Minute
)

// rotationCheck says how soon to look again for a CSMS rotation, for a resource that
// keeps a target of a secret CSMS rotates.
func rotationCheck(ms *v1alpha1.ManagedSecret, sec *csms.Secret, now time.Time) (time.Duration, bool) {
	if ms.Spec.Target == nil || sec == nil || !sec.AutoRotation || sec.NextRotationTime.IsZero() {
		return 0, false
	}
	until := sec.NextRotationTime.Sub(now)
	switch {
	case until > 0:
		return until + rotationSlack, true
	case -until < rotationPollWindow:
		return rotationPoll, true
	}
	return 0, false
}

// report emits the Events a pass owes its users beyond the writes act reported: a
// refusal the first time the resource runs into it, and a version made outside the
// operator.
func (r *ManagedSecretReconciler) report(ms, orig *v1alpha1.ManagedSecret, obs *observation, res actResult) {
	now, before := ms.GetCondition(v1alpha1.ConditionTypeReady), orig.GetCondition(v1alpha1.ConditionTypeReady)
	if now != nil && stalledReasons[now.Reason] && now.Status == metav1.ConditionFalse &&
		(before == nil || before.Reason != now.Reason) {
		r.event(ms, corev1.EventTypeWarning, now.Reason, "Reconcile", "%s", now.Message)
	}
	if prev := orig.Status.CurrentVersionID; prev != "" && obs.versionID != "" && obs.versionID != prev && res.versionID == "" {
		r.event(ms, corev1.EventTypeNormal, EventVersionChanged, "Observe",
			"CSMS secret %q moved SYSCURRENT from %s to %s outside this operator (CSMS rotation, the console or the CLI); the operator keeps it and pushes the source only when the source changes",
			ms.CSMSName(), prev, obs.versionID)
	}
}

// spreadFirstCheck spreads the first drift check after a (re)start over one resync
// interval for a resource whose status shows it in sync with its generation and its
// source: re-reading every cloud secret at once would spend minutes of the CSMS budget
// before any real change got through. A resource that changed while the manager was down
// (spec, source, a pending mark) is not in sync and is handled at once.
func (r *ManagedSecretReconciler) spreadFirstCheck(ctx context.Context, ms *v1alpha1.ManagedSecret) (time.Duration, bool) {
	if !r.SpreadFirstChecks {
		return 0, false
	}
	if seen := r.seen.add(ms.UID); seen || !inSync(ms) {
		return 0, false
	}
	if ref, ok := sourceRef(ms.Spec.Value); ok {
		rv, err := r.Sources.Version(ctx, ms.Namespace, ref.Name)
		if err != nil || rv != ms.Status.ObservedSourceVersion || ms.Status.ObservedSource != sourceIdentity(ref) {
			return 0, false
		}
	}
	return time.Duration(rand.Int64N(int64(ms.ResyncInterval()))), true
}

// inSync: the last pass acted on this generation and found the cloud secret as wanted.
func inSync(ms *v1alpha1.ManagedSecret) bool {
	if ms.Status.ObservedGeneration != ms.Generation || hasPendingMark(ms) || ms.Status.SecretID == "" {
		return false
	}
	if !ms.Observing() && !controllerutil.ContainsFinalizer(ms, v1alpha1.Finalizer) {
		return false
	}
	for _, t := range []string{v1alpha1.ConditionTypeReady, v1alpha1.ConditionTypeSynced} {
		if c := ms.GetCondition(t); c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != ms.Generation {
			return false
		}
	}
	return true
}

// secretMeta is where Secret metadata is read: the cache when the manager runs.
func (r *ManagedSecretReconciler) secretMeta() client.Reader {
	if r.SecretMeta != nil {
		return r.SecretMeta
	}
	return r.APIReader
}

// forget drops what the reconciler remembers of a resource that is gone.
func (r *ManagedSecretReconciler) forget(uid types.UID) {
	r.seen.remove(uid)
}

// patchStatus writes the status of this pass in one merge patch, only if it changed.
func (r *ManagedSecretReconciler) patchStatus(ctx context.Context, orig, ms *v1alpha1.ManagedSecret) error {
	if equality.Semantic.DeepEqual(orig.Status, ms.Status) {
		return nil
	}
	base := orig.DeepCopy()
	obj := orig.DeepCopy()
	obj.Status = *ms.Status.DeepCopy()
	return r.Client.Status().Patch(ctx, obj, client.MergeFrom(base))
}

func (r *ManagedSecretReconciler) event(ms *v1alpha1.ManagedSecret, eventType, reason, action, note string, args ...any) {
	if r.Recorder == nil {
		return
	}
	r.Recorder.Eventf(ms, nil, eventType, reason, action, note, args...)
}

// resync is the drift-check interval with ±10 % jitter, so that resources created
// together do not hit CSMS together forever.
func (r *ManagedSecretReconciler) resync(ms *v1alpha1.ManagedSecret) time.Duration {
	d := ms.ResyncInterval()
	if r.Jitter != nil {
		return r.Jitter(d)
	}
	return jitter(d)
}

func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()*0.2-0.1)*float64(d))
}

func (r *ManagedSecretReconciler) replicaPoll() time.Duration {
	if r.ReplicaPollInterval > 0 {
		return r.ReplicaPollInterval
	}
	return DefaultReplicaPollInterval
}

func retryOnConflict(err error) (ctrl.Result, error) {
	if apierrors.IsConflict(err) {
		// Requeue quietly: the write that won may have been one of ours (a status patch, the
		// create-pending mark), which the watch predicate does not turn into a new event.
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	return ctrl.Result{}, err
}
