/*
Copyright 2026 The csms-operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package v1alpha1_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	v1alpha1 "github.com/csms-operator/csms-operator/api/v1alpha1"
)

func TestCSMSName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ metaName, specName, want string }{
		{"demo", "", "demo"},
		{"payments.db", "payments_db", "payments_db"},
		{"a", "b", "b"},
	} {
		ms := &v1alpha1.ManagedSecret{ObjectMeta: metav1.ObjectMeta{Name: tc.metaName}, Spec: v1alpha1.ManagedSecretSpec{Name: tc.specName}}
		if got := ms.CSMSName(); got != tc.want {
			t.Errorf("CSMSName(%q, %q) = %q, want %q", tc.metaName, tc.specName, got, tc.want)
		}
	}
}

func TestDefaultHelpers(t *testing.T) {
	t.Parallel()
	empty := &v1alpha1.ManagedSecret{}
	got := []any{empty.ProviderConfigKey(), empty.RecoveryWindowDays(), empty.ResyncInterval(), empty.DeletionPolicyOrDefault(), empty.SecretTypeOrDefault()}
	want := []any{
		v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindCluster, Name: "default"},
		int32(30), 10 * time.Minute, v1alpha1.DeletionPolicyDelete, v1alpha1.SecretTypeCommon,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults of an empty spec (-want +got):\n%s", diff)
	}
	set := &v1alpha1.ManagedSecret{Spec: v1alpha1.ManagedSecretSpec{
		ProviderConfigRef:  v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindNamespaced, Name: "team"},
		RecoveryWindowDays: ptr.To[int32](0),
		ResyncInterval:     &metav1.Duration{Duration: time.Minute},
		DeletionPolicy:     v1alpha1.DeletionPolicyRetain,
		SecretType:         v1alpha1.SecretTypeRDSFG,
	}}
	got = []any{set.ProviderConfigKey(), set.RecoveryWindowDays(), set.ResyncInterval(), set.DeletionPolicyOrDefault(), set.SecretTypeOrDefault()}
	want = []any{
		v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindNamespaced, Name: "team"},
		int32(0), time.Minute, v1alpha1.DeletionPolicyRetain, v1alpha1.SecretTypeRDSFG,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("values that are set (-want +got):\n%s", diff)
	}
	if got := (&v1alpha1.RateLimit{QPS: 5}).BurstOrQPS(); got != 5 {
		t.Errorf("BurstOrQPS without burst = %d, want 5", got)
	}
	if got := (&v1alpha1.RateLimit{QPS: 5, Burst: 9}).BurstOrQPS(); got != 9 {
		t.Errorf("BurstOrQPS with burst = %d, want 9", got)
	}
}

func TestOwnerTagValue(t *testing.T) {
	t.Parallel()
	const uid = "6f1c1a3e-5b0e-4a59-9b8f-6f3c1d2e4a5b"
	ms := &v1alpha1.ManagedSecret{ObjectMeta: metav1.ObjectMeta{Namespace: "payments", Name: "db", UID: uid}}
	if got, want := ms.OwnerTagValue(), "payments/db/"+uid; got != want {
		t.Errorf("OwnerTagValue() = %q, want %q", got, want)
	}
	if got := v1alpha1.OwnerUIDFromTag(ms.OwnerTagValue()); got != uid {
		t.Errorf("OwnerUIDFromTag = %q, want %q", got, uid)
	}

	// The longest namespace and name exceed CSMS's 255-character tag values; the UID survives.
	long := &v1alpha1.ManagedSecret{ObjectMeta: metav1.ObjectMeta{Namespace: strings.Repeat("n", 63), Name: strings.Repeat("m", 253), UID: uid}}
	v := long.OwnerTagValue()
	if len(v) != v1alpha1.MaxTagValueLength {
		t.Errorf("len(OwnerTagValue()) = %d, want %d", len(v), v1alpha1.MaxTagValueLength)
	}
	if !strings.HasSuffix(v, "/"+uid) {
		t.Errorf("OwnerTagValue() = %q lost the UID", v)
	}
	if got := v1alpha1.OwnerUIDFromTag(v); got != uid {
		t.Errorf("OwnerUIDFromTag(long) = %q, want %q", got, uid)
	}
	if got := v1alpha1.OwnerUIDFromTag("no-slash"); got != "no-slash" {
		t.Errorf("OwnerUIDFromTag(no-slash) = %q", got)
	}
}

func TestSetCondition(t *testing.T) {
	t.Parallel()
	ms := &v1alpha1.ManagedSecret{ObjectMeta: metav1.ObjectMeta{Generation: 3}}
	ms.SetCondition(metav1.Condition{Type: v1alpha1.ConditionTypeReady, Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonCreating, Message: "Creating the secret"})
	ms.SetCondition(metav1.Condition{Type: v1alpha1.ConditionTypeSynced, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonReconcileSuccess, Message: "ok"})
	first := ms.GetCondition(v1alpha1.ConditionTypeReady).LastTransitionTime

	ms.Generation = 4
	ms.SetCondition(metav1.Condition{Type: v1alpha1.ConditionTypeReady, Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonUpdating, Message: "Updating the secret"})
	want := []metav1.Condition{
		{Type: "Ready", Status: metav1.ConditionFalse, ObservedGeneration: 4, Reason: "Updating", Message: "Updating the secret"},
		{Type: "Synced", Status: metav1.ConditionTrue, ObservedGeneration: 3, Reason: "ReconcileSuccess", Message: "ok"},
	}
	if diff := cmp.Diff(want, ms.GetConditions(), cmpopts.IgnoreFields(metav1.Condition{}, "LastTransitionTime")); diff != "" {
		t.Errorf("conditions (-want +got):\n%s", diff)
	}
	if got := ms.GetCondition(v1alpha1.ConditionTypeReady).LastTransitionTime; !got.Equal(&first) {
		t.Errorf("lastTransitionTime moved without a status change: %v -> %v", first, got)
	}
	if ms.GetCondition("Missing") != nil {
		t.Errorf("GetCondition of a missing type is not nil")
	}
	ms.SetConditions(nil)
	if len(ms.GetConditions()) != 0 {
		t.Errorf("SetConditions(nil) left %v", ms.GetConditions())
	}

	for _, obj := range []interface {
		SetCondition(metav1.Condition)
		GetConditions() []metav1.Condition
		SetConditions([]metav1.Condition)
	}{
		&v1alpha1.ProviderConfig{ObjectMeta: metav1.ObjectMeta{Generation: 2}},
		&v1alpha1.ClusterProviderConfig{ObjectMeta: metav1.ObjectMeta{Generation: 2}},
	} {
		obj.SetCondition(metav1.Condition{Type: v1alpha1.ConditionTypeReady, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonAvailable, Message: "ok"})
		c := obj.GetConditions()
		if len(c) != 1 || c[0].ObservedGeneration != 2 || c[0].LastTransitionTime.IsZero() {
			t.Errorf("%T conditions = %+v", obj, c)
		}
		obj.SetConditions(nil)
		if len(obj.GetConditions()) != 0 {
			t.Errorf("%T SetConditions(nil) left conditions", obj)
		}
	}
}

func TestRotationConfigCSMSString(t *testing.T) {
	t.Parallel()
	c := &v1alpha1.RotationConfig{InstanceID: "63616bceef2c45409575d762a498318bin01", SubType: v1alpha1.RotationSubTypeMultiUser}
	if got, want := c.CSMSString(), `{"InstanceId":"63616bceef2c45409575d762a498318bin01","SecretSubType":"MultiUser"}`; got != want {
		t.Errorf("CSMSString() = %s, want %s", got, want)
	}
	var back map[string]string
	if err := json.Unmarshal([]byte(c.CSMSString()), &back); err != nil {
		t.Fatal(err)
	}

	// The longest instanceID the schema admits, with the longest subType, fills exactly the
	// 1024 characters CSMS allows: the schema bound is neither too tight nor too loose.
	longest := &v1alpha1.RotationConfig{InstanceID: strings.Repeat("i", 978), SubType: v1alpha1.RotationSubTypeSingleUser}
	if got := len(longest.CSMSString()); got != v1alpha1.MaxRotationConfigLength {
		t.Errorf("len(CSMSString()) of the longest config = %d, want %d", got, v1alpha1.MaxRotationConfigLength)
	}
}

// crdSchema loads the generated CRD of one kind.
func crdSchema(t *testing.T, plural string) *apiextensionsv1.JSONSchemaProps {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "secrets.csms-operator.io_"+plural+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.Unmarshal(b, crd); err != nil {
		t.Fatal(err)
	}
	return crd.Spec.Versions[0].Schema.OpenAPIV3Schema
}

// TestPatternConstantsMatchCRD keeps the exported pattern constants, which the controller
// may use, equal to the patterns the schema enforces.
func TestPatternConstantsMatchCRD(t *testing.T) {
	t.Parallel()
	spec := crdSchema(t, "managedsecrets").Properties["spec"]
	checks := map[string][2]string{
		"spec.name":                {spec.Properties["name"].Pattern, v1alpha1.SecretNamePattern},
		"spec.kmsKeyID":            {spec.Properties["kmsKeyID"].Pattern, v1alpha1.KMSKeyIDPattern},
		"spec.replicas[].kmsKeyID": {spec.Properties["replicas"].Items.Schema.Properties["kmsKeyID"].Pattern, v1alpha1.KMSKeyIDPattern},
	}
	for field, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s pattern %q differs from the Go constant %q", field, c[0], c[1])
		}
	}
	if !regexp.MustCompile(v1alpha1.SecretNamePattern).MatchString("demo") {
		t.Errorf("SecretNamePattern does not match demo")
	}
	sizeRule := fmt.Sprintf("self.size() <= %d", v1alpha1.MaxUserTags)
	found := false
	for _, r := range spec.Properties["tags"].XValidations {
		found = found || r.Rule == sizeRule
	}
	if !found {
		t.Errorf("spec.tags has no rule %q (MaxUserTags)", sizeRule)
	}
}

// TestReservedTagKeys keeps the CEL rule's list of reserved keys and the constants in step.
func TestReservedTagKeys(t *testing.T) {
	t.Parallel()
	tags := crdSchema(t, "managedsecrets").Properties["spec"].Properties["tags"]
	found := false
	for _, r := range tags.XValidations {
		if strings.Contains(r.Rule, "!(k in [") {
			found = true
			for _, k := range v1alpha1.ReservedTagKeys {
				if !strings.Contains(r.Rule, "'"+k+"'") || !strings.Contains(r.Message, k) {
					t.Errorf("reserved key %q missing from rule %q or message %q", k, r.Rule, r.Message)
				}
			}
		}
	}
	if !found {
		t.Errorf("no reserved-key rule on spec.tags")
	}
}

// TestAddToScheme checks that every root type is registered under the group-version.
func TestAddToScheme(t *testing.T) {
	t.Parallel()
	s := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	for _, obj := range []runtime.Object{
		&v1alpha1.ManagedSecret{}, &v1alpha1.ManagedSecretList{},
		&v1alpha1.ProviderConfig{}, &v1alpha1.ProviderConfigList{},
		&v1alpha1.ClusterProviderConfig{}, &v1alpha1.ClusterProviderConfigList{},
	} {
		gvks, _, err := s.ObjectKinds(obj)
		if err != nil {
			t.Errorf("%T: %v", obj, err)
			continue
		}
		if len(gvks) != 1 || gvks[0].GroupVersion() != v1alpha1.GroupVersion {
			t.Errorf("%T registered as %v", obj, gvks)
		}
	}
}
