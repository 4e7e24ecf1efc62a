package controller

import (
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
)

// Interning the strings that repeat across cached ManagedSecrets.
//
// The informer decodes every object on its own, so each of 10,000 cached ManagedSecrets
// carries its own copy of "Ready", "True", its namespace, its finalizer, its provider
// config's name, its project's domain ID and KMS key, and so on. Strings never change, so
// cached objects can share one copy of each: the cache transform swaps every such field
// for the first copy seen (docs/performance.md, "Memory"). Only fields whose values come
// from a small set are interned: names, IDs and messages that differ per resource would
// only fill the table.

// maxInterned bounds the table; once full, new strings are kept as they are.
const maxInterned = 4096

// maxInternedLen keeps long strings (which rarely repeat) out of the table.
const maxInternedLen = 128

type interner struct {
	mu sync.Mutex
	m  map[string]string
}

// cacheStrings is the process's table, shared by the informers' transforms.
var cacheStrings = &interner{m: map[string]string{}}

// str returns the table's copy of s, adding s when there is room.
func (in *interner) str(s string) string {
	if s == "" || len(s) > maxInternedLen {
		return s
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if c, ok := in.m[s]; ok {
		return c
	}
	if len(in.m) < maxInterned {
		in.m[s] = s
	}
	return s
}

// internManagedSecret swaps the repeating string fields of a freshly decoded
// ManagedSecret (not shared with anyone yet) for the table's copies.
func (in *interner) internManagedSecret(ms *v1alpha1.ManagedSecret) {
	ms.Namespace = in.str(ms.Namespace)
	for i := range ms.Finalizers {
		ms.Finalizers[i] = in.str(ms.Finalizers[i])
	}

	sp := &ms.Spec
	sp.ProviderConfigRef.Kind = v1alpha1.ProviderConfigKind(in.str(string(sp.ProviderConfigRef.Kind)))
	sp.ProviderConfigRef.Name = in.str(sp.ProviderConfigRef.Name)
	sp.SecretType = v1alpha1.SecretType(in.str(string(sp.SecretType)))
	sp.KMSKeyID = in.str(sp.KMSKeyID)
	sp.EnterpriseProjectID = in.str(sp.EnterpriseProjectID)
	sp.DeletionPolicy = v1alpha1.DeletionPolicy(in.str(string(sp.DeletionPolicy)))
	sp.AdoptionPolicy = v1alpha1.AdoptionPolicy(in.str(string(sp.AdoptionPolicy)))
	sp.ManagementPolicy = v1alpha1.ManagementPolicy(in.str(string(sp.ManagementPolicy)))
	if v := sp.Value; v != nil {
		for _, ref := range []*v1alpha1.SecretKeySelector{v.SecretKeyRef, v.BinarySecretKeyRef} {
			if ref != nil {
				ref.Key = in.str(ref.Key)
			}
		}
	}
	for i := range sp.Replicas {
		r := &sp.Replicas[i]
		r.Region, r.ProjectID, r.KMSKeyID = in.str(r.Region), in.str(r.ProjectID), in.str(r.KMSKeyID)
	}

	st := &ms.Status
	for i := range st.Conditions {
		c := &st.Conditions[i]
		c.Type = in.str(c.Type)
		c.Status = metav1.ConditionStatus(in.str(string(c.Status)))
		c.Reason = in.str(c.Reason)
	}
	st.State = v1alpha1.SecretState(in.str(string(st.State)))
	st.KMSKeyID = in.str(st.KMSKeyID)
	st.SecretType = v1alpha1.SecretType(in.str(string(st.SecretType)))
	st.DomainID = in.str(st.DomainID)
	st.EnterpriseProjectID = in.str(st.EnterpriseProjectID)
	st.RotationPeriod = in.str(st.RotationPeriod)
	st.CurrentVersionID = in.str(st.CurrentVersionID)
	st.ReplicaType = v1alpha1.ReplicaType(in.str(string(st.ReplicaType)))
	for i := range st.Replicas {
		r := &st.Replicas[i]
		r.Region, r.ProjectID, r.KMSKeyID = in.str(r.Region), in.str(r.ProjectID), in.str(r.KMSKeyID)
		r.ReplicaType = v1alpha1.ReplicaType(in.str(string(r.ReplicaType)))
		r.Status = v1alpha1.ReplicaSyncStatus(in.str(string(r.Status)))
	}
	if t := st.Target; t != nil {
		t.VersionID = in.str(t.VersionID)
		t.RestartedVersionID = in.str(t.RestartedVersionID)
	}
}
