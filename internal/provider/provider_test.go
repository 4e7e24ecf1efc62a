package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/csms"
	"github.com/csms-operator/csms-operator/internal/emulator"
	"github.com/csms-operator/csms-operator/internal/emulator/emulatortest"
)

func completeCreds(ak, sk string) map[string]string {
	return map[string]string{
		v1alpha1.CredentialsKeyAccessKeyID:     ak,
		v1alpha1.CredentialsKeySecretAccessKey: sk,
	}
}

func TestProviderConfigReadyWithCompleteSecret(t *testing.T) {
	ctx := context.Background()
	// Temporary credentials: the emulator checks that the Secret's securityToken is sent.
	emu := startEmulator(t, emulator.Credential{AK: "AK-READY", SK: "SK-READY", SecurityToken: "TOKEN-READY",
		Projects: map[string]string{emulatortest.Region: emulatortest.ProjectID}})
	ns := newNamespace(t, "pc-ready", nil)
	mustCreate(t, credentialsSecret(ns, "creds", map[string]string{
		v1alpha1.CredentialsKeyAccessKeyID:     "AK-READY",
		v1alpha1.CredentialsKeySecretAccessKey: "SK-READY",
		v1alpha1.CredentialsKeySecurityToken:   "TOKEN-READY",
	}))
	pc := emuProviderConfig(ns, "csms", emu, "creds")
	pc.Spec.RateLimit = &v1alpha1.RateLimit{QPS: 7, Burst: 9}
	mustCreate(t, pc)

	c := waitReady(t, pc, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	if want := fmt.Sprintf(`CSMS accepted the credentials in Secret "creds" in namespace %q`, ns); c.Message != want {
		t.Errorf("Ready message = %q, want %q", c.Message, want)
	}
	if got := checks(emu); got["200"] != 1 {
		t.Errorf("credentials checks = %v, want one answered 200", got)
	}

	cl, target, err := resolver.ClientFor(ctx, ns, v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindNamespaced, Name: "csms"})
	if err != nil {
		t.Fatalf("ClientFor: %v", err)
	}
	if cl == nil {
		t.Fatal("ClientFor returned a nil client")
	}
	want := Target{
		Kind: v1alpha1.ProviderConfigKindNamespaced, Namespace: ns, Name: "csms",
		Key:    "ProviderConfig/" + ns + "/csms",
		Region: emu.Region, ProjectID: emu.ProjectID, Endpoint: emu.URL,
		Source:            v1alpha1.CredentialsSourceSecret,
		CredentialsSecret: types.NamespacedName{Namespace: ns, Name: "creds"},
		Policy:            v1alpha1.ProviderPolicy{}, // the API's defaults: nothing allowed
	}
	if *target != want {
		t.Errorf("target = %+v, want %+v", *target, want)
	}
	cfg, ok := builds.lastConfig(emu.URL)
	if !ok {
		t.Fatal("no client was built")
	}
	// Compare without printing credentials.
	if cfg.Credentials != (csms.StaticCredentials{AccessKey: "AK-READY", SecretKey: "SK-READY", SecurityToken: "TOKEN-READY"}) {
		t.Errorf("client was built from %v, not from the Secret's accessKeyID/secretAccessKey/securityToken", cfg.Credentials)
	}
	if cfg.Region != emu.Region || cfg.ProjectID != emu.ProjectID || cfg.QPS != 7 || cfg.Burst != 9 {
		t.Errorf("config: region=%q project=%q qps=%v burst=%d", cfg.Region, cfg.ProjectID, cfg.QPS, cfg.Burst)
	}

	// A wrong securityToken is refused by CSMS: the config says so.
	s := &corev1.Secret{}
	if err := k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: "creds"}, s); err != nil {
		t.Fatal(err)
	}
	s.Data[v1alpha1.CredentialsKeySecurityToken] = []byte("EXPIRED-TOKEN")
	if err := k8sClient.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	waitReady(t, pc, metav1.ConditionFalse, v1alpha1.ReasonUnauthorized)
}

// TestProviderPolicyOnTarget: spec.policy reaches the Target the ManagedSecret reconciler
// decides with, for both kinds, and a change of it is seen at once (new generation).
func TestProviderPolicyOnTarget(t *testing.T) {
	ctx := context.Background()
	emu := emulatortest.Start(t, emulatortest.Options{})
	ns := newNamespace(t, "policy", nil)
	mustCreate(t, credentialsSecret(ns, "creds", completeCreds(emu.AK, emu.SK)))
	pc := emuProviderConfig(ns, "csms", emu, "creds")
	pc.Spec.Policy = &v1alpha1.ProviderPolicy{AllowAdoption: true}
	cpc := emuClusterProviderConfig("policy-"+ns, emu, ns, "creds", nil)
	cpc.Spec.Policy = &v1alpha1.ProviderPolicy{AllowObserve: true}
	mustCreate(t, pc)
	mustCreate(t, cpc)
	t.Cleanup(func() { _ = k8sClient.Delete(ctx, cpc) })

	policyOf := func(ref v1alpha1.ProviderConfigReference) v1alpha1.ProviderPolicy {
		t.Helper()
		var target *Target
		eventually(t, "the manager's cache has "+ref.Name, func() error {
			var err error
			_, target, err = resolver.ClientFor(ctx, ns, ref)
			return err
		})
		return target.Policy
	}
	pcRef := v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindNamespaced, Name: pc.Name}
	cpcRef := v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindCluster, Name: cpc.Name}
	if got := policyOf(pcRef); got != (v1alpha1.ProviderPolicy{AllowAdoption: true}) {
		t.Errorf("ProviderConfig policy = %+v", got)
	}
	if got := policyOf(cpcRef); got != (v1alpha1.ProviderPolicy{AllowObserve: true}) {
		t.Errorf("ClusterProviderConfig policy = %+v", got)
	}

	// The reconciler writes the config's status meanwhile: retry the update on a conflict.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(pc), pc); err != nil {
			return err
		}
		pc.Spec.Policy = nil // back to the defaults
		return k8sClient.Update(ctx, pc)
	}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "policy change reaches the target", func() error {
		_, target, err := resolver.ClientFor(ctx, ns, pcRef)
		if err != nil {
			return err
		}
		if target.Policy != (v1alpha1.ProviderPolicy{}) {
			return fmt.Errorf("policy %+v", target.Policy)
		}
		return nil
	})
}

func TestProviderConfigNotReadyUntilSecretComplete(t *testing.T) {
	ctx := context.Background()
	emu := emulatortest.Start(t, emulatortest.Options{})
	ns := newNamespace(t, "pc-missing", nil)
	pc := emuProviderConfig(ns, "csms", emu, "later")
	mustCreate(t, pc)

	// No Secret at all.
	c := waitReady(t, pc, metav1.ConditionFalse, v1alpha1.ReasonCredentialsNotFound)
	for _, want := range []string{`"later"`, ns, "not found", "accessKeyID", "secretAccessKey"} {
		if !strings.Contains(c.Message, want) {
			t.Errorf("message %q should contain %q", c.Message, want)
		}
	}

	// The Secret appears without secretAccessKey: still not ready, the key is named.
	s := credentialsSecret(ns, "later", map[string]string{v1alpha1.CredentialsKeyAccessKeyID: emu.AK})
	mustCreate(t, s)
	eventually(t, "message names the missing key", func() error {
		c, _, err := readyOf(pc)
		if err != nil {
			return err
		}
		if c == nil || c.Reason != v1alpha1.ReasonCredentialsNotFound || !strings.Contains(c.Message, `"secretAccessKey"`) ||
			strings.Contains(c.Message, `"accessKeyID"`) {
			return fmt.Errorf("condition %+v", c)
		}
		return nil
	})

	if n := totalCalls(emu); n != 0 {
		t.Errorf("CSMS calls while the credentials were incomplete = %d, want 0", n)
	}

	// Adding the key flips Ready to True without touching the ProviderConfig.
	s.Data[v1alpha1.CredentialsKeySecretAccessKey] = []byte(emu.SK)
	if err := k8sClient.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	waitReady(t, pc, metav1.ConditionTrue, v1alpha1.ReasonAvailable)

	// Deleting the Secret flips it back.
	if err := k8sClient.Delete(ctx, s); err != nil {
		t.Fatal(err)
	}
	waitReady(t, pc, metav1.ConditionFalse, v1alpha1.ReasonCredentialsNotFound)
	if _, _, err := resolver.ClientFor(ctx, ns, v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindNamespaced, Name: "csms"}); !errors.Is(err, ErrCredentialsNotFound) {
		t.Errorf("ClientFor after the Secret was deleted: err = %v, want ErrCredentialsNotFound", err)
	}
}

func TestClusterProviderConfigReadyFlipsWhenSecretCreated(t *testing.T) {
	ctx := context.Background()
	emu := emulatortest.Start(t, emulatortest.Options{})
	secretNS := newNamespace(t, "cpc-creds", nil)
	cpc := emuClusterProviderConfig("cpc-flip-"+secretNS, emu, secretNS, "creds", nil)
	mustCreate(t, cpc)
	t.Cleanup(func() { _ = k8sClient.Delete(ctx, cpc) })

	c := waitReady(t, cpc, metav1.ConditionFalse, v1alpha1.ReasonCredentialsNotFound)
	if !strings.Contains(c.Message, secretNS) || !strings.Contains(c.Message, `"creds"`) {
		t.Errorf("message should name the Secret and its namespace: %q", c.Message)
	}
	mustCreate(t, credentialsSecret(secretNS, "creds", completeCreds(emu.AK, emu.SK)))
	waitReady(t, cpc, metav1.ConditionTrue, v1alpha1.ReasonAvailable)

	// Usable from any namespace: no selector.
	other := newNamespace(t, "cpc-user", nil)
	_, target, err := resolver.ClientFor(ctx, other, v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindCluster, Name: cpc.Name})
	if err != nil {
		t.Fatalf("ClientFor: %v", err)
	}
	if target.Key != "ClusterProviderConfig/"+cpc.Name || target.Namespace != "" ||
		target.CredentialsSecret != (types.NamespacedName{Namespace: secretNS, Name: "creds"}) {
		t.Errorf("target = %+v", *target)
	}
}

func TestClientForProviderConfigInAnotherNamespace(t *testing.T) {
	ctx := context.Background()
	emu := emulatortest.Start(t, emulatortest.Options{})
	home := newNamespace(t, "pc-home", nil)
	away := newNamespace(t, "pc-away", nil)
	mustCreate(t, credentialsSecret(home, "creds", completeCreds(emu.AK, emu.SK)))
	pc := emuProviderConfig(home, "shared", emu, "creds")
	mustCreate(t, pc)
	waitReady(t, pc, metav1.ConditionTrue, v1alpha1.ReasonAvailable)

	ref := v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindNamespaced, Name: "shared"}
	if _, _, err := resolver.ClientFor(ctx, home, ref); err != nil {
		t.Fatalf("ClientFor in its own namespace: %v", err)
	}
	_, _, err := resolver.ClientFor(ctx, away, ref)
	if !errors.Is(err, ErrConfigNotFound) {
		t.Fatalf("err = %v, want ErrConfigNotFound", err)
	}
	want := fmt.Sprintf(`ProviderConfig "shared" not found in namespace %q; a ProviderConfig serves only its own namespace`, away)
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("message = %q, want prefix %q", err.Error(), want)
	}
	if !IsConfigError(err) {
		t.Error("IsConfigError = false")
	}

	_, _, err = resolver.ClientFor(ctx, away, v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindCluster, Name: "does-not-exist"})
	if !errors.Is(err, ErrConfigNotFound) || !strings.Contains(err.Error(), `ClusterProviderConfig "does-not-exist" not found`) {
		t.Errorf("missing ClusterProviderConfig: err = %v", err)
	}
}

func TestClientForNamespaceSelector(t *testing.T) {
	ctx := context.Background()
	emu := emulatortest.Start(t, emulatortest.Options{})
	secretNS := newNamespace(t, "sel-creds", nil)
	mustCreate(t, credentialsSecret(secretNS, "creds", completeCreds(emu.AK, emu.SK)))
	allowed := newNamespace(t, "sel-payments", map[string]string{"team": "payments"})
	denied := newNamespace(t, "sel-other", map[string]string{"team": "web"})

	selective := emuClusterProviderConfig("sel-"+secretNS, emu, secretNS, "creds",
		&metav1.LabelSelector{MatchLabels: map[string]string{"team": "payments"}})
	empty := emuClusterProviderConfig("sel-empty-"+secretNS, emu, secretNS, "creds", &metav1.LabelSelector{})
	unset := emuClusterProviderConfig("sel-unset-"+secretNS, emu, secretNS, "creds", nil)
	for _, c := range []*v1alpha1.ClusterProviderConfig{selective, empty, unset} {
		mustCreate(t, c)
		t.Cleanup(func() { _ = k8sClient.Delete(ctx, c) })
		waitReady(t, c, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	}
	ref := func(c *v1alpha1.ClusterProviderConfig) v1alpha1.ProviderConfigReference {
		return v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindCluster, Name: c.Name}
	}

	if _, _, err := resolver.ClientFor(ctx, allowed, ref(selective)); err != nil {
		t.Errorf("matching namespace: %v", err)
	}
	_, _, err := resolver.ClientFor(ctx, denied, ref(selective))
	if !errors.Is(err, ErrNamespaceNotAllowed) {
		t.Fatalf("non-matching namespace: err = %v, want ErrNamespaceNotAllowed", err)
	}
	for _, want := range []string{selective.Name, denied, "namespaceSelector", "team=payments"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q should contain %q", err.Error(), want)
		}
	}
	for _, c := range []*v1alpha1.ClusterProviderConfig{empty, unset} {
		if _, _, err := resolver.ClientFor(ctx, denied, ref(c)); err != nil {
			t.Errorf("%s admits every namespace, got %v", c.Name, err)
		}
	}

	// Relabelling the namespace admits it (the selector is checked on every call).
	nsObj := &corev1.Namespace{}
	if err := k8sClient.Get(ctx, client.ObjectKey{Name: denied}, nsObj); err != nil {
		t.Fatal(err)
	}
	nsObj.Labels["team"] = "payments"
	if err := k8sClient.Update(ctx, nsObj); err != nil {
		t.Fatal(err)
	}
	eventually(t, "relabelled namespace admitted", func() error {
		_, _, err := resolver.ClientFor(ctx, denied, ref(selective))
		return err
	})
}

func TestClusterProviderConfigInvalidSelector(t *testing.T) {
	ctx := context.Background()
	secretNS := newNamespace(t, "badsel", nil)
	mustCreate(t, credentialsSecret(secretNS, "creds", completeCreds("AK", "SK")))
	cpc := clusterProviderConfig("badsel-"+secretNS, "http://badsel.test:8787", secretNS, "creds",
		&metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "team", Operator: "Near", Values: []string{"x"}}}})
	mustCreate(t, cpc)
	t.Cleanup(func() { _ = k8sClient.Delete(ctx, cpc) })

	c := waitReady(t, cpc, metav1.ConditionFalse, v1alpha1.ReasonInvalidSpec)
	if !strings.Contains(c.Message, "namespaceSelector") {
		t.Errorf("message should name namespaceSelector: %q", c.Message)
	}
	_, _, err := resolver.ClientFor(ctx, secretNS, v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindCluster, Name: cpc.Name})
	if !errors.Is(err, ErrConfigInvalid) {
		t.Errorf("err = %v, want ErrConfigInvalid", err)
	}
}

func TestClientForMissingCredentials(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, "creds-missing", nil)
	noSecret := providerConfig(ns, "no-secret", "http://creds-missing-1.test:8787", "absent")
	noKey := providerConfig(ns, "no-key", "http://creds-missing-2.test:8787", "partial")
	emptyKey := providerConfig(ns, "empty-key", "http://creds-missing-3.test:8787", "empty")
	mustCreate(t, credentialsSecret(ns, "partial", map[string]string{v1alpha1.CredentialsKeySecretAccessKey: "SK"}))
	mustCreate(t, credentialsSecret(ns, "empty", map[string]string{v1alpha1.CredentialsKeyAccessKeyID: "AK", v1alpha1.CredentialsKeySecretAccessKey: ""}))
	for _, pc := range []*v1alpha1.ProviderConfig{noSecret, noKey, emptyKey} {
		mustCreate(t, pc)
	}

	tests := []struct {
		name     string
		pc       *v1alpha1.ProviderConfig
		contains []string
	}{
		{"no Secret", noSecret, []string{`credentials Secret "absent" in namespace "` + ns + `"`, "not found", `ProviderConfig "no-secret"`}},
		{"missing key", noKey, []string{`"partial"`, `missing key "accessKeyID"`}},
		{"empty value", emptyKey, []string{`"empty"`, `missing key "secretAccessKey"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The Secret's metadata may reach the cache after the create returns; the
			// resolver confirms with a GET, so the answer is immediate either way.
			_, _, err := resolver.ClientFor(ctx, ns, v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindNamespaced, Name: tt.pc.Name})
			if !errors.Is(err, ErrCredentialsNotFound) {
				t.Fatalf("err = %v, want ErrCredentialsNotFound", err)
			}
			for _, want := range tt.contains {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("message %q should contain %q", err.Error(), want)
				}
			}
		})
	}
}

func TestClientCacheReuseAndRebuild(t *testing.T) {
	ctx := context.Background()
	emu := emulatortest.Start(t, emulatortest.Options{})
	endpoint := emu.URL
	ns := newNamespace(t, "cache", nil)
	s := credentialsSecret(ns, "creds", completeCreds(emu.AK, emu.SK))
	mustCreate(t, s)
	pc := emuProviderConfig(ns, "csms", emu, "creds")
	mustCreate(t, pc)
	waitReady(t, pc, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	ref := v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindNamespaced, Name: "csms"}

	// The reconciler's pass built (and cached) the client; wait until the metadata cache
	// has caught up with the Secret, then ClientFor must hand out the same instance
	// without building again.
	var first csms.Client
	eventually(t, "cached client stable", func() error {
		c1, _, err := resolver.ClientFor(ctx, ns, ref)
		if err != nil {
			return err
		}
		n := builds.count(endpoint)
		c2, _, err := resolver.ClientFor(ctx, ns, ref)
		if err != nil {
			return err
		}
		if c1 != c2 || builds.count(endpoint) != n {
			return fmt.Errorf("client rebuilt between two calls (builds %d → %d)", n, builds.count(endpoint))
		}
		first = c1
		return nil
	})
	buildsBefore := builds.count(endpoint)
	for range 5 {
		c, _, err := resolver.ClientFor(ctx, ns, ref)
		if err != nil {
			t.Fatal(err)
		}
		if c != first {
			t.Fatal("ClientFor returned a different instance for an unchanged config and Secret")
		}
	}
	if got := builds.count(endpoint); got != buildsBefore {
		t.Fatalf("builds = %d, want %d (no rebuild while nothing changed)", got, buildsBefore)
	}

	// A change of the Secret rebuilds the client with the new keys (here a wrong secret
	// key, which CSMS refuses: the config is no longer Ready).
	s.Data[v1alpha1.CredentialsKeySecretAccessKey] = []byte("SK-2")
	if err := k8sClient.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	var second csms.Client
	eventually(t, "client rebuilt after the Secret changed", func() error {
		c, _, err := resolver.ClientFor(ctx, ns, ref)
		if err != nil {
			return err
		}
		if c == first {
			return errors.New("still the old client")
		}
		second = c
		return nil
	})
	if cfg, _ := builds.lastConfig(endpoint); cfg.Credentials != (csms.StaticCredentials{AccessKey: emu.AK, SecretKey: "SK-2"}) {
		t.Error("the rebuilt client does not use the new secretAccessKey")
	}
	if builds.count(endpoint) <= buildsBefore {
		t.Errorf("builds = %d, want more than %d", builds.count(endpoint), buildsBefore)
	}
	c := waitReady(t, pc, metav1.ConditionFalse, v1alpha1.ReasonUnauthorized)
	for _, want := range []string{`Secret "creds"`, ns, "HTTP 401", "secretAccessKey"} {
		if !strings.Contains(c.Message, want) {
			t.Errorf("Unauthorized message %q should contain %q", c.Message, want)
		}
	}

	// A change of the config's spec (new generation) rebuilds it too.
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(pc), pc); err != nil {
		t.Fatal(err)
	}
	gen := pc.Generation
	pc.Spec.RateLimit = &v1alpha1.RateLimit{QPS: 3}
	if err := k8sClient.Update(ctx, pc); err != nil {
		t.Fatal(err)
	}
	if pc.Generation == gen {
		t.Fatalf("generation did not change (%d)", gen)
	}
	eventually(t, "client rebuilt after the config changed", func() error {
		c, _, err := resolver.ClientFor(ctx, ns, ref)
		if err != nil {
			return err
		}
		if c == second || c == first {
			return errors.New("still an old client")
		}
		return nil
	})
	if cfg, _ := builds.lastConfig(endpoint); cfg.QPS != 3 || cfg.Burst != 3 {
		t.Errorf("rebuilt config qps=%v burst=%d, want 3/3 (burst defaults to qps)", cfg.QPS, cfg.Burst)
	}
	waitReady(t, pc, metav1.ConditionFalse, v1alpha1.ReasonUnauthorized) // observedGeneration follows
}

func TestClientForUnsupportedKind(t *testing.T) {
	_, _, err := resolver.ClientFor(context.Background(), "default", v1alpha1.ProviderConfigReference{Kind: "SomethingElse", Name: "x"})
	if !errors.Is(err, ErrConfigInvalid) || !strings.Contains(err.Error(), `"SomethingElse"`) {
		t.Errorf("err = %v, want ErrConfigInvalid naming the kind", err)
	}
}
