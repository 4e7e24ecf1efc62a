//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/localenv"
)

// The sample with a target (config/samples/demo): ManagedSecret inventory-db-password
// keeps Secret inventory-db-app and restarts Deployment inventory-api.
var (
	keyInventory    = client.ObjectKey{Namespace: "demo", Name: "inventory-db-password"}
	keyTarget       = client.ObjectKey{Namespace: "demo", Name: "inventory-db-app"}
	keyWorkload     = client.ObjectKey{Namespace: "demo", Name: "inventory-api"}
	inventorySource = "inventory-db"
)

// targetWrites are the permissions spec.target needs beyond the manager's own role.
var targetWrites = []authorizationv1.ResourceAttributes{
	{Namespace: "demo", Verb: "create", Resource: "secrets"},
	{Namespace: "demo", Verb: "update", Resource: "secrets"},
	{Namespace: "demo", Verb: "patch", Resource: "secrets"},
	{Namespace: "demo", Verb: "patch", Group: "apps", Resource: "deployments"},
	{Namespace: "demo", Verb: "patch", Group: "apps", Resource: "statefulsets"},
	{Namespace: "demo", Verb: "patch", Group: "apps", Resource: "daemonsets"},
}

// canI asks the API server, with a token of the manager's ServiceAccount, whether the
// manager may do a (`kubectl auth can-i --as` without impersonation rights: a
// SelfSubjectAccessReview sent as the ServiceAccount itself).
func (s *suite) canI(ctx context.Context, attrs authorizationv1.ResourceAttributes) bool {
	s.t.Helper()
	kc := filepath.Join(s.t.TempDir(), "manager-sa.kubeconfig")
	if err := s.env.ServiceAccountKubeconfig(ctx, systemNamespace, managerSA, kc, time.Hour); err != nil {
		s.t.Fatal(err)
	}
	cfg, err := localenv.RESTConfigFromKubeconfig(kc)
	if err != nil {
		s.t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	review, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
		Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &attrs},
	}, metav1.CreateOptions{})
	if err != nil {
		s.t.Fatalf("SelfSubjectAccessReview as %s: %v", managerSA, err)
	}
	return review.Status.Allowed
}

func attrString(a authorizationv1.ResourceAttributes) string {
	r := a.Resource
	if a.Group != "" {
		r += "." + a.Group
	}
	return fmt.Sprintf("%s %s -n %s", a.Verb, r, a.Namespace)
}

func (s *suite) workload(ctx context.Context) *appsv1.Deployment {
	s.t.Helper()
	d := &appsv1.Deployment{}
	if err := s.env.Client.Get(ctx, keyWorkload, d); err != nil {
		s.t.Fatal(err)
	}
	return d
}

// emulatorOps reads the emulator's request counters (operation → total over statuses)
// from its admin API, which costs no API quota.
func (s *suite) emulatorOps(ctx context.Context) map[string]int {
	s.t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.em.AdminURL+"/admin/stats", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	var st map[string]map[string]int
	if err := json.Unmarshal(b, &st); err != nil {
		s.t.Fatalf("emulator stats %q: %v", b, err)
	}
	out := map[string]int{}
	for op, byStatus := range st {
		for _, n := range byStatus {
			out[op] += n
		}
	}
	return out
}

// forceResync bumps an annotation of the ManagedSecret: the controller looks again, as
// at a periodic resync.
func (s *suite) forceResync(ctx context.Context, k client.ObjectKey, i int) {
	s.t.Helper()
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("secrets.csms-operator.io/v1alpha1")
	u.SetKind("ManagedSecret")
	u.SetNamespace(k.Namespace)
	u.SetName(k.Name)
	patch := fmt.Sprintf(`{"metadata":{"annotations":{"e2e/resync":"%d"}}}`, i)
	if err := s.env.Client.Patch(ctx, u, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		s.t.Fatal(err)
	}
}

func (s *suite) managerLog() string {
	s.t.Helper()
	b, err := os.ReadFile(s.mgr.LogPath)
	if err != nil {
		s.t.Fatal(err)
	}
	return string(b)
}

func (s *suite) eventReasons(ctx context.Context, k client.ObjectKey) []string {
	s.t.Helper()
	var l eventsv1.EventList
	if err := s.env.Client.List(ctx, &l, client.InNamespace(k.Namespace)); err != nil {
		s.t.Fatal(err)
	}
	var out []string
	for _, e := range l.Items {
		if e.Regarding.Name == k.Name && e.Regarding.Kind == "ManagedSecret" {
			out = append(out, e.Reason)
		}
	}
	return out
}

// TestTargetUnderShippedRBAC: with config/default as shipped (targets enabled), the
// manager, running as its ServiceAccount, keeps the sample's target Secret with the
// value, follows a source change into it and restarts the sample Deployment once for the
// new version, and never again on a resync. Every API call it made was allowed.
func TestTargetUnderShippedRBAC(t *testing.T) {
	ctx := context.Background()
	foundRole := false
	for _, o := range installed {
		if o.GetKind() == "ClusterRole" && o.GetName() == "csms-operator-manager-targets-role" {
			foundRole = true
		}
	}
	if !foundRole {
		t.Fatal("config/default has no ClusterRole csms-operator-manager-targets-role")
	}
	s := newSuite(t, setupOptions{})
	for _, a := range targetWrites {
		if !s.canI(ctx, a) {
			t.Errorf("the shipped RBAC does not let the manager %s", attrString(a))
		}
	}

	s.applySamples(ctx)
	ms := s.waitReady(ctx, keyInventory, func(ms *unstructured.Unstructured) (bool, string) {
		v, _, _ := unstructured.NestedString(ms.Object, "status", "target", "versionID")
		return v != "", "status.target.versionID not set yet"
	})
	secretID, _, _ := unstructured.NestedString(ms.Object, "status", "secretID")
	v1, _, _ := unstructured.NestedString(ms.Object, "status", "currentVersionID")
	if rv, _, _ := unstructured.NestedString(ms.Object, "status", "target", "restartedVersionID"); rv != v1 {
		t.Errorf("status.target.restartedVersionID = %q after the first version %s; the first version needs no restart and is recorded as rolled out", rv, v1)
	}

	want := s.sourceValue(ctx, inventorySource, "password")
	tgt := s.waitTargetValue(ctx, want)
	if got := slices.Sorted(maps.Keys(tgt.Data)); !slices.Equal(got, []string{"DATABASE_URL", "PGPASSWORD"}) {
		t.Errorf("target Secret keys %v, want DATABASE_URL and PGPASSWORD (the sample's template)", got)
	}
	if !strings.Contains(string(tgt.Data["DATABASE_URL"]), "postgres://inventory:"+want+"@") {
		t.Error("target Secret key DATABASE_URL is not the template rendered with the value")
	}
	if tgt.Labels[v1alpha1.LabelTargetOf] != keyInventory.Name || len(tgt.OwnerReferences) != 1 || tgt.OwnerReferences[0].UID != ms.GetUID() {
		t.Errorf("target Secret labels %v owners %+v; want the target-of label and an owner reference to the ManagedSecret", tgt.Labels, tgt.OwnerReferences)
	}
	d := s.workload(ctx)
	if d.Generation != 1 || d.Spec.Template.Annotations[v1alpha1.AnnotationRestartedFor] != "" {
		t.Fatalf("the first version restarted Deployment %s (generation %d, annotations %v)", keyWorkload, d.Generation, d.Spec.Template.Annotations)
	}

	// A source change reaches CSMS and the target Secret in the same pass, and restarts
	// the Deployment once.
	const canary = "e2e-target-canary-51c2d8"
	src := &corev1.Secret{}
	if err := s.env.Client.Get(ctx, client.ObjectKey{Namespace: "demo", Name: inventorySource}, src); err != nil {
		t.Fatal(err)
	}
	src.Data["password"] = []byte(canary)
	if err := s.env.Client.Update(ctx, src); err != nil {
		t.Fatal(err)
	}
	s.waitTargetValue(ctx, canary)
	ms = s.waitReady(ctx, keyInventory, func(ms *unstructured.Unstructured) (bool, string) {
		v, _, _ := unstructured.NestedString(ms.Object, "status", "currentVersionID")
		rv, _, _ := unstructured.NestedString(ms.Object, "status", "target", "restartedVersionID")
		return v != v1 && rv == v, fmt.Sprintf("currentVersionID %q, status.target.restartedVersionID %q", v, rv)
	})
	v2, _, _ := unstructured.NestedString(ms.Object, "status", "currentVersionID")
	if got, _ := cloudText(ctx, t, s.cloud(primaryRegion), "inventory-db-password"); got != canary {
		t.Fatal("CSMS does not hold the new source value")
	}
	mark := secretID + "/" + v2
	err := localenv.Poll(ctx, wait, func(ctx context.Context) (bool, string, error) {
		d = s.workload(ctx)
		got := d.Spec.Template.Annotations[v1alpha1.AnnotationRestartedFor]
		return got == mark, fmt.Sprintf("restarted-for %q, want %q", got, mark), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if d.Generation != 2 {
		t.Fatalf("Deployment generation %d after one new version, want 2 (one restart)", d.Generation)
	}

	// Resyncs find nothing to do: the Deployment is not restarted again. Each forced pass
	// is seen to have read CSMS before the check.
	for i := range 2 {
		before := s.emulatorOps(ctx)["ShowSecret"]
		s.forceResync(ctx, keyInventory, i)
		err := localenv.Poll(ctx, wait, func(ctx context.Context) (bool, string, error) {
			n := s.emulatorOps(ctx)["ShowSecret"]
			return n > before, fmt.Sprintf("no ShowSecret since the resync annotation (%d)", n), nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(2 * time.Second) // let the last pass finish its writes, if it made any
	if d := s.workload(ctx); d.Generation != 2 || d.Spec.Template.Annotations[v1alpha1.AnnotationRestartedFor] != mark {
		t.Errorf("a resync restarted Deployment %s again (generation %d, restarted-for %q)", keyWorkload, d.Generation, d.Spec.Template.Annotations[v1alpha1.AnnotationRestartedFor])
	}
	reasons := s.eventReasons(ctx, keyInventory)
	for _, r := range []string{"TargetWritten", "WorkloadRestarted"} {
		if !slices.Contains(reasons, r) {
			t.Errorf("no %s Event for %s (events: %v)", r, keyInventory, reasons)
		}
	}

	// The shipped RBAC sufficed, and the value went nowhere but the target.
	logText := s.managerLog()
	if strings.Contains(strings.ToLower(logText), "forbidden") {
		t.Errorf("the manager log shows refused API calls:\n%s", grep(logText, "forbidden"))
	}
	if strings.Contains(logText, canary) {
		t.Error("the manager log contains the secret value")
	}
}

// waitTargetValue waits until the target Secret's PGPASSWORD holds want (compared, never
// printed).
func (s *suite) waitTargetValue(ctx context.Context, want string) *corev1.Secret {
	s.t.Helper()
	sec := &corev1.Secret{}
	err := localenv.Poll(ctx, wait, func(ctx context.Context) (bool, string, error) {
		if err := s.env.Client.Get(ctx, keyTarget, sec); err != nil {
			return false, "target Secret: " + err.Error(), nil
		}
		if string(sec.Data["PGPASSWORD"]) != want {
			return false, fmt.Sprintf("target Secret %s does not hold the expected value yet (resourceVersion %s)", keyTarget, sec.ResourceVersion), nil
		}
		return true, "", nil
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return sec
}

// renderWithComponent renders config/default with a kustomize component, through an
// overlay in a temporary directory, as a user would add it.
func renderWithComponent(t *testing.T, component string) []*unstructured.Unstructured {
	t.Helper()
	dir := t.TempDir()
	rel := func(p string) string {
		r, err := filepath.Rel(dir, filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		return filepath.ToSlash(r) // kustomize refuses absolute paths
	}
	k := fmt.Sprintf("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- %s\ncomponents:\n- %s\n",
		rel("config/default"), rel(component))
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := localenv.Kustomize(context.Background(), root, dir)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := localenv.DecodeYAML(out)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// TestTargetsDisabled: config/default with the component config/components/disable-targets
// leaves the manager read-only on Secrets and unable to patch workloads; a ManagedSecret
// with a target says TargetsDisabled and nothing is written, while one without a target
// works as before.
func TestTargetsDisabled(t *testing.T) {
	ctx := context.Background()
	objs := renderWithComponent(t, "config/components/disable-targets")
	flagged := false
	for _, o := range objs {
		switch {
		case strings.Contains(o.GetName(), "manager-targets-role"):
			t.Fatalf("with disable-targets, %s %s is still rendered", o.GetKind(), o.GetName())
		case o.GetKind() == "Deployment":
			containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
			for _, c := range containers {
				args, _, _ := unstructured.NestedStringSlice(c.(map[string]any), "args")
				flagged = flagged || slices.Contains(args, "--enable-targets=false")
			}
		}
	}
	if !flagged {
		t.Fatal("with disable-targets, the Deployment does not pass --enable-targets=false")
	}
	s := newSuite(t, setupOptions{install: objs})

	// The review itself works: what the manager's own role grants is allowed.
	if !s.canI(ctx, authorizationv1.ResourceAttributes{Namespace: "demo", Verb: "get", Resource: "secrets"}) {
		t.Fatal("the manager may not even get Secrets; the access review does not see its role")
	}
	for _, a := range targetWrites {
		if s.canI(ctx, a) {
			t.Errorf("with disable-targets the manager may still %s", attrString(a))
		}
	}

	s.applySamples(ctx)
	s.waitReady(ctx, keyDB, nil)
	err := localenv.Poll(ctx, wait, func(ctx context.Context) (bool, string, error) {
		ms, err := s.getMS(ctx, keyInventory)
		if err != nil {
			return false, err.Error(), nil
		}
		st, reason, msg, current := condition(ms, "Ready")
		if st == "False" && reason == v1alpha1.ReasonTargetsDisabled && current && strings.Contains(msg, "--enable-targets=false") {
			return true, "", nil
		}
		return false, fmt.Sprintf("Ready=%q reason %s current=%v: %s", st, reason, current, msg), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if sec := (&corev1.Secret{}); !apierrors.IsNotFound(s.env.Client.Get(ctx, keyTarget, sec)) {
		t.Errorf("target Secret %s exists although targets are disabled", keyTarget)
	}
	if d := s.workload(ctx); d.Generation != 1 || d.Spec.Template.Annotations[v1alpha1.AnnotationRestartedFor] != "" {
		t.Errorf("Deployment %s was restarted although targets are disabled (generation %d)", keyWorkload, d.Generation)
	}
	// The manager did not try what it may not do.
	if l := s.managerLog(); strings.Contains(strings.ToLower(l), "forbidden") {
		t.Errorf("the manager log shows refused API calls:\n%s", grep(l, "forbidden"))
	}
}
