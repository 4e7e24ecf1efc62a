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
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/csms-operator/csms-operator/api/v1alpha1"
)

const (
	testNamespace = "default"
	seedKMSKeyID  = "0d0466b0-e727-4d9c-b35d-f84bb474a37f"
	projectA      = "0123456789abcdef0123456789abcdef"
	projectB      = "fedcba9876543210fedcba9876543210"
	otherKMSKeyID = "b168fe00-ff56-4924-95a7-d22974df2d0b"
)

var nameSeq atomic.Int64

// uniqueName returns a fresh object name that is also a valid CSMS secret name.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, nameSeq.Add(1))
}

// newManagedSecret returns the smallest valid ManagedSecret: a value from one Secret key.
func newManagedSecret() *v1alpha1.ManagedSecret {
	return &v1alpha1.ManagedSecret{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("ms"), Namespace: testNamespace},
		Spec: v1alpha1.ManagedSecretSpec{
			Value: &v1alpha1.SecretValueSource{
				SecretKeyRef: &v1alpha1.SecretKeySelector{Name: "db-creds", Key: "password"},
			},
		},
	}
}

// enabledRotation returns a rotation block that passes every rotation rule.
func enabledRotation(period string) *v1alpha1.RotationSpec {
	return &v1alpha1.RotationSpec{
		Enabled:     true,
		Period:      period,
		FunctionURN: "urn:fss:cn-north-4:46b6f338fc3445b8846c71dfb1fbxxxx:function:default:rotate:latest",
	}
}

func tagsN(n int) map[string]string {
	tags := make(map[string]string, n)
	for i := range n {
		tags[fmt.Sprintf("key%02d", i)] = "v"
	}
	return tags
}

// expectInvalid asserts that err is an Invalid error from the API server and that its
// message contains every string in want (the field path and the rule's message).
func expectInvalid(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("the API server accepted the object; want it rejected with a message containing %q", want)
	}
	if !apierrors.IsInvalid(err) && !apierrors.IsBadRequest(err) {
		t.Fatalf("want an Invalid or BadRequest error, got %T: %v", err, err)
	}
	t.Logf("rejected: %v", err)
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not contain %q:\n%v", w, err)
		}
	}
}

// TestManagedSecretRejected creates one invalid ManagedSecret per rule and checks that the API
// server refuses it with a message naming the field.
func TestManagedSecretRejected(t *testing.T) {
	t.Parallel()
	longName := strings.Repeat("a", 65)
	cases := []struct {
		name   string
		mutate func(*v1alpha1.ManagedSecret)
		want   []string
	}{
		// spec.name
		{"spec.name with a space", func(m *v1alpha1.ManagedSecret) { m.Spec.Name = "bad name" }, []string{"spec.name", "should match"}},
		{"spec.name with a dot", func(m *v1alpha1.ManagedSecret) { m.Spec.Name = "bad.name" }, []string{"spec.name", "should match"}},
		{"spec.name of 65 characters", func(m *v1alpha1.ManagedSecret) { m.Spec.Name = longName }, []string{"spec.name", "Too long"}},
		{"metadata.name with a dot and no spec.name", func(m *v1alpha1.ManagedSecret) { m.Name = uniqueName("has.dot") },
			[]string{"spec.name: Invalid value", "metadata.name is not a valid CSMS secret name", "set spec.name"}},
		{"metadata.name of 65 characters and no spec.name", func(m *v1alpha1.ManagedSecret) { m.Name = longName },
			[]string{"spec.name: Invalid value", "metadata.name is not a valid CSMS secret name", "set spec.name"}},

		// spec.secretType
		{"secretType RDS (no longer supported)", func(m *v1alpha1.ManagedSecret) { m.Spec.SecretType = "RDS" }, []string{"spec.secretType", "Unsupported value"}},
		{"secretType lower case", func(m *v1alpha1.ManagedSecret) { m.Spec.SecretType = "common" }, []string{"spec.secretType", "Unsupported value"}},

		// spec.kmsKeyID
		{"kmsKeyID csms/default", func(m *v1alpha1.ManagedSecret) { m.Spec.KMSKeyID = "csms/default" }, []string{"spec.kmsKeyID", "should match"}},
		{"kmsKeyID upper case", func(m *v1alpha1.ManagedSecret) { m.Spec.KMSKeyID = strings.ToUpper(seedKMSKeyID) }, []string{"spec.kmsKeyID", "should match"}},

		// spec.description
		{"description of 2049 characters", func(m *v1alpha1.ManagedSecret) { m.Spec.Description = strings.Repeat("d", 2049) }, []string{"spec.description", "Too long"}},
		{"description of 1000 characters but 3000 bytes", func(m *v1alpha1.ManagedSecret) { m.Spec.Description = strings.Repeat("€", 1000) },
			[]string{"spec.description", "must be at most 2048 bytes"}},

		// spec.value
		{"value with no source", func(m *v1alpha1.ManagedSecret) { m.Spec.Value = &v1alpha1.SecretValueSource{} },
			[]string{"spec.value", "must set exactly one of secretKeyRef, secretRef, binarySecretKeyRef, generate"}},
		// spec.target
		{"target is the value source", func(m *v1alpha1.ManagedSecret) {
			m.Spec.Target = &v1alpha1.SecretTarget{Name: m.Spec.Value.SecretKeyRef.Name}
		}, []string{"spec.target.name", "must not be the value source Secret"}},
		{"target is the secretRef source", func(m *v1alpha1.ManagedSecret) {
			m.Spec.Value = &v1alpha1.SecretValueSource{SecretRef: &v1alpha1.LocalSecretReference{Name: "db"}}
			m.Spec.Target = &v1alpha1.SecretTarget{Name: "db"}
		}, []string{"spec.target.name", "must not be the value source Secret"}},
		{"target name not a Secret name", func(m *v1alpha1.ManagedSecret) { m.Spec.Target = &v1alpha1.SecretTarget{Name: "Bad_Name"} },
			[]string{"spec.target.name", "should match"}},
		{"target Merge with a type", func(m *v1alpha1.ManagedSecret) {
			m.Spec.Target = &v1alpha1.SecretTarget{Name: "out", CreationPolicy: v1alpha1.TargetCreationPolicyMerge,
				Template: &v1alpha1.TargetTemplate{Type: "kubernetes.io/tls"}}
		}, []string{"spec.target.template.type", "cannot be set with creationPolicy Merge"}},
		{"target template key not a Secret key", func(m *v1alpha1.ManagedSecret) {
			m.Spec.Target = &v1alpha1.SecretTarget{Name: "out", Template: &v1alpha1.TargetTemplate{Data: map[string]string{"a b": "x"}}}
		}, []string{"spec.target.template.data", "must be valid Secret keys"}},
		{"restart an unknown kind", func(m *v1alpha1.ManagedSecret) {
			m.Spec.Target = &v1alpha1.SecretTarget{Name: "out", RolloutRestart: []v1alpha1.WorkloadReference{{Kind: "CronJob", Name: "x"}}}
		}, []string{"spec.target.rolloutRestart[0].kind", "Unsupported value"}},
		{"restart the same workload twice", func(m *v1alpha1.ManagedSecret) {
			w := v1alpha1.WorkloadReference{Kind: v1alpha1.WorkloadKindDeployment, Name: "x"}
			m.Spec.Target = &v1alpha1.SecretTarget{Name: "out", RolloutRestart: []v1alpha1.WorkloadReference{w, w}}
		}, []string{"spec.target.rolloutRestart[1]", "Duplicate value"}},

		{"no value with Manage", func(m *v1alpha1.ManagedSecret) { m.Spec.Value = nil },
			[]string{"spec.value", "is required when spec.managementPolicy is Manage"}},
		{"no value with an explicit Manage", func(m *v1alpha1.ManagedSecret) {
			m.Spec.Value = nil
			m.Spec.ManagementPolicy = v1alpha1.ManagementPolicyManage
		}, []string{"spec.value", "is required when spec.managementPolicy is Manage"}},
		{"unknown managementPolicy", func(m *v1alpha1.ManagedSecret) { m.Spec.ManagementPolicy = "Import" },
			[]string{"spec.managementPolicy", "Unsupported value"}},
		{"value with two sources", func(m *v1alpha1.ManagedSecret) { m.Spec.Value.Generate = &v1alpha1.GenerateSpec{Length: 32} },
			[]string{"spec.value", "must set exactly one of"}},
		{"value with all four sources", func(m *v1alpha1.ManagedSecret) {
			m.Spec.Value.SecretRef = &v1alpha1.LocalSecretReference{Name: "a"}
			m.Spec.Value.BinarySecretKeyRef = &v1alpha1.SecretKeySelector{Name: "a", Key: "b"}
			m.Spec.Value.Generate = &v1alpha1.GenerateSpec{}
		}, []string{"spec.value", "must set exactly one of"}},
		{"secretKeyRef.name not a Secret name", func(m *v1alpha1.ManagedSecret) { m.Spec.Value.SecretKeyRef.Name = "Bad_Name" },
			[]string{"spec.value.secretKeyRef.name", "should match"}},
		{"secretKeyRef.name empty", func(m *v1alpha1.ManagedSecret) { m.Spec.Value.SecretKeyRef.Name = "" },
			[]string{"spec.value.secretKeyRef.name"}},
		{"secretKeyRef.key with a slash", func(m *v1alpha1.ManagedSecret) { m.Spec.Value.SecretKeyRef.Key = "a/b" },
			[]string{"spec.value.secretKeyRef.key", "should match"}},
		{"secretKeyRef.key empty", func(m *v1alpha1.ManagedSecret) { m.Spec.Value.SecretKeyRef.Key = "" },
			[]string{"spec.value.secretKeyRef.key"}},
		{"secretRef.name not a Secret name", func(m *v1alpha1.ManagedSecret) {
			m.Spec.Value = &v1alpha1.SecretValueSource{SecretRef: &v1alpha1.LocalSecretReference{Name: "-bad"}}
		}, []string{"spec.value.secretRef.name", "should match"}},
		{"binarySecretKeyRef.key with a space", func(m *v1alpha1.ManagedSecret) {
			m.Spec.Value = &v1alpha1.SecretValueSource{BinarySecretKeyRef: &v1alpha1.SecretKeySelector{Name: "tls", Key: "tls p12"}}
		}, []string{"spec.value.binarySecretKeyRef.key", "should match"}},
		{"binarySecretKeyRef.name too long", func(m *v1alpha1.ManagedSecret) {
			m.Spec.Value = &v1alpha1.SecretValueSource{BinarySecretKeyRef: &v1alpha1.SecretKeySelector{Name: strings.Repeat("a", 254), Key: "k"}}
		}, []string{"spec.value.binarySecretKeyRef.name", "Too long"}},
		{"generate.length 7", func(m *v1alpha1.ManagedSecret) {
			m.Spec.Value = &v1alpha1.SecretValueSource{Generate: &v1alpha1.GenerateSpec{Length: 7}}
		}, []string{"spec.value.generate.length", "greater than or equal to 8"}},
		{"generate.length 4097", func(m *v1alpha1.ManagedSecret) {
			m.Spec.Value = &v1alpha1.SecretValueSource{Generate: &v1alpha1.GenerateSpec{Length: 4097}}
		}, []string{"spec.value.generate.length", "less than or equal to 4096"}},

		// spec.rotation
		{"rotation.period 3h", func(m *v1alpha1.ManagedSecret) { m.Spec.Rotation = enabledRotation("3h") }, []string{"spec.rotation.period", "must be between 4h and 8760h"}},
		{"rotation.period 8761h", func(m *v1alpha1.ManagedSecret) { m.Spec.Rotation = enabledRotation("8761h") }, []string{"spec.rotation.period", "must be between 4h and 8760h"}},
		{"rotation.period 366d", func(m *v1alpha1.ManagedSecret) { m.Spec.Rotation = enabledRotation("366d") }, []string{"spec.rotation.period", "must be between 4h and 8760h"}},
		{"rotation.period 0d", func(m *v1alpha1.ManagedSecret) { m.Spec.Rotation = enabledRotation("0d") }, []string{"spec.rotation.period", "must be between 4h and 8760h"}},
		{"rotation.period 239m", func(m *v1alpha1.ManagedSecret) { m.Spec.Rotation = enabledRotation("239m") }, []string{"spec.rotation.period", "must be between 4h and 8760h"}},
		{"rotation.period 14399s", func(m *v1alpha1.ManagedSecret) { m.Spec.Rotation = enabledRotation("14399s") }, []string{"spec.rotation.period", "must be between 4h and 8760h"}},
		{"rotation.period 31536001s", func(m *v1alpha1.ManagedSecret) { m.Spec.Rotation = enabledRotation("31536001s") }, []string{"spec.rotation.period", "must be between 4h and 8760h"}},
		{"rotation.period 10x", func(m *v1alpha1.ManagedSecret) { m.Spec.Rotation = enabledRotation("10x") }, []string{"spec.rotation.period", "should match"}},
		{"rotation.period 1.5d", func(m *v1alpha1.ManagedSecret) { m.Spec.Rotation = enabledRotation("1.5d") }, []string{"spec.rotation.period", "should match"}},
		{"rotation.period -4h", func(m *v1alpha1.ManagedSecret) { m.Spec.Rotation = enabledRotation("-4h") }, []string{"spec.rotation.period", "should match"}},
		{"rotation.period without a number", func(m *v1alpha1.ManagedSecret) { m.Spec.Rotation = enabledRotation("d") }, []string{"spec.rotation.period", "should match"}},
		{"rotation.period with 20 digits", func(m *v1alpha1.ManagedSecret) { m.Spec.Rotation = enabledRotation("99999999999999999999d") },
			[]string{"spec.rotation.period", "Too long"}},
		{"rotation.period with 11 digits (no overflow)", func(m *v1alpha1.ManagedSecret) { m.Spec.Rotation = enabledRotation("99999999999d") },
			[]string{"spec.rotation.period", "must be between 4h and 8760h"}},
		{"rotation enabled without period", func(m *v1alpha1.ManagedSecret) { m.Spec.Rotation = enabledRotation(""); m.Spec.Rotation.Period = "" },
			[]string{"spec.rotation.period", "spec.rotation.period is required when spec.rotation.enabled is true"}},
		{"rotation enabled without functionURN", func(m *v1alpha1.ManagedSecret) {
			m.Spec.Rotation = enabledRotation("30d")
			m.Spec.Rotation.FunctionURN = ""
		}, []string{"spec.rotation.functionURN", "spec.rotation.functionURN is required when spec.rotation.enabled is true"}},
		{"rotation.functionURN of 513 characters", func(m *v1alpha1.ManagedSecret) {
			m.Spec.Rotation = enabledRotation("30d")
			m.Spec.Rotation.FunctionURN = strings.Repeat("u", 513)
		}, []string{"spec.rotation.functionURN", "Too long"}},
		{"RDS-FG without rotation", func(m *v1alpha1.ManagedSecret) { m.Spec.SecretType = v1alpha1.SecretTypeRDSFG },
			[]string{"spec.rotation", "spec.rotation.config is required when spec.secretType is RDS-FG or GaussDB-FG"}},
		{"GaussDB-FG with rotation but no config", func(m *v1alpha1.ManagedSecret) {
			m.Spec.SecretType = v1alpha1.SecretTypeGaussDBFG
			m.Spec.Rotation = enabledRotation("1d")
		}, []string{"spec.rotation", "spec.rotation.config is required when spec.secretType is RDS-FG or GaussDB-FG"}},
		{"rotation.config.subType unknown", func(m *v1alpha1.ManagedSecret) {
			m.Spec.Rotation = &v1alpha1.RotationSpec{Config: &v1alpha1.RotationConfig{InstanceID: "i1", SubType: "TripleUser"}}
		}, []string{"spec.rotation.config.subType", "Unsupported value"}},
		{"rotation.config.subType missing", func(m *v1alpha1.ManagedSecret) {
			m.Spec.Rotation = &v1alpha1.RotationSpec{Config: &v1alpha1.RotationConfig{InstanceID: "i1"}}
		}, []string{"spec.rotation.config.subType"}},
		{"rotation.config.instanceID empty", func(m *v1alpha1.ManagedSecret) {
			m.Spec.Rotation = &v1alpha1.RotationSpec{Config: &v1alpha1.RotationConfig{SubType: v1alpha1.RotationSubTypeSingleUser}}
		}, []string{"spec.rotation.config.instanceID"}},
		{"rotation.config.instanceID too long for the 1024-character rotation_config", func(m *v1alpha1.ManagedSecret) {
			m.Spec.Rotation = &v1alpha1.RotationSpec{Config: &v1alpha1.RotationConfig{InstanceID: strings.Repeat("i", 979), SubType: v1alpha1.RotationSubTypeSingleUser}}
		}, []string{"spec.rotation.config.instanceID", "Too long"}},
		{"rotation.config.instanceID with a quote", func(m *v1alpha1.ManagedSecret) {
			m.Spec.Rotation = &v1alpha1.RotationSpec{Config: &v1alpha1.RotationConfig{InstanceID: `a"b`, SubType: v1alpha1.RotationSubTypeMultiUser}}
		}, []string{"spec.rotation.config.instanceID", "should match"}},

		// spec.eventSubscriptions
		{"two eventSubscriptions", func(m *v1alpha1.ManagedSecret) { m.Spec.EventSubscriptions = []string{"a", "b"} },
			[]string{"spec.eventSubscriptions", "must have at most 1 item"}},
		{"eventSubscriptions item not an event name", func(m *v1alpha1.ManagedSecret) { m.Spec.EventSubscriptions = []string{"bad event"} },
			[]string{"spec.eventSubscriptions[0]", "should match"}},

		// spec.tags
		{"19 tags", func(m *v1alpha1.ManagedSecret) { m.Spec.Tags = tagsN(19) },
			[]string{"spec.tags: Invalid value", "spec.tags may have at most 18 entries: CSMS allows 20 tags per secret and the operator adds two"}},
		{"65 tags", func(m *v1alpha1.ManagedSecret) { m.Spec.Tags = tagsN(65) },
			[]string{"spec.tags", "must have at most 64 items"}},
		{"tag key of 129 characters", func(m *v1alpha1.ManagedSecret) { m.Spec.Tags = map[string]string{strings.Repeat("k", 129): "v"} },
			[]string{"spec.tags", "spec.tags keys must be 1 to 128 characters"}},
		{"empty tag key", func(m *v1alpha1.ManagedSecret) { m.Spec.Tags = map[string]string{"": "v"} },
			[]string{"spec.tags", "spec.tags keys must be 1 to 128 characters"}},
		{"tag key starting with _sys_", func(m *v1alpha1.ManagedSecret) { m.Spec.Tags = map[string]string{"_sys_enterprise": "v"} },
			[]string{"spec.tags", "spec.tags keys must not start with _sys_"}},
		{"reserved tag key managed-by", func(m *v1alpha1.ManagedSecret) { m.Spec.Tags = map[string]string{v1alpha1.TagKeyManagedBy: "me"} },
			[]string{"spec.tags", "must not use the keys managed-by and csms-operator-owner"}},
		{"reserved tag key csms-operator-owner", func(m *v1alpha1.ManagedSecret) { m.Spec.Tags = map[string]string{v1alpha1.TagKeyOwner: "me"} },
			[]string{"spec.tags", "must not use the keys managed-by and csms-operator-owner"}},
		{"tag value of 256 characters", func(m *v1alpha1.ManagedSecret) { m.Spec.Tags = map[string]string{"k": strings.Repeat("v", 256)} },
			[]string{"spec.tags", "spec.tags values must be at most 255 characters"}},

		// spec.replicas
		{"replica region not a region", func(m *v1alpha1.ManagedSecret) {
			m.Spec.Replicas = []v1alpha1.ReplicaSpec{{Region: "AP_SOUTHEAST", ProjectID: projectA}}
		}, []string{"spec.replicas[0].region", "should match"}},
		{"replica without region", func(m *v1alpha1.ManagedSecret) {
			m.Spec.Replicas = []v1alpha1.ReplicaSpec{{ProjectID: projectA}}
		}, []string{"spec.replicas[0].region"}},
		{"replica projectID of 31 characters", func(m *v1alpha1.ManagedSecret) {
			m.Spec.Replicas = []v1alpha1.ReplicaSpec{{Region: "ap-southeast-3", ProjectID: projectA[:31]}}
		}, []string{"spec.replicas[0].projectID", "should match"}},
		{"replica projectID of 33 characters", func(m *v1alpha1.ManagedSecret) {
			m.Spec.Replicas = []v1alpha1.ReplicaSpec{{Region: "ap-southeast-3", ProjectID: projectA + "0"}}
		}, []string{"spec.replicas[0].projectID", "should match"}},
		{"replica projectID with a dash", func(m *v1alpha1.ManagedSecret) {
			m.Spec.Replicas = []v1alpha1.ReplicaSpec{{Region: "ap-southeast-3", ProjectID: "0123456789abcdef-123456789abcdef"}}
		}, []string{"spec.replicas[0].projectID", "should match"}},
		{"replica kmsKeyID not a key ID", func(m *v1alpha1.ManagedSecret) {
			m.Spec.Replicas = []v1alpha1.ReplicaSpec{{Region: "ap-southeast-3", ProjectID: projectA, KMSKeyID: "csms/default"}}
		}, []string{"spec.replicas[0].kmsKeyID", "should match"}},
		{"two replicas in one region", func(m *v1alpha1.ManagedSecret) {
			m.Spec.Replicas = []v1alpha1.ReplicaSpec{{Region: "ap-southeast-3", ProjectID: projectA}, {Region: "ap-southeast-3", ProjectID: projectB}}
		}, []string{"spec.replicas[1]", "Duplicate value"}},
		{"11 replicas", func(m *v1alpha1.ManagedSecret) {
			for i := range 11 {
				m.Spec.Replicas = append(m.Spec.Replicas, v1alpha1.ReplicaSpec{Region: fmt.Sprintf("xx-region-%d", i), ProjectID: projectA})
			}
		}, []string{"spec.replicas", "must have at most 10 items"}},

		// deletion, adoption, resync
		{"deletionPolicy Orphan", func(m *v1alpha1.ManagedSecret) { m.Spec.DeletionPolicy = "Orphan" }, []string{"spec.deletionPolicy", "Unsupported value"}},
		{"recoveryWindowDays 6", func(m *v1alpha1.ManagedSecret) { m.Spec.RecoveryWindowDays = ptr.To[int32](6) },
			[]string{"spec.recoveryWindowDays", "must be 0 (delete immediately) or between 7 and 30"}},
		{"recoveryWindowDays 1", func(m *v1alpha1.ManagedSecret) { m.Spec.RecoveryWindowDays = ptr.To[int32](1) },
			[]string{"spec.recoveryWindowDays", "must be 0 (delete immediately) or between 7 and 30"}},
		{"recoveryWindowDays 31", func(m *v1alpha1.ManagedSecret) { m.Spec.RecoveryWindowDays = ptr.To[int32](31) },
			[]string{"spec.recoveryWindowDays", "less than or equal to 30"}},
		{"recoveryWindowDays -1", func(m *v1alpha1.ManagedSecret) { m.Spec.RecoveryWindowDays = ptr.To[int32](-1) },
			[]string{"spec.recoveryWindowDays", "greater than or equal to 0"}},
		{"adoptionPolicy Force", func(m *v1alpha1.ManagedSecret) { m.Spec.AdoptionPolicy = "Force" }, []string{"spec.adoptionPolicy", "Unsupported value"}},
		{"resyncInterval 29s", func(m *v1alpha1.ManagedSecret) { m.Spec.ResyncInterval = &metav1.Duration{Duration: 29 * time.Second} },
			[]string{"spec.resyncInterval", "spec.resyncInterval must be at least 30s"}},
		{"resyncInterval 500ms", func(m *v1alpha1.ManagedSecret) {
			m.Spec.ResyncInterval = &metav1.Duration{Duration: 500 * time.Millisecond}
		},
			[]string{"spec.resyncInterval", "spec.resyncInterval must be at least 30s"}},
		{"resyncInterval negative", func(m *v1alpha1.ManagedSecret) { m.Spec.ResyncInterval = &metav1.Duration{Duration: -time.Minute} },
			[]string{"spec.resyncInterval", "should match"}},

		// providerConfigRef and the remaining strings
		{"providerConfigRef.kind Secret", func(m *v1alpha1.ManagedSecret) { m.Spec.ProviderConfigRef.Kind = "Secret" },
			[]string{"spec.providerConfigRef.kind", "Unsupported value"}},
		{"providerConfigRef.name not an object name", func(m *v1alpha1.ManagedSecret) { m.Spec.ProviderConfigRef.Name = "Bad_Name" },
			[]string{"spec.providerConfigRef.name", "should match"}},
		{"enterpriseProjectID of 65 characters", func(m *v1alpha1.ManagedSecret) { m.Spec.EnterpriseProjectID = strings.Repeat("0", 65) },
			[]string{"spec.enterpriseProjectID", "Too long"}},
		{"enterpriseProjectID with a space", func(m *v1alpha1.ManagedSecret) { m.Spec.EnterpriseProjectID = "a b" },
			[]string{"spec.enterpriseProjectID", "should match"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ms := newManagedSecret()
			tc.mutate(ms)
			err := k8sClient.Create(ctx, ms)
			expectInvalid(t, err, tc.want...)
		})
	}
}

// TestManagedSecretRejectedUnknownField checks that, as with kubectl's strict field validation,
// a misspelt field is refused and named rather than silently dropped.
func TestManagedSecretRejectedUnknownField(t *testing.T) {
	t.Parallel()
	ms := newManagedSecret()
	u := toUnstructured(t, ms)
	if err := unstructuredSetNested(u.Object, "30d", "spec", "rotation", "periodDays"); err != nil {
		t.Fatal(err)
	}
	expectInvalid(t, k8sClient.Create(ctx, u), `unknown field "spec.rotation.periodDays"`)
}

// TestManagedSecretAccepted creates valid objects, including edge values of every range.
func TestManagedSecretAccepted(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		mutate func(*v1alpha1.ManagedSecret)
	}{
		{"minimal", func(*v1alpha1.ManagedSecret) {}},
		{"metadata.name invalid for CSMS but spec.name set", func(m *v1alpha1.ManagedSecret) {
			m.Name = uniqueName("has.dot")
			m.Spec.Name = strings.ReplaceAll(m.Name, ".", "_")
		}},
		{"spec.name of 64 characters with _ and upper case", func(m *v1alpha1.ManagedSecret) { m.Spec.Name = "A_" + strings.Repeat("b", 62) }},
		{"metadata.name of 64 characters", func(m *v1alpha1.ManagedSecret) { m.Name = strings.Repeat("x", 64) }},
		{"secretRef", func(m *v1alpha1.ManagedSecret) {
			m.Spec.Value = &v1alpha1.SecretValueSource{SecretRef: &v1alpha1.LocalSecretReference{Name: "db-creds"}}
		}},
		{"binarySecretKeyRef", func(m *v1alpha1.ManagedSecret) {
			m.Spec.Value = &v1alpha1.SecretValueSource{BinarySecretKeyRef: &v1alpha1.SecretKeySelector{Name: "tls", Key: "tls.p12"}}
		}},
		{"Observe without a value", func(m *v1alpha1.ManagedSecret) {
			m.Spec.Value = nil
			m.Spec.ManagementPolicy = v1alpha1.ManagementPolicyObserve
		}},
		{"Observe with a value", func(m *v1alpha1.ManagedSecret) { m.Spec.ManagementPolicy = v1alpha1.ManagementPolicyObserve }},
		{"a target with every field", func(m *v1alpha1.ManagedSecret) {
			m.Spec.Target = &v1alpha1.SecretTarget{Name: "app-db", CreationPolicy: v1alpha1.TargetCreationPolicyOrphan,
				Template: &v1alpha1.TargetTemplate{Type: "kubernetes.io/basic-auth", Metadata: v1alpha1.TargetMetadata{Labels: map[string]string{"a": "b"}},
					Data: map[string]string{"password": "{{ .JSON.password }}"}},
				RolloutRestart: []v1alpha1.WorkloadReference{{Kind: v1alpha1.WorkloadKindDeployment, Name: "api"}, {Kind: v1alpha1.WorkloadKindStatefulSet, Name: "api"}}}
		}},
		{"Observe without a value, with a target", func(m *v1alpha1.ManagedSecret) {
			m.Spec.Value, m.Spec.ManagementPolicy = nil, v1alpha1.ManagementPolicyObserve
			m.Spec.Target = &v1alpha1.SecretTarget{Name: "imported"}
		}},
		{"generate 8", func(m *v1alpha1.ManagedSecret) {
			m.Spec.Value = &v1alpha1.SecretValueSource{Generate: &v1alpha1.GenerateSpec{Length: 8}}
		}},
		{"generate 4096", func(m *v1alpha1.ManagedSecret) {
			m.Spec.Value = &v1alpha1.SecretValueSource{Generate: &v1alpha1.GenerateSpec{Length: 4096}}
		}},
		{"description of 2048 bytes", func(m *v1alpha1.ManagedSecret) { m.Spec.Description = strings.Repeat("d", 2048) }},
		{"rotation disabled without period or function", func(m *v1alpha1.ManagedSecret) { m.Spec.Rotation = &v1alpha1.RotationSpec{} }},
		{"18 tags, the most CSMS leaves after the operator's two", func(m *v1alpha1.ManagedSecret) { m.Spec.Tags = tagsN(18) }},
		{"tag key of 128 and value of 255 characters", func(m *v1alpha1.ManagedSecret) {
			m.Spec.Tags = map[string]string{strings.Repeat("k", 128): strings.Repeat("v", 255), "empty-value": ""}
		}},
		{"10 replicas", func(m *v1alpha1.ManagedSecret) {
			for i := range 10 {
				m.Spec.Replicas = append(m.Spec.Replicas, v1alpha1.ReplicaSpec{Region: fmt.Sprintf("xx-region-%d", i), ProjectID: projectA})
			}
		}},
		{"recoveryWindowDays 0", func(m *v1alpha1.ManagedSecret) { m.Spec.RecoveryWindowDays = ptr.To[int32](0) }},
		{"recoveryWindowDays 7", func(m *v1alpha1.ManagedSecret) { m.Spec.RecoveryWindowDays = ptr.To[int32](7) }},
		{"resyncInterval 30s", func(m *v1alpha1.ManagedSecret) { m.Spec.ResyncInterval = &metav1.Duration{Duration: 30 * time.Second} }},
		{"resyncInterval 1h30m", func(m *v1alpha1.ManagedSecret) { m.Spec.ResyncInterval = &metav1.Duration{Duration: 90 * time.Minute} }},
		{"namespaced ProviderConfig", func(m *v1alpha1.ManagedSecret) {
			m.Spec.ProviderConfigRef = v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindNamespaced, Name: "team-a"}
		}},
		{"GaussDB-FG with MultiUser rotation", func(m *v1alpha1.ManagedSecret) {
			m.Spec.SecretType = v1alpha1.SecretTypeGaussDBFG
			m.Spec.Rotation = enabledRotation("1d")
			m.Spec.Rotation.Config = &v1alpha1.RotationConfig{InstanceID: "63616bceef2c45409575d762a498318bin01", SubType: v1alpha1.RotationSubTypeMultiUser}
		}},
		{"RDS-FG with the longest instanceID", func(m *v1alpha1.ManagedSecret) {
			m.Spec.SecretType = v1alpha1.SecretTypeRDSFG
			m.Spec.Rotation = &v1alpha1.RotationSpec{Config: &v1alpha1.RotationConfig{InstanceID: strings.Repeat("i", 978), SubType: v1alpha1.RotationSubTypeSingleUser}}
		}},
	}
	for _, period := range []string{"1d", "24h", "4h", "240m", "14400s", "365d", "8760h", "525600m", "31536000s", "30d", "004h"} {
		cases = append(cases, struct {
			name   string
			mutate func(*v1alpha1.ManagedSecret)
		}{"rotation.period " + period, func(m *v1alpha1.ManagedSecret) { m.Spec.Rotation = enabledRotation(period) }})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ms := newManagedSecret()
			tc.mutate(ms)
			if err := k8sClient.Create(ctx, ms); err != nil {
				t.Fatalf("create: %v", err)
			}
		})
	}
}

// TestSeedExampleAccepted maps the CreateSecret example request of the seed doc (name demo,
// kms_key_id 0d0466b0-…, secret_string) to a ManagedSecret.
func TestSeedExampleAccepted(t *testing.T) {
	t.Parallel()
	ns := createNamespace(t)
	ms := &v1alpha1.ManagedSecret{
		ObjectMeta: metav1.ObjectMeta{Name: "demo", Namespace: ns},
		Spec: v1alpha1.ManagedSecretSpec{
			KMSKeyID: seedKMSKeyID,
			Value: &v1alpha1.SecretValueSource{
				SecretKeyRef: &v1alpha1.SecretKeySelector{Name: "demo-value", Key: "secret_string"},
			},
		},
	}
	if err := k8sClient.Create(ctx, ms); err != nil {
		t.Fatalf("create: %v", err)
	}
	if got := ms.CSMSName(); got != "demo" {
		t.Errorf("CSMSName() = %q, want demo", got)
	}
	if ms.Spec.KMSKeyID != seedKMSKeyID {
		t.Errorf("kmsKeyID = %q, want %q", ms.Spec.KMSKeyID, seedKMSKeyID)
	}
}

// fullManagedSecret sets every spec field.
func fullManagedSecret(ns string) *v1alpha1.ManagedSecret {
	return &v1alpha1.ManagedSecret{
		ObjectMeta: metav1.ObjectMeta{Name: "payments-db", Namespace: ns},
		Spec: v1alpha1.ManagedSecretSpec{
			ProviderConfigRef: v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindNamespaced, Name: "payments"},
			Name:              "payments_db-primary",
			Description:       "Password of the payments database",
			SecretType:        v1alpha1.SecretTypeRDSFG,
			KMSKeyID:          seedKMSKeyID,
			Value:             &v1alpha1.SecretValueSource{SecretKeyRef: &v1alpha1.SecretKeySelector{Name: "db-creds", Key: "password"}},
			Rotation: &v1alpha1.RotationSpec{
				Enabled:     true,
				Period:      "30d",
				FunctionURN: "urn:fss:cn-north-4:46b6f338fc3445b8846c71dfb1fbxxxx:function:default:rotate:latest",
				Config:      &v1alpha1.RotationConfig{InstanceID: "63616bceef2c45409575d762a498318bin01", SubType: v1alpha1.RotationSubTypeSingleUser},
			},
			EventSubscriptions:  []string{"pocEvent"},
			EnterpriseProjectID: "0",
			Tags:                map[string]string{"team": "payments", "env": "prod"},
			Replicas: []v1alpha1.ReplicaSpec{
				{Region: "ap-southeast-3", ProjectID: projectB, KMSKeyID: otherKMSKeyID},
				{Region: "cn-south-1", ProjectID: projectA},
			},
			DeletionPolicy:     v1alpha1.DeletionPolicyRetain,
			RecoveryWindowDays: ptr.To[int32](7),
			AdoptionPolicy:     v1alpha1.AdoptionPolicyAdopt,
			ResyncInterval:     &metav1.Duration{Duration: 5 * time.Minute},
			ManagementPolicy:   v1alpha1.ManagementPolicyManage,
		},
	}
}

// TestFullManagedSecretRoundTrip creates an object with every field and reads it back
// unchanged: nothing is pruned or rewritten.
func TestFullManagedSecretRoundTrip(t *testing.T) {
	t.Parallel()
	ns := createNamespace(t)
	want := fullManagedSecret(ns)
	if err := k8sClient.Create(ctx, want.DeepCopy()); err != nil {
		t.Fatalf("create: %v", err)
	}
	got := &v1alpha1.ManagedSecret{}
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(want), got); err != nil {
		t.Fatalf("get: %v", err)
	}
	if diff := cmp.Diff(want.Spec, got.Spec); diff != "" {
		t.Errorf("spec changed on the round trip (-want +got):\n%s", diff)
	}
}

// TestManagedSecretDefaults checks the defaults the API server applies to a minimal object.
func TestManagedSecretDefaults(t *testing.T) {
	t.Parallel()
	ms := newManagedSecret()
	ms.Spec.Value = &v1alpha1.SecretValueSource{Generate: &v1alpha1.GenerateSpec{}}
	if err := k8sClient.Create(ctx, ms); err != nil {
		t.Fatalf("create: %v", err)
	}
	got := &v1alpha1.ManagedSecret{}
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(ms), got); err != nil {
		t.Fatalf("get: %v", err)
	}
	want := v1alpha1.ManagedSecretSpec{
		ProviderConfigRef:  v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindCluster, Name: "default"},
		SecretType:         v1alpha1.SecretTypeCommon,
		Value:              &v1alpha1.SecretValueSource{Generate: &v1alpha1.GenerateSpec{Length: 32}},
		DeletionPolicy:     v1alpha1.DeletionPolicyDelete,
		RecoveryWindowDays: ptr.To[int32](30),
		AdoptionPolicy:     v1alpha1.AdoptionPolicyNone,
		ResyncInterval:     &metav1.Duration{Duration: 10 * time.Minute},
		ManagementPolicy:   v1alpha1.ManagementPolicyManage,
	}
	if diff := cmp.Diff(want, got.Spec); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	if got.ManagementPolicyOrDefault() != v1alpha1.ManagementPolicyManage || newManagedSecret().ManagementPolicyOrDefault() != v1alpha1.ManagementPolicyManage {
		t.Errorf("ManagementPolicyOrDefault differs from the server's default")
	}
	// The helpers agree with the server's defaults.
	if got.ResyncInterval() != v1alpha1.DefaultResyncInterval || got.RecoveryWindowDays() != v1alpha1.DefaultRecoveryWindowDays {
		t.Errorf("helper defaults differ from the server's: resync %v, recovery %d", got.ResyncInterval(), got.RecoveryWindowDays())
	}
	if diff := cmp.Diff(got.Spec.ProviderConfigRef, newManagedSecret().ProviderConfigKey()); diff != "" {
		t.Errorf("ProviderConfigKey default differs from the server's (-server +helper):\n%s", diff)
	}
}

// TestProviderConfigRefPartialDefaults: a ref with only a name gets the default kind, and
// vice versa.
func TestProviderConfigRefPartialDefaults(t *testing.T) {
	t.Parallel()
	ms := newManagedSecret()
	ms.Spec.ProviderConfigRef = v1alpha1.ProviderConfigReference{Name: "other"}
	if err := k8sClient.Create(ctx, ms); err != nil {
		t.Fatalf("create: %v", err)
	}
	if diff := cmp.Diff(v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindCluster, Name: "other"}, ms.Spec.ProviderConfigRef); diff != "" {
		t.Errorf("name only (-want +got):\n%s", diff)
	}
	ms = newManagedSecret()
	ms.Spec.ProviderConfigRef = v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindNamespaced}
	if err := k8sClient.Create(ctx, ms); err != nil {
		t.Fatalf("create: %v", err)
	}
	if diff := cmp.Diff(v1alpha1.ProviderConfigReference{Kind: v1alpha1.ProviderConfigKindNamespaced, Name: "default"}, ms.Spec.ProviderConfigRef); diff != "" {
		t.Errorf("kind only (-want +got):\n%s", diff)
	}
}
