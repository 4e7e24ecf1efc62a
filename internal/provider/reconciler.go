package provider

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
)

// credentialsSecretIndex indexes ProviderConfigs and ClusterProviderConfigs by the
// "<namespace>/<name>" of their credentials Secret, so a Secret event maps to the configs
// that use it without listing every config.
const credentialsSecretIndex = "spec.credentials.secretRef.namespacedName"

// EventRecorderName is the reportingController of the Events the provider-config
// reconcilers emit.
const EventRecorderName = "csms-operator-provider"

// Event actions (events.k8s.io/v1 "action").
const eventActionCheck = "CheckCredentials"

// ProviderConfigReconciler reconciles ProviderConfig to a Ready condition.
type ProviderConfigReconciler struct {
	Client   client.Client
	Resolver *Resolver
	// Recorder emits Events; SetupWithManager fills it from the manager when nil.
	Recorder events.EventRecorder
}

// ClusterProviderConfigReconciler reconciles ClusterProviderConfig to a Ready condition.
type ClusterProviderConfigReconciler struct {
	Client   client.Client
	Resolver *Resolver
	// Recorder emits Events; SetupWithManager fills it from the manager when nil.
	Recorder events.EventRecorder
}

// RBAC: configs are read and their status written; Secrets are read with a direct GET
// (get) and watched as metadata only (list/watch); Namespaces are watched as metadata
// for namespaceSelector; Events use the events.k8s.io API.
// +kubebuilder:rbac:groups=secrets.csms-operator.io,resources=providerconfigs;clusterproviderconfigs,verbs=get;list;watch
// +kubebuilder:rbac:groups=secrets.csms-operator.io,resources=providerconfigs/status;clusterproviderconfigs/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create

// Reconcile checks a ProviderConfig's credentials and writes its Ready condition.
func (r *ProviderConfigReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return providerConfigKind.reconcile(ctx, r.Client, r.Resolver, r.Recorder, req)
}

// Reconcile checks a ClusterProviderConfig's selector and credentials and writes its
// Ready condition.
func (r *ClusterProviderConfigReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return clusterProviderConfigKind.reconcile(ctx, r.Client, r.Resolver, r.Recorder, req)
}

// configKind describes one of the two config kinds, so a single reconcile and setup serve
// both ProviderConfig (namespaced) and ClusterProviderConfig (cluster-scoped).
type configKind[T conditionedObject, L client.ObjectList] struct {
	kind v1alpha1.ProviderConfigKind
	// namespaced scopes the resolver cache key and the Secret-to-config lookup to the
	// Secret's namespace; cluster configs are keyed with "" and listed cluster-wide.
	namespaced bool
	newObject  func() T
	newList    func() L
	requests   func(L) []reconcile.Request
	resolved   func(T) *resolvedConfig
	entryFor   func(context.Context, *Resolver, T) (*cacheEntry, error)
}

var providerConfigKind = configKind[*v1alpha1.ProviderConfig, *v1alpha1.ProviderConfigList]{
	kind:       v1alpha1.ProviderConfigKindNamespaced,
	namespaced: true,
	newObject:  func() *v1alpha1.ProviderConfig { return &v1alpha1.ProviderConfig{} },
	newList:    func() *v1alpha1.ProviderConfigList { return &v1alpha1.ProviderConfigList{} },
	requests: func(l *v1alpha1.ProviderConfigList) []reconcile.Request {
		return requestsFor(l.Items)
	},
	resolved: resolvedFromProviderConfig,
	entryFor: func(ctx context.Context, r *Resolver, pc *v1alpha1.ProviderConfig) (*cacheEntry, error) {
		return r.entryForProviderConfig(ctx, pc)
	},
}

var clusterProviderConfigKind = configKind[*v1alpha1.ClusterProviderConfig, *v1alpha1.ClusterProviderConfigList]{
	kind:      v1alpha1.ProviderConfigKindCluster,
	newObject: func() *v1alpha1.ClusterProviderConfig { return &v1alpha1.ClusterProviderConfig{} },
	newList:   func() *v1alpha1.ClusterProviderConfigList { return &v1alpha1.ClusterProviderConfigList{} },
	requests: func(l *v1alpha1.ClusterProviderConfigList) []reconcile.Request {
		return requestsFor(l.Items)
	},
	resolved: resolvedFromClusterProviderConfig,
	entryFor: func(ctx context.Context, r *Resolver, cpc *v1alpha1.ClusterProviderConfig) (*cacheEntry, error) {
		return r.entryForClusterProviderConfig(ctx, cpc)
	},
}

// requestsFor turns list items into reconcile requests.
func requestsFor[T any, PT interface {
	*T
	client.Object
}](items []T) []reconcile.Request {
	reqs := make([]reconcile.Request, 0, len(items))
	for i := range items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(PT(&items[i]))})
	}
	return reqs
}

// scope is the namespace a config of this kind is keyed by: "" for cluster configs.
func (k configKind[T, L]) scope(ns string) string {
	if !k.namespaced {
		return ""
	}
	return ns
}

// reconcile resolves one config, has CSMS check its credentials (once per generation and
// Secret resourceVersion, see verify) and writes its Ready condition; a deleted config
// only has its cached client dropped.
func (k configKind[T, L]) reconcile(ctx context.Context, c client.Client, resolver *Resolver, rec events.EventRecorder,
	req ctrl.Request) (ctrl.Result, error) {
	obj := k.newObject()
	if err := c.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			resolver.Forget(k.kind, k.scope(req.Namespace), req.Name)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("getting %s: %w", k.kind, err)
	}
	if !obj.GetDeletionTimestamp().IsZero() {
		resolver.Forget(k.kind, k.scope(obj.GetNamespace()), obj.GetName())
		return ctrl.Result{}, nil
	}
	orig, ok := obj.DeepCopyObject().(T)
	if !ok {
		return ctrl.Result{}, fmt.Errorf("copying %s: unexpected type %T", k.kind, obj)
	}
	target, v, err := check(ctx, resolver, k.entryFor, obj)
	status := statusOf(obj)
	res, err := reconcileStatus(ctx, c, rec, orig, obj, status, target, err)
	return requeue(k.resolved(obj).source, res, err, findReady(status.Conditions), v, resolver.now())
}

// check resolves obj and verifies the credentials of its client. target is nil unless
// the config resolved; v is the verdict when a check was made or remembered.
func check[T conditionedObject](ctx context.Context, resolver *Resolver,
	entryFor func(context.Context, *Resolver, T) (*cacheEntry, error), obj T) (*Target, *verdict, error) {
	e, err := entryFor(ctx, resolver, obj)
	if err != nil {
		return nil, nil, err
	}
	if e.err != nil {
		return nil, nil, e.err
	}
	target := e.target
	v, err := resolver.verify(ctx, e)
	if err != nil {
		return &target, nil, err
	}
	return &target, &v, v.err
}

// setup registers the controller of this kind, its credentials-Secret field index and a
// metadata-only watch of Secrets mapped through that index.
func (k configKind[T, L]) setup(mgr ctrl.Manager, c client.Client, r reconcile.Reconciler) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), k.newObject(), credentialsSecretIndex,
		func(o client.Object) []string {
			obj, ok := o.(T)
			if !ok {
				return nil
			}
			return secretIndexValue(k.resolved(obj))
		}); err != nil {
		return fmt.Errorf("indexing %ss by credentials Secret: %w", k.kind, err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(k.newObject()).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(
			func(ctx context.Context, s client.Object) []reconcile.Request {
				list := k.newList()
				opts := []client.ListOption{client.MatchingFields{credentialsSecretIndex: s.GetNamespace() + "/" + s.GetName()}}
				if k.namespaced {
					opts = append(opts, client.InNamespace(s.GetNamespace()))
				}
				if err := c.List(ctx, list, opts...); err != nil {
					log.FromContext(ctx).Error(err, "Listing "+string(k.kind)+"s for a credentials Secret", "secret", klog.KObj(s))
					return nil
				}
				return k.requests(list)
			})).
		Complete(r)
}

// conditionedObject is what both config kinds share for status handling.
type conditionedObject interface {
	client.Object
	SetCondition(metav1.Condition)
}

// reconcileStatus turns the resolver's verdict into status and writes it with one patch
// (skipped when nothing changed, so resyncs cost no writes). A transient error is
// returned for a retry with backoff and leaves the last known status alone. A config
// error needs no requeue: the Secret and config watches bring the next pass.
func reconcileStatus(ctx context.Context, c client.Client, rec events.EventRecorder, orig, obj conditionedObject,
	status *v1alpha1.ProviderConfigStatus, target *Target, resolveErr error) (ctrl.Result, error) {
	logger := log.FromContext(ctx)
	if resolveErr != nil && !IsConfigError(resolveErr) && !isCheckError(resolveErr) {
		return ctrl.Result{}, fmt.Errorf("checking provider config: %w", resolveErr)
	}

	prev := findReady(status.Conditions)
	cond := readyCondition(target, resolveErr)
	obj.SetCondition(cond)
	status.ObservedGeneration = obj.GetGeneration()

	if equality.Semantic.DeepEqual(statusOf(orig), status) {
		return ctrl.Result{}, nil
	}
	if err := c.Status().Patch(ctx, obj, client.MergeFrom(orig)); err != nil {
		if apierrors.IsNotFound(err) {
			// Deleted meanwhile; nothing to report on.
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("patching status: %w", err)
	}

	// Events only when Ready changes (messages are stable, so resyncs stay quiet).
	if prev == nil || prev.Status != cond.Status || prev.Reason != cond.Reason || prev.Message != cond.Message {
		logger.Info("Provider config readiness changed", "object", klog.KObj(obj),
			"ready", cond.Status, "reason", cond.Reason)
		if rec != nil {
			eventType := corev1.EventTypeNormal
			if cond.Status != metav1.ConditionTrue {
				eventType = corev1.EventTypeWarning
			}
			rec.Eventf(obj, nil, eventType, cond.Reason, eventActionCheck, "%s", cond.Message)
		}
	}
	return ctrl.Result{}, nil
}

// isCheckError reports the outcomes of the credentials check that become a condition.
func isCheckError(err error) bool {
	return errors.Is(err, errUnauthorized) || errors.Is(err, errEndpointUnreachable)
}

// requeue schedules the next check when no Kubernetes event would bring it: when the
// verdict v expires (Environment source, a refusal, an unreachable endpoint), and every
// envRecheckInterval while the SDK credential chain of an Environment-source config
// finds nothing. Errors keep controller-runtime's backoff.
func requeue(source v1alpha1.CredentialsSource, res ctrl.Result, err error, ready *metav1.Condition, v *verdict,
	now time.Time) (ctrl.Result, error) {
	if err != nil {
		return res, err
	}
	after := v.requeueAfter(now)
	if source == v1alpha1.CredentialsSourceEnvironment && ready != nil && ready.Reason == v1alpha1.ReasonCredentialsNotFound {
		after = envRecheckInterval
	}
	if after > 0 && (res.RequeueAfter == 0 || res.RequeueAfter > after) {
		res.RequeueAfter = after
	}
	return res, nil
}

func findReady(conds []metav1.Condition) *metav1.Condition {
	for i := range conds {
		if conds[i].Type == v1alpha1.ConditionTypeReady {
			c := conds[i]
			return &c
		}
	}
	return nil
}

func statusOf(obj client.Object) *v1alpha1.ProviderConfigStatus {
	switch o := obj.(type) {
	case *v1alpha1.ProviderConfig:
		return &o.Status
	case *v1alpha1.ClusterProviderConfig:
		return &o.Status
	}
	return nil
}

// SetupWithManager registers the ProviderConfig controller, its credentials-Secret field
// index and a metadata-only watch of Secrets.
func (r *ProviderConfigReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder(EventRecorderName)
	}
	return providerConfigKind.setup(mgr, r.Client, r)
}

// SetupWithManager registers the ClusterProviderConfig controller, its credentials-Secret
// field index and a metadata-only watch of Secrets.
func (r *ClusterProviderConfigReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder(EventRecorderName)
	}
	return clusterProviderConfigKind.setup(mgr, r.Client, r)
}

// secretIndexValue is the credentialsSecretIndex value of a config: its Secret's
// "<namespace>/<name>", or nothing for the Environment source.
func secretIndexValue(rc *resolvedConfig) []string {
	if rc.source == v1alpha1.CredentialsSourceEnvironment || !rc.secretRefSet {
		return nil
	}
	return []string{rc.target.CredentialsSecret.String()}
}
