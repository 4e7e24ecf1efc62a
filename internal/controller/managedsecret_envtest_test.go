package controller

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/csms"
)

func isNotFound(err error) bool { return errors.Is(err, csms.ErrNotFound) }

// statusFromCloud is the status the contract says a resource shows for sec.
func statusFromCloud(sec *csms.Secret) v1alpha1.ManagedSecretStatus {
	var st v1alpha1.ManagedSecretStatus
	setCloudStatus(&st, sec)
	return st
}

// cloudFields keeps only the fields of status that come from CSMS metadata.
func cloudFields(st v1alpha1.ManagedSecretStatus) v1alpha1.ManagedSecretStatus {
	st.Conditions = nil
	st.ObservedGeneration = 0
	st.CurrentVersionID = ""
	st.ObservedSourceVersion = ""
	st.LastSyncTime = nil
	st.LastUsedTime = nil // reading the value to compare moves it
	return st
}

// TestSeedLikeSecretCreatedStatusEqualsCloud creates the seed document's example (a
// secret "demo…" with a given KMS key and a string value) and checks the cloud secret and
// that every status field equals what CSMS reports.
func TestSeedLikeSecretCreatedStatusEqualsCloud(t *testing.T) {
	ns := newNamespace(t, nil)
	const value = "this is a demo secret string"
	src := newSource(t, ns, "src", map[string]string{"password": value})
	ms := newManagedSecret(t, ns, "demo", func(m *v1alpha1.ManagedSecret) {
		m.Spec.KMSKeyID = "0d0466b0-e727-4d9c-b35d-f84bb474a37f"
		m.Spec.Description = "description"
		m.Spec.Tags = map[string]string{"team": "payments"}
	})
	key := client.ObjectKeyFromObject(ms)
	got := waitReady(t, key)

	sec := cloudSecretOf(t, ms.Name)
	if sec == nil {
		t.Fatal("cloud secret not created")
	}
	if sec.KmsKeyID != ms.Spec.KMSKeyID || sec.Description != "description" || sec.SecretType != "COMMON" || sec.State != "ENABLED" {
		t.Errorf("cloud secret = %+v", sec)
	}
	if v, vid := cloudValue(t, ms.Name); v != value || vid != "v1" {
		t.Errorf("cloud value matches=%v version %q", v == value, vid)
	}
	wantTags := map[string]string{"team": "payments", "managed-by": "csms-operator",
		"csms-operator-owner": ms.Namespace + "/" + ms.Name + "/" + string(got.UID)}
	if diff := cmp.Diff(wantTags, cloudTags(t, sec.ID)); diff != "" {
		t.Errorf("cloud tags (-want +got):\n%s", diff)
	}

	// Status equals the cloud, field by field (read again after the secret settled).
	sec = cloudSecretOf(t, ms.Name)
	if diff := cmp.Diff(cloudFields(statusFromCloud(sec)), cloudFields(got.Status)); diff != "" {
		t.Errorf("status differs from the cloud (-cloud +status):\n%s", diff)
	}
	if got.Status.SecretID == "" || got.Status.DomainID == "" || got.Status.CreateTime == nil || got.Status.ReplicaType != "STANDALONE" {
		t.Errorf("status misses cloud fields: %+v", got.Status)
	}
	if got.Status.CurrentVersionID != "v1" || got.Status.ObservedSourceVersion != src.ResourceVersion ||
		got.Status.ObservedGeneration != got.Generation || got.Status.LastSyncTime == nil {
		t.Errorf("status bookkeeping: version %q source %q/%q gen %d/%d sync %v", got.Status.CurrentVersionID,
			got.Status.ObservedSourceVersion, src.ResourceVersion, got.Status.ObservedGeneration, got.Generation, got.Status.LastSyncTime)
	}
	if _, marked := got.Annotations[v1alpha1.AnnotationCreatePending]; marked {
		t.Errorf("the create-pending mark is still on the resource")
	}
	waitEvent(t, got, EventCreated)
	c := got.GetCondition(v1alpha1.ConditionTypeReady)
	if c.ObservedGeneration != got.Generation {
		t.Errorf("Ready observedGeneration %d, generation %d", c.ObservedGeneration, got.Generation)
	}
	_ = metav1.Now
	_ = time.Second
	_ = context.Background
}
