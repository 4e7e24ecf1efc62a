package controller

import (
	"context"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
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
// the create-pending mark and adding its finalizer. Such a pass would only cost cloud
// reads, and it would likely run on a cached object that does not have the status of the
// pass before it yet. Other controllers' finalizers are none of its business.
var managedSecretChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		o, n := e.ObjectOld, e.ObjectNew
		if o == nil || n == nil {
			return true
		}
		return o.GetGeneration() != n.GetGeneration() ||
			!maps.Equal(userAnnotations(o.GetAnnotations()), userAnnotations(n.GetAnnotations())) ||
			(slices.Contains(o.GetFinalizers(), v1alpha1.Finalizer) && !slices.Contains(n.GetFinalizers(), v1alpha1.Finalizer)) ||
			!o.GetDeletionTimestamp().Equal(n.GetDeletionTimestamp())
	},
}

// userAnnotations are the annotations without the reconciler's own mark.
func userAnnotations(a map[string]string) map[string]string {
	if _, ok := a[v1alpha1.AnnotationCreatePending]; !ok {
		return a
	}
	out := maps.Clone(a)
	delete(out, v1alpha1.AnnotationCreatePending)
	return out
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
	if err := idx.IndexField(ctx, &v1alpha1.ManagedSecret{}, providerConfigIndex, func(o client.Object) []string {
		ms, ok := o.(*v1alpha1.ManagedSecret)
		if !ok {
			return nil
		}
		ref := ms.ProviderConfigKey()
		return []string{string(ref.Kind) + "/" + ref.Name}
	}); err != nil {
		return fmt.Errorf("indexing ManagedSecrets by provider config: %w", err)
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
		Watches(&v1alpha1.ProviderConfig{}, handler.EnqueueRequestsFromMapFunc(r.forProviderConfig)).
		Watches(&v1alpha1.ClusterProviderConfig{}, handler.EnqueueRequestsFromMapFunc(r.forClusterProviderConfig)).
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
	if err := r.Client.List(ctx, &l, client.InNamespace(s.GetNamespace()), client.MatchingFields{targetSecretIndex: s.GetName()}); err != nil {
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

func (r *ManagedSecretReconciler) forProviderConfig(ctx context.Context, pc client.Object) []reconcile.Request {
	return r.list(ctx, client.InNamespace(pc.GetNamespace()),
		client.MatchingFields{providerConfigIndex: string(v1alpha1.ProviderConfigKindNamespaced) + "/" + pc.GetName()})
}

func (r *ManagedSecretReconciler) forClusterProviderConfig(ctx context.Context, cpc client.Object) []reconcile.Request {
	return r.list(ctx, client.MatchingFields{providerConfigIndex: string(v1alpha1.ProviderConfigKindCluster) + "/" + cpc.GetName()})
}

func (r *ManagedSecretReconciler) list(ctx context.Context, opts ...client.ListOption) []reconcile.Request {
	var l v1alpha1.ManagedSecretList
	if err := r.Client.List(ctx, &l, opts...); err != nil {
		logf.FromContext(ctx).Error(err, "Listing ManagedSecrets for a watched object")
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(l.Items))
	for i := range l.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&l.Items[i])})
	}
	return reqs
}
