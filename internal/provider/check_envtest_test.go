package provider

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/csms"
	"github.com/csms-operator/csms-operator/internal/emulator"
	"github.com/csms-operator/csms-operator/internal/emulator/emulatortest"
)

// TestCredentialsCheckedOncePerVersion: Ready=True costs one signed read per config
// generation and credentials Secret resourceVersion; further passes (resyncs, the status
// write's own watch event, an annotation) cost none, and a new Secret version is checked
// again.
func TestCredentialsCheckedOncePerVersion(t *testing.T) {
	ctx := context.Background()
	emu := emulatortest.Start(t, emulatortest.Options{})
	ns := newNamespace(t, "check-once", nil)
	s := credentialsSecret(ns, "creds", completeCreds(emu.AK, emu.SK))
	mustCreate(t, s)
	pc := emuProviderConfig(ns, "csms", emu, "creds")
	mustCreate(t, pc)
	waitReady(t, pc, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	if got := checks(emu); got["200"] != 1 || len(got) != 1 {
		t.Fatalf("checks after Ready = %v, want exactly one 200", got)
	}

	// More passes: direct ones (certainly run) and one the manager runs for an annotation.
	for range 3 {
		if res := reconcileNow(t, pc); res.RequeueAfter != 0 {
			t.Errorf("RequeueAfter = %v for an accepted Secret-source config, want 0 (watches bring changes)", res.RequeueAfter)
		}
	}
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(pc), pc); err != nil {
		t.Fatal(err)
	}
	pc.Annotations = map[string]string{"example.com/poke": "1"}
	if err := k8sClient.Update(ctx, pc); err != nil {
		t.Fatal(err)
	}
	reconcileNow(t, pc)
	if got := checks(emu); got["200"] != 1 || len(got) != 1 {
		t.Fatalf("checks after more passes = %v, want still one 200", got)
	}
	if n := totalCalls(emu); n != 1 {
		t.Errorf("CSMS calls = %d, want 1", n)
	}

	// A new Secret resourceVersion (same keys plus an unrelated one) is a new client and
	// is checked again, once.
	s.Data["note"] = []byte("rotated by hand")
	if err := k8sClient.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the new Secret version is checked", func() error {
		if got := checks(emu)["200"]; got != 2 {
			return fmt.Errorf("checks = %d, want 2", got)
		}
		return nil
	})
	reconcileNow(t, pc)
	if got := checks(emu)["200"]; got != 2 {
		t.Errorf("checks after another pass = %d, want 2", got)
	}

	// So is a new generation.
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(pc), pc); err != nil {
		t.Fatal(err)
	}
	pc.Spec.RateLimit = &v1alpha1.RateLimit{QPS: 5}
	if err := k8sClient.Update(ctx, pc); err != nil {
		t.Fatal(err)
	}
	waitReady(t, pc, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	eventually(t, "the new generation is checked", func() error {
		if got := checks(emu)["200"]; got != 3 {
			return fmt.Errorf("checks = %d, want 3", got)
		}
		return nil
	})
}

// closedPortURL returns an http URL on a loopback port nothing listens on.
func closedPortURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return url
}

// TestEndpointUnreachable: an endpoint on a closed port is its own reason, with a message
// that names the endpoint and what to check, and is retried on a 30s–1m backoff rather
// than in a loop.
func TestEndpointUnreachable(t *testing.T) {
	ctx := context.Background()
	endpoint := closedPortURL(t)
	ns := newNamespace(t, "unreachable", nil)
	mustCreate(t, credentialsSecret(ns, "creds", completeCreds(emulatortest.AK, emulatortest.SK)))
	pc := providerConfig(ns, "csms", endpoint, "creds")
	mustCreate(t, pc)

	c := waitReady(t, pc, metav1.ConditionFalse, v1alpha1.ReasonEndpointUnreachable)
	for _, want := range []string{`CSMS endpoint "` + endpoint + `"`, `ProviderConfig "csms" in namespace "` + ns + `"`,
		"connection refused", "check spec.endpoint"} {
		if !strings.Contains(c.Message, want) {
			t.Errorf("message %q should contain %q", c.Message, want)
		}
	}
	// The verdict stands until it expires: a pass now makes no new attempt and asks to
	// come back within the backoff window.
	res := reconcileNow(t, pc)
	if res.RequeueAfter <= 0 || res.RequeueAfter > maxUnreachableRetry {
		t.Errorf("RequeueAfter = %v, want within (0, %v]", res.RequeueAfter, maxUnreachableRetry)
	}
	// ManagedSecrets can still get the client (ClientFor makes no CSMS call); their own
	// calls report the failure.
	if _, _, err := resolver.ClientFor(ctx, ns, v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindNamespaced, Name: "csms"}); err != nil {
		t.Errorf("ClientFor: %v", err)
	}
}

// TestEndpointFailingWith5xx: a CSMS that keeps answering 503 is unreachable too, the
// message says so, and the reconciler does not hammer it.
func TestEndpointFailingWith5xx(t *testing.T) {
	emu := emulatortest.Start(t, emulatortest.Options{})
	if err := emu.Server.InjectFault(emulator.Fault{Operation: "ListSecrets", Status: 503}); err != nil {
		t.Fatal(err)
	}
	ns := newNamespace(t, "five-oh-three", nil)
	mustCreate(t, credentialsSecret(ns, "creds", completeCreds(emu.AK, emu.SK)))
	pc := emuProviderConfig(ns, "csms", emu, "creds")
	mustCreate(t, pc)
	c := waitReady(t, pc, metav1.ConditionFalse, v1alpha1.ReasonEndpointUnreachable)
	if !strings.Contains(c.Message, "HTTP 503, after retries") || !strings.Contains(c.Message, emu.URL) {
		t.Errorf("message %q should name the endpoint and the 503", c.Message)
	}
	// One check is the first attempt plus the client's retries; no second check follows
	// before unreachableRetry.
	attempts := checks(emu)["503"]
	if attempts < 1 || attempts > 1+csms.DefaultMaxRetries {
		t.Fatalf("503 answers = %d, want 1..%d (one check)", attempts, 1+csms.DefaultMaxRetries)
	}
	time.Sleep(2 * time.Second)
	reconcileNow(t, pc)
	if got := checks(emu)["503"]; got != attempts {
		t.Errorf("503 answers %d → %d within the backoff: the endpoint is hammered", attempts, got)
	}

	// CSMS recovers: the next check (forced here by a new generation) makes it Ready.
	emu.Server.ClearFaults()
	if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(pc), pc); err != nil {
		t.Fatal(err)
	}
	pc.Spec.RateLimit = &v1alpha1.RateLimit{QPS: 5}
	if err := k8sClient.Update(context.Background(), pc); err != nil {
		t.Fatal(err)
	}
	waitReady(t, pc, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
}

// TestNamespacedEnvironmentRefused: a namespaced ProviderConfig with source Environment
// would lend the manager's identity to its namespace. Without
// --allow-namespaced-environment-credentials (the suite's resolver, like the shipped
// manager, runs without it) it is Ready=False EnvironmentNotAllowed, ClientFor refuses it,
// and the manager's identity never reaches CSMS. A ClusterProviderConfig keeps
// Environment, and a resolver with the option allows the namespaced one.
func TestNamespacedEnvironmentRefused(t *testing.T) {
	ctx := context.Background()
	// The manager's own identity: an account of its own on an emulator of its own, so
	// that any use of it shows in that emulator's counters.
	emu := emulatortest.Start(t, emulatortest.Options{})
	t.Setenv("HUAWEICLOUD_SDK_AK", emu.AK)
	t.Setenv("HUAWEICLOUD_SDK_SK", emu.SK)
	ns := newNamespace(t, "borrow", nil)
	pc := &v1alpha1.ProviderConfig{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "env"},
		Spec: v1alpha1.ProviderConfigSpec{
			ProviderSettings: v1alpha1.ProviderSettings{Region: emu.Region, ProjectID: emu.ProjectID, Endpoint: emu.URL},
			Credentials:      v1alpha1.ProviderCredentials{Source: v1alpha1.CredentialsSourceEnvironment},
		},
	}
	mustCreate(t, pc)

	c := waitReady(t, pc, metav1.ConditionFalse, v1alpha1.ReasonEnvironmentNotAllowed)
	for _, want := range []string{`ProviderConfig "env" in namespace "` + ns + `"`, "manager's own cloud identity",
		"credentials.source Secret", "ClusterProviderConfig", "--allow-namespaced-environment-credentials"} {
		if !strings.Contains(c.Message, want) {
			t.Errorf("message %q should contain %q", c.Message, want)
		}
	}
	ref := v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindNamespaced, Name: "env"}
	cl, target, err := resolver.ClientFor(ctx, ns, ref)
	if !errors.Is(err, ErrEnvironmentNotAllowed) || !IsConfigError(err) || cl != nil || target != nil {
		t.Fatalf("ClientFor = (%v, %v, %v), want only an error matching ErrEnvironmentNotAllowed", cl, target, err)
	}
	if err.Error() != c.Message {
		t.Errorf("ClientFor message %q differs from the condition's %q", err.Error(), c.Message)
	}
	// Nothing was built for it, and its requeue is not the Environment recheck (no
	// environment change can fix a refusal).
	if n := builds.count(emu.URL); n != 0 {
		t.Errorf("clients built for the refused config = %d, want 0", n)
	}
	if res := reconcileNow(t, pc); res.RequeueAfter != 0 {
		t.Errorf("RequeueAfter = %v, want 0", res.RequeueAfter)
	}
	if n := totalCalls(emu); n != 0 {
		t.Fatalf("the manager's identity made %d CSMS calls for a namespaced ProviderConfig", n)
	}

	// A ClusterProviderConfig, set up by whoever may create cluster-scoped objects, keeps
	// the Environment source.
	cpc := &v1alpha1.ClusterProviderConfig{
		ObjectMeta: metav1.ObjectMeta{Name: "env-" + ns},
		Spec: v1alpha1.ClusterProviderConfigSpec{
			ProviderSettings: pc.Spec.ProviderSettings,
			Credentials:      v1alpha1.ClusterProviderCredentials{Source: v1alpha1.CredentialsSourceEnvironment},
		},
	}
	mustCreate(t, cpc)
	t.Cleanup(func() { _ = k8sClient.Delete(ctx, cpc) })
	waitReady(t, cpc, metav1.ConditionTrue, v1alpha1.ReasonAvailable)

	// With the option, the namespaced one resolves and signs with the environment's keys.
	allowing := NewResolver(k8sClient, k8sClient, WithNamespacedEnvironmentCredentials(true))
	cl, target, err = allowing.ClientFor(ctx, ns, ref)
	if err != nil {
		t.Fatalf("ClientFor with the option: %v", err)
	}
	if target.Source != v1alpha1.CredentialsSourceEnvironment {
		t.Errorf("target.Source = %q", target.Source)
	}
	if _, err := cl.GetSecret(ctx, "absent"); !errors.Is(err, csms.ErrNotFound) {
		t.Errorf("GetSecret with the environment's keys: %v, want ErrNotFound", err)
	}
}
