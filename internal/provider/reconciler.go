package provider

import (
	"context"
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
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile checks a ProviderConfig's credentials and writes its Ready condition.
func (r *ProviderConfigReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	pc := &v1alpha1.ProviderConfig{}
	if err := r.Client.Get(ctx, req.NamespacedName, pc); err != nil {
		if apierrors.IsNotFound(err) {
			r.Resolver.Forget(v1alpha1.ProviderConfigKindNamespaced, req.Namespace, req.Name)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("getting ProviderConfig: %w", err)
	}
	if !pc.DeletionTimestamp.IsZero() {
		r.Resolver.Forget(v1alpha1.ProviderConfigKindNamespaced, pc.Namespace, pc.Name)
		return ctrl.Result{}, nil
	}
	orig := pc.DeepCopy()
	_, target, err := r.Resolver.clientForProviderConfig(ctx, pc)
	res, err := reconcileStatus(ctx, r.Client, r.Recorder, orig, pc, &pc.Status, target, err)
	return recheckEnvironment(pc.Spec.Credentials.Source, res, err, findReady(pc.Status.Conditions))
}

// Reconcile checks a ClusterProviderConfig's selector and credentials and writes its
// Ready condition.
func (r *ClusterProviderConfigReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	cpc := &v1alpha1.ClusterProviderConfig{}
	if err := r.Client.Get(ctx, req.NamespacedName, cpc); err != nil {
		if apierrors.IsNotFound(err) {
			r.Resolver.Forget(v1alpha1.ProviderConfigKindCluster, "", req.Name)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("getting ClusterProviderConfig: %w", err)
	}
	if !cpc.DeletionTimestamp.IsZero() {
		r.Resolver.Forget(v1alpha1.ProviderConfigKindCluster, "", cpc.Name)
		return ctrl.Result{}, nil
	}
	orig := cpc.DeepCopy()
	_, target, err := r.Resolver.clientForClusterProviderConfig(ctx, cpc)
	res, err := reconcileStatus(ctx, r.Client, r.Recorder, orig, cpc, &cpc.Status, target, err)
	return recheckEnvironment(cpc.Spec.Credentials.Source, res, err, findReady(cpc.Status.Conditions))
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
	if resolveErr != nil && !IsConfigError(resolveErr) {
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

// envRecheckInterval is how often a config whose SDK credential chain found nothing is
// checked again: the environment (a mounted profile, pod identity token, agency) can
// change without any Kubernetes event to watch.
const envRecheckInterval = time.Minute

// recheckEnvironment requeues an Environment-source config that is not Ready.
func recheckEnvironment(source v1alpha1.CredentialsSource, res ctrl.Result, err error, ready *metav1.Condition) (ctrl.Result, error) {
	if err != nil || source != v1alpha1.CredentialsSourceEnvironment || ready == nil || ready.Status == metav1.ConditionTrue {
		return res, err
	}
	if res.RequeueAfter == 0 || res.RequeueAfter > envRecheckInterval {
		res.RequeueAfter = envRecheckInterval
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
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.ProviderConfig{}, credentialsSecretIndex,
		func(o client.Object) []string {
			pc, ok := o.(*v1alpha1.ProviderConfig)
			if !ok {
				return nil
			}
			return secretIndexValue(resolvedFromProviderConfig(pc))
		}); err != nil {
		return fmt.Errorf("indexing ProviderConfigs by credentials Secret: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.ProviderConfig{}).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(
			func(ctx context.Context, s client.Object) []reconcile.Request {
				list := &v1alpha1.ProviderConfigList{}
				if err := r.Client.List(ctx, list, client.InNamespace(s.GetNamespace()),
					client.MatchingFields{credentialsSecretIndex: s.GetNamespace() + "/" + s.GetName()}); err != nil {
					log.FromContext(ctx).Error(err, "Listing ProviderConfigs for a credentials Secret", "secret", klog.KObj(s))
					return nil
				}
				reqs := make([]reconcile.Request, 0, len(list.Items))
				for i := range list.Items {
					reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
				}
				return reqs
			})).
		Complete(r)
}

// SetupWithManager registers the ClusterProviderConfig controller, its credentials-Secret
// field index and a metadata-only watch of Secrets.
func (r *ClusterProviderConfigReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder(EventRecorderName)
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.ClusterProviderConfig{}, credentialsSecretIndex,
		func(o client.Object) []string {
			cpc, ok := o.(*v1alpha1.ClusterProviderConfig)
			if !ok {
				return nil
			}
			return secretIndexValue(resolvedFromClusterProviderConfig(cpc))
		}); err != nil {
		return fmt.Errorf("indexing ClusterProviderConfigs by credentials Secret: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.ClusterProviderConfig{}).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(
			func(ctx context.Context, s client.Object) []reconcile.Request {
				list := &v1alpha1.ClusterProviderConfigList{}
				if err := r.Client.List(ctx, list,
					client.MatchingFields{credentialsSecretIndex: s.GetNamespace() + "/" + s.GetName()}); err != nil {
					log.FromContext(ctx).Error(err, "Listing ClusterProviderConfigs for a credentials Secret", "secret", klog.KObj(s))
					return nil
				}
				reqs := make([]reconcile.Request, 0, len(list.Items))
				for i := range list.Items {
					reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
				}
				return reqs
			})).
		Complete(r)
}

// secretIndexValue is the credentialsSecretIndex value of a config: its Secret's
// "<namespace>/<name>", or nothing for the Environment source.
func secretIndexValue(rc *resolvedConfig) []string {
	if rc.source == v1alpha1.CredentialsSourceEnvironment || !rc.secretRefSet {
		return nil
	}
	return []string{rc.target.CredentialsSecret.String()}
}
