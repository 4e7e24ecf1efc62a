//go:build e2e

package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	csmsv1 "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1/model"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/localenv"
)

// The tenancy test's cast: two tenants sharing the ClusterProviderConfig "default", and a
// hostile tenant (the user mallory, with only the shipped tenant roles in its namespace)
// who wants their secrets, their cloud account or the manager's own identity.
const (
	nsVictim  = "team-a"
	nsOther   = "team-b"
	nsHostile = "intruder"
	mallory   = "mallory@example.com"

	victimCSMSName = "team-a-orders-db"
	otherCSMSName  = "team-b-api-key"
	// platformCSMSName is a secret the platform team created in the shared account
	// without the operator: no tags at all.
	platformCSMSName = "platform-root-db"

	tenantLabel = "csms.example.com/tenant"
)

var (
	keyVictim = client.ObjectKey{Namespace: nsVictim, Name: "orders-db"}
	keyOther  = client.ObjectKey{Namespace: nsOther, Name: "api-key"}
	// envAccount is the manager's own cloud identity (its HUAWEICLOUD_SDK_* environment),
	// an account of its own on an emulator of its own, whose counters therefore show
	// every call made with it.
	envAccount = account{ak: "TENANCYENVIRONMENTAK", sk: "tenancy-manager-own-identity-sk",
		projects: map[string]string{primaryRegion: "fedcba9876543210fedcba9876543210"}}
)

// tenancy is the environment of TestTenancy.
type tenancy struct {
	*suite
	// admin is a typed client with system:masters; mallory acts as the hostile tenant.
	admin, mallory client.Client
	// envEm serves only envAccount.
	envEm *localenv.Emulator
	sdk   *csmsv1.CsmsClient
}

// TestTenancy: on the shipped manifests, with the manager running as its ServiceAccount
// and holding a cloud identity of its own in its environment, a hostile tenant tries every
// way to take, borrow or overwrite what is not its own. Each attempt is refused with its
// reason; the victims' cloud secrets keep their versions, SYSCURRENT value and tags; the
// manager's environment identity is never used on a tenant's behalf.
func TestTenancy(t *testing.T) {
	ctx := context.Background()
	s := newSuite(t, setupOptions{managerEnv: []corev1.EnvVar{
		{Name: "HUAWEICLOUD_SDK_AK", Value: envAccount.ak},
		{Name: "HUAWEICLOUD_SDK_SK", Value: envAccount.sk},
		{Name: "HUAWEICLOUD_SDK_PROJECT_ID", Value: envAccount.projects[primaryRegion]},
	}})
	tc := setupTenancy(ctx, s)

	victim := tc.snapshot(ctx, victimCSMSName)
	other := tc.snapshot(ctx, otherCSMSName)
	platform := tc.snapshot(ctx, platformCSMSName)
	// unchanged is the check after every attempt: no cloud write at all, and the three
	// secrets exactly as they were.
	unchanged := func(t *testing.T, writesBefore map[string]int) {
		t.Helper()
		if w := tc.writesSince(ctx, writesBefore); len(w) > 0 {
			t.Errorf("CSMS writes during the attempt: %v", w)
		}
		tc.same(ctx, t, victimCSMSName, victim)
		tc.same(ctx, t, otherCSMSName, other)
		tc.same(ctx, t, platformCSMSName, platform)
	}

	t.Run("adopt a live secret without allowAdoption", func(t *testing.T) {
		w := tc.writes(ctx)
		ms := tc.hostileMS("adopt-denied", victimCSMSName, func(ms *v1alpha1.ManagedSecret) {
			ms.Spec.AdoptionPolicy = v1alpha1.AdoptionPolicyAdopt
		})
		got := tc.expectStalled(ctx, t, ms, v1alpha1.ReasonPolicyDenied, w)
		tc.expectNoCloudStatus(t, got, victim.id)
		tc.expectEvent(ctx, t, ms, v1alpha1.ReasonPolicyDenied)
		tc.deleteHostile(ctx, t, ms)
		unchanged(t, w)
	})

	t.Run("adopt a live secret with allowAdoption", func(t *testing.T) {
		w := tc.writes(ctx)
		ms := tc.hostileMS("adopt-live", victimCSMSName, func(ms *v1alpha1.ManagedSecret) {
			ms.Spec.AdoptionPolicy = v1alpha1.AdoptionPolicyAdopt
			ms.Spec.ProviderConfigRef = v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindCluster, Name: "adoption"}
		})
		got := tc.expectStalled(ctx, t, ms, v1alpha1.ReasonOwnedByAnotherResource, w)
		if msg := readyMessage(got); !strings.Contains(msg, keyVictim.String()) {
			t.Errorf("the refusal does not name the owner %s: %q", keyVictim, msg)
		}
		tc.expectNoCloudStatus(t, got, victim.id)
		tc.expectEvent(ctx, t, ms, v1alpha1.ReasonOwnedByAnotherResource)
		tc.deleteHostile(ctx, t, ms)
		unchanged(t, w)
	})

	t.Run("allowAdoption opens secrets whose owner is gone, and only allowAdoption", func(t *testing.T) {
		// The control for the refusal above: the same config does adopt once the owner
		// named by the tag no longer exists; the shared config still does not.
		legacy := &v1alpha1.ManagedSecret{ObjectMeta: metav1.ObjectMeta{Namespace: nsOther, Name: "legacy"}}
		legacy.Spec.Name = "team-b-legacy"
		legacy.Spec.Value = &v1alpha1.SecretValueSource{Generate: &v1alpha1.GenerateSpec{}}
		legacy.Spec.DeletionPolicy = v1alpha1.DeletionPolicyRetain
		tc.create(ctx, t, tc.admin, legacy)
		s.waitReady(ctx, client.ObjectKeyFromObject(legacy), nil)
		if err := tc.admin.Delete(ctx, legacy); err != nil {
			t.Fatal(err)
		}
		tc.waitGone(ctx, t, legacy)
		orphan := tc.snapshot(ctx, "team-b-legacy")
		// Without allowAdoption, not even an orphan.
		w := tc.writes(ctx)
		denied := tc.hostileMS("adopt-orphan-denied", "team-b-legacy", func(ms *v1alpha1.ManagedSecret) {
			ms.Spec.AdoptionPolicy = v1alpha1.AdoptionPolicyAdopt
		})
		tc.expectStalled(ctx, t, denied, v1alpha1.ReasonPolicyDenied, w)
		tc.deleteHostile(ctx, t, denied)
		if w := tc.writesSince(ctx, w); len(w) > 0 {
			t.Errorf("CSMS writes during a refused adoption: %v", w)
		}
		tc.same(ctx, t, "team-b-legacy", orphan)

		ms := tc.hostileMS("adopt-orphan", "team-b-legacy", func(ms *v1alpha1.ManagedSecret) {
			ms.Spec.AdoptionPolicy = v1alpha1.AdoptionPolicyAdopt
			ms.Spec.ProviderConfigRef = v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindCluster, Name: "adoption"}
			ms.Spec.DeletionPolicy = v1alpha1.DeletionPolicyRetain
		})
		s.waitReady(ctx, client.ObjectKeyFromObject(ms), nil)
		if owner := tc.snapshot(ctx, "team-b-legacy").tags[v1alpha1.TagKeyOwner]; !strings.HasPrefix(owner, nsHostile+"/adopt-orphan/") {
			t.Errorf("the adopted secret's owner tag is %q, want %s/adopt-orphan/<uid>", owner, nsHostile)
		}
		tc.deleteHostile(ctx, t, ms)
		tc.same(ctx, t, victimCSMSName, victim)
		tc.same(ctx, t, otherCSMSName, other)
	})

	t.Run("observe a secret it does not own, with a target, without allowObserve", func(t *testing.T) {
		w := tc.writes(ctx)
		ms := tc.hostileMS("peek", victimCSMSName, func(ms *v1alpha1.ManagedSecret) {
			ms.Spec.ManagementPolicy = v1alpha1.ManagementPolicyObserve
			ms.Spec.Value = nil
			ms.Spec.Target = &v1alpha1.SecretTarget{Name: "loot"}
		})
		got := tc.expectStalled(ctx, t, ms, v1alpha1.ReasonPolicyDenied, w)
		tc.expectNoCloudStatus(t, got, victim.id)
		if err := tc.admin.Get(ctx, client.ObjectKey{Namespace: nsHostile, Name: "loot"}, &corev1.Secret{}); !apierrors.IsNotFound(err) {
			t.Errorf("target Secret %s/loot: %v; want it never written", nsHostile, err)
		}
		tc.deleteHostile(ctx, t, ms)
		unchanged(t, w)
	})

	t.Run("borrow the manager's identity with a namespaced Environment ProviderConfig", func(t *testing.T) {
		w := tc.writes(ctx)
		pc := &v1alpha1.ProviderConfig{ObjectMeta: metav1.ObjectMeta{Namespace: nsHostile, Name: "borrowed"}}
		pc.Spec.Region = primaryRegion
		pc.Spec.ProjectID = envAccount.projects[primaryRegion]
		pc.Spec.Endpoint = tc.envEm.URL
		pc.Spec.Credentials.Source = v1alpha1.CredentialsSourceEnvironment
		tc.create(ctx, t, tc.mallory, pc)
		tc.expectConfig(ctx, t, pc, metav1.ConditionFalse, v1alpha1.ReasonEnvironmentNotAllowed)
		ms := tc.hostileMS("borrowed-identity", "intruder-borrowed", func(ms *v1alpha1.ManagedSecret) {
			ms.Spec.ProviderConfigRef = v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindNamespaced, Name: "borrowed"}
		})
		tc.expectStalled(ctx, t, ms, v1alpha1.ReasonEnvironmentNotAllowed, w)
		if st := tc.envStats(ctx, t); len(st) > 0 {
			t.Errorf("the manager's own identity was used: its emulator counted %v", st)
		}
		unchanged(t, w)
	})

	t.Run("the manager's identity works for the platform's ClusterProviderConfig only", func(t *testing.T) {
		// The control for the check above: the manager does hold envAccount, and a call
		// made with it shows in its emulator's counters.
		cpc := &v1alpha1.ClusterProviderConfig{ObjectMeta: metav1.ObjectMeta{Name: "platform-environment"}}
		cpc.Spec.Region = primaryRegion
		cpc.Spec.ProjectID = envAccount.projects[primaryRegion]
		cpc.Spec.Endpoint = tc.envEm.URL
		cpc.Spec.Credentials.Source = v1alpha1.CredentialsSourceEnvironment
		cpc.Spec.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"csms.example.com/platform": "true"}}
		tc.create(ctx, t, tc.admin, cpc)
		tc.expectConfig(ctx, t, cpc, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
		if st := tc.envStats(ctx, t); st["ListSecrets"] == 0 {
			t.Fatalf("the ClusterProviderConfig is Ready, but its emulator counted no ListSecrets: %v", st)
		}
		// The hostile namespace is not one it serves: nothing is read or created with it.
		w := tc.writes(ctx)
		ms := tc.hostileMS("platform-identity", "intruder-platform", func(ms *v1alpha1.ManagedSecret) {
			ms.Spec.ProviderConfigRef = v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindCluster, Name: "platform-environment"}
		})
		got := tc.expectFalse(ctx, t, ms, v1alpha1.ReasonProviderConfigNotReady, w)
		if msg := readyMessage(got); !strings.Contains(msg, "namespaceSelector") {
			t.Errorf("the refusal does not name the namespaceSelector: %q", msg)
		}
		for op := range tc.envStats(ctx, t) {
			if op != "ListSecrets" {
				t.Errorf("a ManagedSecret of %s reached the platform's identity: %s", nsHostile, op)
			}
		}
		tc.deleteHostile(ctx, t, ms)
		unchanged(t, w)
	})

	t.Run("a ProviderConfig whose secretRef names the platform's Secret in another namespace", func(t *testing.T) {
		w := tc.writes(ctx)
		// LocalSecretReference has no namespace: the API server drops it, and the config
		// looks for the Secret in its own namespace.
		pc := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "secrets.csms-operator.io/v1alpha1", "kind": "ProviderConfig",
			"metadata": map[string]any{"namespace": nsHostile, "name": "smuggled"},
			"spec": map[string]any{
				"region": primaryRegion, "projectID": s.acct.projects[primaryRegion], "endpoint": s.em.URL,
				"credentials": map[string]any{"secretRef": map[string]any{"namespace": systemNamespace, "name": "csms-credentials"}},
			},
		}}
		tc.create(ctx, t, tc.mallory, pc)
		typed := &v1alpha1.ProviderConfig{ObjectMeta: metav1.ObjectMeta{Namespace: nsHostile, Name: "smuggled"}}
		msg := tc.expectConfig(ctx, t, typed, metav1.ConditionFalse, v1alpha1.ReasonCredentialsNotFound)
		if !strings.Contains(msg, nsHostile) {
			t.Errorf("the config's message does not say it looked in %s: %q", nsHostile, msg)
		}
		ms := tc.hostileMS("smuggled-credentials", victimCSMSName, func(ms *v1alpha1.ManagedSecret) {
			ms.Spec.ProviderConfigRef = v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindNamespaced, Name: "smuggled"}
			ms.Spec.AdoptionPolicy = v1alpha1.AdoptionPolicyAdopt
		})
		tc.expectFalse(ctx, t, ms, v1alpha1.ReasonProviderConfigNotReady, w)
		tc.deleteHostile(ctx, t, ms)
		unchanged(t, w)
	})

	t.Run("a providerConfigRef to another namespace's ProviderConfig", func(t *testing.T) {
		w := tc.writes(ctx)
		ms := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "secrets.csms-operator.io/v1alpha1", "kind": "ManagedSecret",
			"metadata": map[string]any{"namespace": nsHostile, "name": "foreign-config"},
			"spec": map[string]any{
				"name":              otherCSMSName,
				"providerConfigRef": map[string]any{"kind": "ProviderConfig", "name": "team-b", "namespace": nsOther},
				"value":             map[string]any{"secretKeyRef": map[string]any{"name": "hostile-value", "key": "value"}},
			},
		}}
		tc.create(ctx, t, tc.mallory, ms)
		typed := &v1alpha1.ManagedSecret{ObjectMeta: metav1.ObjectMeta{Namespace: nsHostile, Name: "foreign-config"}}
		got := tc.expectFalse(ctx, t, typed, v1alpha1.ReasonProviderConfigNotReady, w)
		if msg := readyMessage(got); !strings.Contains(msg, `not found in namespace "`+nsHostile+`"`) {
			t.Errorf("the refusal does not say the ProviderConfig was looked up in %s: %q", nsHostile, msg)
		}
		tc.deleteHostile(ctx, t, typed)
		unchanged(t, w)
	})

	t.Run("the operator's own tag keys in spec.tags", func(t *testing.T) {
		for _, key := range []string{v1alpha1.TagKeyOwner, v1alpha1.TagKeyManagedBy} {
			ms := newHostileMS("forged-tag", "intruder-forged-tag", func(ms *v1alpha1.ManagedSecret) {
				ms.Spec.Tags = map[string]string{key: keyVictim.Namespace + "/" + keyVictim.Name + "/" + victim.ownerUID}
			})
			err := tc.mallory.Create(ctx, ms)
			if err == nil || !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "the operator sets them to mark ownership") {
				t.Errorf("spec.tags with key %s: got %v, want the API server to refuse it", key, err)
				_ = tc.admin.Delete(ctx, ms)
			}
		}
	})

	t.Run("forge status.secretID", func(t *testing.T) {
		// The shipped editor role grants get on managedsecrets/status, nothing more: a
		// tenant cannot claim a secret by its ID.
		ms := tc.hostileMS("forged-id", victimCSMSName, func(ms *v1alpha1.ManagedSecret) {
			ms.Spec.Value.SecretKeyRef.Name = "no-such-secret"
		})
		patch := client.RawPatch("application/merge-patch+json", []byte(`{"status":{"secretID":"`+victim.id+`"}}`))
		if err := tc.mallory.Status().Patch(ctx, ms, patch); !apierrors.IsForbidden(err) {
			t.Errorf("a tenant patching status.secretID: %v, want Forbidden", err)
		}
		tc.deleteHostile(ctx, t, ms)
	})

	t.Run("claim a live secret with the finalizer, then delete with recoveryWindowDays 0", func(t *testing.T) {
		w := tc.writes(ctx)
		ms := tc.hostileMS("squat-delete", victimCSMSName, func(ms *v1alpha1.ManagedSecret) {
			ms.Finalizers = []string{v1alpha1.Finalizer}
			ms.Spec.DeletionPolicy = v1alpha1.DeletionPolicyDelete
			ms.Spec.RecoveryWindowDays = ptr.To[int32](0)
		})
		tc.expectStalled(ctx, t, ms, v1alpha1.ReasonAlreadyExists, w)
		tc.deleteHostile(ctx, t, ms)
		unchanged(t, w)
		if !t.Failed() {
			tc.expectEvent(ctx, t, ms, "NotDeleted")
		}
	})

	t.Run("claim an untagged secret with the old create-pending annotation, then delete it", func(t *testing.T) {
		// The crash-recovery mark ("this resource created the secret and stopped before
		// tagging it") was once this annotation, which a tenant may write. It lives in
		// status now, which only the operator may write; the annotation proves nothing.
		// A secret created outside the operator is untagged, like one whose creator
		// crashed before tagging it.
		w := tc.writes(ctx)
		ms := tc.hostileMS("pending-claim", platformCSMSName, func(ms *v1alpha1.ManagedSecret) {
			ms.Annotations = map[string]string{"secrets.csms-operator.io/create-pending": "true"}
			ms.Spec.DeletionPolicy = v1alpha1.DeletionPolicyDelete
			ms.Spec.RecoveryWindowDays = ptr.To[int32](0)
		})
		tc.expectStalled(ctx, t, ms, v1alpha1.ReasonAlreadyExists, w)
		tc.deleteHostile(ctx, t, ms)
		unchanged(t, w)
	})

	t.Run("retag the victim's secret, then change its source", func(t *testing.T) {
		// Someone with cloud access (not the operator) names another resource in the
		// owner tag. The victim must notice before its next write, write nothing and
		// never take the tag back.
		squatter := nsHostile + "/squatter/0d5a3f4e-0000-4000-8000-000000000000"
		tc.setTag(ctx, t, victim.id, v1alpha1.TagKeyOwner, squatter)
		retagged := tc.snapshot(ctx, victimCSMSName)
		if retagged.tags[v1alpha1.TagKeyOwner] != squatter {
			t.Fatalf("the retag did not take: %v", retagged.tags)
		}
		w := tc.writes(ctx)
		src := &corev1.Secret{}
		if err := tc.admin.Get(ctx, client.ObjectKey{Namespace: nsVictim, Name: "orders-db-source"}, src); err != nil {
			t.Fatal(err)
		}
		src.Data["password"] = []byte("team-a-second-password")
		if err := tc.admin.Update(ctx, src); err != nil {
			t.Fatal(err)
		}
		ms := &v1alpha1.ManagedSecret{ObjectMeta: metav1.ObjectMeta{Namespace: keyVictim.Namespace, Name: keyVictim.Name}}
		// The victim was Ready before and stays so until its pass after the source
		// change: wait for that pass, and stop at once if it writes.
		got := tc.expectCondition(ctx, t, ms, v1alpha1.ReasonOwnershipLost, true, func(*v1alpha1.ManagedSecret) error {
			if w := tc.writesSince(ctx, w); len(w) > 0 {
				return fmt.Errorf("CSMS writes after the retag: %v", w)
			}
			return nil
		})
		if msg := readyMessage(got); !strings.Contains(msg, nsHostile+"/squatter") {
			t.Errorf("OwnershipLost does not name the new owner: %q", msg)
		}
		tc.expectEvent(ctx, t, ms, v1alpha1.ReasonOwnershipLost)
		if w := tc.writesSince(ctx, w); len(w) > 0 {
			t.Errorf("CSMS writes after ownership was lost: %v", w)
		}
		tc.same(ctx, t, victimCSMSName, retagged)

		// Deleting the victim (deletionPolicy Delete) leaves the secret to its new owner.
		w = tc.writes(ctx)
		if err := tc.admin.Delete(ctx, ms); err != nil {
			t.Fatal(err)
		}
		tc.waitGone(ctx, t, ms)
		if w := tc.writesSince(ctx, w); len(w) > 0 {
			t.Errorf("CSMS writes while deleting a resource that lost its secret: %v", w)
		}
		tc.same(ctx, t, victimCSMSName, retagged)
		tc.same(ctx, t, otherCSMSName, other)
	})
}

// setupTenancy starts envAccount's emulator and installs the tenants: team-a's and
// team-b's ManagedSecrets on the shared "default" ClusterProviderConfig, a second
// ClusterProviderConfig "adoption" with the same credentials that allows adoption, the
// platform's untagged secret, and the hostile namespace with mallory's RoleBindings.
func setupTenancy(ctx context.Context, s *suite) *tenancy {
	t := s.t
	t.Helper()
	tc := &tenancy{suite: s}
	var err error
	tc.envEm, err = s.env.StartEmulator(ctx, localenv.EmulatorOptions{
		Name:        "emulator-environment",
		Binary:      filepath.Join(binDir, "csms-emulator"),
		Region:      primaryRegion,
		Credentials: []string{fmt.Sprintf("%s:%s:%s=%s", envAccount.ak, envAccount.sk, primaryRegion, envAccount.projects[primaryRegion])},
	})
	if err != nil {
		t.Fatal(err)
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if tc.admin, err = client.New(s.env.Config, client.Options{Scheme: scheme}); err != nil {
		t.Fatal(err)
	}
	mcfg := rest.CopyConfig(s.env.Config)
	mcfg.Impersonate = rest.ImpersonationConfig{UserName: mallory, Groups: []string{"system:authenticated"}}
	if tc.mallory, err = client.New(mcfg, client.Options{Scheme: scheme}); err != nil {
		t.Fatal(err)
	}
	cred, err := basic.NewCredentialsBuilder().WithAk(s.acct.ak).WithSk(s.acct.sk).WithProjectId(s.acct.projects[primaryRegion]).SafeBuild()
	if err != nil {
		t.Fatal(err)
	}
	hc, err := csmsv1.CsmsClientBuilder().WithEndpoints([]string{s.em.URL}).WithCredential(cred).SafeBuild()
	if err != nil {
		t.Fatal(err)
	}
	tc.sdk = csmsv1.NewCsmsClient(hc)

	for _, ns := range []string{nsVictim, nsOther, nsHostile} {
		o := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{tenantLabel: "true"}}}
		tc.create(ctx, t, tc.admin, o)
	}
	creds := func(ns string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "csms-credentials"},
			StringData: map[string]string{v1alpha1.CredentialsKeyAccessKeyID: s.acct.ak, v1alpha1.CredentialsKeySecretAccessKey: s.acct.sk}}
	}
	tc.create(ctx, t, tc.admin, creds(systemNamespace))
	for _, name := range []string{"default", "adoption"} {
		cpc := &v1alpha1.ClusterProviderConfig{ObjectMeta: metav1.ObjectMeta{Name: name}}
		cpc.Spec.Region = primaryRegion
		cpc.Spec.ProjectID = s.acct.projects[primaryRegion]
		cpc.Spec.Endpoint = s.em.URL
		cpc.Spec.Credentials.SecretRef = &v1alpha1.NamespacedSecretReference{Namespace: systemNamespace, Name: "csms-credentials"}
		if name == "adoption" {
			cpc.Spec.Policy = &v1alpha1.ProviderPolicy{AllowAdoption: true}
		}
		tc.create(ctx, t, tc.admin, cpc)
	}
	// team-b also has a ProviderConfig of its own, which no other namespace may use.
	tc.create(ctx, t, tc.admin, creds(nsOther))
	pc := &v1alpha1.ProviderConfig{ObjectMeta: metav1.ObjectMeta{Namespace: nsOther, Name: "team-b"}}
	pc.Spec.Region = primaryRegion
	pc.Spec.ProjectID = s.acct.projects[primaryRegion]
	pc.Spec.Endpoint = s.em.URL
	pc.Spec.Credentials.SecretRef = &v1alpha1.LocalSecretReference{Name: "csms-credentials"}
	tc.create(ctx, t, tc.admin, pc)

	tc.create(ctx, t, tc.admin, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: nsVictim, Name: "orders-db-source"},
		StringData: map[string]string{"password": "team-a-first-password"}})
	victim := &v1alpha1.ManagedSecret{ObjectMeta: metav1.ObjectMeta{Namespace: keyVictim.Namespace, Name: keyVictim.Name}}
	victim.Spec.Name = victimCSMSName
	victim.Spec.Value = &v1alpha1.SecretValueSource{SecretKeyRef: &v1alpha1.SecretKeySelector{Name: "orders-db-source", Key: "password"}}
	victim.Spec.Tags = map[string]string{"team": "a"}
	tc.create(ctx, t, tc.admin, victim)
	other := &v1alpha1.ManagedSecret{ObjectMeta: metav1.ObjectMeta{Namespace: keyOther.Namespace, Name: keyOther.Name}}
	other.Spec.Name = otherCSMSName
	other.Spec.Value = &v1alpha1.SecretValueSource{Generate: &v1alpha1.GenerateSpec{}}
	tc.create(ctx, t, tc.admin, other)

	// The platform team's secret, made with the SDK: no operator, no tags.
	if _, err := tc.sdk.CreateSecret(&model.CreateSecretRequest{Body: &model.CreateSecretRequestBody{
		Name: platformCSMSName, SecretString: ptr.To("platform-root-password"),
	}}); err != nil {
		t.Fatalf("creating %s with the SDK: %v", platformCSMSName, err)
	}

	// mallory: the shipped tenant roles in the hostile namespace, and Secrets there.
	for _, role := range []string{"csms-operator-managedsecret-editor-role", "csms-operator-providerconfig-editor-role"} {
		tc.create(ctx, t, tc.admin, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: nsHostile, Name: strings.TrimPrefix(role, "csms-operator-")},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: mallory}},
		})
	}
	tc.create(ctx, t, tc.admin, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: nsHostile, Name: "secrets"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "list", "create", "update", "patch", "delete"}}},
	})
	tc.create(ctx, t, tc.admin, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: nsHostile, Name: "secrets"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "secrets"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: mallory}},
	})
	// RBAC reaches the authorizer within moments.
	err = localenv.Poll(ctx, wait, func(ctx context.Context) (bool, string, error) {
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: nsHostile, Name: "hostile-value"},
			StringData: map[string]string{"value": "mallory-was-here"}}
		if err := tc.mallory.Create(ctx, sec); err != nil && !apierrors.IsAlreadyExists(err) {
			return false, "mallory creating a Secret: " + err.Error(), nil
		}
		return true, "", nil
	})
	if err != nil {
		t.Fatal(err)
	}

	for _, k := range []client.ObjectKey{keyVictim, keyOther} {
		s.waitReady(ctx, k, nil)
	}
	return tc
}

// hostileMS creates, as mallory, a ManagedSecret for the CSMS secret csmsName with
// mallory's value, on the shared config unless mutate says otherwise.
func (tc *tenancy) hostileMS(name, csmsName string, mutate func(*v1alpha1.ManagedSecret)) *v1alpha1.ManagedSecret {
	ms := newHostileMS(name, csmsName, mutate)
	tc.create(context.Background(), tc.t, tc.mallory, ms)
	return ms
}

// newHostileMS is hostileMS without the create.
func newHostileMS(name, csmsName string, mutate func(*v1alpha1.ManagedSecret)) *v1alpha1.ManagedSecret {
	ms := &v1alpha1.ManagedSecret{ObjectMeta: metav1.ObjectMeta{Namespace: nsHostile, Name: name}}
	ms.Spec.Name = csmsName
	ms.Spec.Value = &v1alpha1.SecretValueSource{SecretKeyRef: &v1alpha1.SecretKeySelector{Name: "hostile-value", Key: "value"}}
	if mutate != nil {
		mutate(ms)
	}
	return ms
}

// readyMessage is the message of the Ready condition.
func readyMessage(ms *v1alpha1.ManagedSecret) string {
	if c := meta.FindStatusCondition(ms.Status.Conditions, v1alpha1.ConditionTypeReady); c != nil {
		return c.Message
	}
	return ""
}

func (tc *tenancy) create(ctx context.Context, t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	if err := c.Create(ctx, obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, client.ObjectKeyFromObject(obj), err)
	}
}

// expectStalled waits until the ManagedSecret is Ready=False with reason, Stalled=True,
// both for its current generation.
// It fails at once if the resource becomes Ready or, when writesBefore is set, if the
// shared emulator counts a write since writesBefore.
func (tc *tenancy) expectStalled(ctx context.Context, t *testing.T, ms *v1alpha1.ManagedSecret, reason string, writesBefore map[string]int) *v1alpha1.ManagedSecret {
	t.Helper()
	return tc.expectCondition(ctx, t, ms, reason, true, tc.refusedGuard(ctx, writesBefore))
}

// expectFalse is expectStalled for a reason that is not Stalled (it may heal by itself,
// e.g. when a config appears).
func (tc *tenancy) expectFalse(ctx context.Context, t *testing.T, ms *v1alpha1.ManagedSecret, reason string, writesBefore map[string]int) *v1alpha1.ManagedSecret {
	t.Helper()
	return tc.expectCondition(ctx, t, ms, reason, false, tc.refusedGuard(ctx, writesBefore))
}

// refusedGuard ends the wait of a hostile resource that got what it asked for: it became
// Ready, or (with writesBefore) the shared emulator counted a write.
func (tc *tenancy) refusedGuard(ctx context.Context, writesBefore map[string]int) func(*v1alpha1.ManagedSecret) error {
	return func(ms *v1alpha1.ManagedSecret) error {
		if ready := meta.FindStatusCondition(ms.Status.Conditions, v1alpha1.ConditionTypeReady); ready != nil && ready.Status == metav1.ConditionTrue && ready.ObservedGeneration == ms.Generation {
			return fmt.Errorf("%s became Ready (%s: %s)", client.ObjectKeyFromObject(ms), ready.Reason, ready.Message)
		}
		if writesBefore != nil {
			if w := tc.writesSince(ctx, writesBefore); len(w) > 0 {
				return fmt.Errorf("CSMS writes: %v", w)
			}
		}
		return nil
	}
}

// expectCondition waits for Ready=False with reason (and Stalled=True when stalled); guard
// may end the wait early with an error.
func (tc *tenancy) expectCondition(ctx context.Context, t *testing.T, ms *v1alpha1.ManagedSecret, reason string, stalled bool, guard func(*v1alpha1.ManagedSecret) error) *v1alpha1.ManagedSecret {
	t.Helper()
	got := &v1alpha1.ManagedSecret{}
	err := localenv.Poll(ctx, wait, func(ctx context.Context) (bool, string, error) {
		if err := tc.admin.Get(ctx, client.ObjectKeyFromObject(ms), got); err != nil {
			return false, err.Error(), nil
		}
		if err := guard(got); err != nil {
			return false, "", fmt.Errorf("waiting for %s: %w", reason, err)
		}
		ready := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionTypeReady)
		if ready == nil || ready.ObservedGeneration != got.Generation {
			return false, "no Ready condition for the current generation yet", nil
		}
		if ready.Reason != reason {
			if ready.Status == metav1.ConditionFalse && meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionTypeStalled) {
				// Stalled waits for a change: this reason is the answer.
				return false, "", fmt.Errorf("%s is Stalled with reason %s, want %s: %s", client.ObjectKeyFromObject(ms), ready.Reason, reason, ready.Message)
			}
			return false, fmt.Sprintf("Ready=%s reason %s: %s", ready.Status, ready.Reason, ready.Message), nil
		}
		if stalled && !meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionTypeStalled) {
			return false, "Ready has reason " + reason + " but Stalled is not True", nil
		}
		return true, "", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ready := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionTypeReady)
	t.Logf("%s: Ready=False %s: %s", client.ObjectKeyFromObject(ms), ready.Reason, ready.Message)
	return got
}

// expectConfig waits for a provider config's Ready condition and returns its message.
func (tc *tenancy) expectConfig(ctx context.Context, t *testing.T, obj client.Object, status metav1.ConditionStatus, reason string) string {
	t.Helper()
	var msg string
	err := localenv.Poll(ctx, wait, func(ctx context.Context) (bool, string, error) {
		var conds []metav1.Condition
		switch o := obj.(type) {
		case *v1alpha1.ProviderConfig:
			if err := tc.admin.Get(ctx, client.ObjectKeyFromObject(o), o); err != nil {
				return false, err.Error(), nil
			}
			conds = o.Status.Conditions
		case *v1alpha1.ClusterProviderConfig:
			if err := tc.admin.Get(ctx, client.ObjectKeyFromObject(o), o); err != nil {
				return false, err.Error(), nil
			}
			conds = o.Status.Conditions
		}
		c := meta.FindStatusCondition(conds, v1alpha1.ConditionTypeReady)
		if c == nil {
			return false, "no Ready condition yet", nil
		}
		if status == metav1.ConditionFalse && c.Status == metav1.ConditionTrue {
			return false, "", fmt.Errorf("Ready=True %s: %s; want it refused with %s", c.Reason, c.Message, reason)
		}
		if c.Status != status || c.Reason != reason {
			return false, fmt.Sprintf("Ready=%s %s: %s", c.Status, c.Reason, c.Message), nil
		}
		msg = c.Message
		return true, "", nil
	})
	if err != nil {
		t.Fatalf("%T %s: %v", obj, client.ObjectKeyFromObject(obj), err)
	}
	t.Logf("%T %s: Ready=%s %s: %s", obj, client.ObjectKeyFromObject(obj), status, reason, msg)
	return msg
}

// expectNoCloudStatus checks that a refused resource's status shows nothing of the cloud
// secret: only conditions and observedGeneration, and no message naming its ID.
func (tc *tenancy) expectNoCloudStatus(t *testing.T, ms *v1alpha1.ManagedSecret, secretID string) {
	t.Helper()
	raw, err := json.Marshal(ms.Status)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatal(err)
	}
	delete(fields, "conditions")
	delete(fields, "observedGeneration")
	if len(fields) > 0 {
		t.Errorf("the refused resource's status shows %s", raw)
	}
	if strings.Contains(string(raw), secretID) {
		t.Errorf("the refused resource's status names the victim's secret ID: %s", raw)
	}
}

// expectEvent waits for an Event with reason about the resource.
func (tc *tenancy) expectEvent(ctx context.Context, t *testing.T, ms *v1alpha1.ManagedSecret, reason string) {
	t.Helper()
	err := localenv.Poll(ctx, wait, func(ctx context.Context) (bool, string, error) {
		var l eventsv1.EventList
		if err := tc.admin.List(ctx, &l, client.InNamespace(ms.Namespace)); err != nil {
			return false, err.Error(), nil
		}
		for _, e := range l.Items {
			if e.Regarding.Name == ms.Name && e.Reason == reason {
				return true, "", nil
			}
		}
		return false, fmt.Sprintf("no %s Event for %s among %d", reason, client.ObjectKeyFromObject(ms), len(l.Items)), nil
	})
	if err != nil {
		t.Error(err)
	}
}

// deleteHostile deletes one of mallory's resources as mallory and waits until it is gone.
func (tc *tenancy) deleteHostile(ctx context.Context, t *testing.T, ms *v1alpha1.ManagedSecret) {
	t.Helper()
	if err := tc.mallory.Delete(ctx, ms); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	tc.waitGone(ctx, t, ms)
}

func (tc *tenancy) waitGone(ctx context.Context, t *testing.T, ms *v1alpha1.ManagedSecret) {
	t.Helper()
	err := localenv.Poll(ctx, wait, func(ctx context.Context) (bool, string, error) {
		got := &v1alpha1.ManagedSecret{}
		err := tc.admin.Get(ctx, client.ObjectKeyFromObject(ms), got)
		if apierrors.IsNotFound(err) {
			return true, "", nil
		}
		return false, fmt.Sprintf("%s still exists (finalizers %v)", client.ObjectKeyFromObject(ms), got.Finalizers), nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// cloudState is what the cloud holds for one secret, read through the SDK. The value is
// kept only as a hash, so a failure message cannot print it.
type cloudState struct {
	id, state, description string
	updateTime             int64
	// versions are "ID[STAGES]" sorted.
	versions []string
	current  string
	value    [32]byte
	tags     map[string]string
	// ownerUID is the UID part of the owner tag.
	ownerUID string
}

func (tc *tenancy) snapshot(ctx context.Context, name string) cloudState {
	t := tc.t
	t.Helper()
	var cs cloudState
	sec, err := tc.sdk.ShowSecret(&model.ShowSecretRequest{SecretName: name})
	if err != nil || sec.Secret == nil {
		t.Fatalf("ShowSecret %s: %v", name, err)
	}
	cs.id, cs.state = ptr.Deref(sec.Secret.Id, ""), ptr.Deref(sec.Secret.State, "")
	cs.description, cs.updateTime = ptr.Deref(sec.Secret.Description, ""), ptr.Deref(sec.Secret.UpdateTime, 0)
	vs, err := tc.sdk.ListSecretVersions(&model.ListSecretVersionsRequest{SecretName: name})
	if err != nil {
		t.Fatalf("ListSecretVersions %s: %v", name, err)
	}
	for _, v := range ptr.Deref(vs.VersionMetadatas, nil) {
		stages := slices.Clone(ptr.Deref(v.VersionStages, nil))
		sort.Strings(stages)
		cs.versions = append(cs.versions, ptr.Deref(v.Id, "")+"["+strings.Join(stages, ",")+"]")
	}
	sort.Strings(cs.versions)
	st, err := tc.sdk.ShowSecretStage(&model.ShowSecretStageRequest{SecretName: name, StageName: "SYSCURRENT"})
	if err != nil || st.Stage == nil {
		t.Fatalf("ShowSecretStage %s SYSCURRENT: %v", name, err)
	}
	cs.current = ptr.Deref(st.Stage.VersionId, "")
	v, err := tc.sdk.ShowSecretVersion(&model.ShowSecretVersionRequest{SecretName: name, VersionId: cs.current})
	if err != nil || v.Version == nil {
		t.Fatalf("ShowSecretVersion %s %s: %v", name, cs.current, err)
	}
	cs.value = sha256.Sum256([]byte(ptr.Deref(v.Version.SecretString, "")))
	tags, err := tc.sdk.ListSecretTags(&model.ListSecretTagsRequest{SecretId: cs.id})
	if err != nil {
		t.Fatalf("ListSecretTags %s: %v", name, err)
	}
	cs.tags = map[string]string{}
	for _, tg := range ptr.Deref(tags.Tags, nil) {
		cs.tags[tg.Key] = ptr.Deref(tg.Value, "")
	}
	cs.ownerUID = v1alpha1.OwnerUIDFromTag(cs.tags[v1alpha1.TagKeyOwner])
	return cs
}

// same reports every way the secret differs from want.
func (tc *tenancy) same(ctx context.Context, t *testing.T, name string, want cloudState) {
	t.Helper()
	got := tc.snapshot(ctx, name)
	if got.id != want.id || got.state != want.state || got.description != want.description || got.updateTime != want.updateTime {
		t.Errorf("%s metadata changed: id %s→%s, state %s→%s, update_time %d→%d", name, want.id, got.id, want.state, got.state, want.updateTime, got.updateTime)
	}
	if !slices.Equal(got.versions, want.versions) {
		t.Errorf("%s versions changed: %v → %v", name, want.versions, got.versions)
	}
	if got.current != want.current {
		t.Errorf("%s SYSCURRENT moved: %s → %s", name, want.current, got.current)
	}
	if got.value != want.value {
		t.Errorf("%s SYSCURRENT value changed", name)
	}
	if fmt.Sprint(got.tags) != fmt.Sprint(want.tags) {
		t.Errorf("%s tags changed: %v → %v", name, want.tags, got.tags)
	}
}

// setTag sets one tag with the SDK, as someone with access to the cloud account would.
func (tc *tenancy) setTag(ctx context.Context, t *testing.T, secretID, key, value string) {
	t.Helper()
	if _, err := tc.sdk.BatchCreateOrDeleteTags(&model.BatchCreateOrDeleteTagsRequest{SecretId: secretID,
		Body: &model.BatchCreateOrDeleteTagsRequestBody{Action: "create", Tags: []model.TagItem{{Key: key, Value: ptr.To(value)}}}}); err != nil {
		t.Fatalf("tagging %s: %v", secretID, err)
	}
}

// readOps are the CSMS operations that change nothing.
var readOps = map[string]bool{
	"ListSecrets": true, "ShowSecret": true, "ListSecretVersions": true, "ShowSecretVersion": true,
	"ShowSecretStage": true, "ListSecretTags": true, "ListProjectSecretsTags": true,
	"ListResourceInstances": true, "ListSecretTask": true, "ListSecretEvents": true, "ShowSecretEvent": true,
}

// writes counts the shared emulator's successful requests per operation that are not
// reads. A refused write changed nothing: a CreateSecret of a taken name is how a
// resource that never created anything finds out that the name is taken.
func (tc *tenancy) writes(ctx context.Context) map[string]int {
	out := map[string]int{}
	for op, byStatus := range adminStats(ctx, tc.t, tc.em.AdminURL) {
		for status, n := range byStatus {
			if !readOps[op] && strings.HasPrefix(status, "2") {
				out[op] += n
			}
		}
	}
	return out
}

// writesSince lists the write operations counted since before.
func (tc *tenancy) writesSince(ctx context.Context, before map[string]int) map[string]int {
	out := map[string]int{}
	for op, n := range tc.writes(ctx) {
		if d := n - before[op]; d > 0 {
			out[op] = d
		}
	}
	return out
}

// envStats counts the requests envAccount's emulator served, per operation.
func (tc *tenancy) envStats(ctx context.Context, t *testing.T) map[string]int {
	out := map[string]int{}
	for op, byStatus := range adminStats(ctx, t, tc.envEm.AdminURL) {
		for _, n := range byStatus {
			out[op] += n
		}
	}
	return out
}

// adminStats reads an emulator's GET /admin/stats: operation → status → count.
func adminStats(ctx context.Context, t *testing.T, adminURL string) map[string]map[string]int {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, adminURL+"/admin/stats", nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var byOp map[string]map[string]int
	if err := json.Unmarshal(body, &byOp); err != nil {
		t.Fatalf("decoding %s/admin/stats: %v", adminURL, err)
	}
	return byOp
}
