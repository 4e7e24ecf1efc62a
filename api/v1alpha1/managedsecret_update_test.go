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
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/csms-operator/csms-operator/api/v1alpha1"
)

// TestManagedSecretUpdates creates a valid object, applies one change and checks whether the
// API server refuses it (immutable fields, replica removal) or accepts it.
func TestManagedSecretUpdates(t *testing.T) {
	t.Parallel()
	withReplicas := func(m *v1alpha1.ManagedSecret) {
		m.Spec.Replicas = []v1alpha1.ReplicaSpec{
			{Region: "ap-southeast-3", ProjectID: projectA, KMSKeyID: seedKMSKeyID},
			{Region: "cn-south-1", ProjectID: projectB},
		}
	}
	cases := []struct {
		name   string
		setup  func(*v1alpha1.ManagedSecret) // before create
		update func(*v1alpha1.ManagedSecret)
		want   []string // nil: the update must be accepted
	}{
		{
			name:   "change spec.name",
			setup:  func(m *v1alpha1.ManagedSecret) { m.Spec.Name = "first" },
			update: func(m *v1alpha1.ManagedSecret) { m.Spec.Name = "second" },
			want:   []string{"spec.name: Invalid value", "spec.name is immutable"},
		},
		{
			name:   "set spec.name different from metadata.name",
			update: func(m *v1alpha1.ManagedSecret) { m.Spec.Name = "renamed" },
			want:   []string{"spec.name: Invalid value", "spec.name is immutable"},
		},
		{
			name:   "clear spec.name that differed from metadata.name",
			setup:  func(m *v1alpha1.ManagedSecret) { m.Spec.Name = "explicit" },
			update: func(m *v1alpha1.ManagedSecret) { m.Spec.Name = "" },
			want:   []string{"spec.name: Invalid value", "spec.name is immutable"},
		},
		{
			name:   "set spec.name equal to metadata.name (same CSMS name)",
			update: func(m *v1alpha1.ManagedSecret) { m.Spec.Name = m.Name },
		},
		{
			name: "change secretType",
			update: func(m *v1alpha1.ManagedSecret) {
				m.Spec.SecretType = v1alpha1.SecretTypeGaussDBFG
				m.Spec.Rotation = rdsRotation()
			},
			want: []string{"spec.secretType", "spec.secretType is immutable"},
		},
		{
			name: "clear secretType of an RDS-FG secret (defaults back to COMMON)",
			setup: func(m *v1alpha1.ManagedSecret) {
				m.Spec.SecretType = v1alpha1.SecretTypeRDSFG
				m.Spec.Rotation = rdsRotation()
			},
			update: func(m *v1alpha1.ManagedSecret) { m.Spec.SecretType = "" },
			want:   []string{"spec.secretType", "spec.secretType is immutable"},
		},
		{
			name:   "remove one replica",
			setup:  withReplicas,
			update: func(m *v1alpha1.ManagedSecret) { m.Spec.Replicas = m.Spec.Replicas[:1] },
			want:   []string{"spec.replicas", "spec.replicas entries cannot be removed"},
		},
		{
			name:   "remove every replica",
			setup:  withReplicas,
			update: func(m *v1alpha1.ManagedSecret) { m.Spec.Replicas = nil },
			want:   []string{"spec.replicas", "spec.replicas entries cannot be removed"},
		},
		{
			name:  "replace a replica by another region",
			setup: withReplicas,
			update: func(m *v1alpha1.ManagedSecret) {
				m.Spec.Replicas[1] = v1alpha1.ReplicaSpec{Region: "cn-east-3", ProjectID: projectB}
			},
			want: []string{"spec.replicas", "spec.replicas entries cannot be removed"},
		},
		{
			name:   "change a replica's kmsKeyID",
			setup:  withReplicas,
			update: func(m *v1alpha1.ManagedSecret) { m.Spec.Replicas[0].KMSKeyID = otherKMSKeyID },
			want:   []string{"spec.replicas[0]", "spec.replicas[].kmsKeyID is immutable"},
		},
		{
			name:   "add a kmsKeyID to a replica that had none",
			setup:  withReplicas,
			update: func(m *v1alpha1.ManagedSecret) { m.Spec.Replicas[1].KMSKeyID = otherKMSKeyID },
			want:   []string{"spec.replicas[1]", "spec.replicas[].kmsKeyID is immutable"},
		},
		{
			name:   "remove a replica's kmsKeyID",
			setup:  withReplicas,
			update: func(m *v1alpha1.ManagedSecret) { m.Spec.Replicas[0].KMSKeyID = "" },
			want:   []string{"spec.replicas[0]", "spec.replicas[].kmsKeyID is immutable"},
		},
		{
			name:   "change a replica's projectID",
			setup:  withReplicas,
			update: func(m *v1alpha1.ManagedSecret) { m.Spec.Replicas[0].ProjectID = projectB },
			want:   []string{"spec.replicas[0]", "spec.replicas[].projectID is immutable"},
		},
		{
			name:  "add a replica",
			setup: withReplicas,
			update: func(m *v1alpha1.ManagedSecret) {
				m.Spec.Replicas = append(m.Spec.Replicas, v1alpha1.ReplicaSpec{Region: "cn-east-3", ProjectID: projectA})
			},
		},
		{
			name:   "add the first replica",
			update: withReplicas,
		},
		{
			name:  "reorder replicas",
			setup: withReplicas,
			update: func(m *v1alpha1.ManagedSecret) {
				m.Spec.Replicas[0], m.Spec.Replicas[1] = m.Spec.Replicas[1], m.Spec.Replicas[0]
			},
		},
		{
			name:   "change enterpriseProjectID",
			setup:  func(m *v1alpha1.ManagedSecret) { m.Spec.EnterpriseProjectID = "0" },
			update: func(m *v1alpha1.ManagedSecret) { m.Spec.EnterpriseProjectID = "ep-2" },
			want:   []string{"spec.enterpriseProjectID", "spec.enterpriseProjectID is immutable"},
		},
		{
			name:   "set enterpriseProjectID after creation",
			update: func(m *v1alpha1.ManagedSecret) { m.Spec.EnterpriseProjectID = "ep-2" },
			want:   []string{"spec.enterpriseProjectID", "spec.enterpriseProjectID is immutable"},
		},
		{
			name: "change rotation.config",
			setup: func(m *v1alpha1.ManagedSecret) {
				m.Spec.SecretType = v1alpha1.SecretTypeRDSFG
				m.Spec.Rotation = rdsRotation()
			},
			update: func(m *v1alpha1.ManagedSecret) { m.Spec.Rotation.Config.SubType = v1alpha1.RotationSubTypeMultiUser },
			want:   []string{"spec.rotation", "spec.rotation.config is immutable"},
		},
		{
			name:   "add rotation.config after creation",
			update: func(m *v1alpha1.ManagedSecret) { m.Spec.Rotation = rdsRotation() },
			want:   []string{"spec.rotation", "spec.rotation.config is immutable"},
		},
		{
			name: "keep rotation.config, change the period",
			setup: func(m *v1alpha1.ManagedSecret) {
				m.Spec.SecretType = v1alpha1.SecretTypeRDSFG
				m.Spec.Rotation = rdsRotation()
			},
			update: func(m *v1alpha1.ManagedSecret) {
				m.Spec.Rotation.Enabled = true
				m.Spec.Rotation.Period = "7d"
				m.Spec.Rotation.FunctionURN = "urn:fss:cn-north-4:p:function:default:rotate:latest"
			},
		},
		{
			name:   "rename the target",
			setup:  func(m *v1alpha1.ManagedSecret) { m.Spec.Target = &v1alpha1.SecretTarget{Name: "app"} },
			update: func(m *v1alpha1.ManagedSecret) { m.Spec.Target.Name = "app2" },
			want:   []string{"spec.target.name", "is immutable"},
		},
		{
			name:   "change the target's creationPolicy",
			setup:  func(m *v1alpha1.ManagedSecret) { m.Spec.Target = &v1alpha1.SecretTarget{Name: "app"} },
			update: func(m *v1alpha1.ManagedSecret) { m.Spec.Target.CreationPolicy = v1alpha1.TargetCreationPolicyMerge },
			want:   []string{"spec.target.creationPolicy is immutable"},
		},
		{
			name:   "remove the target, and change its template and workloads",
			setup:  func(m *v1alpha1.ManagedSecret) { m.Spec.Target = &v1alpha1.SecretTarget{Name: "app"} },
			update: func(m *v1alpha1.ManagedSecret) { m.Spec.Target = nil },
		},
		{
			name:  "change the target's template and workloads",
			setup: func(m *v1alpha1.ManagedSecret) { m.Spec.Target = &v1alpha1.SecretTarget{Name: "app"} },
			update: func(m *v1alpha1.ManagedSecret) {
				m.Spec.Target.Template = &v1alpha1.TargetTemplate{Data: map[string]string{"k": "{{ .Value }}"}}
				m.Spec.Target.RolloutRestart = []v1alpha1.WorkloadReference{{Kind: v1alpha1.WorkloadKindDeployment, Name: "api"}}
			},
		},
		{
			name: "change the mutable fields",
			update: func(m *v1alpha1.ManagedSecret) {
				m.Spec.Description = "new"
				m.Spec.KMSKeyID = otherKMSKeyID
				m.Spec.Rotation = enabledRotation("7d")
				m.Spec.EventSubscriptions = []string{"ev1"}
				m.Spec.Tags = map[string]string{"team": "b"}
				m.Spec.Value = &v1alpha1.SecretValueSource{SecretRef: &v1alpha1.LocalSecretReference{Name: "other"}}
				m.Spec.DeletionPolicy = v1alpha1.DeletionPolicyRetain
				m.Spec.AdoptionPolicy = v1alpha1.AdoptionPolicyAdopt
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ms := newManagedSecret()
			if tc.setup != nil {
				tc.setup(ms)
			}
			if err := k8sClient.Create(ctx, ms); err != nil {
				t.Fatalf("create: %v", err)
			}
			tc.update(ms)
			err := k8sClient.Update(ctx, ms)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("update refused: %v", err)
				}
				return
			}
			expectInvalid(t, err, tc.want...)
		})
	}
}

// TestManagedSecretStatusIsSubresource: status written through /status is kept, and a spec
// update does not overwrite it.
func TestManagedSecretStatusIsSubresource(t *testing.T) {
	t.Parallel()
	ms := newManagedSecret()
	if err := k8sClient.Create(ctx, ms); err != nil {
		t.Fatalf("create: %v", err)
	}
	ms.Status.SecretID = "bb6a3d22-dc93-47ac-b5bd-88df7ad35f1e"
	if err := k8sClient.Status().Update(ctx, ms); err != nil {
		t.Fatalf("status update: %v", err)
	}
	ms.Status.SecretID = "changed-by-a-spec-update"
	ms.Spec.Description = "x"
	if err := k8sClient.Update(ctx, ms); err != nil {
		t.Fatalf("update: %v", err)
	}
	got := &v1alpha1.ManagedSecret{}
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(ms), got); err != nil {
		t.Fatalf("get: %v", err)
	}
	if got.Status.SecretID != "bb6a3d22-dc93-47ac-b5bd-88df7ad35f1e" || got.Spec.Description != "x" {
		t.Errorf("status.secretID = %q, spec.description = %q", got.Status.SecretID, got.Spec.Description)
	}
}

func rdsRotation() *v1alpha1.RotationSpec {
	return &v1alpha1.RotationSpec{Config: &v1alpha1.RotationConfig{InstanceID: "inst-1", SubType: v1alpha1.RotationSubTypeSingleUser}}
}
