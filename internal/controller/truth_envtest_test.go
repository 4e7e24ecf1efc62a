package controller

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/csms"
	"github.com/csms-operator/csms-operator/internal/emulator"
)

// Status tells the truth: these tests change the cloud or the source the way users and
// other tools do, and check what the resource reports.

// TestVersionMadeElsewhereIsReportedNotReverted: a version added outside the operator
// (console, CLI; here the SDK) shows in status.currentVersionID within one resync, is
// reported with an Event, and is not reverted.
func TestVersionMadeElsewhereIsReportedNotReverted(t *testing.T) {
	ns := newNamespace(t, nil)
	newSource(t, ns, "src", map[string]string{"password": "from-the-source"})
	ms := newManagedSecret(t, ns, "elsewhere", nil)
	key := client.ObjectKeyFromObject(ms)
	waitReady(t, key)
	// status.updateTime has the second precision of metav1.Time: a change within the same
	// second as the last one the operator saw is noticed with the next change. A person at
	// the console is slower than that.
	time.Sleep(1100 * time.Millisecond)

	vid, err := cloud.PutValue(context.Background(), ms.Name, csms.StringValue("from-the-console"))
	if err != nil || vid != "v2" {
		t.Fatalf("PutValue through the SDK: %q, %v", vid, err)
	}
	versions := opCount("CreateSecretVersion")
	forceResync(t, key, 1)
	var got *v1alpha1.ManagedSecret
	eventually(t, "status shows the version made elsewhere", func() (bool, string) {
		got = getMS(t, key)
		return got.Status.CurrentVersionID == "v2", got.Status.CurrentVersionID
	})
	waitEvent(t, got, EventVersionChanged)
	got = waitReady(t, key)
	if c := got.GetCondition(v1alpha1.ConditionTypeReady); !strings.Contains(c.Message, "matches the spec") {
		t.Errorf("Ready message %q", c.Message)
	}
	forceResync(t, key, 2)
	time.Sleep(time.Second)
	if v, vid := cloudValue(t, ms.Name); v != "from-the-console" || vid != "v2" {
		t.Errorf("the version made elsewhere was reverted (now %s)", vid)
	}
	if d := opCount("CreateSecretVersion") - versions; d != 0 {
		t.Errorf("the operator wrote %d versions over it", d)
	}
}

// TestVersionLimit: CSMS drops deprecated versions, so a 21st change of the source is
// stored like any other; a refusal anyway is VersionLimitReached, Stalled, never "fix the
// spec", and the cloud keeps serving the previous value.
func TestVersionLimit(t *testing.T) {
	ns := newNamespace(t, nil)
	newSource(t, ns, "src", map[string]string{"password": "value-1"})
	ms := newManagedSecret(t, ns, "versions", nil)
	key := client.ObjectKeyFromObject(ms)
	waitReady(t, key)
	for i := 2; i <= 21; i++ {
		value := fmt.Sprintf("value-%d", i)
		setSourceData(t, ns, "src", "password", value)
		eventually(t, "version "+value, func() (bool, string) {
			v, vid := cloudValue(t, ms.Name)
			return v == value, vid
		})
	}
	got := waitReady(t, key)
	if got.Status.CurrentVersionID != "v21" {
		t.Errorf("currentVersionID = %q, want v21", got.Status.CurrentVersionID)
	}

	// Refused anyway (every version could carry a stage): inject the refusal.
	if err := emu.InjectFault(emulator.Fault{Operation: "CreateSecretVersion", Status: 400, ErrorCode: "CSMS.0002",
		ErrorMsg: "Invalid parameter: the version limit of 20 is reached.", Count: 1}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.ClearFaults)
	setSourceData(t, ns, "src", "password", "value-22")
	waitCondition(t, key, v1alpha1.ConditionTypeReady, metav1.ConditionFalse, v1alpha1.ReasonVersionLimitReached)
	waitCondition(t, key, v1alpha1.ConditionTypeSynced, metav1.ConditionFalse, v1alpha1.ReasonVersionLimitReached)
	got = waitCondition(t, key, v1alpha1.ConditionTypeStalled, metav1.ConditionTrue, v1alpha1.ReasonVersionLimitReached)
	if c := got.GetCondition(v1alpha1.ConditionTypeReady); strings.Contains(c.Message, "fix the spec") || !strings.Contains(c.Message, "stage") {
		t.Errorf("Ready message %q should say what to do about the versions, not blame the spec", c.Message)
	}
	if v, _ := cloudValue(t, ms.Name); v != "value-21" {
		t.Errorf("the cloud no longer serves the previous value")
	}
	waitEvent(t, got, v1alpha1.ReasonVersionLimitReached)

	// Once CSMS accepts versions again, the next pass writes it and the resource recovers.
	forceResync(t, key, 1)
	eventually(t, "value-22 in CSMS", func() (bool, string) {
		v, vid := cloudValue(t, ms.Name)
		return v == "value-22", vid
	})
	got = waitReady(t, key)
	if c := got.GetCondition(v1alpha1.ConditionTypeStalled); c != nil {
		t.Errorf("Stalled still set after recovery: %+v", c)
	}
}

// TestObserveShowsThePlanWritesNothingThenManageRunsIt: with managementPolicy Observe
// nothing is written to CSMS (deletion included) and status.plannedChanges says what
// Manage would do; switching to Manage does exactly that.
func TestObserveShowsThePlanWritesNothingThenManageRunsIt(t *testing.T) {
	ns := newNamespace(t, nil)
	name := "observed-" + randSuffix()
	pre := preCreate(t, name, "their-value", map[string]string{"legacy": "x"})
	writes := appliedWriteCount()

	newSource(t, ns, "src", map[string]string{"password": "our-value"})
	ms := newManagedSecret(t, ns, "observe", func(m *v1alpha1.ManagedSecret) {
		m.Spec.Name = name
		m.Spec.ManagementPolicy = v1alpha1.ManagementPolicyObserve
		m.Spec.AdoptionPolicy = v1alpha1.AdoptionPolicyAdopt
		m.Spec.Description = "ours now"
	})
	key := client.ObjectKeyFromObject(ms)
	got := waitReady(t, key)
	want := []string{
		"Patch ManagedSecret: metadata.finalizers",
		"UpdateTags: take ownership; set csms-operator-owner, managed-by; remove legacy",
		"UpdateSecret: description",
		"CreateSecretVersion: secretKeyRef:src/password changed",
	}
	if !slices.Equal(got.Status.PlannedChanges, want) {
		t.Errorf("plannedChanges = %q, want %q", got.Status.PlannedChanges, want)
	}
	if got.Status.Name != name || got.Status.State != csms.StateEnabled || got.Status.CurrentVersionID != "v1" {
		t.Errorf("status does not show the observed secret: %+v", got.Status)
	}
	// Its ID is not recorded: that is the proof of ownership, and the secret is not ours.
	if got.Status.SecretID != "" {
		t.Errorf("status.secretID = %q for an observed secret the resource does not own", got.Status.SecretID)
	}
	if len(got.Finalizers) != 0 {
		t.Errorf("Observe added finalizers %v", got.Finalizers)
	}
	forceResync(t, key, 1)
	time.Sleep(time.Second)
	if d := appliedWriteCount() - writes; d != 0 {
		t.Fatalf("%d CSMS writes while observing", d)
	}

	// Manage runs exactly the plan: one tag batch per action, one UpdateSecret, one version.
	tagCalls, updates, versions := opCount("BatchCreateOrDeleteTags"), opCount("UpdateSecret"), opCount("CreateSecretVersion")
	updateMS(t, key, func(m *v1alpha1.ManagedSecret) { m.Spec.ManagementPolicy = v1alpha1.ManagementPolicyManage })
	eventually(t, "adopted", func() (bool, string) {
		got = getMS(t, key)
		c := got.GetCondition(v1alpha1.ConditionTypeReady)
		return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == got.Generation && len(got.Finalizers) == 1,
			fmt.Sprint(got.Status.Conditions)
	})
	if got.Status.PlannedChanges != nil || got.Status.SecretID != pre.ID {
		t.Errorf("after adoption: plannedChanges %q, secretID %q", got.Status.PlannedChanges, got.Status.SecretID)
	}
	if sec := cloudSecretOf(t, name); sec.Description != "ours now" {
		t.Errorf("description %q", sec.Description)
	}
	tags := cloudTags(t, pre.ID)
	if tags["managed-by"] != "csms-operator" || tags["legacy"] != "" {
		t.Errorf("tags %v", tags)
	}
	// Tags removed (legacy) and set (ownership): two batch calls; description: one update.
	if d, u, v := opCount("BatchCreateOrDeleteTags")-tagCalls, opCount("UpdateSecret")-updates, opCount("CreateSecretVersion")-versions; d != 2 || u != 1 || v != 1 {
		t.Errorf("Manage made %d tag calls, %d updates and %d versions, want 2, 1 and 1", d, u, v)
	}
	if v, vid := cloudValue(t, name); v != "our-value" || vid != "v2" {
		t.Errorf("cloud value after Manage: version %s, ours=%v", vid, v == "our-value")
	}
}

// TestObserveNeverDeletesAndNeverCreates: an observed secret survives the resource's
// deletion, and observing a name that does not exist creates nothing.
func TestObserveNeverDeletesAndNeverCreates(t *testing.T) {
	ns := newNamespace(t, nil)
	name := "kept-" + randSuffix()
	preCreate(t, name, "their-value", nil)
	ms := newManagedSecret(t, ns, "observe", func(m *v1alpha1.ManagedSecret) {
		m.Spec.Name = name
		m.Spec.Value = nil
		m.Spec.ManagementPolicy = v1alpha1.ManagementPolicyObserve
	})
	key := client.ObjectKeyFromObject(ms)
	got := waitReady(t, key)
	if c := got.GetCondition(v1alpha1.ConditionTypeReady); !strings.Contains(c.Message, "Manage would be refused (AlreadyExists)") {
		t.Errorf("Ready message %q should say Manage would be refused", c.Message)
	}
	writes := appliedWriteCount()
	deleteAndWait(t, key)
	if sec := cloudSecretOf(t, name); sec == nil || sec.State != csms.StateEnabled {
		t.Errorf("the observed secret was deleted: %+v", sec)
	}

	missing := newManagedSecret(t, ns, "observe-missing", func(m *v1alpha1.ManagedSecret) {
		m.Spec.Value = nil
		m.Spec.ManagementPolicy = v1alpha1.ManagementPolicyObserve
	})
	mkey := client.ObjectKeyFromObject(missing)
	got = waitCondition(t, mkey, v1alpha1.ConditionTypeReady, metav1.ConditionFalse, v1alpha1.ReasonSecretNotFound)
	if c := got.GetCondition(v1alpha1.ConditionTypeStalled); c != nil {
		t.Errorf("a secret another tool may still create is not Stalled: %+v", c)
	}
	if d := appliedWriteCount() - writes; d != 0 {
		t.Errorf("%d CSMS writes by observing resources", d)
	}
	if cloudSecretOf(t, missing.Name) != nil {
		t.Errorf("Observe created the secret")
	}
}

// TestSourceDeletedAfterPushKeepsReady: the cloud secret is fine and in use after its
// source Secret is deleted; Ready stays True and Synced says what is wrong.
func TestSourceDeletedAfterPushKeepsReady(t *testing.T) {
	ns := newNamespace(t, nil)
	src := newSource(t, ns, "src", map[string]string{"password": "pushed"})
	ms := newManagedSecret(t, ns, "orphaned", nil)
	key := client.ObjectKeyFromObject(ms)
	waitReady(t, key)
	if err := k8sClient.Delete(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	got := waitCondition(t, key, v1alpha1.ConditionTypeSynced, metav1.ConditionFalse, v1alpha1.ReasonSourceNotFound)
	if c := got.GetCondition(v1alpha1.ConditionTypeReady); c.Status != metav1.ConditionTrue || c.Reason != v1alpha1.ReasonAvailable {
		t.Errorf("Ready = %s/%s after the source was deleted; the cloud secret is fine", c.Status, c.Reason)
	}
	if c := got.GetCondition(v1alpha1.ConditionTypeStalled); c != nil {
		t.Errorf("Stalled = %+v", c)
	}
}

// TestProviderPolicyIsRequiredToAdoptOrObserve: with a provider config that keeps the
// default policy, Adopt and Observe of a secret the resource does not own are refused
// (PolicyDenied, Stalled) and nothing in the cloud is written or read beyond metadata.
func TestProviderPolicyIsRequiredToAdoptOrObserve(t *testing.T) {
	ns := newNamespace(t, nil)
	newSource(t, ns, "src", map[string]string{"password": "mine"})
	name := "guarded-" + randSuffix()
	pre := preCreate(t, name, "theirs", map[string]string{"legacy": "x"})
	writes, values := appliedWriteCount(), opCount("ShowSecretVersion")
	strict := v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindCluster, Name: strictProvider}

	adopt := newManagedSecret(t, ns, "adopt", func(m *v1alpha1.ManagedSecret) {
		m.Spec.Name, m.Spec.ProviderConfigRef, m.Spec.AdoptionPolicy = name, strict, v1alpha1.AdoptionPolicyAdopt
	})
	got := waitCondition(t, client.ObjectKeyFromObject(adopt), v1alpha1.ConditionTypeReady, metav1.ConditionFalse, v1alpha1.ReasonPolicyDenied)
	waitCondition(t, client.ObjectKeyFromObject(adopt), v1alpha1.ConditionTypeStalled, metav1.ConditionTrue, v1alpha1.ReasonPolicyDenied)
	if c := got.GetCondition(v1alpha1.ConditionTypeReady); !strings.Contains(c.Message, "allowAdoption") {
		t.Errorf("message %q does not name the policy", c.Message)
	}
	waitEvent(t, got, v1alpha1.ReasonPolicyDenied)

	observe := newManagedSecret(t, ns, "observe", func(m *v1alpha1.ManagedSecret) {
		m.Spec.Name, m.Spec.ProviderConfigRef, m.Spec.ManagementPolicy = name, strict, v1alpha1.ManagementPolicyObserve
	})
	got = waitCondition(t, client.ObjectKeyFromObject(observe), v1alpha1.ConditionTypeReady, metav1.ConditionFalse, v1alpha1.ReasonPolicyDenied)
	if c := got.GetCondition(v1alpha1.ConditionTypeReady); !strings.Contains(c.Message, "allowObserve") {
		t.Errorf("message %q does not name the policy", c.Message)
	}
	if got.Status.State != "" || got.Status.Name != "" {
		t.Errorf("a refused observation shows the secret's metadata: %+v", got.Status)
	}
	time.Sleep(time.Second)
	if d := appliedWriteCount() - writes; d != 0 {
		t.Errorf("%d cloud writes", d)
	}
	if d := opCount("ShowSecretVersion") - values; d != 0 {
		t.Errorf("the secret's value was read %d times by refused resources", d)
	}
	if tags := cloudTags(t, pre.ID); tags["legacy"] != "x" || tags["managed-by"] != "" {
		t.Errorf("tags changed: %v", tags)
	}
}
