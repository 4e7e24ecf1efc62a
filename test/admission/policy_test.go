// Package admission tests the ValidatingAdmissionPolicy for tenant namespaces that
// docs/guides/credentials-and-multi-tenancy.md recommends as defence in depth
// (config/samples/policy/tenant-rules.yaml) on the envtest kube-apiserver, which
// enforces ValidatingAdmissionPolicy: as an impersonated tenant, each forbidden object is
// refused with the policy's message and the allowed ones are accepted.
package admission

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/testenv"
)

const (
	policyFile = "../../config/samples/policy/tenant-rules.yaml"
	guideFile  = "../../docs/guides/credentials-and-multi-tenancy.md"

	tenantNS   = "shop"
	platformNS = "platform"
	tenant     = "tenant@example.com"

	msgName     = "the CSMS secret name (spec.name, or metadata.name) must start with the namespace name and a dash"
	msgAdopt    = "adoptionPolicy Adopt is reserved to the platform team"
	msgEnvCreds = "tenants must bring credentials in a Secret; source Environment is reserved to the platform team"
)

var (
	env *testenv.Env
	ctx = context.Background()
)

func TestMain(m *testing.M) {
	os.Exit(func() int {
		var err error
		if env, err = testenv.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer func() {
			if err := env.Stop(); err != nil {
				fmt.Fprintf(os.Stderr, "stopping envtest: %v\n", err)
			}
		}()
		return m.Run()
	}())
}

// TestGuideShowsThePolicy keeps the guide's copy identical to the file tested here.
func TestGuideShowsThePolicy(t *testing.T) {
	policy, err := os.ReadFile(policyFile)
	if err != nil {
		t.Fatal(err)
	}
	guide, err := os.ReadFile(guideFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(guide, []byte("```yaml\n"+string(policy)+"```\n")) {
		t.Fatalf("%s does not show %s verbatim; copy the file into its yaml block", guideFile, policyFile)
	}
}

// TestPolicyExemptsTheShippedManager: the policy's exemption names the ServiceAccount
// config/default installs the manager as (its namespace, name prefix and name).
func TestPolicyExemptsTheShippedManager(t *testing.T) {
	var kust struct {
		Namespace  string `json:"namespace"`
		NamePrefix string `json:"namePrefix"`
	}
	var sa corev1.ServiceAccount
	readYAML(t, "../../config/default/kustomization.yaml", &kust)
	readYAML(t, "../../config/rbac/service_account.yaml", &sa)
	want := fmt.Sprintf("'system:serviceaccount:%s:%s%s'", kust.Namespace, kust.NamePrefix, sa.Name)
	policy, err := os.ReadFile(policyFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(policy), "request.userInfo.username != "+want) {
		t.Fatalf("%s does not exempt the shipped manager %s", policyFile, want)
	}
}

// TestTenantRules applies the policy and its binding, then tries every rule as a tenant
// with full rights on the operator's namespaced kinds.
func TestTenantRules(t *testing.T) {
	admin := env.Client
	for _, o := range readManifests(t, policyFile) {
		if err := admin.Create(ctx, o); err != nil {
			t.Fatalf("creating %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
	for ns, labels := range map[string]map[string]string{tenantNS: {"csms.example.com/tenant": "true"}, platformNS: nil} {
		create(t, admin, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: labels}})
	}
	create(t, admin, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "csms-all"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{v1alpha1.GroupVersion.Group},
			Resources: []string{"managedsecrets", "providerconfigs"}, Verbs: []string{"*"}}},
	})
	const operator = "system:serviceaccount:csms-system:csms-operator-controller-manager"
	for _, user := range []string{tenant, operator} {
		create(t, admin, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "csms-all-" + strings.NewReplacer("@", "-", ":", "-", ".", "-").Replace(user)},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "csms-all"},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: user}},
		})
	}
	asTenant := impersonate(t, tenant, "system:authenticated")
	asOperator := impersonate(t, operator, "system:serviceaccounts", "system:serviceaccounts:csms-system", "system:authenticated")

	// The policy is enforced once the API server's policy informers have it: wait for
	// the first refusal.
	var err error
	deadline := time.Now().Add(30 * time.Second)
	for {
		err = asTenant.Create(ctx, managedSecret(tenantNS, "probe", "no-prefix", nil))
		if err != nil && strings.Contains(err.Error(), msgName) {
			break
		}
		if err == nil {
			_ = admin.Delete(ctx, managedSecret(tenantNS, "probe", "", nil))
		}
		if time.Now().After(deadline) {
			t.Fatalf("the policy is not enforced after 30s: the last create answered %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// No type check here: the API server's status of the policy is written by
	// kube-controller-manager, which envtest does not run. An expression that errors
	// (a misspelt field) fails closed (failurePolicy Fail): the accepted cases catch it.

	refused := []struct {
		name string
		obj  client.Object
		want string
	}{
		{"CSMS name without the namespace prefix (metadata.name)", managedSecret(tenantNS, "orders-db", "", nil), msgName},
		{"CSMS name without the namespace prefix (spec.name)", managedSecret(tenantNS, "orders-db", "team-a-orders-db", nil), msgName},
		{"adoptionPolicy Adopt", managedSecret(tenantNS, "adopt", "shop-adopt", func(ms *v1alpha1.ManagedSecret) {
			ms.Spec.AdoptionPolicy = v1alpha1.AdoptionPolicyAdopt
		}), msgAdopt},
		{"a ProviderConfig with credentials.source Environment", providerConfig(tenantNS, "borrowed", v1alpha1.CredentialsSourceEnvironment), msgEnvCreds},
	}
	for _, c := range refused {
		t.Run("refused: "+c.name, func(t *testing.T) {
			err := asTenant.Create(ctx, c.obj)
			if err == nil {
				t.Fatal("accepted")
			}
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "ValidatingAdmissionPolicy 'csms-tenant-rules'") || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v; want the policy to deny it with %q", err, c.want)
			}
		})
	}

	accepted := []struct {
		name string
		obj  client.Object
	}{
		{"a ManagedSecret named after its namespace", managedSecret(tenantNS, "shop-orders-db", "", nil)},
		{"spec.name with the namespace prefix", managedSecret(tenantNS, "orders", "shop-orders", nil)},
		{"adoptionPolicy None", managedSecret(tenantNS, "explicit", "shop-explicit", func(ms *v1alpha1.ManagedSecret) {
			ms.Spec.AdoptionPolicy = v1alpha1.AdoptionPolicyNone
		})},
		{"a ProviderConfig with a credentials Secret", providerConfig(tenantNS, "own-account", v1alpha1.CredentialsSourceSecret)},
		{"anything, in a namespace the binding does not select", managedSecret(platformNS, "legacy", "", func(ms *v1alpha1.ManagedSecret) {
			ms.Spec.AdoptionPolicy = v1alpha1.AdoptionPolicyAdopt
		})},
		{"Environment, in a namespace the binding does not select", providerConfig(platformNS, "platform", v1alpha1.CredentialsSourceEnvironment)},
	}
	for _, c := range accepted {
		t.Run("accepted: "+c.name, func(t *testing.T) {
			if err := asTenant.Create(ctx, c.obj); err != nil {
				t.Fatalf("refused: %v", err)
			}
		})
	}

	t.Run("accepted: the operator updating a resource that predates the policy", func(t *testing.T) {
		// Created in an unselected namespace, then the namespace becomes a tenant's.
		legacy := &v1alpha1.ManagedSecret{}
		if err := admin.Get(ctx, client.ObjectKey{Namespace: platformNS, Name: "legacy"}, legacy); err != nil {
			t.Fatal(err)
		}
		ns := &corev1.Namespace{}
		if err := admin.Get(ctx, client.ObjectKey{Name: platformNS}, ns); err != nil {
			t.Fatal(err)
		}
		ns.Labels = map[string]string{"csms.example.com/tenant": "true"}
		if err := admin.Update(ctx, ns); err != nil {
			t.Fatal(err)
		}
		fin := client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"finalizers":["`+v1alpha1.Finalizer+`"]}}`))
		// The namespace's new label reaches the policy's namespace informer shortly:
		// the tenant's identical patch is refused once it has.
		deadline := time.Now().Add(30 * time.Second)
		for {
			err := asTenant.Patch(ctx, legacy.DeepCopy(), fin)
			if err != nil && strings.Contains(err.Error(), msgName) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the relabelled namespace is not selected after 30s: the tenant's patch answered %v", err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err := asOperator.Patch(ctx, legacy.DeepCopy(), fin); err != nil {
			t.Fatalf("the operator's finalizer patch was refused: %v", err)
		}
	})
}

func managedSecret(ns, name, csmsName string, mutate func(*v1alpha1.ManagedSecret)) *v1alpha1.ManagedSecret {
	ms := &v1alpha1.ManagedSecret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	ms.Spec.Name = csmsName
	ms.Spec.Value = &v1alpha1.SecretValueSource{Generate: &v1alpha1.GenerateSpec{}}
	if mutate != nil {
		mutate(ms)
	}
	return ms
}

func providerConfig(ns, name string, source v1alpha1.CredentialsSource) *v1alpha1.ProviderConfig {
	pc := &v1alpha1.ProviderConfig{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	pc.Spec.Region = "cn-north-4"
	pc.Spec.ProjectID = "0123456789abcdef0123456789abcdef"
	pc.Spec.Credentials.Source = source
	if source == v1alpha1.CredentialsSourceSecret {
		pc.Spec.Credentials.SecretRef = &v1alpha1.LocalSecretReference{Name: "csms-credentials"}
	}
	return pc
}

func impersonate(t *testing.T, user string, groups ...string) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: groups}
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func create(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	if err := c.Create(ctx, obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Clean(path))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func readManifests(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	dec := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
	var out []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return out
			}
			t.Fatalf("%s: %v", path, err)
		}
		if len(u.Object) > 0 {
			out = append(out, u)
		}
	}
}
