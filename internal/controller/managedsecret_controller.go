// Package controller holds the ManagedSecret reconciler. It orchestrates only: it observes
// the cloud secret through the csms seam, creates or updates it, and writes what it saw
// into status in one patch per reconcile.
package controller

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

// Event reasons. Events are emitted only when something changed in the cloud (or, for
// AlreadyExists and NotDeleted, when the resource first runs into the refusal).
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
)

// Field indexes on ManagedSecret used to map watched objects to the resources that
// reference them.
const (
	// sourceSecretIndex: the name of the Secret the value comes from (same namespace).
	sourceSecretIndex = "csms.spec.value.secretName"
	// providerConfigIndex: "<kind>/<name>" of the provider config.
	providerConfigIndex = "csms.spec.providerConfigRef"
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
}

// +kubebuilder:rbac:groups=secrets.csms-operator.io,resources=managedsecrets,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=secrets.csms-operator.io,resources=managedsecrets/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=secrets.csms-operator.io,resources=managedsecrets/finalizers,verbs=update
// +kubebuilder:rbac:groups=secrets.csms-operator.io,resources=providerconfigs;clusterproviderconfigs,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create

// Reconcile brings one ManagedSecret and its CSMS secret in line, following the data flow
// of the architecture: finalizer → provider → observe → create | adopt | restore | update
// → value → one status patch → resync with jitter.
func (r *ManagedSecretReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	log := logf.FromContext(ctx)
	ms := &v1alpha1.ManagedSecret{}
	if err := r.Client.Get(ctx, req.NamespacedName, ms); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}

	orig := ms.DeepCopy()
	defer func() {
		if err := r.patchStatus(ctx, orig, ms); err != nil {
			if apierrors.IsNotFound(err) {
				return // deleted (finalizer removed) in this pass
			}
			log.Error(err, "Patching status")
			if retErr == nil {
				retErr = err
			}
		}
	}()

	if !ms.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, ms)
	}

	// The finalizer must be on before anything is created in the cloud. A resource that
	// never created anything gets it from create(), in the same write as the create-pending
	// mark, so a new resource costs one metadata write and one pass (the predicate ignores
	// our own finalizer being added). A resource that did create something and lost the
	// finalizer (removed by hand) gets it back here, and the pass goes on.
	if !controllerutil.ContainsFinalizer(ms, v1alpha1.Finalizer) && !neverCreated(ms) {
		if err := r.patchMeta(ctx, ms, true, func(o *v1alpha1.ManagedSecret) {
			controllerutil.AddFinalizer(o, v1alpha1.Finalizer)
		}); err != nil {
			return retryOnConflict(fmt.Errorf("adding finalizer: %w", err))
		}
	}

	requeue, err := r.reconcileSecret(ctx, ms)
	if err != nil {
		o := classify(err)
		setFailureConditions(ms, o.reason, o.message, o.transient)
		if o.retry == retryResync {
			log.Info("Reconcile needs a change to proceed", "reason", o.reason, "message", o.message)
			return ctrl.Result{RequeueAfter: r.resync(ms)}, nil
		}
		if apierrors.IsConflict(err) {
			return ctrl.Result{RequeueAfter: time.Second}, nil
		}
		return ctrl.Result{}, err
	}
	setSyncedCondition(ms)
	ms.Status.ObservedGeneration = ms.Generation
	now := metav1.Now()
	ms.Status.LastSyncTime = &now
	if requeue > 0 {
		return ctrl.Result{RequeueAfter: requeue}, nil
	}
	return ctrl.Result{RequeueAfter: r.resync(ms)}, nil
}

// reconcileSecret does one pass for a live resource. It returns a requeue delay shorter
// than the resync interval when something is in progress (0 = resync).
func (r *ManagedSecretReconciler) reconcileSecret(ctx context.Context, ms *v1alpha1.ManagedSecret) (time.Duration, error) {
	log := logf.FromContext(ctx)
	cli, _, err := r.Providers.ClientFor(ctx, ms.Namespace, ms.ProviderConfigKey())
	if err != nil {
		if provider.IsConfigError(err) {
			return 0, err
		}
		return 0, step(err, "resolving the provider config")
	}
	name := ms.CSMSName()

	var (
		sec     *csms.Secret
		created bool
	)
	if neverCreated(ms) {
		// Nothing was ever created for this resource: create straight away instead of
		// reading first. CreateSecret refuses a taken name, and create() then reads the
		// secret and hands it to the ownership checks below, so nothing is skipped; a
		// first creation costs CreateSecret + one tag call, the least CSMS allows.
		if sec, created, err = r.create(ctx, cli, ms); err != nil {
			return 0, err
		}
	} else {
		// Observe: one read. Everything below works on this snapshot and on what the
		// writes return, so steady state costs exactly this call.
		sec, err = cli.GetSecret(ctx, name)
		if errors.Is(err, csms.ErrNotFound) {
			sec, created, err = r.create(ctx, cli, ms)
			if err != nil {
				return 0, err
			}
		} else if err != nil {
			return 0, step(err, "reading CSMS secret %q", name)
		}
	}

	// Tags are read only when ownership must be proven or the spec changed; otherwise the
	// ID recorded in status is proof enough.
	var tags map[string]string
	adopt := false
	own := ownedByID
	if created {
		tags = desiredTags(ms)
	} else {
		own = ownershipOf(ms, sec, nil)
		if !own.owned() || ms.Generation != ms.Status.ObservedGeneration || hasPendingMark(ms) {
			log.V(1).Info("Reading tags", "ownedByID", own.owned(), "generation", ms.Generation,
				"observedGeneration", ms.Status.ObservedGeneration, "createPending", hasPendingMark(ms))
			if tags, err = cli.ListTags(ctx, sec.ID); err != nil {
				return 0, step(err, "reading tags of CSMS secret %q", name)
			}
			own = ownershipOf(ms, sec, tags)
		}
		if !own.owned() {
			if own, err = r.recheckOwnership(ctx, ms, sec, tags); err != nil {
				return 0, err
			}
		}
	}
	// From here on sec is ours: whatever happens below, status shows the last state read
	// or written, also when a later step fails.
	defer func() {
		if sec != nil && (own.owned() || adopt) {
			setCloudStatus(&ms.Status, sec)
		}
	}()
	if !own.owned() {
		if ms.Spec.AdoptionPolicy != v1alpha1.AdoptionPolicyAdopt {
			clearCloudStatus(&ms.Status)
			msg := fmt.Sprintf("a CSMS secret named %q already exists and was not created by this resource; it is left untouched: set spec.adoptionPolicy: Adopt to take it over, or set spec.name to another name", name)
			if c := ms.GetCondition(v1alpha1.ConditionTypeReady); c == nil || c.Reason != v1alpha1.ReasonAlreadyExists {
				r.event(ms, corev1.EventTypeWarning, EventAlreadyExists, "Create", msg)
			}
			return 0, &conditionError{reason: v1alpha1.ReasonAlreadyExists, message: msg, retryAtResync: true}
		}
		adopt = true
	}
	log = log.WithValues("secretName", name, "secretID", sec.ID)

	// A secret of ours pending deletion (e.g. the resource was deleted and re-created) is
	// brought back instead of waiting out the recovery window.
	if sec.State == csms.StatePendingDelete {
		if sec, err = cli.RestoreSecret(ctx, name); err != nil {
			return 0, step(err, "restoring CSMS secret %q from pending deletion", name)
		}
		log.Info("Restored secret pending deletion")
		r.event(ms, corev1.EventTypeNormal, EventRestored, "Restore", "Cancelled the scheduled deletion of CSMS secret %q", name)
	}

	if tags != nil {
		if set, remove, changed := diffTags(desiredTags(ms), tags); changed {
			if err := cli.UpdateTags(ctx, sec.ID, set, remove); err != nil {
				return 0, step(err, "updating tags of CSMS secret %q", name)
			}
			switch {
			case adopt:
				log.Info("Adopted secret")
				r.event(ms, corev1.EventTypeNormal, EventAdopted, "Adopt", "Took over the existing CSMS secret %q (adoptionPolicy: Adopt)", name)
			case own == ownedByPendingMark:
				log.Info("Finished tagging a secret created before a restart")
			default:
				r.event(ms, corev1.EventTypeNormal, EventTagsUpdated, "UpdateTags", "Updated tags of CSMS secret %q (set %s; removed %s)",
					name, keyList(slices.Collect(maps.Keys(set))), keyList(remove))
			}
		}
	}
	// The secret is now tagged as ours, so the create-pending mark has done its job.
	if hasPendingMark(ms) {
		if err := r.patchMeta(ctx, ms, false, func(o *v1alpha1.ManagedSecret) {
			delete(o.Annotations, v1alpha1.AnnotationCreatePending)
		}); err != nil {
			return 0, step(err, "removing the %s annotation", v1alpha1.AnnotationCreatePending)
		}
	}
	ms.Status.SecretID = sec.ID

	// Whether CSMS rotated the value is judged against the status before it is rewritten.
	refreshVersion := !created && (ms.Status.CurrentVersionID == "" || rotated(&ms.Status, sec))

	if !created {
		if in, fields, changed := diffSecret(ms, sec); changed {
			updated, err := cli.UpdateSecret(ctx, name, in)
			if err != nil {
				return 0, step(err, "updating %s of CSMS secret %q", strings.Join(fields, ", "), name)
			}
			sec = mergeUpdated(sec, updated)
			log.Info("Updated secret", "fields", fields)
			r.event(ms, corev1.EventTypeNormal, EventUpdated, "Update", "Updated %s of CSMS secret %q", strings.Join(fields, ", "), name)
		}
	}

	for _, rep := range missingReplicas(ms, sec) {
		got, err := cli.CreateReplica(ctx, name, csms.ReplicaInput{Region: rep.Region, ProjectID: rep.ProjectID, KmsKeyID: rep.KMSKeyID})
		if errors.Is(err, csms.ErrAlreadyExists) {
			continue // listed by the next read
		}
		if err != nil {
			return 0, step(err, "creating the replica of CSMS secret %q in region %q", name, rep.Region)
		}
		sec.Replicas = append(sec.Replicas, *got)
		log.Info("Created replica", "region", rep.Region)
		r.event(ms, corev1.EventTypeNormal, EventReplicaCreated, "CreateReplica", "Created a replica of CSMS secret %q in region %q", name, rep.Region)
	}

	if !created {
		pushed, err := r.syncValue(ctx, cli, ms, name)
		if err != nil {
			return 0, err
		}
		if refreshVersion && !pushed {
			_, vid, err := cli.GetCurrentValue(ctx, name)
			if err != nil {
				return 0, step(err, "reading the current version of CSMS secret %q", name)
			}
			ms.Status.CurrentVersionID = vid
		}
	}

	setReadyFromCloud(ms, sec)
	if _, syncing := replicaState(ms, sec); syncing {
		return r.replicaPoll(), nil
	}
	return 0, nil
}

// keyList renders tag keys (never values) for an event.
func keyList(keys []string) string {
	if len(keys) == 0 {
		return "none"
	}
	slices.Sort(keys)
	return strings.Join(keys, ", ")
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
