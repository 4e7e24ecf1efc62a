package controller

import (
	"context"
	"fmt"
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
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
)

// managedSecretChanged lets through the updates that need a reconcile: spec (generation),
// annotations (so a user can force a resync by annotating), the removal of our finalizer
// (it is put back) and deletion.
//
// The reconciler's own writes do not trigger another pass: status patches (every pass),
// status.createPending and adding its finalizer. Such a pass would only cost cloud
// reads, and it would likely run on a cached object that does not have the status of the
// pass before it yet. Other controllers' finalizers are none of its business.
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

// SetupWithManager registers the controller, the field indexes it maps through, and the
// watches: ManagedSecrets; Secrets as metadata only (a value change retriggers the
// resources that use that Secret); provider configs (a fixed config retriggers its users).
func (r *ManagedSecretReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &v1alpha1.ManagedSecret{}, sourceSecretIndex, func(o client.Object) []string {
		ms, ok := o.(*v1alpha1.ManagedSecret)
		if !ok {
			return nil
		}
		if ref, ok := sourceRef(ms.Spec.Value); ok {
			return []string{ref.Name}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("indexing ManagedSecrets by source Secret: %w", err)
	}
	if err := idx.IndexField(ctx, &v1alpha1.ManagedSecret{}, targetSecretIndex, func(o client.Object) []string {
		if ms, ok := o.(*v1alpha1.ManagedSecret); ok && ms.Spec.Target != nil {
			return []string{ms.Spec.Target.Name}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("indexing ManagedSecrets by target Secret: %w", err)
	}
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder("managedsecret-controller")
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.ManagedSecret{}, builder.WithPredicates(managedSecretChanged)).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.forSecret)).
		Watches(&v1alpha1.ProviderConfig{}, handler.EnqueueRequestsFromMapFunc(r.forProviderConfig), builder.WithPredicates(providerConfigChanged)).
		Watches(&v1alpha1.ClusterProviderConfig{}, handler.EnqueueRequestsFromMapFunc(r.forClusterProviderConfig), builder.WithPredicates(providerConfigChanged)).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, r.MaxConcurrentReconciles)}).
		Named("managedsecret").
		Complete(r)
}

// forSecret maps a Secret event to the resources that read their value from it, and to
// the one that keeps it as its target, unless the event is that resource's own write
// (the resourceVersion status recorded).
func (r *ManagedSecretReconciler) forSecret(ctx context.Context, s client.Object) []reconcile.Request {
	reqs := r.list(ctx, client.InNamespace(s.GetNamespace()), client.MatchingFields{sourceSecretIndex: s.GetName()})
	var l v1alpha1.ManagedSecretList
	if err := r.Client.List(ctx, &l, client.InNamespace(s.GetNamespace()), client.MatchingFields{targetSecretIndex: s.GetName()}, client.UnsafeDisableDeepCopy); err != nil {
		logf.FromContext(ctx).Error(err, "Listing ManagedSecrets for a target Secret")
		return reqs
	}
	for i := range l.Items {
		if st := l.Items[i].Status.Target; st != nil && st.ResourceVersion == s.GetResourceVersion() && s.GetDeletionTimestamp() == nil {
			continue
		}
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&l.Items[i])})
	}
	return reqs
}

// forProviderConfig and forClusterProviderConfig map a provider config to the resources
// that use it. Configs change rarely, so the resources are filtered from a list of the
// cache (no copies) rather than kept in one more index of every resource.
func (r *ManagedSecretReconciler) forProviderConfig(ctx context.Context, pc client.Object) []reconcile.Request {
	return r.usersOf(ctx, v1alpha1.ProviderConfigKindNamespaced, pc, client.InNamespace(pc.GetNamespace()))
}

func (r *ManagedSecretReconciler) forClusterProviderConfig(ctx context.Context, cpc client.Object) []reconcile.Request {
	return r.usersOf(ctx, v1alpha1.ProviderConfigKindCluster, cpc)
}

func (r *ManagedSecretReconciler) usersOf(ctx context.Context, kind v1alpha1.ProviderConfigKind, cfg client.Object, opts ...client.ListOption) []reconcile.Request {
	var l v1alpha1.ManagedSecretList
	if err := r.Client.List(ctx, &l, append(opts, client.UnsafeDisableDeepCopy)...); err != nil {
		logf.FromContext(ctx).Error(err, "Listing ManagedSecrets for a provider config")
		return nil
	}
	var reqs []reconcile.Request
	for i := range l.Items {
		if ref := l.Items[i].ProviderConfigKey(); ref.Kind == kind && ref.Name == cfg.GetName() {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&l.Items[i])})
		}
	}
	return reqs
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

func (r *ManagedSecretReconciler) list(ctx context.Context, opts ...client.ListOption) []reconcile.Request {
	var l v1alpha1.ManagedSecretList
	if err := r.Client.List(ctx, &l, append(opts, client.UnsafeDisableDeepCopy)...); err != nil {
		logf.FromContext(ctx).Error(err, "Listing ManagedSecrets for a watched object")
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(l.Items))
	for i := range l.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&l.Items[i])})
	}
	return reqs
}
