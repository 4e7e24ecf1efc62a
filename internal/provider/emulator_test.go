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
// emulator's signature check, that the resolved client uses the Secret's keys, and that
// fixing the Secret is picked up without touching the ProviderConfig.
func TestResolvedClientSignsWithTheSecretsKeys(t *testing.T) {
	ctx := context.Background()
	emu := emulatortest.Start(t, emulatortest.Options{})
	ns := newNamespace(t, "emu", nil)
	s := credentialsSecret(ns, "creds", completeCreds(emu.AK, "not-the-secret-key"))
	mustCreate(t, s)
	pc := &v1alpha1.ProviderConfig{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "emu"},
		Spec: v1alpha1.ProviderConfigSpec{
			ProviderSettings: v1alpha1.ProviderSettings{Region: emu.Region, ProjectID: emu.ProjectID, Endpoint: emu.URL},
			Credentials: v1alpha1.ProviderCredentials{
				Source: v1alpha1.CredentialsSourceSecret, SecretRef: &v1alpha1.LocalSecretReference{Name: "creds"},
			},
		},
	}
	mustCreate(t, pc)
	waitReady(t, pc, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
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

// TestEnvironmentSourceUsesTheSDKChain: with source Environment the client signs with
// what the SDK's chain finds (here its environment variables).
func TestEnvironmentSourceUsesTheSDKChain(t *testing.T) {
	ctx := context.Background()
	emu := emulatortest.Start(t, emulatortest.Options{})
	t.Setenv("HUAWEICLOUD_SDK_AK", emu.AK)
	t.Setenv("HUAWEICLOUD_SDK_SK", emu.SK)
	ns := newNamespace(t, "emu-env", nil)
	pc := &v1alpha1.ProviderConfig{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "env"},
		Spec: v1alpha1.ProviderConfigSpec{
			ProviderSettings: v1alpha1.ProviderSettings{Region: emu.Region, ProjectID: emu.ProjectID, Endpoint: emu.URL},
			Credentials:      v1alpha1.ProviderCredentials{Source: v1alpha1.CredentialsSourceEnvironment},
		},
	}
	mustCreate(t, pc)
	waitReady(t, pc, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	cl, target, err := resolver.ClientFor(ctx, ns, v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindNamespaced, Name: "env"})
	if err != nil {
		t.Fatal(err)
	}
	if target.Source != v1alpha1.CredentialsSourceEnvironment {
		t.Errorf("target.Source = %q, want Environment", target.Source)
	}
	if _, err := cl.GetSecret(ctx, "absent"); !errors.Is(err, csms.ErrNotFound) {
		t.Fatalf("GetSecret: err = %v, want ErrNotFound (signed with the environment's keys)", err)
	}
}
