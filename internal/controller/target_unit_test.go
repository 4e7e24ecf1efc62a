package controller

import (
	"context"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/csms"
)

// staleTargetEnv is a settled resource with a target restarting Deployment "api", whose
// target Secret "out" holds v1 ("first"), as the previous pass left it. The cache has not
// seen that pass's status patch yet (status.target unset); the API server has it
// (v1 written and rolled out). e2e runs showed the order: the event of a source change
// reached the manager before the status patch of the pass that created the target.
func staleTargetEnv(t *testing.T, cloud *fakeCSMS) *unitEnv {
	t.Helper()
	ctx := context.Background()
	u := settled(t, cloud, func(m *v1alpha1.ManagedSecret) {
		m.Spec.Target = &v1alpha1.SecretTarget{Name: "out",
			RolloutRestart: []v1alpha1.WorkloadReference{{Kind: v1alpha1.WorkloadKindDeployment, Name: "api"}}}
	})
	u.r.EnableTargets = true
	ms := &v1alpha1.ManagedSecret{}
	if err := u.kube.Get(ctx, u.key, ms); err != nil {
		t.Fatal(err)
	}
	out := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ms.Namespace, Name: "out", Labels: map[string]string{v1alpha1.LabelTargetOf: ms.Name}},
		Type:       corev1.SecretTypeOpaque, Data: map[string][]byte{"value": []byte("first")},
	}
	if err := u.kube.Create(ctx, out); err != nil {
		t.Fatal(err)
	}
	if err := u.kube.Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ms.Namespace, Name: "api"}}); err != nil {
		t.Fatal(err)
	}
	fresh := ms.DeepCopy()
	fresh.Status.Target = &v1alpha1.TargetStatus{Name: "out", VersionID: "v1", RestartedVersionID: "v1", ResourceVersion: out.ResourceVersion}
	u.r.APIReader = fake.NewClientBuilder().WithScheme(unitScheme(t)).WithObjects(fresh, out).Build()
	return u
}

func restartMark(t *testing.T, u *unitEnv) (string, int64) {
	t.Helper()
	d := &appsv1.Deployment{}
	if err := u.kube.Get(context.Background(), client.ObjectKey{Namespace: u.key.Namespace, Name: "api"}, d); err != nil {
		t.Fatal(err)
	}
	return d.Spec.Template.Annotations[v1alpha1.AnnotationRestartedFor], d.Generation
}

// TestUnitStaleStatusDoesNotSkipARestart: a new version found by a pass that reads the
// resource from a cache lagging behind the previous pass's status restarts the workload;
// the stale, empty status.target does not make it look like the target's first version.
func TestUnitStaleStatusDoesNotSkipARestart(t *testing.T) {
	cloud := &fakeCSMS{
		GetSecretFn:        func(string) (*csms.Secret, error) { return cloudSecret(), nil },
		CurrentVersionIDFn: func(string) (string, error) { return "v2", nil },
		GetCurrentValueFn:  func(string) (csms.Value, string, error) { return csms.StringValue("rotated"), "v2", nil },
	}
	u := staleTargetEnv(t, cloud)
	got := u.reconcile(t)
	if u.err != nil {
		t.Fatal(u.err)
	}
	if mark, _ := restartMark(t, u); mark != "id-1/v2" {
		t.Errorf("restarted-for = %q after v2 reached the target, want id-1/v2", mark)
	}
	if st := got.Status.Target; st == nil || st.VersionID != "v2" || st.RestartedVersionID != "v2" {
		t.Errorf("status.target = %+v, want v2 written and rolled out", st)
	}
}

// TestUnitStaleStatusRestartsNothingCurrent: a pass on the same stale cache that finds
// the target holding the current version restarts nothing (the first version needs no
// restart) and does not read the value.
func TestUnitStaleStatusRestartsNothingCurrent(t *testing.T) {
	cloud := &fakeCSMS{
		GetSecretFn:        func(string) (*csms.Secret, error) { return cloudSecret(), nil },
		CurrentVersionIDFn: func(string) (string, error) { return "v1", nil },
		GetCurrentValueFn:  func(string) (csms.Value, string, error) { return csms.StringValue("first"), "v1", nil },
	}
	u := staleTargetEnv(t, cloud)
	got := u.reconcile(t)
	if u.err != nil {
		t.Fatal(u.err)
	}
	if mark, gen := restartMark(t, u); mark != "" {
		t.Errorf("restarted-for = %q (generation %d) for the version the workload started with", mark, gen)
	}
	if slices.Contains(cloud.Calls(), "GetCurrentValue") {
		t.Errorf("the value was read although the target holds the current version (calls %v)", cloud.Calls())
	}
	if st := got.Status.Target; st == nil || st.RestartedVersionID != "v1" {
		t.Errorf("status.target = %+v, want v1 rolled out", st)
	}
}
