package controller

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/eventrec"
	"github.com/csms-operator/csms-operator/internal/provider"
	"github.com/csms-operator/csms-operator/internal/source"
)

// Options configures the operator's controllers.
type Options struct {
	// MaxConcurrentReconciles bounds parallel ManagedSecret reconciles.
	MaxConcurrentReconciles int
	// ReplicaPollInterval is how soon a ManagedSecret is re-read while a replica syncs.
	ReplicaPollInterval time.Duration
	// CSMSTimeout bounds each CSMS HTTP attempt (0 = the client default).
	CSMSTimeout time.Duration
	// AllowNamespacedEnvironmentCredentials lets namespaced ProviderConfigs use
	// credentials.source Environment, the manager's own cloud identity (refused by default).
	AllowNamespacedEnvironmentCredentials bool
	// ProviderOptions are extra resolver options (tests use them to count client builds).
	ProviderOptions []provider.Option
	// EnableTargets lets spec.target write Secrets and restart workloads (the manager then
	// needs the manager-targets-role).
	EnableTargets bool
	// WorkloadRestartQPS and WorkloadRestartBurst bound workload restarts across all
	// resources (0: DefaultWorkloadRestartQPS / DefaultWorkloadRestartBurst).
	WorkloadRestartQPS   float64
	WorkloadRestartBurst int
}

// Defaults of the workload restart rate: a rotation of many secrets at once restarts
// their workloads over a few minutes instead of all at the same moment.
const (
	DefaultWorkloadRestartQPS   = 1.0
	DefaultWorkloadRestartBurst = 5
)

// ClientOptions are the manager client options the controllers rely on. Secrets and
// ManagedSecrets are watched as metadata only, and read with a direct GET: Secret data is
// never cached, and a ManagedSecret is read fresh by each pass (see refIndex). Disabling
// the cache for the types makes a typed Get go to the API server instead of silently
// starting an informer that holds every such object of the cluster in memory.
func ClientOptions() client.Options {
	return client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}, &v1alpha1.ManagedSecret{}}}}
}

// CacheOptions are the manager cache options the controllers rely on: every cached object
// goes through stripForCache.
func CacheOptions() cache.Options {
	return cache.Options{DefaultTransform: stripForCache}
}

// stripForCache drops from a cached object what the operator never reads:
//   - managedFields: at 10,000 ManagedSecrets they were 15 % of the live heap
//     (docs/performance.md);
//   - kubectl's last-applied-configuration annotation, a copy of the whole manifest. On a
//     Secret applied with kubectl that copy holds the Secret's data, which the
//     metadata-only Secret cache would otherwise keep in memory after all;
//
// and it makes cached objects share one copy of the strings that repeat across them
// (cache_intern.go).
func stripForCache(in any) (any, error) {
	obj, err := meta.Accessor(in)
	if err != nil {
		return in, nil // e.g. a tombstone: nothing to strip
	}
	obj.SetManagedFields(nil)
	if ms, ok := in.(*v1alpha1.ManagedSecret); ok {
		cacheStrings.internManagedSecret(ms)
	} else {
		obj.SetNamespace(cacheStrings.str(obj.GetNamespace()))
	}
	if a := obj.GetAnnotations(); a != nil {
		if _, ok := a[corev1.LastAppliedConfigAnnotation]; ok {
			delete(a, corev1.LastAppliedConfigAnnotation) // a freshly decoded object: not shared
			obj.SetAnnotations(a)
		}
	}
	return in, nil
}

// SetupAll wires the provider resolver, the ProviderConfig and ClusterProviderConfig
// reconcilers and the ManagedSecret reconciler into mgr, which must have been built with
// ClientOptions and CacheOptions. The manager and the envtest suite both call it, so tests run the wiring
// that ships.
func SetupAll(ctx context.Context, mgr ctrl.Manager, o Options) error {
	// Secret metadata (resourceVersions of source and credentials Secrets) is read from
	// the cache itself: its metadata-only informer answers without an API call, while the
	// client would bypass the cache for Secrets (see ClientOptions).
	popts := append([]provider.Option{
		provider.WithTimeout(o.CSMSTimeout),
		provider.WithSecretMetadataReader(mgr.GetCache()),
		provider.WithNamespacedEnvironmentCredentials(o.AllowNamespacedEnvironmentCredentials),
	}, o.ProviderOptions...)
	resolver := provider.NewResolver(mgr.GetClient(), mgr.GetAPIReader(), popts...)
	// Events are written by our own sink rather than client-go's broadcaster, which keeps
	// every Event in memory for six minutes (see internal/eventrec).
	events := eventrec.NewSink(mgr.GetClient(), mgr.GetScheme(), mgr.GetLogger().WithName("events"))
	if err := mgr.Add(events); err != nil {
		return fmt.Errorf("adding the event sink: %w", err)
	}
	providerEvents := events.Recorder(provider.EventRecorderName)
	if err := (&provider.ProviderConfigReconciler{Client: mgr.GetClient(), Resolver: resolver, Recorder: providerEvents}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the ProviderConfig controller: %w", err)
	}
	if err := (&provider.ClusterProviderConfigReconciler{Client: mgr.GetClient(), Resolver: resolver, Recorder: providerEvents}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the ClusterProviderConfig controller: %w", err)
	}
	if err := (&ManagedSecretReconciler{
		Client:                  mgr.GetClient(),
		APIReader:               mgr.GetAPIReader(),
		Recorder:                events.Recorder("managedsecret-controller"),
		Providers:               resolver,
		Sources:                 &source.Reader{Client: mgr.GetAPIReader(), Metadata: mgr.GetCache()},
		MaxConcurrentReconciles: o.MaxConcurrentReconciles,
		ReplicaPollInterval:     o.ReplicaPollInterval,
		SpreadFirstChecks:       true,
		EnableTargets:           o.EnableTargets,
		RestartLimiter:          rate.NewLimiter(rate.Limit(cmp.Or(o.WorkloadRestartQPS, DefaultWorkloadRestartQPS)), cmp.Or(o.WorkloadRestartBurst, DefaultWorkloadRestartBurst)),
		SecretMeta:              mgr.GetCache(),
	}).SetupWithManager(ctx, mgr); err != nil {
		return fmt.Errorf("setting up the ManagedSecret controller: %w", err)
	}
	return nil
}
