package controller

import (
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
)

// refIndex is what the watch mappings need to know of each ManagedSecret: the Secrets it
// reads its value from and writes its target to, the resourceVersion of its own last
// target write, and its provider config.
//
// The manager caches ManagedSecrets as metadata only and reads the whole object from the
// API server at the start of each pass: at 10,000 resources a cached typed object cost
// 2.1 KB against 0.5 KB for its metadata, and with the garbage collector's headroom that
// difference alone was about a third of the manager's memory (docs/performance.md,
// "Memory"). Field indexes need the spec in the cache, so each pass records here what it
// read instead. A resource is in the index from its first pass on; before it, every
// resource is queued anyway (the informer's initial list), and its first pass reads its
// source whatever happened to it.
type refIndex struct {
	mu       sync.RWMutex
	byKey    map[types.NamespacedName]msRefs
	bySecret map[types.NamespacedName][]string // Secret → names of the resources using it
}

type msRefs struct {
	source, target string // Secret names in the resource's namespace, "" for none
	targetRV       string // resourceVersion of the resource's own last target write
	provider       v1alpha1.ProviderConfigReference
}

func newRefIndex() *refIndex {
	return &refIndex{byKey: map[types.NamespacedName]msRefs{}, bySecret: map[types.NamespacedName][]string{}}
}

// refsOf reads the references of ms.
func refsOf(ms *v1alpha1.ManagedSecret) msRefs {
	var r msRefs
	if ref, ok := sourceRef(ms.Spec.Value); ok {
		r.source = ref.Name
	}
	if ms.Spec.Target != nil {
		r.target = ms.Spec.Target.Name
	}
	if st := ms.Status.Target; st != nil && st.Name == r.target {
		r.targetRV = st.ResourceVersion
	}
	r.provider = ms.ProviderConfigKey()
	return r
}

// record sets what ms references, as of the object just read or written.
func (x *refIndex) record(ms *v1alpha1.ManagedSecret) {
	if x == nil { // a reconciler built without SetupWithManager (unit tests)
		return
	}
	key := types.NamespacedName{Namespace: cacheStrings.str(ms.Namespace), Name: ms.Name}
	refs := refsOf(ms)
	refs.provider.Name = cacheStrings.str(refs.provider.Name)
	x.mu.Lock()
	defer x.mu.Unlock()
	old, had := x.byKey[key]
	if had && old == refs {
		return
	}
	if had {
		x.unlinkLocked(key, old)
	}
	x.byKey[key] = refs
	for _, s := range []string{refs.source, refs.target} {
		if s == "" {
			continue
		}
		sk := types.NamespacedName{Namespace: key.Namespace, Name: s}
		if !slices.Contains(x.bySecret[sk], key.Name) {
			x.bySecret[sk] = append(x.bySecret[sk], key.Name)
		}
	}
}

// ownTargetWrite records the resourceVersion the resource's pass just gave its target
// Secret, before the pass's status patch: the watch event of that write may come first.
func (x *refIndex) ownTargetWrite(key types.NamespacedName, rv string) {
	if x == nil {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if r, ok := x.byKey[key]; ok {
		r.targetRV = rv
		x.byKey[key] = r
	}
}

// forget drops a resource that is gone.
func (x *refIndex) forget(key types.NamespacedName) {
	if x == nil {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if old, ok := x.byKey[key]; ok {
		x.unlinkLocked(key, old)
		delete(x.byKey, key)
	}
}

func (x *refIndex) unlinkLocked(key types.NamespacedName, old msRefs) {
	for _, s := range []string{old.source, old.target} {
		if s == "" {
			continue
		}
		sk := types.NamespacedName{Namespace: key.Namespace, Name: s}
		names := slices.DeleteFunc(x.bySecret[sk], func(n string) bool { return n == key.Name })
		if len(names) == 0 {
			delete(x.bySecret, sk)
		} else {
			x.bySecret[sk] = names
		}
	}
}

// forSecret returns the resources a Secret event concerns: those that read their value
// from it, and the one that keeps it as its target unless the event is that resource's
// own write (the resourceVersion it recorded) of a Secret that is not being deleted.
func (x *refIndex) forSecret(ns, name, rv string, deleting bool) []reconcile.Request {
	x.mu.RLock()
	defer x.mu.RUnlock()
	names := x.bySecret[types.NamespacedName{Namespace: ns, Name: name}]
	reqs := make([]reconcile.Request, 0, len(names))
	for _, n := range names {
		key := types.NamespacedName{Namespace: ns, Name: n}
		r := x.byKey[key]
		if r.source != name && r.target == name && r.targetRV == rv && !deleting {
			continue
		}
		reqs = append(reqs, reconcile.Request{NamespacedName: key})
	}
	return reqs
}

// forProvider returns the resources that use a provider config: a ClusterProviderConfig
// (ns "") from any namespace, a ProviderConfig from its own. Configs change rarely, so the
// index is scanned rather than kept by config as well.
func (x *refIndex) forProvider(kind v1alpha1.ProviderConfigKind, ns, name string) []reconcile.Request {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var reqs []reconcile.Request
	for key, r := range x.byKey {
		if r.provider.Kind == kind && r.provider.Name == name && (ns == "" || key.Namespace == ns) {
			reqs = append(reqs, reconcile.Request{NamespacedName: key})
		}
	}
	return reqs
}
