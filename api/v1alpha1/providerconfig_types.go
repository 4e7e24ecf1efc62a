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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CredentialsSource says where the CSMS credentials come from.
// +kubebuilder:validation:Enum=Secret;Environment
type CredentialsSource string

const (
	// CredentialsSourceSecret reads accessKeyID, secretAccessKey and optional securityToken
	// from a Secret.
	CredentialsSourceSecret CredentialsSource = "Secret"
	// CredentialsSourceEnvironment uses the SDK credential chain of the manager's process
	// (environment, profile, ECS agency, CCE pod identity).
	CredentialsSourceEnvironment CredentialsSource = "Environment"
)

// Keys of a credentials Secret.
const (
	CredentialsKeyAccessKeyID     = "accessKeyID"
	CredentialsKeySecretAccessKey = "secretAccessKey"
	CredentialsKeySecurityToken   = "securityToken"
)

// RateLimit bounds the rate of CSMS API calls made with one set of credentials.
type RateLimit struct {
	// qps is the sustained number of calls per second.
	// +required
	// +kubebuilder:validation:Minimum=1
	QPS int32 `json:"qps"`

	// burst is the number of calls allowed at once; when unset the operator uses qps.
	// +kubebuilder:validation:Minimum=1
	// +optional
	Burst int32 `json:"burst,omitempty"`
}

// ProviderSettings are the fields shared by ProviderConfig and ClusterProviderConfig.
type ProviderSettings struct {
	// region of CSMS, e.g. cn-north-4.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[a-z]{2,4}(-[a-z0-9]+)+$`
	Region string `json:"region"`

	// projectID is the IAM project ID of the region (32 characters).
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9]{32}$`
	// +optional
	ProjectID string `json:"projectID,omitempty"`

	// endpoint overrides the CSMS endpoint (emulator, private endpoint); an http or https URL.
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHostname().size() > 0",message="spec.endpoint must be an http or https URL, e.g. https://kms.cn-north-4.myhuaweicloud.com"
	// +optional
	Endpoint string `json:"endpoint,omitempty"`

	// rateLimit of CSMS API calls made with these credentials.
	// +optional
	RateLimit *RateLimit `json:"rateLimit,omitempty"`

	// policy says what ManagedSecrets using this configuration may do beyond managing
	// the secrets they create. Every permission defaults to false, the safe choice.
	// +kubebuilder:default={}
	// +optional
	Policy *ProviderPolicy `json:"policy,omitempty"`
}

// ProviderPolicy is decided by the owner of a provider configuration (the platform team
// for a ClusterProviderConfig): every namespace that may use the configuration gets these
// permissions on the CSMS secrets its credentials reach.
type ProviderPolicy struct {
	// allowAdoption lets a ManagedSecret set adoptionPolicy: Adopt and take over an
	// existing CSMS secret of its name: it retags it as its own, writes its value as a
	// new version and, with deletionPolicy Delete, deletes it with the resource. Even
	// then a secret whose owner tag names another ManagedSecret that still exists is
	// never adopted (reason OwnedByAnotherResource). When false, adoptionPolicy: Adopt is
	// refused with reason PolicyDenied.
	// +kubebuilder:default=false
	// +optional
	AllowAdoption bool `json:"allowAdoption,omitempty"`

	// allowObserve lets a ManagedSecret set managementPolicy: Observe on a CSMS secret it
	// does not own: its status then shows that secret's metadata and, with spec.target,
	// the target Secret receives its value. When false, observing a secret the resource
	// does not own is refused with reason PolicyDenied.
	// +kubebuilder:default=false
	// +optional
	AllowObserve bool `json:"allowObserve,omitempty"`
}

// PolicyOrDefault returns spec.policy, or the defaults (everything false) when unset.
func (s *ProviderSettings) PolicyOrDefault() ProviderPolicy {
	if s.Policy == nil {
		return ProviderPolicy{}
	}
	return *s.Policy
}

// ProviderCredentials of a namespaced ProviderConfig: the Secret lives in the same namespace.
// +kubebuilder:validation:XValidation:rule="(has(self.source) && self.source != 'Secret') || has(self.secretRef)",message="spec.credentials.secretRef is required when spec.credentials.source is Secret",fieldPath=".secretRef"
// +kubebuilder:validation:XValidation:rule="!(has(self.source) && self.source == 'Environment') || !has(self.secretRef)",message="spec.credentials.secretRef must not be set when spec.credentials.source is Environment",fieldPath=".secretRef"
type ProviderCredentials struct {
	// source is Secret or Environment.
	// +kubebuilder:default=Secret
	// +optional
	Source CredentialsSource `json:"source,omitempty"`

	// secretRef names the credentials Secret in the ProviderConfig's namespace.
	// +optional
	SecretRef *LocalSecretReference `json:"secretRef,omitempty"`
}

// NamespacedSecretReference names a Secret in a given namespace.
type NamespacedSecretReference struct {
	// namespace of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Namespace string `json:"namespace"`

	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`
}

// ClusterProviderCredentials of a ClusterProviderConfig: the Secret's namespace is explicit.
// +kubebuilder:validation:XValidation:rule="(has(self.source) && self.source != 'Secret') || has(self.secretRef)",message="spec.credentials.secretRef is required when spec.credentials.source is Secret",fieldPath=".secretRef"
// +kubebuilder:validation:XValidation:rule="!(has(self.source) && self.source == 'Environment') || !has(self.secretRef)",message="spec.credentials.secretRef must not be set when spec.credentials.source is Environment",fieldPath=".secretRef"
type ClusterProviderCredentials struct {
	// source is Secret or Environment.
	// +kubebuilder:default=Secret
	// +optional
	Source CredentialsSource `json:"source,omitempty"`

	// secretRef names the credentials Secret and its namespace.
	// +optional
	SecretRef *NamespacedSecretReference `json:"secretRef,omitempty"`
}

// ProviderConfigSpec configures access to CSMS for ManagedSecrets in one namespace.
type ProviderConfigSpec struct {
	ProviderSettings `json:",inline"`

	// credentials to sign CSMS requests with.
	// +required
	Credentials ProviderCredentials `json:"credentials"`
}

// ClusterProviderConfigSpec configures access to CSMS for ManagedSecrets in any namespace
// that namespaceSelector admits.
type ClusterProviderConfigSpec struct {
	ProviderSettings `json:",inline"`

	// credentials to sign CSMS requests with.
	// +required
	Credentials ClusterProviderCredentials `json:"credentials"`

	// namespaceSelector restricts which namespaces may use this configuration. When unset,
	// every namespace may use it; an empty selector ({}) also matches every namespace.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
}

// ProviderConfigStatus is the observed state of a provider configuration.
type ProviderConfigStatus struct {
	// observedGeneration is the generation last reconciled.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready (the credentials resolve and the configuration is usable).
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
}

// ProviderConfig configures region, endpoint and credentials for ManagedSecrets in its own
// namespace.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=csmspc,categories=csms
// +kubebuilder:printcolumn:name="REGION",type=string,JSONPath=`.spec.region`
// +kubebuilder:printcolumn:name="ENDPOINT",type=string,JSONPath=`.spec.endpoint`
// +kubebuilder:printcolumn:name="READY",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="AGE",type=date,JSONPath=`.metadata.creationTimestamp`
type ProviderConfig struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired state.
	// +required
	Spec ProviderConfigSpec `json:"spec"`

	// status is the observed state.
	// +optional
	Status ProviderConfigStatus `json:"status,omitempty"`
}

// ProviderConfigList contains a list of ProviderConfig.
// +kubebuilder:object:root=true
type ProviderConfigList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ProviderConfig `json:"items"`
}

// ClusterProviderConfig configures region, endpoint and credentials for ManagedSecrets in
// the namespaces its namespaceSelector admits.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=csmscpc,categories=csms
// +kubebuilder:printcolumn:name="REGION",type=string,JSONPath=`.spec.region`
// +kubebuilder:printcolumn:name="ENDPOINT",type=string,JSONPath=`.spec.endpoint`
// +kubebuilder:printcolumn:name="READY",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="AGE",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterProviderConfig struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired state.
	// +required
	Spec ClusterProviderConfigSpec `json:"spec"`

	// status is the observed state.
	// +optional
	Status ProviderConfigStatus `json:"status,omitempty"`
}

// ClusterProviderConfigList contains a list of ClusterProviderConfig.
// +kubebuilder:object:root=true
type ClusterProviderConfigList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterProviderConfig `json:"items"`
}

func init() {
	register(&ProviderConfig{}, &ProviderConfigList{})
	register(&ClusterProviderConfig{}, &ClusterProviderConfigList{})
}
