package controller

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/csms"
	"github.com/csms-operator/csms-operator/internal/provider"
	"github.com/csms-operator/csms-operator/internal/source"
)

// Reconciler tests with a fake Kubernetes client and a function-field fake of CSMS: each
// states exactly which cloud calls a branch may make.

const unitCanary = "unit-canary-9f3Kq"

type unitEnv struct {
	r      *ManagedSecretReconciler
	kube   client.Client
	rec    *events.FakeRecorder
	cloud  *fakeCSMS
	key    client.ObjectKey
	result ctrl.Result
	err    error
}

func unitScheme(t *testing.T) *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

// newUnit stores ms (with the finalizer already on) and a source Secret "src" holding the
// canary under "password".
func newUnit(t *testing.T, ms *v1alpha1.ManagedSecret, cloud *fakeCSMS) *unitEnv {
	t.Helper()
	if ms.Finalizers == nil {
		ms.Finalizers = []string{v1alpha1.Finalizer}
	}
	src := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ms.Namespace, Name: "src"},
		Data: map[string][]byte{"password": []byte(unitCanary)}}
	kube := fake.NewClientBuilder().WithScheme(unitScheme(t)).
		WithObjects(ms, src).WithStatusSubresource(&v1alpha1.ManagedSecret{}).Build()
	rec := events.NewFakeRecorder(50)
	return &unitEnv{
		r: &ManagedSecretReconciler{Client: kube, APIReader: kube, Recorder: rec,
			Providers: &fakeResolver{client: cloud, policy: allowAll}, Sources: &source.Reader{Client: kube},
			Jitter: func(d time.Duration) time.Duration { return d }},
		kube: kube, rec: rec, cloud: cloud, key: client.ObjectKeyFromObject(ms),
	}
}

func (u *unitEnv) reconcile(t *testing.T) *v1alpha1.ManagedSecret {
	t.Helper()
	u.result, u.err = u.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: u.key})
	got := &v1alpha1.ManagedSecret{}
	if err := u.kube.Get(context.Background(), u.key, got); err != nil {
		return nil
	}
	return got
}

func (u *unitEnv) events() []string {
	var out []string
	for {
		select {
		case e := <-u.rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func (u *unitEnv) sourceRV(t *testing.T) string {
	s := &corev1.Secret{}
	if err := u.kube.Get(context.Background(), client.ObjectKey{Namespace: u.key.Namespace, Name: "src"}, s); err != nil {
		t.Fatal(err)
	}
	return s.ResourceVersion
}

func cloudSecret() *csms.Secret {
	return &csms.Secret{ID: "id-1", Name: "db", State: csms.StateEnabled, KmsKeyID: keyA, SecretType: "COMMON",
		CreateTime: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC), ReplicaType: "STANDALONE"}
}

func ourTags() map[string]string {
	return map[string]string{"managed-by": "csms-operator", "csms-operator-owner": "team/db/uid-1"}
}

func assertCalls(t *testing.T, cloud *fakeCSMS, want ...string) {
	t.Helper()
	if diff := cmp.Diff(want, cloud.Calls()); diff != "" {
		t.Errorf("CSMS calls mismatch (-want +got):\n%s", diff)
	}
}

func assertCondition(t *testing.T, ms *v1alpha1.ManagedSecret, typ string, status metav1.ConditionStatus, reason string) {
	t.Helper()
	c := ms.GetCondition(typ)
	if c == nil || c.Status != status || c.Reason != reason {
		t.Fatalf("%s = %+v, want %s/%s", typ, c, status, reason)
	}
	if strings.Contains(c.Message, unitCanary) {
		t.Fatalf("%s message leaks the value", typ)
	}
}

// TestUnitNewResourceOnePass: a new resource gets its finalizer in the same write as the
// create-pending mark, before CreateSecret, and is created in that same pass.
func TestUnitNewResourceOnePass(t *testing.T) {
	var u *unitEnv
	var atCreate *v1alpha1.ManagedSecret
	cloud := &fakeCSMS{
		CreateSecretFn: func(csms.CreateSecretInput) (*csms.Secret, error) {
			atCreate = &v1alpha1.ManagedSecret{}
			if err := u.kube.Get(context.Background(), u.key, atCreate); err != nil {
				t.Errorf("reading the resource at CreateSecret: %v", err)
			}
			return cloudSecret(), nil
		},
		UpdateTagsFn: func(string, map[string]string, []string) error { return nil },
	}
	ms := msWith(nil)
	ms.Finalizers = []string{}
	u = newUnit(t, ms, cloud)
	got := u.reconcile(t)
	if u.err != nil {
		t.Fatalf("Reconcile: %v", u.err)
	}
	assertCalls(t, cloud, "CreateSecret", "UpdateTags")
	if atCreate == nil || !slices.Contains(atCreate.Finalizers, v1alpha1.Finalizer) || !hasPendingMark(atCreate) {
		t.Fatalf("at CreateSecret the resource must carry the finalizer and the mark: %+v", atCreate)
	}
	if !slices.Equal(got.Finalizers, []string{v1alpha1.Finalizer}) || hasPendingMark(got) || got.Status.SecretID != "id-1" {
		t.Errorf("after the pass: finalizers %v, mark %v, secretID %q", got.Finalizers, hasPendingMark(got), got.Status.SecretID)
	}
	assertCondition(t, got, v1alpha1.ConditionTypeReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
}

// TestUnitNewResourceNoFinalizerUntilCreate: a new resource that cannot be created yet
// (its source Secret is missing) gets no finalizer: nothing in the cloud needs cleaning
// up, and deleting it must not wait for the operator.
func TestUnitNewResourceNoFinalizerUntilCreate(t *testing.T) {
	cloud := &fakeCSMS{}
	ms := msWith(func(m *v1alpha1.ManagedSecret) { m.Spec.Value.SecretKeyRef.Name = "missing" })
	ms.Finalizers = []string{}
	u := newUnit(t, ms, cloud)
	got := u.reconcile(t)
	assertCalls(t, cloud)
	if len(got.Finalizers) != 0 || hasPendingMark(got) {
		t.Errorf("finalizers %v, mark %v: want neither before a create", got.Finalizers, hasPendingMark(got))
	}
	assertCondition(t, got, v1alpha1.ConditionTypeReady, metav1.ConditionFalse, v1alpha1.ReasonSourceNotFound)
}

// TestUnitFinalizerRemovedByHandIsRestored: a resource that created its secret and lost
// the finalizer gets it back, and the same pass goes on with the usual observe read.
func TestUnitFinalizerRemovedByHandIsRestored(t *testing.T) {
	cloud := &fakeCSMS{GetSecretFn: func(string) (*csms.Secret, error) { return cloudSecret(), nil }}
	u := settled(t, cloud, func(m *v1alpha1.ManagedSecret) { m.Finalizers = []string{} })
	got := u.reconcile(t)
	if u.err != nil {
		t.Fatalf("Reconcile: %v", u.err)
	}
	if !slices.Equal(got.Finalizers, []string{v1alpha1.Finalizer}) {
		t.Errorf("finalizers %v", got.Finalizers)
	}
	assertCalls(t, cloud, "GetSecret")
	assertCondition(t, got, v1alpha1.ConditionTypeReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
}

func TestUnitCreate(t *testing.T) {
	var created csms.CreateSecretInput
	var tagged map[string]string
	var markAtCreate bool
	var u *unitEnv
	cloud := &fakeCSMS{
		GetSecretFn: func(string) (*csms.Secret, error) { return nil, csms.ErrNotFound },
		CreateSecretFn: func(in csms.CreateSecretInput) (*csms.Secret, error) {
			created = in
			cur := &v1alpha1.ManagedSecret{}
			_ = u.kube.Get(context.Background(), u.key, cur)
			markAtCreate = hasPendingMark(cur)
			return cloudSecret(), nil
		},
		UpdateTagsFn: func(id string, set map[string]string, remove []string) error {
			tagged = set
			return nil
		},
	}
	ms := msWith(func(m *v1alpha1.ManagedSecret) {
		m.Spec.Description = "d"
		m.Spec.Tags = map[string]string{"team": "x"}
	})
	u = newUnit(t, ms, cloud)
	got := u.reconcile(t)
	if u.err != nil {
		t.Fatalf("Reconcile: %v", u.err)
	}
	// Never created before: no read first, CreateSecret itself refuses a taken name.
	assertCalls(t, cloud, "CreateSecret", "UpdateTags")
	if !markAtCreate {
		t.Errorf("the create-pending mark was not on the resource when CreateSecret ran")
	}
	if hasPendingMark(got) {
		t.Errorf("the create-pending mark was not removed after tagging")
	}
	if s, _ := created.Value.Text(); s != unitCanary || created.Description != "d" || created.Name != "db" {
		t.Errorf("CreateSecret input: name %q description %q value matches=%v", created.Name, created.Description, s == unitCanary)
	}
	if diff := cmp.Diff(map[string]string{"team": "x", "managed-by": "csms-operator", "csms-operator-owner": "team/db/uid-1"}, tagged); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
	assertCondition(t, got, v1alpha1.ConditionTypeReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	assertCondition(t, got, v1alpha1.ConditionTypeSynced, metav1.ConditionTrue, v1alpha1.ReasonReconcileSuccess)
	if got.Status.SecretID != "id-1" || got.Status.CurrentVersionID != "v1" || got.Status.ObservedSourceVersion != u.sourceRV(t) ||
		got.Status.ObservedGeneration != 1 || got.Status.KMSKeyID != keyA {
		t.Errorf("status = %+v", got.Status)
	}
	if u.result.RequeueAfter != 10*time.Minute {
		t.Errorf("RequeueAfter = %v, want the resync interval", u.result.RequeueAfter)
	}
	if ev := u.events(); len(ev) != 1 || !strings.Contains(ev[0], EventCreated) {
		t.Errorf("events = %v", ev)
	}
}

// settled returns a resource whose status matches cloudSecret() and the source Secret.
func settled(t *testing.T, cloud *fakeCSMS, mut func(*v1alpha1.ManagedSecret)) *unitEnv {
	ms := msWith(mut)
	u := newUnit(t, ms, cloud)
	cur := &v1alpha1.ManagedSecret{}
	if err := u.kube.Get(context.Background(), u.key, cur); err != nil {
		t.Fatal(err)
	}
	setCloudStatus(&cur.Status, cloudSecret())
	cur.Status.CurrentVersionID = "v1"
	cur.Status.ObservedSourceVersion = u.sourceRV(t)
	cur.Status.ObservedGeneration = cur.Generation
	if err := u.kube.Status().Update(context.Background(), cur); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestUnitSteadyStateIsOneRead(t *testing.T) {
	cloud := &fakeCSMS{GetSecretFn: func(string) (*csms.Secret, error) { return cloudSecret(), nil }}
	u := settled(t, cloud, nil)
	for range 3 {
		got := u.reconcile(t)
		if u.err != nil {
			t.Fatalf("Reconcile: %v", u.err)
		}
		assertCondition(t, got, v1alpha1.ConditionTypeReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	}
	assertCalls(t, cloud, "GetSecret", "GetSecret", "GetSecret")
	if ev := u.events(); len(ev) != 0 {
		t.Errorf("events in steady state: %v", ev)
	}
}

func TestUnitSourceChangedSameValueNoNewVersion(t *testing.T) {
	cloud := &fakeCSMS{
		GetSecretFn:       func(string) (*csms.Secret, error) { return cloudSecret(), nil },
		GetCurrentValueFn: func(string) (csms.Value, string, error) { return csms.StringValue(unitCanary), "v1", nil },
	}
	u := settled(t, cloud, nil)
	// A label change moves the resourceVersion but not the value.
	src := &corev1.Secret{}
	_ = u.kube.Get(context.Background(), client.ObjectKey{Namespace: "team", Name: "src"}, src)
	src.Labels = map[string]string{"x": "y"}
	if err := u.kube.Update(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	got := u.reconcile(t)
	if u.err != nil {
		t.Fatal(u.err)
	}
	assertCalls(t, cloud, "GetSecret", "GetCurrentValue")
	if got.Status.ObservedSourceVersion != src.ResourceVersion {
		t.Errorf("observedSourceVersion = %q, want %q", got.Status.ObservedSourceVersion, src.ResourceVersion)
	}
}

func TestUnitSourceChangedNewVersion(t *testing.T) {
	var pushed csms.Value
	cloud := &fakeCSMS{
		GetSecretFn:       func(string) (*csms.Secret, error) { return cloudSecret(), nil },
		GetCurrentValueFn: func(string) (csms.Value, string, error) { return csms.StringValue("old"), "v1", nil },
		PutValueFn:        func(_ string, v csms.Value) (string, error) { pushed = v; return "v2", nil },
		ListTagsFn:        func(string) (map[string]string, error) { return ourTags(), nil },
	}
	u := settled(t, cloud, nil)
	src := &corev1.Secret{}
	_ = u.kube.Get(context.Background(), client.ObjectKey{Namespace: "team", Name: "src"}, src)
	src.Data["password"] = []byte(unitCanary + "-2")
	if err := u.kube.Update(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	got := u.reconcile(t)
	if u.err != nil {
		t.Fatal(u.err)
	}
	// The tags are read right before the write: proof that the secret is still ours.
	assertCalls(t, cloud, "GetSecret", "GetCurrentValue", "ListTags", "PutValue")
	if s, _ := pushed.Text(); s != unitCanary+"-2" {
		t.Errorf("pushed value is not the source's")
	}
	if got.Status.CurrentVersionID != "v2" {
		t.Errorf("currentVersionID = %q", got.Status.CurrentVersionID)
	}
	for _, e := range u.events() {
		if strings.Contains(e, unitCanary) {
			t.Errorf("event leaks the value: %s", e)
		}
	}
}

func TestUnitRotationRefreshesVersionWithoutPush(t *testing.T) {
	rotatedSecret := cloudSecret()
	rotatedSecret.RotationTime = time.Date(2026, 11, 27, 11, 0, 0, 0, time.UTC)
	cloud := &fakeCSMS{
		GetSecretFn:        func(string) (*csms.Secret, error) { return rotatedSecret, nil },
		CurrentVersionIDFn: func(string) (string, error) { return "v5", nil },
		ListTagsFn:         func(string) (map[string]string, error) { return ourTags(), nil },
	}
	u := settled(t, cloud, nil)
	got := u.reconcile(t)
	if u.err != nil {
		t.Fatal(u.err)
	}
	// The cloud moved: the stage and the tags are read again, the value is not.
	assertCalls(t, cloud, "GetSecret", "ListTags", "CurrentVersionID")
	if got.Status.CurrentVersionID != "v5" {
		t.Errorf("currentVersionID = %q, want v5", got.Status.CurrentVersionID)
	}
}

func TestUnitNotOwnedIsLeftAlone(t *testing.T) {
	cloud := &fakeCSMS{
		CreateSecretFn: func(csms.CreateSecretInput) (*csms.Secret, error) { return nil, csms.ErrAlreadyExists },
		GetSecretFn:    func(string) (*csms.Secret, error) { return cloudSecret(), nil },
		ListTagsFn:     func(string) (map[string]string, error) { return map[string]string{"team": "other"}, nil },
	}
	u := newUnit(t, msWith(nil), cloud)
	got := u.reconcile(t)
	if u.err != nil {
		t.Fatal(u.err)
	}
	assertCalls(t, cloud, "CreateSecret", "GetSecret", "ListTags")
	if hasPendingMark(got) {
		t.Errorf("the create-pending mark stayed after CreateSecret found the name taken: the next pass would take the foreign secret")
	}
	assertCondition(t, got, v1alpha1.ConditionTypeReady, metav1.ConditionFalse, v1alpha1.ReasonAlreadyExists)
	assertCondition(t, got, v1alpha1.ConditionTypeSynced, metav1.ConditionFalse, v1alpha1.ReasonAlreadyExists)
	if u.result.RequeueAfter != 10*time.Minute {
		t.Errorf("RequeueAfter = %v, want the resync interval (no hot loop)", u.result.RequeueAfter)
	}
	if got.Status.SecretID != "" {
		t.Errorf("status shows a foreign secret: %q", got.Status.SecretID)
	}
	// A second pass does not repeat the event.
	u.reconcile(t)
	if ev := u.events(); len(ev) != 1 {
		t.Errorf("events = %v, want one AlreadyExists", ev)
	}
}

func TestUnitAdopt(t *testing.T) {
	var set map[string]string
	var remove []string
	cloud := &fakeCSMS{
		CreateSecretFn:    func(csms.CreateSecretInput) (*csms.Secret, error) { return nil, csms.ErrAlreadyExists },
		GetSecretFn:       func(string) (*csms.Secret, error) { return cloudSecret(), nil },
		ListTagsFn:        func(string) (map[string]string, error) { return map[string]string{"old": "x"}, nil },
		UpdateTagsFn:      func(_ string, s map[string]string, r []string) error { set, remove = s, r; return nil },
		GetCurrentValueFn: func(string) (csms.Value, string, error) { return csms.StringValue(unitCanary), "v3", nil },
	}
	u := newUnit(t, msWith(func(m *v1alpha1.ManagedSecret) { m.Spec.AdoptionPolicy = v1alpha1.AdoptionPolicyAdopt }), cloud)
	got := u.reconcile(t)
	if u.err != nil {
		t.Fatal(u.err)
	}
	// Adopt observes first: no CreateSecret. The value is compared while observing.
	assertCalls(t, cloud, "GetSecret", "ListTags", "GetCurrentValue", "UpdateTags")
	if diff := cmp.Diff(ourTags(), set); diff != "" || len(remove) != 1 {
		t.Errorf("tags set (-want +got):\n%s remove %v", diff, remove)
	}
	if got.Status.SecretID != "id-1" || got.Status.CurrentVersionID != "v3" {
		t.Errorf("status = %+v", got.Status)
	}
	if ev := u.events(); len(ev) != 1 || !strings.Contains(ev[0], EventAdopted) {
		t.Errorf("events = %v", ev)
	}
}

// TestUnitAdoptNeedsThePolicy: without spec.policy.allowAdoption on the provider config,
// adoptionPolicy Adopt is refused (PolicyDenied) and nothing is written.
func TestUnitAdoptNeedsThePolicy(t *testing.T) {
	cloud := &fakeCSMS{
		GetSecretFn: func(string) (*csms.Secret, error) { return cloudSecret(), nil },
		ListTagsFn:  func(string) (map[string]string, error) { return map[string]string{"old": "x"}, nil },
	}
	ms := msWith(func(m *v1alpha1.ManagedSecret) { m.Spec.AdoptionPolicy = v1alpha1.AdoptionPolicyAdopt })
	ms.Finalizers = []string{}
	u := newUnit(t, ms, cloud)
	u.r.Providers = &fakeResolver{client: cloud, policy: v1alpha1.ProviderPolicy{AllowObserve: true}}
	got := u.reconcile(t)
	if u.err != nil {
		t.Fatal(u.err)
	}
	assertCalls(t, cloud, "GetSecret", "ListTags")
	assertCondition(t, got, v1alpha1.ConditionTypeReady, metav1.ConditionFalse, v1alpha1.ReasonPolicyDenied)
	assertCondition(t, got, v1alpha1.ConditionTypeStalled, metav1.ConditionTrue, v1alpha1.ReasonPolicyDenied)
	if got.Status.SecretID != "" || len(got.Finalizers) != 0 {
		t.Errorf("a refused adoption left secretID %q finalizers %v", got.Status.SecretID, got.Finalizers)
	}
}

// TestUnitObserveOfAForeignSecretNeedsThePolicy: observing a secret the resource does not
// own exposes its metadata (and, with a target, its value): refused without
// spec.policy.allowObserve, and nothing beyond the metadata and tags is read.
func TestUnitObserveOfAForeignSecretNeedsThePolicy(t *testing.T) {
	cloud := &fakeCSMS{
		GetSecretFn: func(string) (*csms.Secret, error) { return cloudSecret(), nil },
		ListTagsFn:  func(string) (map[string]string, error) { return map[string]string{}, nil },
	}
	u := newUnit(t, msWith(func(m *v1alpha1.ManagedSecret) { m.Spec.ManagementPolicy = v1alpha1.ManagementPolicyObserve }), cloud)
	u.r.Providers = &fakeResolver{client: cloud, policy: v1alpha1.ProviderPolicy{AllowAdoption: true}}
	got := u.reconcile(t)
	if u.err != nil {
		t.Fatal(u.err)
	}
	assertCalls(t, cloud, "GetSecret", "ListTags")
	assertCondition(t, got, v1alpha1.ConditionTypeReady, metav1.ConditionFalse, v1alpha1.ReasonPolicyDenied)
	if got.Status.Name != "" || got.Status.State != "" {
		t.Errorf("a refused observation shows the secret: %+v", got.Status)
	}
}

func TestUnitRestoresOwnedPendingDelete(t *testing.T) {
	current := cloudSecret()
	current.State = csms.StatePendingDelete
	cloud := &fakeCSMS{
		CreateSecretFn: func(csms.CreateSecretInput) (*csms.Secret, error) { return nil, csms.ErrAlreadyExists },
		GetSecretFn:    func(string) (*csms.Secret, error) { return current, nil },
		ListTagsFn: func(string) (map[string]string, error) {
			return map[string]string{"managed-by": "csms-operator", "csms-operator-owner": "team/db/uid-0"}, nil
		},
		RestoreSecretFn:   func(string) (*csms.Secret, error) { current = cloudSecret(); return current, nil },
		UpdateTagsFn:      func(string, map[string]string, []string) error { return nil },
		GetCurrentValueFn: func(string) (csms.Value, string, error) { return csms.StringValue(unitCanary), "v1", nil },
	}
	u := newUnit(t, msWith(nil), cloud)
	got := u.reconcile(t)
	if u.err != nil {
		t.Fatal(u.err)
	}
	// The owner tag of the previous incarnation gets the new UID.
	// The value is compared in the next pass, which comes at once.
	assertCalls(t, cloud, "CreateSecret", "GetSecret", "ListTags", "RestoreSecret", "UpdateTags")
	assertCondition(t, got, v1alpha1.ConditionTypeReady, metav1.ConditionFalse, v1alpha1.ReasonUpdating)
	if u.result.RequeueAfter != time.Second {
		t.Errorf("RequeueAfter = %v, want a quick second pass", u.result.RequeueAfter)
	}
	got = u.reconcile(t)
	if u.err != nil {
		t.Fatal(u.err)
	}
	assertCondition(t, got, v1alpha1.ConditionTypeReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	if ev := u.events(); len(ev) < 1 || !strings.Contains(ev[0], EventRestored) {
		t.Errorf("events = %v", ev)
	}
}

func TestUnitCreateTransientReobservesAndFinishesTagging(t *testing.T) {
	cloud := &fakeCSMS{
		// The lost response did create it.
		GetSecretFn:       func(string) (*csms.Secret, error) { return cloudSecret(), nil },
		CreateSecretFn:    func(csms.CreateSecretInput) (*csms.Secret, error) { return nil, csms.ErrTransient },
		ListTagsFn:        func(string) (map[string]string, error) { return map[string]string{}, nil },
		UpdateTagsFn:      func(string, map[string]string, []string) error { return nil },
		GetCurrentValueFn: func(string) (csms.Value, string, error) { return csms.StringValue(unitCanary), "v1", nil },
	}
	u := newUnit(t, msWith(nil), cloud)
	got := u.reconcile(t)
	if u.err != nil {
		t.Fatal(u.err)
	}
	assertCalls(t, cloud, "CreateSecret", "GetSecret", "ListTags", "GetCurrentValue", "UpdateTags")
	if hasPendingMark(got) || got.Status.SecretID != "id-1" {
		t.Errorf("mark %v secretID %q", hasPendingMark(got), got.Status.SecretID)
	}
}

func TestUnitInvalidSpecNoHotLoop(t *testing.T) {
	cloud := &fakeCSMS{
		GetSecretFn: func(string) (*csms.Secret, error) { return cloudSecret(), nil },
		UpdateSecretFn: func(string, csms.UpdateSecretInput) (*csms.Secret, error) {
			return nil, &csms.APIError{Operation: "UpdateSecret", StatusCode: 400, Code: "CSMS.0002", Message: "Invalid parameter x.", Kind: csms.ErrInvalid}
		},
	}
	u := settled(t, cloud, func(m *v1alpha1.ManagedSecret) { m.Spec.Description = "new" })
	cloud.ListTagsFn = func(string) (map[string]string, error) { return ourTags(), nil }
	cloud.CurrentVersionIDFn = func(string) (string, error) { return "v1", nil }
	cloud.GetSecretFn = func(string) (*csms.Secret, error) {
		s := cloudSecret()
		s.Description = "changed in the console"
		s.UpdateTime = time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)
		return s, nil
	}
	got := u.reconcile(t)
	if u.err != nil {
		t.Fatalf("Reconcile returned %v; an invalid spec must not be retried with backoff", u.err)
	}
	if u.result.RequeueAfter != 10*time.Minute {
		t.Errorf("RequeueAfter = %v", u.result.RequeueAfter)
	}
	assertCondition(t, got, v1alpha1.ConditionTypeReady, metav1.ConditionFalse, v1alpha1.ReasonInvalidSpec)
	assertCondition(t, got, v1alpha1.ConditionTypeSynced, metav1.ConditionFalse, v1alpha1.ReasonInvalidSpec)
	// The failed step does not hide what was read: status holds the observed secret.
	if got.Status.UpdateTime == nil || !got.Status.UpdateTime.Equal(&metav1.Time{Time: time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)}) {
		t.Errorf("status.updateTime after a failed update = %v, want the observed one", got.Status.UpdateTime)
	}
}

func TestUnitThrottledKeepsReady(t *testing.T) {
	cloud := &fakeCSMS{GetSecretFn: func(string) (*csms.Secret, error) { return cloudSecret(), nil }}
	u := settled(t, cloud, nil)
	u.reconcile(t)
	cloud.GetSecretFn = func(string) (*csms.Secret, error) {
		return nil, &csms.APIError{Operation: "ShowSecret", StatusCode: 429, Code: "APIGW.0308", Kind: csms.ErrThrottled}
	}
	got := u.reconcile(t)
	if !errors.Is(u.err, csms.ErrThrottled) {
		t.Fatalf("Reconcile error = %v, want throttled (backoff)", u.err)
	}
	assertCondition(t, got, v1alpha1.ConditionTypeSynced, metav1.ConditionFalse, v1alpha1.ReasonThrottled)
	assertCondition(t, got, v1alpha1.ConditionTypeReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
}

func TestUnitProviderNotReady(t *testing.T) {
	cloud := &fakeCSMS{}
	u := newUnit(t, msWith(nil), cloud)
	u.r.Providers = &fakeResolver{err: provider.ErrConfigNotFound}
	got := u.reconcile(t)
	if u.err != nil {
		t.Fatal(u.err)
	}
	assertCalls(t, cloud)
	assertCondition(t, got, v1alpha1.ConditionTypeSynced, metav1.ConditionFalse, v1alpha1.ReasonProviderConfigNotReady)
	assertCondition(t, got, v1alpha1.ConditionTypeReady, metav1.ConditionFalse, v1alpha1.ReasonProviderConfigNotReady)
}

func TestUnitSourceNotFound(t *testing.T) {
	cloud := &fakeCSMS{GetSecretFn: func(string) (*csms.Secret, error) { return nil, csms.ErrNotFound }}
	u := newUnit(t, msWith(func(m *v1alpha1.ManagedSecret) { m.Spec.Value.SecretKeyRef.Name = "missing" }), cloud)
	got := u.reconcile(t)
	if u.err != nil {
		t.Fatal(u.err)
	}
	assertCalls(t, cloud) // nothing to create yet: the cloud is not asked
	assertCondition(t, got, v1alpha1.ConditionTypeReady, metav1.ConditionFalse, v1alpha1.ReasonSourceNotFound)
	if c := got.GetCondition(v1alpha1.ConditionTypeReady); !strings.Contains(c.Message, "missing") {
		t.Errorf("message %q does not name the Secret", c.Message)
	}
	if hasPendingMark(got) {
		t.Errorf("the pending mark was set although nothing was created")
	}
}

func TestUnitReplicas(t *testing.T) {
	var asked csms.ReplicaInput
	cloud := &fakeCSMS{
		GetSecretFn: func(string) (*csms.Secret, error) { return cloudSecret(), nil },
		CreateReplicaFn: func(_ string, r csms.ReplicaInput) (*csms.Replica, error) {
			asked = r
			return &csms.Replica{ID: "r", Region: r.Region, ProjectID: r.ProjectID, ReplicaType: "REPLICA", Status: "IN_PROGRESS"}, nil
		},
		ListTagsFn: func(string) (map[string]string, error) { return ourTags(), nil },
	}
	u := settled(t, cloud, nil)
	cur := &v1alpha1.ManagedSecret{}
	_ = u.kube.Get(context.Background(), u.key, cur)
	cur.Spec.Replicas = []v1alpha1.ReplicaSpec{{Region: "ap-southeast-3", ProjectID: strings.Repeat("a", 32)}}
	cur.Generation++ // the fake client does not bump generations
	if err := u.kube.Update(context.Background(), cur); err != nil {
		t.Fatal(err)
	}
	got := u.reconcile(t)
	if u.err != nil {
		t.Fatal(u.err)
	}
	// A spec edit that leaves spec.value alone does not look at the value.
	assertCalls(t, cloud, "GetSecret", "ListTags", "CreateReplica")
	if asked.Region != "ap-southeast-3" {
		t.Errorf("CreateReplica region %q", asked.Region)
	}
	assertCondition(t, got, v1alpha1.ConditionTypeReady, metav1.ConditionFalse, v1alpha1.ReasonReplicasSyncing)
	if u.result.RequeueAfter != DefaultReplicaPollInterval {
		t.Errorf("RequeueAfter = %v, want the replica poll interval", u.result.RequeueAfter)
	}
	if len(got.Status.Replicas) != 1 || got.Status.Replicas[0].Status != "IN_PROGRESS" {
		t.Errorf("status replicas = %+v", got.Status.Replicas)
	}
}

func deleting(t *testing.T, u *unitEnv) {
	t.Helper()
	cur := &v1alpha1.ManagedSecret{}
	_ = u.kube.Get(context.Background(), u.key, cur)
	if err := u.kube.Delete(context.Background(), cur); err != nil {
		t.Fatal(err)
	}
}

func TestUnitDelete(t *testing.T) {
	tests := []struct {
		name      string
		mut       func(*v1alpha1.ManagedSecret)
		cloud     *fakeCSMS
		wantCalls []string
		wantGone  bool
	}{
		{name: "retain touches nothing", mut: func(m *v1alpha1.ManagedSecret) { m.Spec.DeletionPolicy = v1alpha1.DeletionPolicyRetain },
			cloud: &fakeCSMS{}, wantCalls: nil, wantGone: true},
		{name: "schedule with the window", mut: func(m *v1alpha1.ManagedSecret) { m.Spec.RecoveryWindowDays = ptrInt32(7) },
			cloud: &fakeCSMS{GetSecretFn: func(string) (*csms.Secret, error) { return cloudSecret(), nil },
				ListTagsFn: func(string) (map[string]string, error) { return ourTags(), nil },
				ScheduleDeletionFn: func(_ string, d int32) (*csms.Secret, error) {
					if d != 7 {
						return nil, errBoom
					}
					return cloudSecret(), nil
				}},
			wantCalls: []string{"GetSecret", "ListTags", "ScheduleDeletion"}, wantGone: true},
		{name: "window 0 deletes at once", mut: func(m *v1alpha1.ManagedSecret) { m.Spec.RecoveryWindowDays = ptrInt32(0) },
			cloud: &fakeCSMS{GetSecretFn: func(string) (*csms.Secret, error) { return cloudSecret(), nil },
				ListTagsFn:     func(string) (map[string]string, error) { return ourTags(), nil },
				DeleteSecretFn: func(string) error { return nil }},
			wantCalls: []string{"GetSecret", "ListTags", "DeleteSecret"}, wantGone: true},
		{name: "retagged as another resource's is never deleted",
			cloud: &fakeCSMS{GetSecretFn: func(string) (*csms.Secret, error) { return cloudSecret(), nil },
				ListTagsFn: func(string) (map[string]string, error) {
					return map[string]string{"managed-by": "csms-operator", "csms-operator-owner": "other/db/uid-9"}, nil
				}},
			wantCalls: []string{"GetSecret", "ListTags"}, wantGone: true},
		{name: "observe never deletes", mut: func(m *v1alpha1.ManagedSecret) { m.Spec.ManagementPolicy = v1alpha1.ManagementPolicyObserve },
			cloud: &fakeCSMS{}, wantCalls: nil, wantGone: true},
		{name: "already gone", cloud: &fakeCSMS{GetSecretFn: func(string) (*csms.Secret, error) { return nil, csms.ErrNotFound }},
			wantCalls: []string{"GetSecret"}, wantGone: true},
		{name: "not owned is never deleted", mut: func(m *v1alpha1.ManagedSecret) { m.Status.SecretID = "" },
			cloud: &fakeCSMS{GetSecretFn: func(string) (*csms.Secret, error) { return cloudSecret(), nil },
				ListTagsFn: func(string) (map[string]string, error) { return map[string]string{}, nil }},
			wantCalls: []string{"GetSecret", "ListTags"}, wantGone: true},
		{name: "cloud failure keeps the finalizer",
			cloud: &fakeCSMS{GetSecretFn: func(string) (*csms.Secret, error) { return cloudSecret(), nil },
				ListTagsFn:         func(string) (map[string]string, error) { return ourTags(), nil },
				ScheduleDeletionFn: func(string, int32) (*csms.Secret, error) { return nil, csms.ErrTransient }},
			wantCalls: []string{"GetSecret", "ListTags", "ScheduleDeletion"}, wantGone: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := settled(t, tt.cloud, tt.mut)
			if tt.mut != nil {
				// settled() rewrote status; apply status mutations again.
				cur := &v1alpha1.ManagedSecret{}
				_ = u.kube.Get(context.Background(), u.key, cur)
				tt.mut(cur)
				_ = u.kube.Status().Update(context.Background(), cur)
			}
			deleting(t, u)
			got := u.reconcile(t)
			if diff := cmp.Diff(tt.wantCalls, tt.cloud.Calls()); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			if gone := got == nil; gone != tt.wantGone {
				t.Errorf("gone = %v, want %v (err %v)", gone, tt.wantGone, u.err)
			}
		})
	}
}

func TestUnitDeleteWithoutCredentials(t *testing.T) {
	u := settled(t, &fakeCSMS{}, nil)
	u.r.Providers = &fakeResolver{err: provider.ErrCredentialsNotFound}
	deleting(t, u)
	got := u.reconcile(t)
	if got == nil {
		t.Fatal("finalizer removed although the cloud secret could not be deleted")
	}
	assertCondition(t, got, v1alpha1.ConditionTypeSynced, metav1.ConditionFalse, v1alpha1.ReasonProviderConfigNotReady)
	if c := got.GetCondition(v1alpha1.ConditionTypeSynced); !strings.Contains(c.Message, "deletionPolicy: Retain") {
		t.Errorf("message %q does not tell about Retain", c.Message)
	}
	// Switching to Retain finishes the deletion without credentials.
	got.Spec.DeletionPolicy = v1alpha1.DeletionPolicyRetain
	if err := u.kube.Update(context.Background(), got); err != nil {
		t.Fatal(err)
	}
	if after := u.reconcile(t); after != nil {
		t.Errorf("still present after switching to Retain: finalizers %v", after.Finalizers)
	}
}

func ptrInt32(v int32) *int32 { return &v }

// TestUnitStaleCacheDoesNotMakeOwnSecretForeign: the cached resource lags behind the
// reconciler's own writes of an earlier pass (the create-pending mark, and the secret ID it
// records in status right after CreateSecret, before tagging failed); before calling an
// untagged secret foreign, the reconciler looks at the resource as the API server has it.
func TestUnitStaleCacheDoesNotMakeOwnSecretForeign(t *testing.T) {
	cloud := &fakeCSMS{
		CreateSecretFn:    func(csms.CreateSecretInput) (*csms.Secret, error) { return nil, csms.ErrAlreadyExists },
		GetSecretFn:       func(string) (*csms.Secret, error) { return cloudSecret(), nil },
		ListTagsFn:        func(string) (map[string]string, error) { return map[string]string{}, nil },
		UpdateTagsFn:      func(string, map[string]string, []string) error { return nil },
		GetCurrentValueFn: func(string) (csms.Value, string, error) { return csms.StringValue(unitCanary), "v1", nil },
	}
	stale := newUnit(t, msWith(nil), cloud) // the cache: no mark
	fresh := msWith(func(m *v1alpha1.ManagedSecret) {
		m.Status.CreatePending = true
		m.Finalizers = []string{v1alpha1.Finalizer}
		m.Status.SecretID = "id-1"
	})
	stale.r.APIReader = fake.NewClientBuilder().WithScheme(unitScheme(t)).WithObjects(fresh).Build()
	got := stale.reconcile(t)
	if stale.err != nil {
		t.Fatal(stale.err)
	}
	// The stale cache shows nothing created, so CreateSecret is tried and refused.
	assertCalls(t, cloud, "CreateSecret", "GetSecret", "ListTags", "GetCurrentValue", "UpdateTags")
	assertCondition(t, got, v1alpha1.ConditionTypeReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable)

	// Without the fresh read it would have been refused.
	cloud2 := &fakeCSMS{CreateSecretFn: cloud.CreateSecretFn, GetSecretFn: cloud.GetSecretFn, ListTagsFn: cloud.ListTagsFn}
	plain := newUnit(t, msWith(nil), cloud2)
	got = plain.reconcile(t)
	assertCondition(t, got, v1alpha1.ConditionTypeReady, metav1.ConditionFalse, v1alpha1.ReasonAlreadyExists)
}

// TestUnitRefusedCreateDropsPendingMark: a create CSMS refuses outright created nothing,
// so the mark set for it is removed again (left in place it would let the next pass take
// an untagged secret of that name as ours, and hold up deletion). A create whose outcome
// is unknown keeps it (TestUnitCreateTransientReobservesAndFinishesTagging).
func TestUnitRefusedCreateDropsPendingMark(t *testing.T) {
	for _, refusal := range []error{
		&csms.APIError{Operation: "CreateSecret", StatusCode: 400, Code: "CSMS.0002", Message: "Invalid parameter.", Kind: csms.ErrInvalid},
		&csms.APIError{Operation: "CreateSecret", StatusCode: 401, Code: "APIGW.0301", Kind: csms.ErrUnauthorized},
		&csms.APIError{Operation: "CreateSecret", StatusCode: 429, Code: "APIGW.0308", Kind: csms.ErrThrottled},
	} {
		t.Run(refusal.Error(), func(t *testing.T) {
			cloud := &fakeCSMS{CreateSecretFn: func(csms.CreateSecretInput) (*csms.Secret, error) { return nil, refusal }}
			u := newUnit(t, msWith(nil), cloud)
			got := u.reconcile(t)
			assertCalls(t, cloud, "CreateSecret")
			if hasPendingMark(got) {
				t.Errorf("the create-pending mark outlived a refused CreateSecret")
			}
			if got.Status.SecretID != "" {
				t.Errorf("status.secretID = %q after a refused create", got.Status.SecretID)
			}
		})
	}
}

// TestUnitFinalizerConflictRequeues: a conflict when removing the finalizer requeues
// the resource. The write that won may have been the reconciler's own (status, pending
// mark), which the watch predicate does not turn into a new event, so returning quietly
// without a requeue left deleted resources waiting for an unrelated event.
func TestUnitFinalizerConflictRequeues(t *testing.T) {
	u := settled(t, &fakeCSMS{}, nil)
	u.r.Providers = &fakeResolver{err: provider.ErrCredentialsNotFound}
	deleting(t, u)
	cur := &v1alpha1.ManagedSecret{}
	if err := u.kube.Get(context.Background(), u.key, cur); err != nil {
		t.Fatal(err)
	}
	cur.Spec.DeletionPolicy = v1alpha1.DeletionPolicyRetain
	if err := u.kube.Update(context.Background(), cur); err != nil {
		t.Fatal(err)
	}
	conflicts := 0
	u.r.Client = interceptor.NewClient(u.kube.(client.WithWatch), interceptor.Funcs{
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			if conflicts == 0 {
				conflicts++
				return apierrors.NewConflict(schema.GroupResource{Group: v1alpha1.GroupVersion.Group, Resource: "managedsecrets"}, obj.GetName(), errors.New("the object has been modified"))
			}
			return c.Patch(ctx, obj, patch, opts...)
		},
	})
	if got := u.reconcile(t); got == nil {
		t.Fatal("finalizer removed despite the conflict")
	}
	if u.err != nil || u.result.RequeueAfter <= 0 {
		t.Fatalf("after a conflict: result %+v, err %v; want a quiet requeue", u.result, u.err)
	}
	if after := u.reconcile(t); after != nil {
		t.Errorf("the requeued pass did not finish the deletion: finalizers %v", after.Finalizers)
	}
}

// TestUnitSpecEditDoesNotPushOverRotation: after CSMS rotated the value, a spec edit that
// leaves spec.value alone must not push the (unchanged) source over the rotated version;
// pointing spec.value at another key is a source change and is pushed.
func TestUnitSpecEditDoesNotPushOverRotation(t *testing.T) {
	rotatedValue := csms.StringValue("rotated-by-csms")
	var pushed []csms.Value
	cloud := &fakeCSMS{
		GetSecretFn:       func(string) (*csms.Secret, error) { return cloudSecret(), nil },
		ListTagsFn:        func(string) (map[string]string, error) { return ourTags(), nil },
		UpdateSecretFn:    func(string, csms.UpdateSecretInput) (*csms.Secret, error) { return cloudSecret(), nil },
		GetCurrentValueFn: func(string) (csms.Value, string, error) { return rotatedValue, "v2", nil },
		PutValueFn: func(_ string, v csms.Value) (string, error) {
			pushed = append(pushed, v)
			return "v3", nil
		},
	}
	u := settled(t, cloud, nil)
	edit := func(mutate func(*v1alpha1.ManagedSecret)) {
		t.Helper()
		cur := &v1alpha1.ManagedSecret{}
		if err := u.kube.Get(context.Background(), u.key, cur); err != nil {
			t.Fatal(err)
		}
		mutate(cur)
		cur.Generation++ // the fake client does not bump generations
		if err := u.kube.Update(context.Background(), cur); err != nil {
			t.Fatal(err)
		}
	}
	edit(func(m *v1alpha1.ManagedSecret) { m.Spec.Tags = map[string]string{"team": "y"} })
	cloud.UpdateTagsFn = func(string, map[string]string, []string) error { return nil }
	if u.reconcile(t); u.err != nil {
		t.Fatal(u.err)
	}
	if len(pushed) != 0 {
		t.Fatalf("a tag edit pushed the source over the rotated value")
	}

	// Another key of the same Secret: a source change.
	src := &corev1.Secret{}
	if err := u.kube.Get(context.Background(), client.ObjectKey{Namespace: u.key.Namespace, Name: "src"}, src); err != nil {
		t.Fatal(err)
	}
	src.Data["other"] = []byte(unitCanary + "-other")
	if err := u.kube.Update(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	// Take the Secret's new resourceVersion as already seen, so only the key switch is new.
	cur := &v1alpha1.ManagedSecret{}
	if err := u.kube.Get(context.Background(), u.key, cur); err != nil {
		t.Fatal(err)
	}
	cur.Status.ObservedSourceVersion = u.sourceRV(t)
	if err := u.kube.Status().Update(context.Background(), cur); err != nil {
		t.Fatal(err)
	}
	edit(func(m *v1alpha1.ManagedSecret) { m.Spec.Value.SecretKeyRef.Key = "other" })
	got := u.reconcile(t)
	if u.err != nil {
		t.Fatal(u.err)
	}
	if len(pushed) != 1 || !pushed[0].Equal(csms.StringValue(unitCanary+"-other")) {
		t.Fatalf("switching spec.value to another key pushed %d values, want the new key's value once", len(pushed))
	}
	if got.Status.ObservedSource != "secretKeyRef:src/other" || got.Status.CurrentVersionID != "v3" {
		t.Errorf("status observedSource %q currentVersionID %q", got.Status.ObservedSource, got.Status.CurrentVersionID)
	}
}

// TestUnitRestartSpreadsFirstChecks: after a (re)start, a resource whose status shows it
// in sync makes no cloud call in its first pass: its drift check comes within one resync
// interval. A resource whose source changed while the manager was down is pushed at once.
func TestUnitRestartSpreadsFirstChecks(t *testing.T) {
	cloud := &fakeCSMS{GetSecretFn: func(string) (*csms.Secret, error) { return cloudSecret(), nil }}
	u := settled(t, cloud, nil)
	u.reconcile(t) // the last pass before the restart: Ready and Synced for this generation
	if u.err != nil {
		t.Fatal(u.err)
	}
	restarted := func() {
		r := u.r
		u.r = &ManagedSecretReconciler{Client: r.Client, APIReader: r.APIReader, Recorder: r.Recorder, Providers: r.Providers,
			Sources: r.Sources, Jitter: r.Jitter, SpreadFirstChecks: true}
	}
	restarted()
	before := len(cloud.Calls())
	got := u.reconcile(t)
	if n := len(cloud.Calls()) - before; n != 0 || u.err != nil {
		t.Fatalf("first pass after a restart made %d cloud calls (err %v), want 0", n, u.err)
	}
	if d := u.result.RequeueAfter; d < 0 || d >= 10*time.Minute {
		t.Errorf("first check in %v, want within the resync interval", d)
	}
	assertCondition(t, got, v1alpha1.ConditionTypeReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	// Its next pass is the drift check.
	u.reconcile(t)
	if n := len(cloud.Calls()) - before; n != 1 {
		t.Errorf("the spread check made %d calls, want the one ShowSecret", n)
	}

	// The source changed while the manager was down: no waiting.
	src := &corev1.Secret{}
	_ = u.kube.Get(context.Background(), client.ObjectKey{Namespace: "team", Name: "src"}, src)
	src.Data["password"] = []byte("changed-while-down")
	if err := u.kube.Update(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	cloud.GetCurrentValueFn = func(string) (csms.Value, string, error) { return csms.StringValue(unitCanary), "v1", nil }
	cloud.ListTagsFn = func(string) (map[string]string, error) { return ourTags(), nil }
	cloud.PutValueFn = func(string, csms.Value) (string, error) { return "v2", nil }
	restarted()
	got = u.reconcile(t)
	if u.err != nil {
		t.Fatal(u.err)
	}
	if got.Status.CurrentVersionID != "v2" {
		t.Errorf("a source changed during the restart was not pushed at once (version %q)", got.Status.CurrentVersionID)
	}
}

// TestUnitTargetsDisabled: with --enable-targets=false a resource asking for a target is
// TargetsDisabled (Stalled), and no Secret is written.
func TestUnitTargetsDisabled(t *testing.T) {
	cloud := &fakeCSMS{GetSecretFn: func(string) (*csms.Secret, error) { return cloudSecret(), nil }}
	u := settled(t, cloud, func(m *v1alpha1.ManagedSecret) { m.Spec.Target = &v1alpha1.SecretTarget{Name: "out"} })
	got := u.reconcile(t)
	if u.err != nil {
		t.Fatal(u.err)
	}
	assertCondition(t, got, v1alpha1.ConditionTypeReady, metav1.ConditionFalse, v1alpha1.ReasonTargetsDisabled)
	assertCondition(t, got, v1alpha1.ConditionTypeStalled, metav1.ConditionTrue, v1alpha1.ReasonTargetsDisabled)
	if err := u.kube.Get(context.Background(), client.ObjectKey{Namespace: "team", Name: "out"}, &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Errorf("a target Secret was written with targets disabled: %v", err)
	}
}

// TestUnitRestartsAreRateLimited: when the restart rate is used up, the pass writes the
// target, defers the restart (no failure) and comes back when a restart may go.
func TestUnitRestartsAreRateLimited(t *testing.T) {
	cloud := &fakeCSMS{
		GetSecretFn:        func(string) (*csms.Secret, error) { return cloudSecret(), nil },
		CurrentVersionIDFn: func(string) (string, error) { return "v2", nil },
		GetCurrentValueFn:  func(string) (csms.Value, string, error) { return csms.StringValue("rotated"), "v2", nil },
	}
	u := settled(t, cloud, func(m *v1alpha1.ManagedSecret) {
		m.Spec.Target = &v1alpha1.SecretTarget{Name: "out", RolloutRestart: []v1alpha1.WorkloadReference{{Kind: v1alpha1.WorkloadKindDeployment, Name: "api"}}}
	})
	cur := &v1alpha1.ManagedSecret{}
	_ = u.kube.Get(context.Background(), u.key, cur)
	cur.Status.Target = &v1alpha1.TargetStatus{Name: "out", VersionID: "v1", RestartedVersionID: "v1", ResourceVersion: "1"}
	if err := u.kube.Status().Update(context.Background(), cur); err != nil {
		t.Fatal(err)
	}
	u.r.EnableTargets = true
	u.r.RestartLimiter = rate.NewLimiter(rate.Every(time.Hour), 1)
	u.r.RestartLimiter.Allow() // the rate is used up
	got := u.reconcile(t)
	if u.err != nil {
		t.Fatal(u.err)
	}
	s := &corev1.Secret{}
	if err := u.kube.Get(context.Background(), client.ObjectKey{Namespace: "team", Name: "out"}, s); err != nil || string(s.Data["value"]) != "rotated" {
		t.Fatalf("target Secret not written before the deferred restart: %v", err)
	}
	if st := got.Status.Target; st.VersionID != "v2" || st.RestartedVersionID != "v1" {
		t.Errorf("status.target = %+v, want v2 written and the restart for it still due", st)
	}
	assertCondition(t, got, v1alpha1.ConditionTypeSynced, metav1.ConditionTrue, v1alpha1.ReasonReconcileSuccess)
	if d := u.result.RequeueAfter; d < 50*time.Minute || d > time.Hour {
		t.Errorf("RequeueAfter = %v, want about the limiter's wait", d)
	}
}
