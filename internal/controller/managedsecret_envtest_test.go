package controller

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/csms"
	"github.com/csms-operator/csms-operator/internal/emulator"
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
	st.ObservedSource = ""
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
	if got.Status.Name != got.CSMSName() || got.Status.SecretID == "" || got.Status.DomainID == "" || got.Status.CreateTime == nil || got.Status.ReplicaType != "STANDALONE" {
		t.Errorf("status misses cloud fields: %+v", got.Status)
	}
	if got.Status.CurrentVersionID != "v1" || got.Status.ObservedSourceVersion != src.ResourceVersion ||
		got.Status.ObservedSource != "secretKeyRef:"+src.Name+"/password" ||
		got.Status.ObservedGeneration != got.Generation {
		t.Errorf("status bookkeeping: version %q source %q/%q gen %d/%d", got.Status.CurrentVersionID,
			got.Status.ObservedSourceVersion, src.ResourceVersion, got.Status.ObservedGeneration, got.Generation)
	}
	if got.Status.CreatePending {
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
		forceResync(t, key, i)
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
	// The resource never created anything, so each pass tries CreateSecret, which CSMS
	// refuses (the name is taken): refused calls change nothing; none may be carried out.
	writesBefore := appliedWriteCount()

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
	if n := appliedWriteCount() - writesBefore; n != 0 {
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
	waitEvent(t, ms, EventDeletionScheduled)
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
	waitEvent(t, ms, EventDeleted)
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
	again.Spec.Value = &v1alpha1.SecretValueSource{SecretKeyRef: &v1alpha1.SecretKeySelector{Name: "src", Key: "password"}}
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

// TestCanaryValueAbsentFromLogsEventsStatus pushes canary values through every source
// kind and a source change, then searches the manager's log, the events and the status.
func TestCanaryValueAbsentFromLogsEventsStatus(t *testing.T) {
	ns := newNamespace(t, nil)
	canary1 := "CANARY-one-" + randSuffix()
	canary2 := "CANARY-two-" + randSuffix()
	canaryBin := "CANARY-bin-" + randSuffix()
	newSource(t, ns, "src", map[string]string{"password": canary1, "bin": canaryBin})
	// Every value also goes through a target Secret, the one place it may be written.
	one := newManagedSecret(t, ns, "canary", withTarget("canary-out"))
	whole := newManagedSecret(t, ns, "canary-whole", func(m *v1alpha1.ManagedSecret) {
		m.Spec.Value = &v1alpha1.SecretValueSource{SecretRef: &v1alpha1.LocalSecretReference{Name: "src"}}
		m.Spec.Target = &v1alpha1.SecretTarget{Name: "canary-whole-out", Template: &v1alpha1.TargetTemplate{
			Data: map[string]string{"url": "db://{{ .JSON.password }}", "bad": "{{ .JSON.password | b64enc }}"}}}
	})
	bin := newManagedSecret(t, ns, "canary-bin", func(m *v1alpha1.ManagedSecret) {
		m.Spec.Value = &v1alpha1.SecretValueSource{BinarySecretKeyRef: &v1alpha1.SecretKeySelector{Name: "src", Key: "bin"}}
		withTarget("canary-bin-out")(m)
	})
	gen := newManagedSecret(t, ns, "canary-gen", func(m *v1alpha1.ManagedSecret) {
		m.Spec.Value = &v1alpha1.SecretValueSource{Generate: &v1alpha1.GenerateSpec{Length: 40}}
		withTarget("canary-gen-out")(m)
	})
	all := []*v1alpha1.ManagedSecret{one, whole, bin, gen}
	for _, ms := range all {
		waitReady(t, client.ObjectKeyFromObject(ms))
	}
	setSourceData(t, ns, "src", "password", canary2)
	eventually(t, "the changed canary in CSMS", func() (bool, string) {
		v, vid := cloudValue(t, one.Name)
		return v == canary2, vid
	})
	// The binary source key did not change, so its secret got no new version.
	if got := getMS(t, client.ObjectKeyFromObject(bin)); got.Status.CurrentVersionID != "v1" {
		t.Errorf("binary secret at version %q after an unrelated key changed, want v1", got.Status.CurrentVersionID)
	}
	generated, _ := cloudValue(t, gen.Name)
	if len(generated) != 40 {
		t.Fatalf("generated value has %d characters, want 40", len(generated))
	}
	eventually(t, "the whole Secret as a JSON object", func() (bool, string) {
		v, vid := cloudValue(t, whole.Name)
		return v == `{"bin":"`+canaryBin+`","password":"`+canary2+`"}`, vid
	})
	binValue, _, err := cloud.GetCurrentValue(context.Background(), bin.Name)
	if b, ok := binValue.Binary(); err != nil || !ok || string(b) != canaryBin {
		t.Errorf("binary secret: err %v, binary %v, matches %v", err, ok, string(b) == canaryBin)
	}
	// Let the follow-up passes run and log.
	for _, ms := range all {
		eventually(t, "settled after the change", func() (bool, string) {
			got := getMS(t, client.ObjectKeyFromObject(ms))
			c := got.GetCondition(v1alpha1.ConditionTypeSynced)
			return c != nil && c.Status == metav1.ConditionTrue, fmt.Sprint(c)
		})
	}

	waitTarget(t, ns, "canary-out", "value", canary2)
	waitTarget(t, ns, "canary-whole-out", "url", "db://"+canary2)
	waitTarget(t, ns, "canary-bin-out", "value", canaryBin)
	waitTarget(t, ns, "canary-gen-out", "value", generated)

	secrets := map[string]string{"canary1": canary1, "canary2": canary2, "binary canary": canaryBin, "generated value": generated}
	for what, v := range maps.Clone(secrets) {
		secrets[what+" (base64)"] = base64.StdEncoding.EncodeToString([]byte(v))
	}
	logText := managerLog.String()
	if !strings.Contains(logText, one.Name) {
		t.Fatalf("the captured manager log does not mention %s; is the log captured at all?", one.Name)
	}
	for what, v := range secrets {
		if strings.Contains(logText, v) {
			t.Errorf("the manager log contains the %s", what)
		}
	}
	var l eventsv1.EventList
	if err := k8sClient.List(context.Background(), &l, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if len(l.Items) == 0 {
		t.Fatal("no events recorded")
	}
	for _, e := range l.Items {
		text := e.Note + " " + e.Reason + " " + e.Action
		for what, v := range secrets {
			if strings.Contains(text, v) {
				t.Errorf("event %s contains the %s", e.Reason, what)
			}
		}
	}
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	metricsText := fmt.Sprint(families)
	if !strings.Contains(metricsText, "csms_operator_target_writes_total") {
		t.Fatal("the target metrics are not registered")
	}
	for what, v := range secrets {
		if strings.Contains(metricsText, v) {
			t.Errorf("the metrics contain the %s", what)
		}
	}
	for _, ms := range all {
		b, err := json.Marshal(getMS(t, client.ObjectKeyFromObject(ms)))
		if err != nil {
			t.Fatal(err)
		}
		for what, v := range secrets {
			if strings.Contains(string(b), v) {
				t.Errorf("%s contains the %s", ms.Name, what)
			}
		}
	}
}

// TestSettledSecretResyncsMakeNoWrites forces N resyncs of a settled secret: each costs
// exactly one cloud read (ShowSecret), no cloud write and no Kubernetes write.
func TestSettledSecretResyncsMakeNoWrites(t *testing.T) {
	ns := newNamespace(t, nil)
	newSource(t, ns, "src", map[string]string{"password": "v"})
	ms := newManagedSecret(t, ns, "settled", nil)
	key := client.ObjectKeyFromObject(ms)
	waitReady(t, key)
	// Let the passes triggered by creation (mark removal, status) finish.
	time.Sleep(2 * time.Second)

	total := func() int {
		n := 0
		for _, byStatus := range emu.Stats() {
			for _, c := range byStatus {
				n += c
			}
		}
		return n
	}
	const n = 10
	writes, shows, all, statsBefore := writeCount(), opCount("ShowSecret"), total(), emu.Stats()
	var rv string
	for i := range n {
		rv = forceResync(t, key, i)
		eventually(t, fmt.Sprintf("resync %d", i), func() (bool, string) {
			return opCount("ShowSecret") >= shows+i+1, ""
		})
	}
	time.Sleep(time.Second)
	// The last annotation is the last write: the passes wrote no status.
	if got := getMS(t, key); got.ResourceVersion != rv {
		t.Errorf("resourceVersion moved from %s to %s after a steady resync: the pass wrote to the ManagedSecret", rv, got.ResourceVersion)
	}
	if d := writeCount() - writes; d != 0 {
		t.Errorf("%d cloud writes during %d resyncs of a settled secret, want 0", d, n)
	}
	reads := opCount("ShowSecret") - shows
	if reads < n || reads > n+1 {
		t.Errorf("%d ShowSecret calls for %d resyncs, want one each", reads, n)
	}
	if other := total() - all - reads; other != 0 {
		t.Errorf("%d cloud calls besides ShowSecret during resyncs, want 0; before %v after %v", other, statsBefore, emu.Stats())
	}
	waitReady(t, key)
}

// TestRefusedSpecInvalidSpecNoHotLoop: a replica in the primary region passes the schema
// but CSMS refuses it: InvalidSpec, and no retry storm.
func TestRefusedSpecInvalidSpecNoHotLoop(t *testing.T) {
	ns := newNamespace(t, nil)
	newSource(t, ns, "src", map[string]string{"password": "v"})
	ms := newManagedSecret(t, ns, "refused", func(m *v1alpha1.ManagedSecret) {
		m.Spec.Replicas = []v1alpha1.ReplicaSpec{{Region: emuRegion, ProjectID: emuProjectID}}
	})
	key := client.ObjectKeyFromObject(ms)
	got := waitCondition(t, key, v1alpha1.ConditionTypeReady, metav1.ConditionFalse, v1alpha1.ReasonInvalidSpec)
	waitCondition(t, key, v1alpha1.ConditionTypeSynced, metav1.ConditionFalse, v1alpha1.ReasonInvalidSpec)
	c := got.GetCondition(v1alpha1.ConditionTypeSynced)
	if !strings.Contains(c.Message, emuRegion) || !strings.Contains(c.Message, "CSMS.0002") || strings.Contains(c.Message, "request id") {
		t.Errorf("message %q should name the region and the CSMS code, without a request id", c.Message)
	}
	attempts := opCount("CreateSecretReplica")
	time.Sleep(5 * time.Second)
	// One more pass may happen (e.g. a watch event); a retry loop would make many.
	if d := opCount("CreateSecretReplica") - attempts; d > 1 {
		t.Errorf("%d more CreateSecretReplica attempts in 5s: hot loop", d)
	}
	if got.Status.SecretID == "" {
		t.Errorf("status lost the created secret's ID")
	}
	// Fixing the spec is not possible for replicas (they cannot be removed), so delete it.
}

// TestReplicaInProgressThenInSync: a replica in a served region shows IN_PROGRESS
// (Ready=False ReplicasSyncing) and then IN_SYNC (Ready=True).
func TestReplicaInProgressThenInSync(t *testing.T) {
	ns := newNamespace(t, nil)
	newSource(t, ns, "src", map[string]string{"password": "v"})
	ms := newManagedSecret(t, ns, "replica", func(m *v1alpha1.ManagedSecret) {
		m.Spec.Replicas = []v1alpha1.ReplicaSpec{{Region: replicaRegion, ProjectID: replicaProject}}
	})
	key := client.ObjectKeyFromObject(ms)
	got := waitCondition(t, key, v1alpha1.ConditionTypeReady, metav1.ConditionFalse, v1alpha1.ReasonReplicasSyncing)
	if len(got.Status.Replicas) != 1 || got.Status.Replicas[0].Status != v1alpha1.ReplicaSyncInProgress || got.Status.Replicas[0].Region != replicaRegion {
		t.Errorf("replicas while syncing = %+v", got.Status.Replicas)
	}
	got = waitReady(t, key)
	if len(got.Status.Replicas) != 1 || got.Status.Replicas[0].Status != v1alpha1.ReplicaSyncInSync || got.Status.ReplicaType != v1alpha1.ReplicaTypePrimary {
		t.Errorf("replicas after sync = %+v type %s", got.Status.Replicas, got.Status.ReplicaType)
	}
	waitEvent(t, got, EventReplicaCreated)
	if n := opCount("CreateSecretReplica"); n == 0 {
		t.Errorf("no CreateSecretReplica call")
	}
}

// TestReplicaUnknownRegionReplicaFailed: a replica in a region CSMS does not serve fails;
// the reason is ReplicaFailed and the message names the region.
func TestReplicaUnknownRegionReplicaFailed(t *testing.T) {
	ns := newNamespace(t, nil)
	newSource(t, ns, "src", map[string]string{"password": "v"})
	ms := newManagedSecret(t, ns, "badregion", func(m *v1alpha1.ManagedSecret) {
		m.Spec.Replicas = []v1alpha1.ReplicaSpec{{Region: "xx-nowhere-9", ProjectID: replicaProject}}
	})
	key := client.ObjectKeyFromObject(ms)
	got := waitCondition(t, key, v1alpha1.ConditionTypeReady, metav1.ConditionFalse, v1alpha1.ReasonReplicaFailed)
	if c := got.GetCondition(v1alpha1.ConditionTypeReady); !strings.Contains(c.Message, "xx-nowhere-9") {
		t.Errorf("message %q does not name the region", c.Message)
	}
	if len(got.Status.Replicas) != 1 || got.Status.Replicas[0].Status != v1alpha1.ReplicaSyncFailed {
		t.Errorf("replicas = %+v", got.Status.Replicas)
	}
}

// TestCrashBetweenCreateAndTaggingNoDuplicate reproduces the state a crash between
// CreateSecret and tagging leaves: the cloud secret exists untagged and the resource
// carries the create-pending mark. The operator recognises it as its own, tags it, removes
// the mark, and creates nothing twice.
func TestCrashBetweenCreateAndTaggingNoDuplicate(t *testing.T) {
	ns := newNamespace(t, nil)
	newSource(t, ns, "src", map[string]string{"password": "crash-value"})
	name := "crash-" + randSuffix()
	pre := preCreate(t, name, "crash-value", nil)
	creates, versions := opCount("CreateSecret"), opCount("CreateSecretVersion")

	// The crash is staged: the resource waits for a provider config that does not exist
	// yet, the mark is written as the operator writes it (status, which tenants cannot
	// write), and then the config appears.
	cpc := "crash-" + randSuffix()
	// Registered first, so it runs after the resource's deletion, which needs the config.
	t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), clusterProviderConfig(cpc, emuURL, nil, nil)) })
	ms := newManagedSecret(t, ns, "crash", func(m *v1alpha1.ManagedSecret) {
		m.Spec.Name = name
		m.Spec.ProviderConfigRef = v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindCluster, Name: cpc}
	})
	key := client.ObjectKeyFromObject(ms)
	waitCondition(t, key, v1alpha1.ConditionTypeReady, metav1.ConditionFalse, v1alpha1.ReasonProviderConfigNotReady)
	marked := getMS(t, key)
	base := marked.DeepCopy()
	marked.Status.CreatePending = true
	if err := k8sClient.Status().Patch(context.Background(), marked, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
	if err := k8sClient.Create(context.Background(), clusterProviderConfig(cpc, emuURL, nil, nil)); err != nil {
		t.Fatal(err)
	}
	got := waitReady(t, key)
	if got.Status.SecretID != pre.ID {
		t.Errorf("status.secretID %q, want %q", got.Status.SecretID, pre.ID)
	}
	if got.Status.CreatePending {
		t.Errorf("the mark was not cleared")
	}
	tags := cloudTags(t, pre.ID)
	if tags["managed-by"] != "csms-operator" || !strings.HasSuffix(tags["csms-operator-owner"], string(got.UID)) {
		t.Errorf("tags = %v", tags)
	}
	if d := opCount("CreateSecret") - creates; d != 0 {
		t.Errorf("%d CreateSecret calls: duplicate create", d)
	}
	if d := opCount("CreateSecretVersion") - versions; d != 0 {
		t.Errorf("%d new versions for an unchanged value", d)
	} // The old annotation is no mark: a tenant could set it to claim an untagged secret.
	other := "untagged-" + randSuffix()
	foreign := preCreate(t, other, "theirs", nil)
	forged := newManagedSecret(t, ns, "forged", func(m *v1alpha1.ManagedSecret) {
		m.Spec.Name = other
		m.Annotations = map[string]string{"secrets.csms-operator.io/create-pending": "true"}
	})
	waitCondition(t, client.ObjectKeyFromObject(forged), v1alpha1.ConditionTypeReady, metav1.ConditionFalse, v1alpha1.ReasonAlreadyExists)
	if tags := cloudTags(t, foreign.ID); len(tags) != 0 {
		t.Errorf("a forged annotation got the untagged secret tagged: %v", tags)
	}
}

// TestCrashAfterCreateTaggingFailsThenRecovers injects failures into the tag call right
// after CreateSecret succeeded; once they stop, the same secret gets tagged (no second
// create).
func TestCrashAfterCreateTaggingFailsThenRecovers(t *testing.T) {
	ns := newNamespace(t, nil)
	newSource(t, ns, "src", map[string]string{"password": "v"})
	creates := opCount("CreateSecret")
	if err := emu.InjectFault(emulator.Fault{Operation: "BatchCreateOrDeleteTags", Status: 500, ErrorCode: "CSMS.0500", ErrorMsg: "injected"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.ClearFaults)
	ms := newManagedSecret(t, ns, "tagfail", nil)
	key := client.ObjectKeyFromObject(ms)
	eventually(t, "the secret created but untagged", func() (bool, string) {
		sec := cloudSecretOf(t, ms.Name)
		return sec != nil && opCount("BatchCreateOrDeleteTags") > 0, ""
	})
	waitCondition(t, key, v1alpha1.ConditionTypeSynced, metav1.ConditionFalse, v1alpha1.ReasonReconcileError)
	if !getMS(t, key).Status.CreatePending {
		t.Errorf("the create-pending mark is missing while the secret is untagged")
	}
	emu.ClearFaults()
	got := waitReady(t, key)
	if d := opCount("CreateSecret") - creates; d != 1 {
		t.Errorf("%d CreateSecret calls, want 1", d)
	}
	if tags := cloudTags(t, got.Status.SecretID); tags["managed-by"] != "csms-operator" {
		t.Errorf("tags = %v", tags)
	}
}

// TestThrottlingStormConverges: most calls get 429 for a while; the resource still
// converges, and the client's rate limit (rateLimit of the provider config) bounds the
// request rate.
func TestThrottlingStormConverges(t *testing.T) {
	ns := newNamespace(t, nil)
	newSource(t, ns, "src", map[string]string{"password": "v"})
	// A different endpoint spelling gives this config its own limiter.
	endpoint := strings.Replace(emuURL, "127.0.0.1", "localhost", 1)
	cpc := clusterProviderConfig("throttled-"+randSuffix(), endpoint, nil, &v1alpha1.RateLimit{QPS: 5, Burst: 5})
	if err := k8sClient.Create(context.Background(), cpc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), cpc) })

	total := func() int {
		n := 0
		for _, byStatus := range emu.Stats() {
			for _, c := range byStatus {
				n += c
			}
		}
		return n
	}
	// The next 8 calls, whatever they are, are throttled: a storm that cannot fail to
	// happen (a probability could miss a create that now takes only two calls).
	if err := emu.InjectFault(emulator.Fault{Operation: "*", Status: 429, ErrorCode: "APIGW.0308",
		ErrorMsg: "The throttling threshold has been reached: policy user over ratelimit,limit:5,time:1 second", Count: 8}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.ClearFaults)
	start, before, throttled := time.Now(), total(), emu.Stats()
	ms := newManagedSecret(t, ns, "storm", func(m *v1alpha1.ManagedSecret) {
		m.Spec.ProviderConfigRef = v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindCluster, Name: cpc.Name}
		m.Spec.Tags = map[string]string{"t": "1"}
	})
	key := client.ObjectKeyFromObject(ms)
	waitReady(t, key)
	elapsed := time.Since(start)
	requests := total() - before
	emu.ClearFaults()

	got429 := 0
	for op, byStatus := range emu.Stats() {
		got429 += byStatus["429"] - throttled[op]["429"]
	}
	if got429 == 0 {
		t.Fatalf("no request was throttled; the storm did not happen")
	}
	if limit := int(5*elapsed.Seconds()) + 5 + 2; requests > limit {
		t.Errorf("%d requests in %v exceed the rate limit (5/s, burst 5)", requests, elapsed)
	}
	if sec := cloudSecretOf(t, ms.Name); sec == nil {
		t.Errorf("not created")
	}
	if d := opCount("CreateSecret"); d == 0 {
		t.Errorf("no create")
	}
}

// TestProviderConfigOnlyInAnotherNamespace: a ProviderConfig serves only its own
// namespace; a ManagedSecret elsewhere gets a clear condition and creates nothing.
func TestProviderConfigOnlyInAnotherNamespace(t *testing.T) {
	other := newNamespace(t, nil)
	ns := newNamespace(t, nil)
	newSource(t, ns, "src", map[string]string{"password": "v"})
	newSource(t, other, "creds", map[string]string{v1alpha1.CredentialsKeyAccessKeyID: emuAK, v1alpha1.CredentialsKeySecretAccessKey: emuSK})
	pc := &v1alpha1.ProviderConfig{ObjectMeta: metav1.ObjectMeta{Namespace: other, Name: "team"},
		Spec: v1alpha1.ProviderConfigSpec{
			ProviderSettings: v1alpha1.ProviderSettings{Region: emuRegion, ProjectID: emuProjectID, Endpoint: emuURL},
			Credentials:      v1alpha1.ProviderCredentials{Source: v1alpha1.CredentialsSourceSecret, SecretRef: &v1alpha1.LocalSecretReference{Name: "creds"}},
		}}
	if err := k8sClient.Create(context.Background(), pc); err != nil {
		t.Fatal(err)
	}
	creates := opCount("CreateSecret")
	ms := newManagedSecret(t, ns, "wrongns", func(m *v1alpha1.ManagedSecret) {
		m.Spec.ProviderConfigRef = v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindNamespaced, Name: "team"}
	})
	key := client.ObjectKeyFromObject(ms)
	got := waitCondition(t, key, v1alpha1.ConditionTypeSynced, metav1.ConditionFalse, v1alpha1.ReasonProviderConfigNotReady)
	waitCondition(t, key, v1alpha1.ConditionTypeReady, metav1.ConditionFalse, v1alpha1.ReasonProviderConfigNotReady)
	if c := got.GetCondition(v1alpha1.ConditionTypeSynced); !strings.Contains(c.Message, ns) || !strings.Contains(c.Message, "team") {
		t.Errorf("message %q should name the ProviderConfig and the namespace", c.Message)
	}
	time.Sleep(time.Second)
	if d := opCount("CreateSecret") - creates; d != 0 {
		t.Errorf("%d CreateSecret calls", d)
	}
	if sec := cloudSecretOf(t, ms.Name); sec != nil {
		t.Errorf("a cloud secret was created: %+v", sec)
	}

	// The same resource in the ProviderConfig's namespace works.
	newSource(t, other, "src", map[string]string{"password": "v"})
	ok := newManagedSecret(t, other, "rightns", func(m *v1alpha1.ManagedSecret) {
		m.Spec.ProviderConfigRef = v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindNamespaced, Name: "team"}
	})
	waitReady(t, client.ObjectKeyFromObject(ok))
}

// TestClusterProviderConfigSelectorExcludesNamespace: a ClusterProviderConfig whose
// namespaceSelector does not match the namespace is refused with a clear condition.
func TestClusterProviderConfigSelectorExcludesNamespace(t *testing.T) {
	ns := newNamespace(t, map[string]string{"team": "other"})
	newSource(t, ns, "src", map[string]string{"password": "v"})
	cpc := clusterProviderConfig("selective-"+randSuffix(), emuURL,
		&metav1.LabelSelector{MatchLabels: map[string]string{"team": "payments"}}, nil)
	if err := k8sClient.Create(context.Background(), cpc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), cpc) })
	creates := opCount("CreateSecret")
	ms := newManagedSecret(t, ns, "excluded", func(m *v1alpha1.ManagedSecret) {
		m.Spec.ProviderConfigRef = v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindCluster, Name: cpc.Name}
	})
	key := client.ObjectKeyFromObject(ms)
	waitCondition(t, key, v1alpha1.ConditionTypeSynced, metav1.ConditionFalse, v1alpha1.ReasonProviderConfigNotReady)
	waitCondition(t, key, v1alpha1.ConditionTypeReady, metav1.ConditionFalse, v1alpha1.ReasonProviderConfigNotReady)
	// The first pass may run before the manager's cache has the new ClusterProviderConfig
	// ("not found"); its arrival must retrigger the resource (the watch maps it to its
	// users), and the refusal must then name the config and the namespace.
	eventually(t, "a refusal naming the ClusterProviderConfig and the namespace", func() (bool, string) {
		c := getMS(t, key).GetCondition(v1alpha1.ConditionTypeSynced)
		if c == nil {
			return false, "no Synced condition"
		}
		return c.Status == metav1.ConditionFalse && c.Reason == v1alpha1.ReasonProviderConfigNotReady &&
			strings.Contains(c.Message, cpc.Name) && strings.Contains(c.Message, ns), c.Reason + ": " + c.Message
	})
	time.Sleep(time.Second)
	if d := opCount("CreateSecret") - creates; d != 0 {
		t.Errorf("%d CreateSecret calls", d)
	}
	if sec := cloudSecretOf(t, ms.Name); sec != nil {
		t.Errorf("a cloud secret was created: %+v", sec)
	}
}

// TestRotationNotOverwrittenByUnchangedSource: CSMS rotates the value (emulator clock
// moved past the rotation period); the operator shows the new version and does not push
// the unchanged source value back over it.
func TestRotationNotOverwrittenByUnchangedSource(t *testing.T) {
	ns := newNamespace(t, nil)
	newSource(t, ns, "src", map[string]string{"password": "source-value"})
	ms := newManagedSecret(t, ns, "rotating", func(m *v1alpha1.ManagedSecret) {
		m.Spec.Rotation = &v1alpha1.RotationSpec{Enabled: true, Period: "4h", FunctionURN: "urn:fss:cn-north-4:0123:function:default:rotate"}
	})
	key := client.ObjectKeyFromObject(ms)
	got := waitReady(t, key)
	if got.Status.NextRotationTime == nil || got.Status.RotationTime != nil {
		t.Fatalf("before rotation: next %v last %v", got.Status.NextRotationTime, got.Status.RotationTime)
	}
	versions := opCount("CreateSecretVersion")

	emu.SetClockOffset(5 * time.Hour)
	t.Cleanup(func() { emu.SetClockOffset(0) })
	eventually(t, "CSMS rotated the value", func() (bool, string) {
		v, vid := cloudValue(t, ms.Name)
		return v != "source-value" && vid == "v2", vid
	})
	forceResync(t, key, 1)
	eventually(t, "status shows the rotated version", func() (bool, string) {
		got = getMS(t, key)
		return got.Status.CurrentVersionID == "v2" && got.Status.RotationTime != nil, got.Status.CurrentVersionID
	})
	forceResync(t, key, 2)
	time.Sleep(2 * time.Second)
	if v, vid := cloudValue(t, ms.Name); v == "source-value" || vid != "v2" {
		t.Errorf("the rotated value was overwritten (version %s)", vid)
	}
	if d := opCount("CreateSecretVersion") - versions; d != 0 {
		t.Errorf("%d versions pushed over the rotation", d)
	}

	// A real change of the source is still pushed, on top of the rotated version.
	setSourceData(t, ns, "src", "password", "new-source-value")
	eventually(t, "the new source value", func() (bool, string) {
		v, vid := cloudValue(t, ms.Name)
		return v == "new-source-value" && vid == "v3", vid
	})
}

// TestGeneratedValueCreatedOnceAndKept: generate makes a value at creation; resyncs and
// spec changes never replace it.
func TestGeneratedValueCreatedOnceAndKept(t *testing.T) {
	ns := newNamespace(t, nil)
	ms := newManagedSecret(t, ns, "gen", func(m *v1alpha1.ManagedSecret) {
		m.Spec.Value = &v1alpha1.SecretValueSource{Generate: &v1alpha1.GenerateSpec{Length: 24}}
	})
	key := client.ObjectKeyFromObject(ms)
	waitReady(t, key)
	first, vid := cloudValue(t, ms.Name)
	if len(first) != 24 || vid != "v1" {
		t.Fatalf("generated %d characters, version %s", len(first), vid)
	}
	versions := opCount("CreateSecretVersion")
	forceResync(t, key, 1)
	updateMS(t, key, func(m *v1alpha1.ManagedSecret) { m.Spec.Description = "changed" })
	got := waitReady(t, key)
	if got.Status.ObservedSourceVersion != "" {
		t.Errorf("observedSourceVersion %q for a generated value", got.Status.ObservedSourceVersion)
	}
	if v, vid := cloudValue(t, ms.Name); v != first || vid != "v1" {
		t.Errorf("the generated value changed (version %s)", vid)
	}
	if d := opCount("CreateSecretVersion") - versions; d != 0 {
		t.Errorf("%d new versions for a generated value", d)
	}
}

// TestMissingCredentialsDoNotWedgeRetainDeletion: with the credentials Secret gone, a
// Delete-policy deletion waits and says how to proceed; switching to Retain finishes it
// without credentials and leaves the cloud secret alone.
func TestMissingCredentialsDoNotWedgeRetainDeletion(t *testing.T) {
	ns := newNamespace(t, nil)
	newSource(t, ns, "src", map[string]string{"password": "v"})
	credsSecret := "creds-" + randSuffix()
	newSource(t, credsNamespace, credsSecret, map[string]string{v1alpha1.CredentialsKeyAccessKeyID: emuAK, v1alpha1.CredentialsKeySecretAccessKey: emuSK})
	cpc := clusterProviderConfig("lost-"+randSuffix(), emuURL, nil, nil)
	cpc.Spec.Credentials.SecretRef.Name = credsSecret
	if err := k8sClient.Create(context.Background(), cpc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), cpc) })
	ms := newManagedSecret(t, ns, "lostcreds", func(m *v1alpha1.ManagedSecret) {
		m.Spec.ProviderConfigRef = v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindCluster, Name: cpc.Name}
	})
	key := client.ObjectKeyFromObject(ms)
	waitReady(t, key)

	if err := k8sClient.Delete(context.Background(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: credsNamespace, Name: credsSecret}}); err != nil {
		t.Fatal(err)
	}
	if err := k8sClient.Delete(context.Background(), getMS(t, key)); err != nil {
		t.Fatal(err)
	}
	got := waitCondition(t, key, v1alpha1.ConditionTypeSynced, metav1.ConditionFalse, v1alpha1.ReasonProviderConfigNotReady)
	if c := got.GetCondition(v1alpha1.ConditionTypeSynced); !strings.Contains(c.Message, credsSecret) || !strings.Contains(c.Message, "deletionPolicy: Retain") {
		t.Errorf("message %q should name the credentials Secret and the Retain way out", c.Message)
	}
	if sec := cloudSecretOf(t, ms.Name); sec == nil || sec.State != csms.StateEnabled {
		t.Fatalf("cloud secret changed while credentials are missing: %+v", sec)
	}

	patch := []byte(`{"spec":{"deletionPolicy":"Retain"}}`)
	if err := k8sClient.Patch(context.Background(), getMS(t, key), client.RawPatch(types.MergePatchType, patch)); err != nil {
		t.Fatal(err)
	}
	deleteAndWait(t, key)
	if sec := cloudSecretOf(t, ms.Name); sec == nil || sec.State != csms.StateEnabled {
		t.Errorf("cloud secret after a Retain deletion: %+v", sec)
	}
}

// TestRefusedCredentialsUnauthorized: credentials CSMS refuses give a clear Unauthorized
// condition; nothing is created, and the resource can still be deleted.
func TestRefusedCredentialsUnauthorized(t *testing.T) {
	ns := newNamespace(t, nil)
	newSource(t, ns, "src", map[string]string{"password": "v"})
	credsSecret := "wrong-" + randSuffix()
	newSource(t, credsNamespace, credsSecret, map[string]string{v1alpha1.CredentialsKeyAccessKeyID: emuAK, v1alpha1.CredentialsKeySecretAccessKey: "not-the-sk"})
	cpc := clusterProviderConfig("wrong-"+randSuffix(), emuURL, nil, nil)
	cpc.Spec.Credentials.SecretRef.Name = credsSecret
	if err := k8sClient.Create(context.Background(), cpc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), cpc) })
	created := opCountStatus("CreateSecret", 200)
	ms := newManagedSecret(t, ns, "unauth", func(m *v1alpha1.ManagedSecret) {
		m.Spec.ProviderConfigRef = v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindCluster, Name: cpc.Name}
	})
	key := client.ObjectKeyFromObject(ms)
	got := waitCondition(t, key, v1alpha1.ConditionTypeSynced, metav1.ConditionFalse, v1alpha1.ReasonUnauthorized)
	if c := got.GetCondition(v1alpha1.ConditionTypeSynced); !strings.Contains(c.Message, "credentials") {
		t.Errorf("message %q should point at the credentials", c.Message)
	}
	// Each pass tries CreateSecret (nothing was ever created, so it does not read first)
	// and CSMS refuses it. The mark set for each try is removed after the refusal (a pass
	// in flight may show it, so it is checked by TestUnitRefusedCreateDropsPendingMark);
	// the deletion below finishing without credentials shows no mark was left behind.
	if d := opCountStatus("CreateSecret", 200) - created; d != 0 {
		t.Errorf("%d CreateSecret calls succeeded", d)
	}
	deleteAndWait(t, key)
	if sec := cloudSecretOf(t, ms.Name); sec != nil {
		t.Errorf("a cloud secret exists: %+v", sec)
	}
}
