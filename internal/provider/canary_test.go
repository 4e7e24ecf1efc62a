package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/emulator"
	"github.com/csms-operator/csms-operator/internal/emulator/emulatortest"
)

// Credential values that must never show up anywhere a user or operator can read.
const (
	canaryAK    = "CANARY-AK-7f3e9c1d"
	canarySK    = "CANARY-SK-b52a0e84"
	canaryToken = "CANARY-TOKEN-19d6c3aa"
)

func containsCanary(s string) bool {
	return strings.Contains(s, canaryAK) || strings.Contains(s, canarySK) || strings.Contains(s, canaryToken)
}

// TestCanaryCredentialsNeverLeak drives configs through ready, refused, missing-key and
// deleted states with canary credentials and checks conditions, Events, ClientFor errors
// and targets, and the manager's log. The emulator knows the canary key pair, so the
// configs are checked with CSMS for real; a refused key that contains the canary makes
// the emulator quote it in its error message, which must not get any further.
func TestCanaryCredentialsNeverLeak(t *testing.T) {
	ctx := context.Background()
	emu := startEmulator(t, emulator.Credential{AK: canaryAK, SK: canarySK, SecurityToken: canaryToken,
		Projects: map[string]string{emulatortest.Region: emulatortest.ProjectID}})
	ns := newNamespace(t, "canary", nil)

	full := credentialsSecret(ns, "full", map[string]string{
		v1alpha1.CredentialsKeyAccessKeyID:     canaryAK,
		v1alpha1.CredentialsKeySecretAccessKey: canarySK,
		v1alpha1.CredentialsKeySecurityToken:   canaryToken,
	})
	akOnly := credentialsSecret(ns, "ak-only", map[string]string{
		v1alpha1.CredentialsKeyAccessKeyID:   canaryAK,
		v1alpha1.CredentialsKeySecurityToken: canaryToken,
	})
	skOnly := credentialsSecret(ns, "sk-only", map[string]string{v1alpha1.CredentialsKeySecretAccessKey: canarySK})
	unknown := credentialsSecret(ns, "unknown", completeCreds(canaryAK+"X", canarySK))
	for _, s := range []client.Object{full, akOnly, skOnly, unknown} {
		mustCreate(t, s)
	}
	pcFull := emuProviderConfig(ns, "full", emu, "full")
	pcAK := emuProviderConfig(ns, "ak-only", emu, "ak-only")
	pcSK := emuProviderConfig(ns, "sk-only", emu, "sk-only")
	pcUnknown := emuProviderConfig(ns, "unknown", emu, "unknown")
	cpc := emuClusterProviderConfig("canary-"+ns, emu, ns, "full",
		&metav1.LabelSelector{MatchLabels: map[string]string{"never": "matches"}})
	for _, o := range []client.Object{pcFull, pcAK, pcSK, pcUnknown, cpc} {
		mustCreate(t, o)
	}
	t.Cleanup(func() { _ = k8sClient.Delete(ctx, cpc) })

	waitReady(t, pcFull, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	waitReady(t, cpc, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	waitReady(t, pcAK, metav1.ConditionFalse, v1alpha1.ReasonCredentialsNotFound)
	waitReady(t, pcSK, metav1.ConditionFalse, v1alpha1.ReasonCredentialsNotFound)
	waitReady(t, pcUnknown, metav1.ConditionFalse, v1alpha1.ReasonUnauthorized)
	if n := checks(emu)["401"]; n != 1 {
		t.Errorf("refused checks = %d, want 1 (the unknown key)", n)
	}

	var texts []string
	ref := func(name string) v1alpha1.ProviderConfigReference {
		return v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindNamespaced, Name: name}
	}
	for _, name := range []string{"ak-only", "sk-only"} {
		_, _, err := resolver.ClientFor(ctx, ns, ref(name))
		if !errors.Is(err, ErrCredentialsNotFound) {
			t.Errorf("%s: err = %v, want ErrCredentialsNotFound", name, err)
		}
		if err != nil {
			texts = append(texts, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
		}
	}
	_, target, err := resolver.ClientFor(ctx, ns, ref("full"))
	if err != nil {
		t.Fatalf("ClientFor full: %v", err)
	}
	texts = append(texts, fmt.Sprintf("%+v", *target), target.String())
	_, _, err = resolver.ClientFor(ctx, ns, v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindCluster, Name: cpc.Name})
	if !errors.Is(err, ErrNamespaceNotAllowed) {
		t.Errorf("cluster config with a non-matching selector: err = %v", err)
	}
	if err != nil {
		texts = append(texts, err.Error())
	}

	// Deleting the full Secret produces a Warning Event and a False condition too.
	if err := k8sClient.Delete(ctx, full); err != nil {
		t.Fatal(err)
	}
	waitReady(t, pcFull, metav1.ConditionFalse, v1alpha1.ReasonCredentialsNotFound)
	waitReady(t, cpc, metav1.ConditionFalse, v1alpha1.ReasonCredentialsNotFound)

	for _, o := range []client.Object{pcFull, pcAK, pcSK, pcUnknown, cpc} {
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(o), o); err != nil {
			t.Fatal(err)
		}
		for _, c := range statusOf(o).Conditions {
			texts = append(texts, c.Reason, c.Message)
		}
	}

	// Events are written asynchronously; wait until each config has at least one, and
	// pcFull both its Normal and its Warning one.
	var evs []eventsv1.Event
	eventually(t, "events recorded", func() error {
		list := &eventsv1.EventList{}
		if err := k8sClient.List(ctx, list); err != nil {
			return err
		}
		evs = list.Items
		seen := map[string]map[string]bool{}
		for _, e := range evs {
			key := e.Regarding.Kind + "/" + e.Regarding.Name
			if seen[key] == nil {
				seen[key] = map[string]bool{}
			}
			seen[key][e.Type] = true
		}
		for _, want := range []string{"ProviderConfig/full", "ProviderConfig/ak-only", "ProviderConfig/sk-only", "ProviderConfig/unknown", "ClusterProviderConfig/" + cpc.Name} {
			if len(seen[want]) == 0 {
				return fmt.Errorf("no event for %s yet", want)
			}
		}
		if !seen["ProviderConfig/full"]["Normal"] || !seen["ProviderConfig/full"]["Warning"] {
			return fmt.Errorf("ProviderConfig/full events: %v", seen["ProviderConfig/full"])
		}
		return nil
	})
	for _, e := range evs {
		texts = append(texts, e.Note, e.Reason, e.Action)
	}
	texts = append(texts, managerLog.String())

	for i, s := range texts {
		if containsCanary(s) {
			// Do not print s: it holds the canary, and the point is to keep it out of logs.
			t.Errorf("text #%d (%d bytes) contains a canary credential", i, len(s))
		}
	}
	if len(texts) < 10 {
		t.Fatalf("collected only %d texts; the test is not looking at anything", len(texts))
	}
}
