// Package provider turns a ProviderConfig or ClusterProviderConfig (plus its credentials
// Secret) into a cached csms.Client, and reconciles both kinds to a Ready condition that
// is True only once CSMS accepted the credentials (see verify.go).
//
// Credentials Secrets are never cached as full objects by the manager: their
// resourceVersion is read from the metadata-only informer that the controllers already
// run for Secrets, and their data is read with a direct GET only when that
// resourceVersion changed.
package provider

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/csms"
)

// ClientFactory builds a CSMS client from a resolved configuration. csms.New is the
// default; tests substitute a counting or recording factory.
type ClientFactory func(csms.Config) (csms.Client, error)

// Target describes the provider configuration a client was built from. It carries no
// credential and is safe to log and to put into events.
type Target struct {
	// Kind is ProviderConfig or ClusterProviderConfig.
	Kind v1alpha1.ProviderConfigKind
	// Namespace of a ProviderConfig; empty for a ClusterProviderConfig.
	Namespace string
	Name      string
	// Key identifies the config stably: "ProviderConfig/<namespace>/<name>" or
	// "ClusterProviderConfig/<name>".
	Key string

	Region    string
	ProjectID string
	// Endpoint is the endpoint override, empty for the region's public endpoint.
	Endpoint string
	// Source is where the credentials come from: Secret, or Environment (the manager's
	// SDK credential chain).
	Source v1alpha1.CredentialsSource
	// CredentialsSecret is the credentials Secret; zero with the Environment source.
	CredentialsSecret types.NamespacedName

	// Policy is the config's spec.policy (defaults filled in): what ManagedSecrets using
	// it may do beyond managing their own secrets.
	Policy v1alpha1.ProviderPolicy
}

// String returns Key.
func (t *Target) String() string { return t.Key }

// configKey is the Target.Key of a config.
func configKey(kind v1alpha1.ProviderConfigKind, namespace, name string) string {
	if namespace == "" {
		return string(kind) + "/" + name
	}
	return string(kind) + "/" + namespace + "/" + name
}

// Option configures a Resolver.
type Option func(*Resolver)

// WithClientFactory replaces csms.New (for tests).
func WithClientFactory(f ClientFactory) Option {
	return func(r *Resolver) { r.factory = f }
}

// WithTimeout sets csms.Config.Timeout (per HTTP attempt) of every client built.
// Zero keeps csms.DefaultTimeout.
func WithTimeout(d time.Duration) Option {
	return func(r *Resolver) { r.timeout = d }
}

// WithMaxRetries sets csms.Config.MaxRetries of every client built (0 → the csms
// default, negative → no retries).
func WithMaxRetries(n int) Option {
	return func(r *Resolver) { r.maxRetries = n }
}

// WithSecretMetadataReader reads Secret metadata (the credentials Secret's
// resourceVersion) through m instead of the kube client. The manager passes its cache:
// its client bypasses the cache for Secrets (so no Secret data is ever cached), which
// would otherwise turn every resolution into an API call; the cache itself serves
// metadata-only reads from the metadata informer the Secret watches run.
func WithSecretMetadataReader(m client.Reader) Option {
	return func(r *Resolver) { r.secretMeta = m }
}

// WithNamespacedEnvironmentCredentials lets namespaced ProviderConfigs use
// credentials.source Environment, that is the manager's own cloud identity (manager flag
// --allow-namespaced-environment-credentials). Off by default: anyone who may create a
// ProviderConfig in some namespace could otherwise act in the cloud as the manager.
func WithNamespacedEnvironmentCredentials(allow bool) Option {
	return func(r *Resolver) { r.allowNamespacedEnvironment = allow }
}

// Resolver resolves a ManagedSecret's providerConfigRef to a csms.Client. It is safe for
// concurrent use.
type Resolver struct {
	// kube reads configs, Namespaces (metadata) and Secrets (metadata) from the manager's
	// cache.
	kube client.Client
	// apiReader reads Secret data directly from the API server, so that the manager
	// never caches Secret data.
	apiReader client.Reader
	// secretMeta reads Secret metadata; defaults to kube.
	secretMeta client.Reader
	factory    ClientFactory
	timeout    time.Duration
	maxRetries int
	// allowNamespacedEnvironment: see WithNamespacedEnvironmentCredentials.
	allowNamespacedEnvironment bool

	// now is time.Now, replaceable in tests of failed-build expiry.
	now func() time.Time

	mu      sync.Mutex
	entries map[string]*cacheEntry
}

// cacheEntry is one built client and the versions it was built from.
type cacheEntry struct {
	uid        types.UID
	generation int64
	// secretRV is the resourceVersion of the credentials Secret whose data the client
	// holds; empty for the Environment source.
	secretRV string
	client   csms.Client
	// err is set instead of client when the build failed; such an entry expires.
	err     error
	expires time.Time
	target  Target
	// verdict is the last credentials check of client (guarded by Resolver.mu); nil
	// until the provider-config reconciler checked it. It lives and dies with the entry,
	// so a new generation or Secret resourceVersion is checked afresh.
	verdict *verdict
}

// NewResolver returns a Resolver reading configs through c (the manager's cached client)
// and Secret data through apiReader (the manager's API reader).
func NewResolver(c client.Client, apiReader client.Reader, opts ...Option) *Resolver {
	r := &Resolver{
		kube:      c,
		apiReader: apiReader,
		factory:   csms.New,
		now:       time.Now,
		entries:   map[string]*cacheEntry{},
	}
	r.secretMeta = c
	for _, o := range opts {
		o(r)
	}
	return r
}

// ClientFor returns the CSMS client for a ManagedSecret in namespace ns that references
// ref. An empty kind or name takes the API's defaults (ClusterProviderConfig "default").
// Errors match ErrConfigNotFound, ErrNamespaceNotAllowed, ErrCredentialsNotFound,
// ErrConfigInvalid or ErrEnvironmentNotAllowed, whose messages are fit for a condition;
// any other error is transient. ClientFor makes no CSMS call: whether CSMS accepts the
// credentials is the config's Ready condition.
func (r *Resolver) ClientFor(ctx context.Context, ns string, ref v1alpha1.ProviderConfigReference) (csms.Client, *Target, error) {
	if ref.Kind == "" {
		ref.Kind = v1alpha1.DefaultProviderConfigKind
	}
	if ref.Name == "" {
		ref.Name = v1alpha1.DefaultProviderConfigName
	}
	switch ref.Kind {
	case v1alpha1.ProviderConfigKindNamespaced:
		pc := &v1alpha1.ProviderConfig{}
		if err := r.kube.Get(ctx, types.NamespacedName{Namespace: ns, Name: ref.Name}, pc); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, nil, newError(ErrConfigNotFound, fmt.Sprintf(
					"ProviderConfig %q not found in namespace %q; a ProviderConfig serves only its own namespace: create it in %q or reference a ClusterProviderConfig",
					ref.Name, ns, ns))
			}
			return nil, nil, fmt.Errorf("getting ProviderConfig %s/%s: %w", ns, ref.Name, err)
		}
		return r.clientForProviderConfig(ctx, pc)
	case v1alpha1.ProviderConfigKindCluster:
		cpc := &v1alpha1.ClusterProviderConfig{}
		if err := r.kube.Get(ctx, types.NamespacedName{Name: ref.Name}, cpc); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, nil, newError(ErrConfigNotFound, fmt.Sprintf(
					"ClusterProviderConfig %q not found; create it or reference an existing one", ref.Name))
			}
			return nil, nil, fmt.Errorf("getting ClusterProviderConfig %s: %w", ref.Name, err)
		}
		if err := r.checkNamespace(ctx, cpc, ns); err != nil {
			return nil, nil, err
		}
		return r.clientForClusterProviderConfig(ctx, cpc)
	default:
		return nil, nil, newError(ErrConfigInvalid, fmt.Sprintf(
			"providerConfigRef.kind %q is not supported; use ProviderConfig or ClusterProviderConfig", ref.Kind))
	}
}

// Forget drops the cached client of a config (kind, namespace, name). The reconcilers
// call it when a config is deleted; a later ClientFor rebuilds from scratch.
func (r *Resolver) Forget(kind v1alpha1.ProviderConfigKind, namespace, name string) {
	r.mu.Lock()
	delete(r.entries, configKey(kind, namespace, name))
	r.mu.Unlock()
}

// checkNamespace enforces a ClusterProviderConfig's namespaceSelector against the labels
// of namespace ns (read as metadata from the cache).
func (r *Resolver) checkNamespace(ctx context.Context, cpc *v1alpha1.ClusterProviderConfig, ns string) error {
	sel, err := namespaceSelector(cpc)
	if err != nil {
		return err
	}
	if sel.Empty() {
		return nil
	}
	nsMeta := &metav1.PartialObjectMetadata{}
	nsMeta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	if err := r.kube.Get(ctx, types.NamespacedName{Name: ns}, nsMeta); err != nil {
		if apierrors.IsNotFound(err) {
			return newError(ErrNamespaceNotAllowed, fmt.Sprintf(
				"ClusterProviderConfig %q cannot serve namespace %q: the namespace was not found", cpc.Name, ns))
		}
		return fmt.Errorf("getting namespace %s: %w", ns, err)
	}
	if !sel.Matches(labels.Set(nsMeta.GetLabels())) {
		return newError(ErrNamespaceNotAllowed, fmt.Sprintf(
			"ClusterProviderConfig %q does not serve namespace %q: its namespaceSelector (%s) does not match the namespace's labels; label the namespace to match or reference another provider config",
			cpc.Name, ns, sel.String()))
	}
	return nil
}

// namespaceSelector converts spec.namespaceSelector; nil and {} both select everything.
func namespaceSelector(cpc *v1alpha1.ClusterProviderConfig) (labels.Selector, error) {
	if cpc.Spec.NamespaceSelector == nil {
		return labels.Everything(), nil
	}
	sel, err := metav1.LabelSelectorAsSelector(cpc.Spec.NamespaceSelector)
	if err != nil {
		return nil, &resolveError{kind: ErrConfigInvalid, cause: err, msg: fmt.Sprintf(
			"ClusterProviderConfig %q has an invalid spec.namespaceSelector: %s; fix the selector", cpc.Name, err.Error())}
	}
	return sel, nil
}

// resolvedConfig is the kind-independent view of a config that the cache works on.
type resolvedConfig struct {
	obj      client.Object
	target   Target
	settings v1alpha1.ProviderSettings
	source   v1alpha1.CredentialsSource
	// secretRefSet is false when source is Secret but secretRef is missing.
	secretRefSet bool
}

// describe names the config in messages, e.g. `ProviderConfig "payments/csms"`.
func (c *resolvedConfig) describe() string { return describeConfig(&c.target) }

func resolvedFromProviderConfig(pc *v1alpha1.ProviderConfig) *resolvedConfig {
	kind := v1alpha1.ProviderConfigKindNamespaced
	rc := &resolvedConfig{
		obj:      pc,
		settings: pc.Spec.ProviderSettings,
		source:   pc.Spec.Credentials.Source,
		target: Target{
			Kind: kind, Namespace: pc.Namespace, Name: pc.Name,
			Key: configKey(kind, pc.Namespace, pc.Name),
		},
	}
	if ref := pc.Spec.Credentials.SecretRef; ref != nil && ref.Name != "" {
		rc.secretRefSet = true
		rc.target.CredentialsSecret = types.NamespacedName{Namespace: pc.Namespace, Name: ref.Name}
	}
	return rc
}

func resolvedFromClusterProviderConfig(cpc *v1alpha1.ClusterProviderConfig) *resolvedConfig {
	kind := v1alpha1.ProviderConfigKindCluster
	rc := &resolvedConfig{
		obj:      cpc,
		settings: cpc.Spec.ProviderSettings,
		source:   cpc.Spec.Credentials.Source,
		target: Target{
			Kind: kind, Name: cpc.Name,
			Key: configKey(kind, "", cpc.Name),
		},
	}
	if ref := cpc.Spec.Credentials.SecretRef; ref != nil && ref.Name != "" && ref.Namespace != "" {
		rc.secretRefSet = true
		rc.target.CredentialsSecret = types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}
	}
	return rc
}

func (r *Resolver) clientForProviderConfig(ctx context.Context, pc *v1alpha1.ProviderConfig) (csms.Client, *Target, error) {
	return r.clientFor(ctx, resolvedFromProviderConfig(pc))
}

func (r *Resolver) clientForClusterProviderConfig(ctx context.Context, cpc *v1alpha1.ClusterProviderConfig) (csms.Client, *Target, error) {
	e, err := r.entryForClusterProviderConfig(ctx, cpc)
	if err != nil {
		return nil, nil, err
	}
	return e.result()
}

// entryForProviderConfig and entryForClusterProviderConfig are what the reconcilers
// use: the cache entry, so that the credentials check can be remembered on it.
func (r *Resolver) entryForProviderConfig(ctx context.Context, pc *v1alpha1.ProviderConfig) (*cacheEntry, error) {
	return r.entryFor(ctx, resolvedFromProviderConfig(pc))
}

func (r *Resolver) entryForClusterProviderConfig(ctx context.Context, cpc *v1alpha1.ClusterProviderConfig) (*cacheEntry, error) {
	if _, err := namespaceSelector(cpc); err != nil {
		return nil, err
	}
	return r.entryFor(ctx, resolvedFromClusterProviderConfig(cpc))
}

func (r *Resolver) clientFor(ctx context.Context, rc *resolvedConfig) (csms.Client, *Target, error) {
	e, err := r.entryFor(ctx, rc)
	if err != nil {
		return nil, nil, err
	}
	return e.result()
}

// entryFor returns the cache entry of rc when the config's UID and generation and the
// credentials Secret's resourceVersion are unchanged, and builds a new client otherwise.
// A failed build is an entry too (with err set, see store); a config that cannot be
// resolved at all is an error.
func (r *Resolver) entryFor(ctx context.Context, rc *resolvedConfig) (*cacheEntry, error) {
	rc.target.Region = rc.settings.Region
	rc.target.ProjectID = rc.settings.ProjectID
	rc.target.Endpoint = rc.settings.Endpoint
	rc.target.Policy = rc.settings.PolicyOrDefault()

	source := rc.source
	if source == "" {
		source = v1alpha1.CredentialsSourceSecret // the API's default
	}
	rc.target.Source = source
	switch source {
	case v1alpha1.CredentialsSourceEnvironment:
		// Refused before anything is built, so the manager's identity is never used.
		if rc.target.Kind == v1alpha1.ProviderConfigKindNamespaced && !r.allowNamespacedEnvironment {
			return nil, newError(ErrEnvironmentNotAllowed, fmt.Sprintf(
				"%s has credentials.source Environment, which would lend the manager's own cloud identity to namespace %q, so the operator refuses it: put credentials in a Secret of the namespace (credentials.source Secret with a secretRef), or reference a ClusterProviderConfig; a cluster administrator can allow it with the manager flag --allow-namespaced-environment-credentials",
				rc.describe(), rc.target.Namespace))
		}
		rc.target.CredentialsSecret = types.NamespacedName{}
	case v1alpha1.CredentialsSourceSecret:
		if !rc.secretRefSet {
			return nil, newError(ErrConfigInvalid, fmt.Sprintf(
				"%s has credentials.source Secret but no complete credentials.secretRef; set secretRef or use source Environment",
				rc.describe()))
		}
	default:
		return nil, newError(ErrConfigInvalid, fmt.Sprintf(
			"%s has unsupported credentials.source %q; use Secret or Environment", rc.describe(), source))
	}

	// The current resourceVersion of the Secret, from the metadata cache.
	var secretRV string
	if source == v1alpha1.CredentialsSourceSecret {
		rv, found, err := r.cachedSecretRV(ctx, rc.target.CredentialsSecret)
		if err != nil {
			return nil, err
		}
		if found {
			secretRV = rv
		}
		// Not in the cache: it may be missing or the cache may lag behind a Secret just
		// created; the GET below decides.
	}

	if e := r.lookup(rc, secretRV); e != nil {
		return e, nil
	}

	cfg := csms.Config{
		Region:     rc.settings.Region,
		ProjectID:  rc.settings.ProjectID,
		Endpoint:   rc.settings.Endpoint,
		Timeout:    r.timeout,
		MaxRetries: r.maxRetries,
	}
	if rl := rc.settings.RateLimit; rl != nil {
		cfg.QPS = float64(rl.QPS)
		cfg.Burst = int(rl.BurstOrQPS())
	}
	if source == v1alpha1.CredentialsSourceEnvironment {
		cfg.Credentials = csms.EnvironmentCredentials{}
	} else {
		rv, err := r.readCredentials(ctx, rc, &cfg)
		if err != nil {
			return nil, err
		}
		secretRV = rv
		// The metadata cache may lag behind the API server; if what we just read is
		// what the cached client was built from, keep it.
		if e := r.lookup(rc, secretRV); e != nil {
			return e, nil
		}
	}

	c, err := r.factory(cfg)
	if err != nil {
		// Remembered for a while: with the Environment source a failing SDK chain can
		// take seconds (the ECS metadata endpoint times out), and every ManagedSecret
		// using the config would pay it on every pass.
		return r.store(rc, secretRV, nil, buildError(rc, cfg, err)), nil
	}
	return r.store(rc, secretRV, c, nil), nil
}

// maxCauseLen bounds the part of a client-construction error quoted in a message.
const maxCauseLen = 300

// buildError turns a failure of the client factory into a condition-safe error. With the
// Environment source csms.New fails when the SDK credential chain finds nothing, which is
// missing credentials rather than a bad spec. The cause is quoted (it is what tells the
// user which variable or setting is missing) but scrubbed of any credential we know of
// and cut short, as a defence in depth: csms.New and the SDK do not put values in errors.
func buildError(rc *resolvedConfig, cfg csms.Config, err error) error {
	cause := safeCause(err, cfg.Credentials)
	if rc.target.Source == v1alpha1.CredentialsSourceEnvironment {
		return &resolveError{kind: ErrCredentialsNotFound, cause: err, msg: fmt.Sprintf(
			"%s takes credentials from the environment, but the SDK credential chain (HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK, profile, ECS agency, CCE pod identity) of the manager found none (%s); provide one to the manager or use credentials.source Secret",
			rc.describe(), cause)}
	}
	return &resolveError{kind: ErrConfigInvalid, cause: err, msg: fmt.Sprintf(
		"%s cannot be used to build a CSMS client (%s); fix its spec", rc.describe(), cause)}
}

// safeCause renders err on one line, without any value creds knows of (nil: none), at
// most maxCauseLen bytes long.
func safeCause(err error, creds csms.Credentials) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	if creds != nil {
		s = creds.Redact(s)
	}
	if len(s) > maxCauseLen {
		cut := maxCauseLen
		for cut > 0 && s[cut]&0xC0 == 0x80 {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// lookup returns the cached entry of rc if it is still current.
func (r *Resolver) lookup(rc *resolvedConfig, secretRV string) *cacheEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.entries[rc.target.Key]
	if e == nil || !e.current(rc, secretRV, r.now()) {
		return nil
	}
	return e
}

// store caches a newly built client, or the error of a failed build until
// failedBuildRetry has passed. If another goroutine stored a client for the same versions
// meanwhile, that one wins so that callers share one instance.
func (r *Resolver) store(rc *resolvedConfig, secretRV string, c csms.Client, buildErr error) *cacheEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if e := r.entries[rc.target.Key]; e != nil && e.err == nil && e.current(rc, secretRV, now) {
		return e
	}
	e := &cacheEntry{
		uid:        rc.obj.GetUID(),
		generation: rc.obj.GetGeneration(),
		secretRV:   secretRV,
		client:     c,
		err:        buildErr,
		target:     rc.target,
	}
	if buildErr != nil {
		e.expires = now.Add(failedBuildRetry)
	}
	r.entries[rc.target.Key] = e
	return e
}

// failedBuildRetry is how long a failed client build is remembered before it is tried
// again (a config or Secret change retries at once).
const failedBuildRetry = 30 * time.Second

// result returns what ClientFor returns for this entry; the Target is a copy.
func (e *cacheEntry) result() (csms.Client, *Target, error) {
	if e.err != nil {
		return nil, nil, e.err
	}
	t := e.target
	return e.client, &t, nil
}

func (e *cacheEntry) current(rc *resolvedConfig, secretRV string, now time.Time) bool {
	return (e.expires.IsZero() || now.Before(e.expires)) &&
		e.uid == rc.obj.GetUID() &&
		e.generation == rc.obj.GetGeneration() &&
		e.target.CredentialsSecret == rc.target.CredentialsSecret &&
		e.target.Source == rc.target.Source &&
		e.secretRV == secretRV
}

// cachedSecretRV reads the Secret's resourceVersion from the manager's metadata-only
// Secret informer (the one the controllers' metadata watches run), so no Secret data is
// cached and steady-state resolution makes no API call.
func (r *Resolver) cachedSecretRV(ctx context.Context, key types.NamespacedName) (string, bool, error) {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	if err := r.secretMeta.Get(ctx, key, m); err != nil {
		if apierrors.IsNotFound(err) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("getting credentials Secret %s metadata: %w", key, err)
	}
	return m.GetResourceVersion(), true, nil
}

// readCredentials GETs the Secret directly from the API server, checks its keys and puts
// them into cfg. It returns the resourceVersion of what it read. Messages name keys,
// never values.
func (r *Resolver) readCredentials(ctx context.Context, rc *resolvedConfig, cfg *csms.Config) (string, error) {
	key := rc.target.CredentialsSecret
	s := &corev1.Secret{}
	if err := r.apiReader.Get(ctx, key, s); err != nil {
		if apierrors.IsNotFound(err) {
			return "", newError(ErrCredentialsNotFound, fmt.Sprintf(
				"credentials Secret %q in namespace %q of %s not found; create it with keys %s and %s (and optionally %s)",
				key.Name, key.Namespace, rc.describe(),
				v1alpha1.CredentialsKeyAccessKeyID, v1alpha1.CredentialsKeySecretAccessKey, v1alpha1.CredentialsKeySecurityToken))
		}
		return "", fmt.Errorf("getting credentials Secret %s: %w", key, err)
	}
	var missing []string
	for _, k := range []string{v1alpha1.CredentialsKeyAccessKeyID, v1alpha1.CredentialsKeySecretAccessKey} {
		if len(s.Data[k]) == 0 {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		what := fmt.Sprintf("key %q", missing[0])
		if len(missing) == 2 {
			what = fmt.Sprintf("keys %q and %q", missing[0], missing[1])
		}
		return "", newError(ErrCredentialsNotFound, fmt.Sprintf(
			"credentials Secret %q in namespace %q of %s is missing %s (or it is empty); add it to the Secret",
			key.Name, key.Namespace, rc.describe(), what))
	}
	cfg.Credentials = csms.StaticCredentials{
		AccessKey:     string(s.Data[v1alpha1.CredentialsKeyAccessKeyID]),
		SecretKey:     string(s.Data[v1alpha1.CredentialsKeySecretAccessKey]),
		SecurityToken: string(s.Data[v1alpha1.CredentialsKeySecurityToken]),
	}
	return s.ResourceVersion, nil
}
