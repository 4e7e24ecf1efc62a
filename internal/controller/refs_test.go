package controller

import (
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
)

func refsMS(ns, name, source, target, targetRV string, pc v1alpha1.ProviderConfigReference) *v1alpha1.ManagedSecret {
	ms := &v1alpha1.ManagedSecret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	ms.Spec.ProviderConfigRef = pc
	if source != "" {
		ms.Spec.Value = &v1alpha1.SecretValueSource{SecretKeyRef: &v1alpha1.SecretKeySelector{Name: source, Key: "k"}}
	}
	if target != "" {
		ms.Spec.Target = &v1alpha1.SecretTarget{Name: target}
		if targetRV != "" {
			ms.Status.Target = &v1alpha1.TargetStatus{Name: target, ResourceVersion: targetRV}
		}
	}
	return ms
}

func reqNames(reqs []reconcile.Request) []string {
	var out []string
	for _, r := range reqs {
		out = append(out, r.Namespace+"/"+r.Name)
	}
	slices.Sort(out)
	return out
}

var clusterRef = v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindCluster, Name: "shared"}

func TestRefIndexForSecret(t *testing.T) {
	x := newRefIndex()
	x.record(refsMS("a", "db", "db-src", "db-app", "17", clusterRef))
	x.record(refsMS("a", "cache", "db-src", "", "", clusterRef)) // same source
	x.record(refsMS("b", "db", "db-src", "", "", clusterRef))    // same names, other namespace

	if got, want := reqNames(x.forSecret("a", "db-src", "5", false)), []string{"a/cache", "a/db"}; !slices.Equal(got, want) {
		t.Errorf("source event: %v, want %v", got, want)
	}
	if got := reqNames(x.forSecret("a", "db-app", "17", false)); len(got) != 0 {
		t.Errorf("the resource's own target write retriggered it: %v", got)
	}
	if got, want := reqNames(x.forSecret("a", "db-app", "18", false)), []string{"a/db"}; !slices.Equal(got, want) {
		t.Errorf("a hand edit of the target: %v, want %v", got, want)
	}
	if got, want := reqNames(x.forSecret("a", "db-app", "17", true)), []string{"a/db"}; !slices.Equal(got, want) {
		t.Errorf("the target being deleted: %v, want %v", got, want)
	}
	// The pass writes the target, then its status: the write's event may come between.
	x.ownTargetWrite(reconcileKey("a", "db"), "19")
	if got := reqNames(x.forSecret("a", "db-app", "19", false)); len(got) != 0 {
		t.Errorf("own write recorded before the status patch retriggered: %v", got)
	}
	if got := reqNames(x.forSecret("c", "db-src", "5", false)); len(got) != 0 {
		t.Errorf("a Secret of a namespace with no resources mapped to %v", got)
	}
}

func TestRefIndexFollowsSpecChangesAndDeletion(t *testing.T) {
	x := newRefIndex()
	x.record(refsMS("a", "db", "old-src", "", "", clusterRef))
	x.record(refsMS("a", "db", "new-src", "", "", clusterRef))
	if got := x.forSecret("a", "old-src", "1", false); len(got) != 0 {
		t.Errorf("the old source still maps: %v", reqNames(got))
	}
	if got := reqNames(x.forSecret("a", "new-src", "1", false)); !slices.Equal(got, []string{"a/db"}) {
		t.Errorf("the new source maps to %v", got)
	}
	x.forget(reconcileKey("a", "db"))
	if got := x.forSecret("a", "new-src", "1", false); len(got) != 0 {
		t.Errorf("a forgotten resource still maps: %v", reqNames(got))
	}
	if len(x.byKey) != 0 || len(x.bySecret) != 0 {
		t.Errorf("forget left entries: %d resources, %d secrets", len(x.byKey), len(x.bySecret))
	}
}

func TestRefIndexForProvider(t *testing.T) {
	x := newRefIndex()
	ns := v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindNamespaced, Name: "shared"}
	x.record(refsMS("a", "one", "", "", "", clusterRef))
	x.record(refsMS("b", "two", "", "", "", clusterRef))
	x.record(refsMS("a", "three", "", "", "", ns))
	x.record(refsMS("b", "four", "", "", "", ns))
	if got, want := reqNames(x.forProvider(v1alpha1.ProviderConfigKindCluster, "", "shared")), []string{"a/one", "b/two"}; !slices.Equal(got, want) {
		t.Errorf("ClusterProviderConfig users: %v, want %v", got, want)
	}
	if got, want := reqNames(x.forProvider(v1alpha1.ProviderConfigKindNamespaced, "a", "shared")), []string{"a/three"}; !slices.Equal(got, want) {
		t.Errorf("ProviderConfig a/shared users: %v, want %v (never another namespace's)", got, want)
	}
	// The defaults of an empty providerConfigRef count as a reference to them.
	x.record(refsMS("c", "five", "", "", "", v1alpha1.ProviderConfigReference{}))
	def := (&v1alpha1.ManagedSecret{}).ProviderConfigKey()
	if got := reqNames(x.forProvider(def.Kind, map[bool]string{true: "", false: "c"}[def.Kind == v1alpha1.ProviderConfigKindCluster], def.Name)); !slices.Contains(got, "c/five") {
		t.Errorf("a resource on the default provider config is not found among its users: %v", got)
	}
}

func TestRefIndexNilIsSafe(t *testing.T) {
	var x *refIndex
	x.record(refsMS("a", "db", "src", "", "", clusterRef))
	x.ownTargetWrite(reconcileKey("a", "db"), "1")
	x.forget(reconcileKey("a", "db"))
}

func reconcileKey(ns, name string) types.NamespacedName {
	return types.NamespacedName{Namespace: ns, Name: name}
}
