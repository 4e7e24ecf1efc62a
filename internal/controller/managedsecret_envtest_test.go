package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
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

// preCreate creates a cloud secret directly (as someone else would), with tags.
func preCreate(t *testing.T, name, value string, tags map[string]string) *csms.Secret {
	t.Helper()
	sec, err := cloud.CreateSecret(context.Background(), csms.CreateSecretInput{Name: name, Value: csms.StringValue(value), Description: "someone else's"})
	if err != nil {
		t.Fatalf("pre-creating %s: %v", name, err)
	}
	if len(tags) > 0 {
		if err := cloud.UpdateTags(context.Background(), sec.ID, tags, nil); err != nil {
			t.Fatalf("tagging %s: %v", name, err)
		}
	}
	return sec
}

// TestPreExistingUnownedSecretAlreadyExists: a secret of that name created by someone
// else is reported, and nothing in the cloud is touched, not even by later resyncs.
func TestPreExistingUnownedSecretAlreadyExists(t *testing.T) {
	ns := newNamespace(t, nil)
	newSource(t, ns, "src", map[string]string{"password": "mine"})
	name := "foreign-" + randSuffix()
	pre := preCreate(t, name, "theirs", map[string]string{"owner": "someone"})
	writesBefore := writeCount()

	ms := newManagedSecret(t, ns, "foreign", func(m *v1alpha1.ManagedSecret) { m.Spec.Name = name })
	key := client.ObjectKeyFromObject(ms)
	got := waitCondition(t, key, v1alpha1.ConditionTypeReady, metav1.ConditionFalse, v1alpha1.ReasonAlreadyExists)
	waitCondition(t, key, v1alpha1.ConditionTypeSynced, metav1.ConditionFalse, v1alpha1.ReasonAlreadyExists)
	if c := got.GetCondition(v1alpha1.ConditionTypeReady); !strings.Contains(c.Message, "adoptionPolicy: Adopt") {
		t.Errorf("message %q does not say how to proceed", c.Message)
	}
	waitEvent(t, got, EventAlreadyExists)

	// No hot loop: a few seconds later the resource has been read only a handful of times.
	shows := opCount("ShowSecret")
	time.Sleep(3 * time.Second)
	if n := opCount("ShowSecret") - shows; n > 2 {
		t.Errorf("%d reads in 3s of a resource waiting for the user: hot loop", n)
	}
	if n := writeCount() - writesBefore; n != 0 {
		t.Errorf("%d cloud writes for a secret the resource does not own", n)
	}
	if v, vid := cloudValue(t, name); v != "theirs" || vid != "v1" {
		t.Errorf("the foreign value changed (version %s)", vid)
	}
	if diff := cmp.Diff(map[string]string{"owner": "someone"}, cloudTags(t, pre.ID)); diff != "" {
		t.Errorf("foreign tags changed (-want +got):\n%s", diff)
	}
	if got.Status.SecretID != "" {
		t.Errorf("status shows the foreign secret %q", got.Status.SecretID)
	}

	// Deleting the resource never deletes someone else's secret.
	deleteAndWait(t, key)
	if sec := cloudSecretOf(t, name); sec == nil || sec.State != csms.StateEnabled {
		t.Errorf("the foreign secret was deleted: %+v", sec)
	}
}

// TestAdoptTakesOverWithEvent: adoptionPolicy Adopt tags an existing secret as ours,
// emits Adopted, and from then on manages it.
func TestAdoptTakesOverWithEvent(t *testing.T) {
	ns := newNamespace(t, nil)
	newSource(t, ns, "src", map[string]string{"password": "adopted-value"})
	name := "adopt-" + randSuffix()
	pre := preCreate(t, name, "old-value", map[string]string{"legacy": "x"})

	ms := newManagedSecret(t, ns, "adopt", func(m *v1alpha1.ManagedSecret) {
		m.Spec.Name = name
		m.Spec.AdoptionPolicy = v1alpha1.AdoptionPolicyAdopt
		m.Spec.Description = "now managed"
	})
	key := client.ObjectKeyFromObject(ms)
	got := waitReady(t, key)
	waitEvent(t, got, EventAdopted)
	if got.Status.SecretID != pre.ID {
		t.Errorf("status.secretID %q, want the adopted %q", got.Status.SecretID, pre.ID)
	}
	want := map[string]string{"managed-by": "csms-operator", "csms-operator-owner": ms.Namespace + "/" + ms.Name + "/" + string(got.UID)}
	if diff := cmp.Diff(want, cloudTags(t, pre.ID)); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
	eventually(t, "the source value pushed", func() (bool, string) {
		v, vid := cloudValue(t, name)
		return v == "adopted-value" && vid == "v2", vid
	})
	if sec := cloudSecretOf(t, name); sec.Description != "now managed" {
		t.Errorf("description %q", sec.Description)
	}
}

// TestDeletePolicySchedulesDeletionWithWindow: deletionPolicy Delete with a recovery
// window leaves the secret PENDING_DELETE with that window.
func TestDeletePolicySchedulesDeletionWithWindow(t *testing.T) {
	ns := newNamespace(t, nil)
	newSource(t, ns, "src", map[string]string{"password": "v"})
	ms := newManagedSecret(t, ns, "sched", func(m *v1alpha1.ManagedSecret) { m.Spec.RecoveryWindowDays = ptrInt32(7) })
	key := client.ObjectKeyFromObject(ms)
	waitReady(t, key)

	before := time.Now()
	deleteAndWait(t, key)
	sec := cloudSecretOf(t, ms.Name)
	if sec == nil || sec.State != csms.StatePendingDelete {
		t.Fatalf("cloud secret after delete: %+v", sec)
	}
	window := sec.ScheduledDeleteTime.Sub(before)
	if window < 7*24*time.Hour-time.Minute || window > 7*24*time.Hour+time.Minute {
		t.Errorf("scheduled deletion in %v, want 7 days", window)
	}
}

// TestDeleteRecoveryWindowZeroDeletesAtOnce: recoveryWindowDays 0 deletes immediately.
func TestDeleteRecoveryWindowZeroDeletesAtOnce(t *testing.T) {
	ns := newNamespace(t, nil)
	newSource(t, ns, "src", map[string]string{"password": "v"})
	ms := newManagedSecret(t, ns, "now", func(m *v1alpha1.ManagedSecret) { m.Spec.RecoveryWindowDays = ptrInt32(0) })
	key := client.ObjectKeyFromObject(ms)
	waitReady(t, key)
	deleteAndWait(t, key)
	if sec := cloudSecretOf(t, ms.Name); sec != nil {
		t.Errorf("cloud secret still exists: %+v", sec)
	}
}

// TestRetainLeavesCloudSecretUntouched: deletionPolicy Retain removes only the resource.
func TestRetainLeavesCloudSecretUntouched(t *testing.T) {
	ns := newNamespace(t, nil)
	newSource(t, ns, "src", map[string]string{"password": "kept"})
	ms := newManagedSecret(t, ns, "retain", func(m *v1alpha1.ManagedSecret) { m.Spec.DeletionPolicy = v1alpha1.DeletionPolicyRetain })
	key := client.ObjectKeyFromObject(ms)
	waitReady(t, key)
	writesBefore := writeCount()
	deleteAndWait(t, key)
	sec := cloudSecretOf(t, ms.Name)
	if sec == nil || sec.State != csms.StateEnabled {
		t.Fatalf("cloud secret after delete with Retain: %+v", sec)
	}
	if v, _ := cloudValue(t, ms.Name); v != "kept" {
		t.Errorf("value changed")
	}
	if n := writeCount() - writesBefore; n != 0 {
		t.Errorf("%d cloud writes during a Retain deletion", n)
	}
}

// TestRecreatedWhilePendingDeletionIsRestored: deleting a resource schedules deletion;
// re-creating a resource of the same namespace/name restores the secret (Restored event)
// instead of failing on the blocked name.
func TestRecreatedWhilePendingDeletionIsRestored(t *testing.T) {
	ns := newNamespace(t, nil)
	newSource(t, ns, "src", map[string]string{"password": "v"})
	ms := newManagedSecret(t, ns, "again", nil)
	key := client.ObjectKeyFromObject(ms)
	first := waitReady(t, key)
	deleteAndWait(t, key)
	if sec := cloudSecretOf(t, ms.Name); sec == nil || sec.State != csms.StatePendingDelete {
		t.Fatalf("not pending deletion: %+v", sec)
	}

	again := &v1alpha1.ManagedSecret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: ms.Name}}
	again.Spec.Value.SecretKeyRef = &v1alpha1.SecretKeySelector{Name: "src", Key: "password"}
	if err := k8sClient.Create(context.Background(), again); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteAndWait(t, key) })
	got := waitReady(t, key)
	waitEvent(t, got, EventRestored)
	sec := cloudSecretOf(t, ms.Name)
	if sec.State != csms.StateEnabled || sec.ID != first.Status.SecretID {
		t.Errorf("cloud secret %+v; want the original %s ENABLED", sec, first.Status.SecretID)
	}
	// The owner tag now names the new resource.
	if owner := cloudTags(t, sec.ID)["csms-operator-owner"]; !strings.HasSuffix(owner, string(got.UID)) {
		t.Errorf("owner tag %q does not carry the new UID %s", owner, got.UID)
	}
}
