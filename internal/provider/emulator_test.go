package provider

import (
	"context"
	"errors"
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/csms"
	"github.com/csms-operator/csms-operator/internal/emulator/emulatortest"
)

// TestResolvedClientSignsWithTheSecretsKeys checks end to end, through the SDK and the
// emulator's signature check, that the resolved client uses the Secret's keys: a wrong
// secret key is Unauthorized on the config itself, and fixing the Secret is picked up
// without touching the ProviderConfig.
func TestResolvedClientSignsWithTheSecretsKeys(t *testing.T) {
	ctx := context.Background()
	emu := emulatortest.Start(t, emulatortest.Options{})
	ns := newNamespace(t, "emu", nil)
	s := credentialsSecret(ns, "creds", completeCreds(emu.AK, "not-the-secret-key"))
	mustCreate(t, s)
	pc := emuProviderConfig(ns, "emu", emu, "creds")
	mustCreate(t, pc)
	waitReady(t, pc, metav1.ConditionFalse, v1alpha1.ReasonUnauthorized)
	ref := v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindNamespaced, Name: "emu"}

	cl, _, err := resolver.ClientFor(ctx, ns, ref)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.GetSecret(ctx, "absent"); !errors.Is(err, csms.ErrUnauthorized) {
		t.Fatalf("GetSecret with a wrong secret key: err = %v, want ErrUnauthorized", err)
	}

	s.Data[v1alpha1.CredentialsKeySecretAccessKey] = []byte(emu.SK)
	if err := k8sClient.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	waitReady(t, pc, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	eventually(t, "fixed Secret reaches the client", func() error {
		cl, _, err := resolver.ClientFor(ctx, ns, ref)
		if err != nil {
			return err
		}
		// NotFound means the request was signed correctly and reached the handler.
		if _, err := cl.GetSecret(ctx, "absent"); !errors.Is(err, csms.ErrNotFound) {
			return fmt.Errorf("GetSecret: %w", err)
		}
		return nil
	})
}

// TestEnvironmentSourceUsesTheSDKChain: with source Environment a ClusterProviderConfig
// signs with what the SDK's chain finds (here its environment variables), is Ready once
// CSMS accepted that, and is checked again on envRecheckInterval, not on every pass.
func TestEnvironmentSourceUsesTheSDKChain(t *testing.T) {
	ctx := context.Background()
	emu := emulatortest.Start(t, emulatortest.Options{})
	t.Setenv("HUAWEICLOUD_SDK_AK", emu.AK)
	t.Setenv("HUAWEICLOUD_SDK_SK", emu.SK)
	ns := newNamespace(t, "emu-env", nil)
	cpc := &v1alpha1.ClusterProviderConfig{
		ObjectMeta: metav1.ObjectMeta{Name: "env-" + ns},
		Spec: v1alpha1.ClusterProviderConfigSpec{
			ProviderSettings: v1alpha1.ProviderSettings{Region: emu.Region, ProjectID: emu.ProjectID, Endpoint: emu.URL},
			Credentials:      v1alpha1.ClusterProviderCredentials{Source: v1alpha1.CredentialsSourceEnvironment},
		},
	}
	mustCreate(t, cpc)
	t.Cleanup(func() { _ = k8sClient.Delete(ctx, cpc) })
	c := waitReady(t, cpc, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	if want := "CSMS accepted the credentials of the manager's SDK credential chain (environment variables, profile, ECS agency, CCE pod identity)"; c.Message != want {
		t.Errorf("Ready message = %q, want %q", c.Message, want)
	}

	// The next pass neither calls CSMS nor forgets to come back.
	before := checks(emu)["200"]
	res := reconcileNow(t, cpc)
	if res.RequeueAfter <= 0 || res.RequeueAfter > envRecheckInterval {
		t.Errorf("RequeueAfter = %v, want the rest of envRecheckInterval (%v)", res.RequeueAfter, envRecheckInterval)
	}
	if got := checks(emu)["200"]; got != before {
		t.Errorf("credentials checks %d → %d on a pass within envRecheckInterval", before, got)
	}

	cl, target, err := resolver.ClientFor(ctx, ns, v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindCluster, Name: cpc.Name})
	if err != nil {
		t.Fatal(err)
	}
	if target.Source != v1alpha1.CredentialsSourceEnvironment {
		t.Errorf("target.Source = %q, want Environment", target.Source)
	}
	if _, err := cl.GetSecret(ctx, "absent"); !errors.Is(err, csms.ErrNotFound) {
		t.Fatalf("GetSecret: err = %v, want ErrNotFound (signed with the environment's keys)", err)
	}
	cfg, ok := builds.lastConfig(emu.URL)
	if !ok {
		t.Fatal("no client built")
	}
	if _, ok := cfg.Credentials.(csms.EnvironmentCredentials); !ok {
		t.Errorf("config credentials = %v, want environment credentials", cfg.Credentials)
	}
}
