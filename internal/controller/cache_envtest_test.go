package controller

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
)

// TestCacheKeepsNoSecretDataOrManagedFields: a Secret applied with kubectl carries a copy
// of its manifest, data included, in the last-applied-configuration annotation. The
// manager caches Secrets as metadata only, and that annotation must not smuggle the value
// into its memory. managedFields are not kept either; other annotations are.
func TestCacheKeepsNoSecretDataOrManagedFields(t *testing.T) {
	ns := newNamespace(t, nil)
	canary := "CANARY-cache-" + randSuffix()
	manifest, err := json.Marshal(map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": "applied", "namespace": ns},
		"data":     map[string]any{"password": canary},
	})
	if err != nil {
		t.Fatal(err)
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "applied", Annotations: map[string]string{
			corev1.LastAppliedConfigAnnotation: string(manifest),
			"team":                             "db",
		}},
		Data: map[string][]byte{"password": []byte(canary)},
	}
	if err := k8sClient.Create(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	// The ManagedSecret's cached copy is stripped the same way.
	ms := newManagedSecret(t, ns, "applied", func(m *v1alpha1.ManagedSecret) {
		m.Annotations = map[string]string{corev1.LastAppliedConfigAnnotation: `{"spec":{}}`, "team": "db"}
		m.Spec.Value.SecretKeyRef.Name = "applied"
	})

	check := func(obj client.Object) {
		t.Helper()
		key := client.ObjectKeyFromObject(obj)
		deadline := time.Now().Add(pollTimeout)
		for {
			err := managerCache.Get(context.Background(), key, obj)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not in the manager's cache: %v", key, err)
			}
			time.Sleep(pollInterval)
		}
		a := obj.GetAnnotations()
		if _, ok := a[corev1.LastAppliedConfigAnnotation]; ok {
			t.Errorf("%s: the cache keeps %s", key, corev1.LastAppliedConfigAnnotation)
		}
		if a["team"] != "db" {
			t.Errorf("%s: other annotations lost: %v", key, a)
		}
		if len(obj.GetManagedFields()) != 0 {
			t.Errorf("%s: the cache keeps managedFields", key)
		}
		if b, _ := json.Marshal(obj); strings.Contains(string(b), canary) {
			t.Errorf("%s: the cached object holds the canary value", key)
		}
	}
	meta := &metav1.PartialObjectMetadata{}
	meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	meta.SetNamespace(ns)
	meta.SetName("applied")
	check(meta)
	check(&v1alpha1.ManagedSecret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: ms.Name}})
}
