package controller

import (
	"context"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
)

// managedSecretChanged lets through the updates that need a reconcile: spec (generation),
// annotations (so a user can force a resync by annotating), the removal of our finalizer
// (it is put back) and deletion.
//
// The reconciler's own writes do not trigger another pass: status patches (every pass),
// status.createPending and adding its finalizer. Such a pass would only cost an API
// server read and cloud reads. Other controllers' finalizers are none of its business.
// The predicate reads metadata only: ManagedSecrets are watched as metadata.
var managedSecretChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		o, n := e.ObjectOld, e.ObjectNew
		if o == nil || n == nil {
			return true
		}
		return o.GetGeneration() != n.GetGeneration() ||
			!maps.Equal(o.GetAnnotations(), n.GetAnnotations()) ||
			(slices.Contains(o.GetFinalizers(), v1alpha1.Finalizer) && !slices.Contains(n.GetFinalizers(), v1alpha1.Finalizer)) ||
			!o.GetDeletionTimestamp().Equal(n.GetDeletionTimestamp())
	},
}

// SetupWithManager registers the controller and its watches, mapped through refIndex:
// ManagedSecrets and Secrets as metadata only (a value change retriggers the resources
// that use that Secret); provider configs (a fixed config retriggers its users).
func (r *ManagedSecretReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder("managedsecret-controller")
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	if r.refs == nil {
		r.refs = newRefIndex()
	}
	// ManagedSecrets are watched as metadata only, like Secrets: each pass reads its
	// resource from the API server (see refIndex for why and for how the watches map).
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.ManagedSecret{}, builder.OnlyMetadata, builder.WithPredicates(managedSecretChanged)).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.forSecret)).
		Watches(&v1alpha1.ProviderConfig{}, handler.EnqueueRequestsFromMapFunc(r.forProviderConfig), builder.WithPredicates(providerConfigChanged)).
		Watches(&v1alpha1.ClusterProviderConfig{}, handler.EnqueueRequestsFromMapFunc(r.forClusterProviderConfig), builder.WithPredicates(providerConfigChanged)).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, r.MaxConcurrentReconciles)}).
		Named("managedsecret").
		Complete(r)
}

// forSecret maps a Secret event to the resources that read their value from it, and to
// the one that keeps it as its target, unless the event is that resource's own write
// (the resourceVersion its pass recorded).
func (r *ManagedSecretReconciler) forSecret(_ context.Context, s client.Object) []reconcile.Request {
	return r.refs.forSecret(s.GetNamespace(), s.GetName(), s.GetResourceVersion(), s.GetDeletionTimestamp() != nil)
}

// forProviderConfig and forClusterProviderConfig map a provider config to the resources
// that use it.
func (r *ManagedSecretReconciler) forProviderConfig(_ context.Context, pc client.Object) []reconcile.Request {
	return r.refs.forProvider(v1alpha1.ProviderConfigKindNamespaced, pc.GetNamespace(), pc.GetName())
}

func (r *ManagedSecretReconciler) forClusterProviderConfig(_ context.Context, cpc client.Object) []reconcile.Request {
	return r.refs.forProvider(v1alpha1.ProviderConfigKindCluster, "", cpc.GetName())
}

// providerConfigChanged lets through the config changes that matter to the resources
// using it: its spec (generation) and its readiness. Its other status writes would send
// every resource that uses it to CSMS for nothing.
var providerConfigChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration() || readyOf(e.ObjectOld) != readyOf(e.ObjectNew)
	},
}

// readyOf is the status of a provider config's Ready condition.
func readyOf(o client.Object) metav1.ConditionStatus {
	var conds []metav1.Condition
	switch c := o.(type) {
	case *v1alpha1.ProviderConfig:
		conds = c.Status.Conditions
	case *v1alpha1.ClusterProviderConfig:
		conds = c.Status.Conditions
	}
	if c := meta.FindStatusCondition(conds, v1alpha1.ConditionTypeReady); c != nil {
		return c.Status
	}
	return metav1.ConditionUnknown
}
