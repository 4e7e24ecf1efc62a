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

package v1alpha1

import (
	"encoding/json"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Defaults that the API server applies; the helpers below fall back to them when an object
// did not pass through the API server (unit tests, fake clients).
const (
	DefaultProviderConfigName = "default"
	DefaultProviderConfigKind = ProviderConfigKindCluster
	DefaultRecoveryWindowDays = int32(30)
	DefaultResyncInterval     = 10 * time.Minute
	DefaultGenerateLength     = int32(32)
	MaxRotationConfigLength   = 1024
	SecretNamePattern         = `^[a-zA-Z0-9_-]{1,64}$`
	KMSKeyIDPattern           = `^[0-9a-z]{8}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{12}$`
	MinRotationPeriod         = 4 * time.Hour
	MaxRotationPeriod         = 8760 * time.Hour
	MinResyncInterval         = 30 * time.Second
)

// CSMSName is the name of the secret in CSMS: spec.name, or metadata.name when unset.
func (m *ManagedSecret) CSMSName() string {
	if m.Spec.Name != "" {
		return m.Spec.Name
	}
	return m.Name
}

// ProviderConfigKey returns the provider configuration reference with defaults applied.
func (m *ManagedSecret) ProviderConfigKey() ProviderConfigReference {
	ref := m.Spec.ProviderConfigRef
	if ref.Kind == "" {
		ref.Kind = DefaultProviderConfigKind
	}
	if ref.Name == "" {
		ref.Name = DefaultProviderConfigName
	}
	return ref
}

// RecoveryWindowDays returns spec.recoveryWindowDays, or its default when unset.
func (m *ManagedSecret) RecoveryWindowDays() int32 {
	if m.Spec.RecoveryWindowDays == nil {
		return DefaultRecoveryWindowDays
	}
	return *m.Spec.RecoveryWindowDays
}

// ResyncInterval returns spec.resyncInterval, or its default when unset.
func (m *ManagedSecret) ResyncInterval() time.Duration {
	if m.Spec.ResyncInterval == nil || m.Spec.ResyncInterval.Duration <= 0 {
		return DefaultResyncInterval
	}
	return m.Spec.ResyncInterval.Duration
}

// DeletionPolicyOrDefault returns spec.deletionPolicy, or Delete when unset.
func (m *ManagedSecret) DeletionPolicyOrDefault() DeletionPolicy {
	if m.Spec.DeletionPolicy == "" {
		return DeletionPolicyDelete
	}
	return m.Spec.DeletionPolicy
}

// ManagementPolicyOrDefault returns spec.managementPolicy, or Manage when unset.
func (m *ManagedSecret) ManagementPolicyOrDefault() ManagementPolicy {
	if m.Spec.ManagementPolicy == "" {
		return ManagementPolicyManage
	}
	return m.Spec.ManagementPolicy
}

// Observing reports whether the resource only observes the cloud secret.
func (m *ManagedSecret) Observing() bool {
	return m.ManagementPolicyOrDefault() == ManagementPolicyObserve
}

// SecretTypeOrDefault returns spec.secretType, or COMMON when unset.
func (m *ManagedSecret) SecretTypeOrDefault() SecretType {
	if m.Spec.SecretType == "" {
		return SecretTypeCommon
	}
	return m.Spec.SecretType
}

// OwnerTagValue is the value of the TagKeyOwner tag: "<namespace>/<name>/<uid>". CSMS limits
// tag values to 255 characters, so a long namespace/name prefix is cut; the UID at the end
// is always whole, which is what ownership checks should compare (see OwnerUIDFromTag).
func (m *ManagedSecret) OwnerTagValue() string {
	uid := string(m.UID)
	prefix := m.Namespace + "/" + m.Name
	if limit := MaxTagValueLength - len(uid) - 1; len(prefix) > limit {
		prefix = prefix[:limit]
	}
	return prefix + "/" + uid
}

// OwnerUIDFromTag returns the UID at the end of an owner tag value written by OwnerTagValue.
func OwnerUIDFromTag(value string) string {
	for i := len(value) - 1; i >= 0; i-- {
		if value[i] == '/' {
			return value[i+1:]
		}
	}
	return value
}

// GetConditions returns the status conditions.
func (m *ManagedSecret) GetConditions() []metav1.Condition { return m.Status.Conditions }

// SetConditions replaces the status conditions.
func (m *ManagedSecret) SetConditions(c []metav1.Condition) { m.Status.Conditions = c }

// SetCondition sets one condition, stamping the object's generation as observedGeneration;
// lastTransitionTime changes only when the status does.
func (m *ManagedSecret) SetCondition(c metav1.Condition) {
	setCondition(&m.Status.Conditions, m.Generation, c)
}

// setCondition stamps observedGeneration so readers can tell a condition about an older spec
// from a current one.
func setCondition(conditions *[]metav1.Condition, generation int64, c metav1.Condition) {
	c.ObservedGeneration = generation
	meta.SetStatusCondition(conditions, c)
}

// GetCondition returns the condition of that type, or nil.
func (m *ManagedSecret) GetCondition(conditionType string) *metav1.Condition {
	return meta.FindStatusCondition(m.Status.Conditions, conditionType)
}

// GetConditions returns the status conditions.
func (p *ProviderConfig) GetConditions() []metav1.Condition { return p.Status.Conditions }

// SetConditions replaces the status conditions.
func (p *ProviderConfig) SetConditions(c []metav1.Condition) { p.Status.Conditions = c }

// SetCondition sets one condition, stamping the object's generation as observedGeneration.
func (p *ProviderConfig) SetCondition(c metav1.Condition) {
	setCondition(&p.Status.Conditions, p.Generation, c)
}

// GetConditions returns the status conditions.
func (p *ClusterProviderConfig) GetConditions() []metav1.Condition { return p.Status.Conditions }

// SetConditions replaces the status conditions.
func (p *ClusterProviderConfig) SetConditions(c []metav1.Condition) { p.Status.Conditions = c }

// SetCondition sets one condition, stamping the object's generation as observedGeneration.
func (p *ClusterProviderConfig) SetCondition(c metav1.Condition) {
	setCondition(&p.Status.Conditions, p.Generation, c)
}

// rotationConfigJSON fixes the key names and order CSMS expects in rotation_config.
type rotationConfigJSON struct {
	InstanceID    string `json:"InstanceId"`
	SecretSubType string `json:"SecretSubType"`
}

// CSMSString is the rotation_config string sent to CSMS:
// {"InstanceId":"…","SecretSubType":"…"}. The schema bounds instanceID so that it fits in
// MaxRotationConfigLength characters.
func (c *RotationConfig) CSMSString() string {
	b, err := json.Marshal(rotationConfigJSON{InstanceID: c.InstanceID, SecretSubType: string(c.SubType)})
	if err != nil {
		// Marshalling two strings cannot fail.
		panic(err)
	}
	return string(b)
}

// Burst returns the burst of the rate limit, or qps when unset.
func (r *RateLimit) BurstOrQPS() int32 {
	if r.Burst > 0 {
		return r.Burst
	}
	return r.QPS
}
