package controller

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
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
}

// TestSourceChangeCreatesExactlyOneVersion changes the source Secret and expects the new
// value in CSMS within seconds (watch, not resync), as exactly one new version.
func TestSourceChangeCreatesExactlyOneVersion(t *testing.T) {
	ns := newNamespace(t, nil)
	newSource(t, ns, "src", map[string]string{"password": "first"})
	ms := newManagedSecret(t, ns, "change", nil)
	key := client.ObjectKeyFromObject(ms)
	waitReady(t, key)
	versionsBefore := opCount("CreateSecretVersion")

	start := time.Now()
	setSourceData(t, ns, "src", "password", "second")
	eventually(t, "the new value in CSMS", func() (bool, string) {
		v, vid := cloudValue(t, ms.Name)
		return v == "second" && vid == "v2", "version " + vid
	})
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("the change took %v to reach CSMS; the resync interval, not the watch, carried it", d)
	}
	var got *v1alpha1.ManagedSecret
	eventually(t, "status with v2", func() (bool, string) {
		got = getMS(t, key)
		return got.Status.CurrentVersionID == "v2", "currentVersionID " + got.Status.CurrentVersionID
	})
	src := &corev1.Secret{}
	if err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "src"}, src); err != nil {
		t.Fatal(err)
	}
	if got.Status.ObservedSourceVersion != src.ResourceVersion {
		t.Errorf("observedSourceVersion %q, source at %q", got.Status.ObservedSourceVersion, src.ResourceVersion)
	}
	waitEvent(t, got, EventVersionCreated)
	// Later passes (the status patch, the event) must not add versions.
	time.Sleep(3 * time.Second)
	if n := opCount("CreateSecretVersion") - versionsBefore; n != 1 {
		t.Errorf("CreateSecretVersion called %d times, want exactly 1", n)
	}
	if _, vid := cloudValue(t, ms.Name); vid != "v2" {
		t.Errorf("current version %q, want v2", vid)
	}
}

// TestNoNewVersionOnResyncLabelChangeOrUnrelatedSecret: forced resyncs, a label change of
// the source (which moves its resourceVersion) and changes of an unrelated Secret create
// no version.
func TestNoNewVersionOnResyncLabelChangeOrUnrelatedSecret(t *testing.T) {
	ns := newNamespace(t, nil)
	newSource(t, ns, "src", map[string]string{"password": "stable"})
	newSource(t, ns, "unrelated", map[string]string{"password": "x"})
	ms := newManagedSecret(t, ns, "stable", nil)
	key := client.ObjectKeyFromObject(ms)
	waitReady(t, key)
	versionsBefore := opCount("CreateSecretVersion")

	// Forced resyncs.
	for i := range 3 {
		shows := opCount("ShowSecret")
		updateMS(t, key, func(m *v1alpha1.ManagedSecret) {
			if m.Annotations == nil {
				m.Annotations = map[string]string{}
			}
			m.Annotations["test/resync"] = fmt.Sprint(i)
		})
		eventually(t, "a resync", func() (bool, string) { return opCount("ShowSecret") > shows, "" })
	}
	// A label change of the source.
	src := &corev1.Secret{}
	if err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "src"}, src); err != nil {
		t.Fatal(err)
	}
	src.Labels = map[string]string{"touched": "yes"}
	if err := k8sClient.Update(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the label change processed", func() (bool, string) {
		got := getMS(t, key)
		return got.Status.ObservedSourceVersion == src.ResourceVersion, got.Status.ObservedSourceVersion + " vs " + src.ResourceVersion
	})
	// An unrelated Secret.
	setSourceData(t, ns, "unrelated", "password", "y")
	time.Sleep(2 * time.Second)

	if n := opCount("CreateSecretVersion") - versionsBefore; n != 0 {
		t.Errorf("CreateSecretVersion called %d times, want 0", n)
	}
	if _, vid := cloudValue(t, ms.Name); vid != "v1" {
		t.Errorf("current version %q, want v1", vid)
	}
	for _, r := range eventReasons(t, getMS(t, key)) {
		if r == EventVersionCreated {
			t.Errorf("a VersionCreated event was emitted")
		}
	}
}

// TestSpecChangesReachCloud changes description, rotation, KMS key and event subscription
// at once: one UpdateSecret carries them all.
func TestSpecChangesReachCloud(t *testing.T) {
	ns := newNamespace(t, nil)
	newSource(t, ns, "src", map[string]string{"password": "v"})
	ms := newManagedSecret(t, ns, "spec", func(m *v1alpha1.ManagedSecret) { m.Spec.Description = "before" })
	key := client.ObjectKeyFromObject(ms)
	waitReady(t, key)
	updatesBefore := opCount("UpdateSecret")

	const newKey = "1d0466b0-e727-4d9c-b35d-f84bb474a37f"
	updateMS(t, key, func(m *v1alpha1.ManagedSecret) {
		m.Spec.Description = "after"
		m.Spec.KMSKeyID = newKey
		m.Spec.Rotation = &v1alpha1.RotationSpec{Enabled: true, Period: "30d", FunctionURN: "urn:fss:cn-north-4:0123:function:default:rotate"}
		m.Spec.EventSubscriptions = []string{"ev-1"}
	})
	got := waitReady(t, key)
	sec := cloudSecretOf(t, ms.Name)
	if sec.Description != "after" || sec.KmsKeyID != newKey || !sec.AutoRotation || sec.RotationPeriod != "30d" ||
		sec.RotationFuncURN != "urn:fss:cn-north-4:0123:function:default:rotate" || !cmp.Equal(sec.EventSubscriptions, []string{"ev-1"}) {
		t.Errorf("cloud secret = %+v", sec)
	}
	if n := opCount("UpdateSecret") - updatesBefore; n != 1 {
		t.Errorf("UpdateSecret called %d times, want 1", n)
	}
	if !got.Status.AutoRotation || got.Status.RotationPeriod != "30d" || got.Status.KMSKeyID != newKey || got.Status.NextRotationTime == nil {
		t.Errorf("status = %+v", got.Status)
	}
	waitEvent(t, got, EventUpdated)

	// Turning rotation off and removing the subscription also reaches the cloud.
	updateMS(t, key, func(m *v1alpha1.ManagedSecret) {
		m.Spec.Rotation.Enabled = false
		m.Spec.EventSubscriptions = nil
	})
	waitReady(t, key)
	sec = cloudSecretOf(t, ms.Name)
	if sec.AutoRotation || len(sec.EventSubscriptions) != 0 {
		t.Errorf("after disabling: autoRotation %v subscriptions %v", sec.AutoRotation, sec.EventSubscriptions)
	}
}

// TestTagChanges changes spec.tags: the cloud holds exactly spec.tags plus the ownership
// tags.
func TestTagChanges(t *testing.T) {
	ns := newNamespace(t, nil)
	newSource(t, ns, "src", map[string]string{"password": "v"})
	ms := newManagedSecret(t, ns, "tags", func(m *v1alpha1.ManagedSecret) { m.Spec.Tags = map[string]string{"a": "1", "b": "2"} })
	key := client.ObjectKeyFromObject(ms)
	got := waitReady(t, key)
	owner := ms.Namespace + "/" + ms.Name + "/" + string(got.UID)

	updateMS(t, key, func(m *v1alpha1.ManagedSecret) { m.Spec.Tags = map[string]string{"a": "9", "c": "3"} })
	got = waitReady(t, key)
	want := map[string]string{"a": "9", "c": "3", "managed-by": "csms-operator", "csms-operator-owner": owner}
	if diff := cmp.Diff(want, cloudTags(t, got.Status.SecretID)); diff != "" {
		t.Errorf("cloud tags (-want +got):\n%s", diff)
	}
	waitEvent(t, got, EventTagsUpdated)
}
