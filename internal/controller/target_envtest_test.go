package controller

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/config"
	sdk "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1/model"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/csms"
)

// spec.target end to end: envtest's API server, the emulator through the SDK.

func withTarget(name string, restart ...string) func(*v1alpha1.ManagedSecret) {
	return func(m *v1alpha1.ManagedSecret) {
		m.Spec.Target = &v1alpha1.SecretTarget{Name: name}
		for _, d := range restart {
			m.Spec.Target.RolloutRestart = append(m.Spec.Target.RolloutRestart, v1alpha1.WorkloadReference{Kind: v1alpha1.WorkloadKindDeployment, Name: d})
		}
	}
}

// newDeployment creates a Deployment that nothing runs (no controllers in envtest): its
// generation counts the changes of its pod template, that is the rollouts asked for.
func newDeployment(t *testing.T, ns, name string) {
	t.Helper()
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}}},
	}}
	if err := k8sClient.Create(context.Background(), d); err != nil {
		t.Fatal(err)
	}
}

func deployment(t *testing.T, ns, name string) *appsv1.Deployment {
	t.Helper()
	d := &appsv1.Deployment{}
	if err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, d); err != nil {
		t.Fatal(err)
	}
	return d
}

func targetSecret(t *testing.T, ns, name string) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{}
	if err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		t.Fatal(err)
	}
	return s
}

// waitTarget waits until the target Secret's key holds want.
func waitTarget(t *testing.T, ns, name, key, want string) *corev1.Secret {
	t.Helper()
	var s *corev1.Secret
	eventually(t, fmt.Sprintf("target %s/%s[%s]", ns, name, key), func() (bool, string) {
		s = targetSecret(t, ns, name)
		if s == nil {
			return false, "no Secret"
		}
		return string(s.Data[key]) == want, fmt.Sprintf("keys %v", keysOf(s))
	})
	return s
}

func keysOf(s *corev1.Secret) []string {
	var out []string
	for k := range s.Data {
		out = append(out, k)
	}
	return out
}

// sdkClient is a raw SDK client for calls the csms seam does not have (RotateSecret).
func sdkClient(t *testing.T) *sdk.CsmsClient {
	t.Helper()
	cred, err := basic.NewCredentialsBuilder().WithAk(emuAK).WithSk(emuSK).WithProjectId(emuProjectID).SafeBuild()
	if err != nil {
		t.Fatal(err)
	}
	hc, err := sdk.CsmsClientBuilder().WithEndpoints([]string{emuURL}).WithCredential(cred).
		WithHttpConfig(config.DefaultHttpConfig().WithTimeout(10 * time.Second)).SafeBuild()
	if err != nil {
		t.Fatal(err)
	}
	return sdk.NewCsmsClient(hc)
}

// TestTargetFollowsTheSourceAndRestartsOncePerVersion: the target Secret is created with
// the value, owned by the resource; a source change reaches it in the same pass as CSMS,
// and the Deployment is restarted once for that version, not for the first one and not
// again on a resync.
func TestTargetFollowsTheSourceAndRestartsOncePerVersion(t *testing.T) {
	ns := newNamespace(t, nil)
	newSource(t, ns, "src", map[string]string{"password": "first"})
	newDeployment(t, ns, "api")
	ms := newManagedSecret(t, ns, "tgt", withTarget("app-secret", "api"))
	key := client.ObjectKeyFromObject(ms)
	got := waitReady(t, key)
	s := waitTarget(t, ns, "app-secret", "value", "first")
	if s.Labels[v1alpha1.LabelTargetOf] != ms.Name || len(s.OwnerReferences) != 1 || s.OwnerReferences[0].UID != got.UID {
		t.Errorf("target Secret labels %v owners %+v", s.Labels, s.OwnerReferences)
	}
	if st := got.Status.Target; st == nil || st.Name != "app-secret" || st.VersionID != "v1" || st.RestartedVersionID != "v1" {
		t.Fatalf("status.target = %+v", got.Status.Target)
	}
	if d := deployment(t, ns, "api"); d.Generation != 1 {
		t.Errorf("the first version restarted the Deployment (generation %d)", d.Generation)
	}
	waitEvent(t, got, EventTargetWritten)

	setSourceData(t, ns, "src", "password", "second")
	waitTarget(t, ns, "app-secret", "value", "second")
	eventually(t, "restart for v2", func() (bool, string) {
		d := deployment(t, ns, "api")
		return d.Spec.Template.Annotations[v1alpha1.AnnotationRestartedFor] == got.Status.SecretID+"/v2", fmt.Sprint(d.Spec.Template.Annotations)
	})
	eventually(t, "status.target restartedVersionID v2", func() (bool, string) {
		got = getMS(t, key)
		return got.Status.Target != nil && got.Status.Target.RestartedVersionID == "v2", fmt.Sprintf("%+v", got.Status.Target)
	})
	gen := deployment(t, ns, "api").Generation
	for i := range 3 {
		forceResync(t, key, i)
	}
	time.Sleep(2 * time.Second)
	if d := deployment(t, ns, "api"); d.Generation != gen {
		t.Errorf("resyncs restarted the Deployment again (generation %d → %d)", gen, d.Generation)
	}
	waitEvent(t, got, EventWorkloadRestarted)
}

// TestTargetFollowsCSMS: a version made with the SDK, a RotateSecret, and a rotation by
// CSMS's own schedule each reach the target Secret; the scheduled one without any resync,
// because the resource looks again right after status.nextRotationTime.
func TestTargetFollowsCSMS(t *testing.T) {
	ns := newNamespace(t, nil)
	newSource(t, ns, "src", map[string]string{"password": "from-source"})
	// Created while the emulator's clock is 4h minus a few seconds behind: CSMS's next
	// rotation is then a few seconds from now in real time.
	const lead = 8 * time.Second
	emu.SetClockOffset(-(4*time.Hour - lead))
	t.Cleanup(func() { emu.SetClockOffset(0) })
	ms := newManagedSecret(t, ns, "rot", func(m *v1alpha1.ManagedSecret) {
		withTarget("rot-secret")(m)
		m.Spec.Rotation = &v1alpha1.RotationSpec{Enabled: true, Period: "4h", FunctionURN: "urn:fss:cn-north-4:0123:function:default:rotate"}
	})
	key := client.ObjectKeyFromObject(ms)
	waitReady(t, key)
	emu.SetClockOffset(0)
	waitTarget(t, ns, "rot-secret", "value", "from-source")

	// CSMS's schedule: no resync is forced.
	eventually(t, "the scheduled rotation in the target", func() (bool, string) {
		got := getMS(t, key)
		v, vid := cloudValue(t, ms.Name)
		s := targetSecret(t, ns, "rot-secret")
		return vid == "v2" && s != nil && string(s.Data["value"]) == v && got.Status.Target.VersionID == "v2", vid
	})

	// A version made elsewhere, found at the next resync.
	if _, err := cloud.PutValue(context.Background(), ms.Name, csms.StringValue("from-the-console")); err != nil {
		t.Fatal(err)
	}
	forceResync(t, key, 1)
	waitTarget(t, ns, "rot-secret", "value", "from-the-console")

	// RotateSecret through the SDK.
	if _, err := sdkClient(t).RotateSecret(&model.RotateSecretRequest{SecretName: ms.Name}); err != nil {
		t.Fatal(err)
	}
	forceResync(t, key, 2)
	eventually(t, "the rotated value in the target", func() (bool, string) {
		v, vid := cloudValue(t, ms.Name)
		s := targetSecret(t, ns, "rot-secret")
		return vid == "v4" && s != nil && string(s.Data["value"]) == v, vid
	})
}

// TestTargetEditedOrDeletedByHandIsPutBack: the target Secret is watched as metadata; a
// change by hand is undone at once, a deleted one re-created.
func TestTargetEditedOrDeletedByHandIsPutBack(t *testing.T) {
	ns := newNamespace(t, nil)
	newSource(t, ns, "src", map[string]string{"password": "kept"})
	ms := newManagedSecret(t, ns, "hand", withTarget("hand-secret"))
	waitReady(t, client.ObjectKeyFromObject(ms))
	s := waitTarget(t, ns, "hand-secret", "value", "kept")
	s.Data["value"] = []byte("tampered")
	if err := k8sClient.Update(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	waitTarget(t, ns, "hand-secret", "value", "kept")
	if err := k8sClient.Delete(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	waitTarget(t, ns, "hand-secret", "value", "kept")
}

// TestTargetShapes: secretRef comes back as the same keys, a template renders .JSON and
// .VersionID, a generated value and a binary value reach the Secret as CSMS holds them,
// and Merge keeps the other keys of an existing Secret.
func TestTargetShapes(t *testing.T) {
	ns := newNamespace(t, nil)
	newSource(t, ns, "db", map[string]string{"username": "app", "password": "pw-1"})
	bin := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bin"}, Data: map[string][]byte{"p12": {0, 1, 2, 255}}}
	if err := k8sClient.Create(context.Background(), bin); err != nil {
		t.Fatal(err)
	}
	existing := newSource(t, ns, "existing", map[string]string{"other": "theirs"})

	newManagedSecret(t, ns, "ref", func(m *v1alpha1.ManagedSecret) {
		m.Spec.Value = &v1alpha1.SecretValueSource{SecretRef: &v1alpha1.LocalSecretReference{Name: "db"}}
		withTarget("ref-out")(m)
	})
	newManagedSecret(t, ns, "tmpl", func(m *v1alpha1.ManagedSecret) {
		m.Spec.Value = &v1alpha1.SecretValueSource{SecretRef: &v1alpha1.LocalSecretReference{Name: "db"}}
		m.Spec.Target = &v1alpha1.SecretTarget{Name: "existing", CreationPolicy: v1alpha1.TargetCreationPolicyMerge,
			Template: &v1alpha1.TargetTemplate{Data: map[string]string{"DATABASE_URL": "postgres://{{ .JSON.username }}:{{ .JSON.password }}@db/app?{{ .VersionID }}"}}}
	})
	gen := newManagedSecret(t, ns, "gen", func(m *v1alpha1.ManagedSecret) {
		m.Spec.Value = &v1alpha1.SecretValueSource{Generate: &v1alpha1.GenerateSpec{Length: 24}}
		withTarget("gen-out")(m)
	})
	newManagedSecret(t, ns, "bin", func(m *v1alpha1.ManagedSecret) {
		m.Spec.Value = &v1alpha1.SecretValueSource{BinarySecretKeyRef: &v1alpha1.SecretKeySelector{Name: "bin", Key: "p12"}}
		withTarget("bin-out")(m)
	})

	s := waitTarget(t, ns, "ref-out", "password", "pw-1")
	if string(s.Data["username"]) != "app" || len(s.Data) != 2 {
		t.Errorf("secretRef target keys %v", keysOf(s))
	}
	s = waitTarget(t, ns, "existing", "DATABASE_URL", "postgres://app:pw-1@db/app?v1")
	if string(s.Data["other"]) != "theirs" || s.Labels[v1alpha1.LabelTargetOf] != "" || len(s.OwnerReferences) != 0 {
		t.Errorf("Merge changed what is not its own: keys %v labels %v owners %v", keysOf(s), s.Labels, s.OwnerReferences)
	}
	_ = existing
	v, _ := cloudValue(t, gen.Name)
	waitTarget(t, ns, "gen-out", "value", v)
	waitTarget(t, ns, "bin-out", "value", "\x00\x01\x02\xff")
}

// TestTargetNeverTakesAnotherSecret: a Secret the resource did not create is left as it
// is (TargetConflict), and so is a Merge target that does not exist; a template that
// cannot render writes nothing (TemplateError).
func TestTargetNeverTakesAnotherSecret(t *testing.T) {
	ns := newNamespace(t, nil)
	newSource(t, ns, "src", map[string]string{"password": "pw"})
	newSource(t, ns, "someone-elses", map[string]string{"k": "v"})
	taken := newManagedSecret(t, ns, "taken", withTarget("someone-elses"))
	got := waitCondition(t, client.ObjectKeyFromObject(taken), v1alpha1.ConditionTypeReady, metav1.ConditionFalse, v1alpha1.ReasonTargetConflict)
	waitCondition(t, client.ObjectKeyFromObject(taken), v1alpha1.ConditionTypeStalled, metav1.ConditionTrue, v1alpha1.ReasonTargetConflict)
	if s := targetSecret(t, ns, "someone-elses"); string(s.Data["k"]) != "v" || len(s.Data) != 1 {
		t.Errorf("the foreign Secret was written: keys %v", keysOf(s))
	}
	if got.Status.SecretID == "" {
		t.Errorf("a target conflict hid the cloud secret from status")
	}

	missing := newManagedSecret(t, ns, "merge-missing", func(m *v1alpha1.ManagedSecret) {
		m.Spec.Target = &v1alpha1.SecretTarget{Name: "not-there", CreationPolicy: v1alpha1.TargetCreationPolicyMerge}
	})
	waitCondition(t, client.ObjectKeyFromObject(missing), v1alpha1.ConditionTypeReady, metav1.ConditionFalse, v1alpha1.ReasonTargetConflict)
	if targetSecret(t, ns, "not-there") != nil {
		t.Errorf("Merge created a Secret")
	}

	bad := newManagedSecret(t, ns, "bad-tmpl", func(m *v1alpha1.ManagedSecret) {
		m.Spec.Target = &v1alpha1.SecretTarget{Name: "bad-out", Template: &v1alpha1.TargetTemplate{Data: map[string]string{
			"ok": "fine", "broken": "{{ .JSON.nothere }}"}}}
	})
	got = waitCondition(t, client.ObjectKeyFromObject(bad), v1alpha1.ConditionTypeReady, metav1.ConditionFalse, v1alpha1.ReasonTemplateError)
	if c := got.GetCondition(v1alpha1.ConditionTypeReady); !strings.Contains(c.Message, `data["broken"]`) || strings.Contains(c.Message, "pw") {
		t.Errorf("message %q should name the key and not the value", c.Message)
	}
	if targetSecret(t, ns, "bad-out") != nil {
		t.Errorf("a template error left a half-written Secret")
	}
}

// TestTargetWithObserve: Observe is a pull-only importer of a secret made elsewhere.
func TestTargetWithObserve(t *testing.T) {
	ns := newNamespace(t, nil)
	name := "imported-" + randSuffix()
	preCreate(t, name, "made-by-terraform", nil)
	writes := appliedWriteCount()
	ms := newManagedSecret(t, ns, "import", func(m *v1alpha1.ManagedSecret) {
		m.Spec.Name, m.Spec.Value, m.Spec.ManagementPolicy = name, nil, v1alpha1.ManagementPolicyObserve
		withTarget("imported")(m)
	})
	waitReady(t, client.ObjectKeyFromObject(ms))
	waitTarget(t, ns, "imported", "value", "made-by-terraform")
	if d := appliedWriteCount() - writes; d != 0 {
		t.Errorf("%d CSMS writes by an importer", d)
	}
	if _, err := cloud.PutValue(context.Background(), name, csms.StringValue("rotated-by-terraform")); err != nil {
		t.Fatal(err)
	}
	forceResync(t, client.ObjectKeyFromObject(ms), 1)
	waitTarget(t, ns, "imported", "value", "rotated-by-terraform")
}
