package controller

import (
	"encoding/json"
	"strings"
	"testing"
	"unsafe"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
)

// decodedManagedSecret decodes the same JSON twice over, as the informer does for two
// objects: every string of the result is its own allocation.
func decodedManagedSecret(t *testing.T, name string) *v1alpha1.ManagedSecret {
	t.Helper()
	in := &v1alpha1.ManagedSecret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team-a", UID: types.UID("uid-" + name), Finalizers: []string{v1alpha1.Finalizer},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}},
		Spec: v1alpha1.ManagedSecretSpec{
			ProviderConfigRef: v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindCluster, Name: "shared"},
			SecretType:        "COMMON", KMSKeyID: "ee964a2a-ce2f-1a9f-27fd-d0914cf74101", DeletionPolicy: "Delete", ManagementPolicy: "Manage",
			Value:    &v1alpha1.SecretValueSource{SecretKeyRef: &v1alpha1.SecretKeySelector{Name: name + "-src", Key: "password"}},
			Replicas: []v1alpha1.ReplicaSpec{{Region: "eu-west-101", ProjectID: "p1"}},
		},
		Status: v1alpha1.ManagedSecretStatus{
			Conditions: []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Available", Message: "CSMS secret " + name + " is available"}},
			SecretID:   "id-" + name, State: "ENABLED", DomainID: "f089a02c05b9f4a35ddf1a8142c10004", CurrentVersionID: "v3",
			Replicas: []v1alpha1.ReplicaStatus{{Region: "eu-west-101", Status: "SUCCESS"}},
		},
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	out := &v1alpha1.ManagedSecret{}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func sameBytes(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }

func TestStripForCacheSharesRepeatingStrings(t *testing.T) {
	a, b := decodedManagedSecret(t, "db-a"), decodedManagedSecret(t, "db-b")
	if sameBytes(a.Namespace, b.Namespace) {
		t.Fatal("the decoder already shares strings: the test would prove nothing")
	}
	for _, o := range []*v1alpha1.ManagedSecret{a, b} {
		if _, err := stripForCache(o); err != nil {
			t.Fatal(err)
		}
	}
	for name, pair := range map[string][2]string{
		"namespace":               {a.Namespace, b.Namespace},
		"finalizer":               {a.Finalizers[0], b.Finalizers[0]},
		"spec.providerConfigRef":  {a.Spec.ProviderConfigRef.Name, b.Spec.ProviderConfigRef.Name},
		"spec.kmsKeyID":           {a.Spec.KMSKeyID, b.Spec.KMSKeyID},
		"spec.value key":          {a.Spec.Value.SecretKeyRef.Key, b.Spec.Value.SecretKeyRef.Key},
		"spec.replicas region":    {a.Spec.Replicas[0].Region, b.Spec.Replicas[0].Region},
		"condition type":          {a.Status.Conditions[0].Type, b.Status.Conditions[0].Type},
		"condition status":        {string(a.Status.Conditions[0].Status), string(b.Status.Conditions[0].Status)},
		"condition reason":        {a.Status.Conditions[0].Reason, b.Status.Conditions[0].Reason},
		"status.domainID":         {a.Status.DomainID, b.Status.DomainID},
		"status.currentVersionID": {a.Status.CurrentVersionID, b.Status.CurrentVersionID},
		"status.replicas status":  {string(a.Status.Replicas[0].Status), string(b.Status.Replicas[0].Status)},
	} {
		if !sameBytes(pair[0], pair[1]) {
			t.Errorf("%s: the two cached objects keep separate copies of %q", name, pair[0])
		}
	}
	// Per-resource strings are left alone: they would only fill the table.
	if sameBytes(a.Status.Conditions[0].Message, b.Status.Conditions[0].Message) || strings.Contains(a.Status.Conditions[0].Message, "db-b") {
		t.Error("messages were interned")
	}
}

func TestStripForCacheChangesNoValue(t *testing.T) {
	got := decodedManagedSecret(t, "db-a")
	want := got.DeepCopy()
	want.ManagedFields = nil
	if _, err := stripForCache(got); err != nil {
		t.Fatal(err)
	}
	if !equality.Semantic.DeepEqual(got, want) {
		t.Fatalf("stripping changed the object beyond managedFields:\n got %+v\nwant %+v", got, want)
	}
}

func TestInternerIsBounded(t *testing.T) {
	in := &interner{m: map[string]string{}}
	for i := range maxInterned + 100 {
		in.str(strings.Repeat("x", i%maxInternedLen+1) + string(rune('a'+i%26)) + strings.Repeat("y", i/100))
	}
	if len(in.m) > maxInterned {
		t.Fatalf("table holds %d strings, bound %d", len(in.m), maxInterned)
	}
	fresh := &interner{m: map[string]string{}}
	if fresh.str(strings.Repeat("z", maxInternedLen+1)); len(fresh.m) != 0 {
		t.Fatal("a string over maxInternedLen went into the table")
	}
}
