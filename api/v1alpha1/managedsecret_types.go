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

// SecretType is the CSMS secret type (secret_type). It cannot change after creation.
// +kubebuilder:validation:Enum=COMMON;RDS-FG;GaussDB-FG
type SecretType string

const (
	// SecretTypeCommon is a shared secret for any application data (the CSMS default).
	SecretTypeCommon SecretType = "COMMON"
	// SecretTypeRDSFG is an RDS account secret rotated by FunctionGraph.
	SecretTypeRDSFG SecretType = "RDS-FG"
	// SecretTypeGaussDBFG is a TaurusDB (GaussDB) account secret rotated by FunctionGraph.
	SecretTypeGaussDBFG SecretType = "GaussDB-FG"
)

// DeletionPolicy says what happens to the cloud secret when the ManagedSecret is deleted.
// +kubebuilder:validation:Enum=Delete;Retain
type DeletionPolicy string

const (
	// DeletionPolicyDelete schedules deletion of the cloud secret (see recoveryWindowDays).
	DeletionPolicyDelete DeletionPolicy = "Delete"
	// DeletionPolicyRetain leaves the cloud secret untouched.
	DeletionPolicyRetain DeletionPolicy = "Retain"
)

// AdoptionPolicy says whether an existing cloud secret that this resource did not create may
// be taken over.
// +kubebuilder:validation:Enum=None;Adopt
type AdoptionPolicy string

const (
	// AdoptionPolicyNone refuses to touch a secret the operator did not create (reason AlreadyExists).
	AdoptionPolicyNone AdoptionPolicy = "None"
	// AdoptionPolicyAdopt tags an existing secret as owned by this resource and manages it.
	AdoptionPolicyAdopt AdoptionPolicy = "Adopt"
)

// ManagementPolicy says whether the operator may write to the cloud secret.
// +kubebuilder:validation:Enum=Manage;Observe
type ManagementPolicy string

const (
	// ManagementPolicyManage creates, updates and deletes the cloud secret as the spec says.
	ManagementPolicyManage ManagementPolicy = "Manage"
	// ManagementPolicyObserve never writes to CSMS (deletion included): the resource reports
	// the cloud secret in status and lists in status.plannedChanges what Manage would do.
	ManagementPolicyObserve ManagementPolicy = "Observe"
)

// ProviderConfigKind names the kind of provider configuration a ManagedSecret uses.
// +kubebuilder:validation:Enum=ProviderConfig;ClusterProviderConfig
type ProviderConfigKind string

const (
	// ProviderConfigKindNamespaced is a ProviderConfig in the ManagedSecret's own namespace.
	ProviderConfigKindNamespaced ProviderConfigKind = "ProviderConfig"
	// ProviderConfigKindCluster is a cluster-scoped ClusterProviderConfig.
	ProviderConfigKindCluster ProviderConfigKind = "ClusterProviderConfig"
)

// RotationSubType is the SecretSubType of a rotation configuration.
// +kubebuilder:validation:Enum=SingleUser;MultiUser
type RotationSubType string

const (
	// RotationSubTypeSingleUser sets a new password on the same account at each rotation.
	RotationSubTypeSingleUser RotationSubType = "SingleUser"
	// RotationSubTypeMultiUser alternates between two accounts (SYSCURRENT / SYSPREVIOUS).
	RotationSubTypeMultiUser RotationSubType = "MultiUser"
)

// SecretState is the state of a secret in CSMS.
type SecretState string

const (
	// SecretStateEnabled: the secret can be read and updated.
	SecretStateEnabled SecretState = "ENABLED"
	// SecretStateDisabled: the secret exists but is disabled.
	SecretStateDisabled SecretState = "DISABLED"
	// SecretStatePendingDelete: deletion is scheduled; the secret can still be restored.
	SecretStatePendingDelete SecretState = "PENDING_DELETE"
	// SecretStateFrozen: the secret is frozen by the cloud.
	SecretStateFrozen SecretState = "FROZEN"
)

// ReplicaType is the multi-region role of a secret.
type ReplicaType string

const (
	// ReplicaTypeStandalone: the secret has no replicas.
	ReplicaTypeStandalone ReplicaType = "STANDALONE"
	// ReplicaTypePrimary: the secret has replicas and is the primary.
	ReplicaTypePrimary ReplicaType = "PRIMARY"
	// ReplicaTypeReplica: the secret is a replica of a primary in another region.
	ReplicaTypeReplica ReplicaType = "REPLICA"
)

// ReplicaSyncStatus is the synchronisation state of one replica.
type ReplicaSyncStatus string

const (
	// ReplicaSyncInProgress: the replica is being synchronised.
	ReplicaSyncInProgress ReplicaSyncStatus = "IN_PROGRESS"
	// ReplicaSyncInSync: the replica matches the primary.
	ReplicaSyncInSync ReplicaSyncStatus = "IN_SYNC"
	// ReplicaSyncFailed: synchronising the replica failed.
	ReplicaSyncFailed ReplicaSyncStatus = "FAILED"
)

// ProviderConfigReference selects the provider configuration (region, endpoint, credentials).
type ProviderConfigReference struct {
	// kind is ProviderConfig (in the ManagedSecret's namespace) or ClusterProviderConfig.
	// +kubebuilder:default=ClusterProviderConfig
	// +optional
	Kind ProviderConfigKind `json:"kind,omitempty"`

	// name of the ProviderConfig or ClusterProviderConfig.
	// +kubebuilder:default=default
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +optional
	Name string `json:"name,omitempty"`
}

// SecretKeySelector selects one key of a Secret in the ManagedSecret's namespace.
type SecretKeySelector struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`

	// key in the Secret's data.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key"`
}

// LocalSecretReference names a Secret in the same namespace.
type LocalSecretReference struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`
}

// GenerateSpec asks the operator to generate a random value once and keep it.
type GenerateSpec struct {
	// length of the generated value in characters.
	// +kubebuilder:default=32
	// +kubebuilder:validation:Minimum=8
	// +kubebuilder:validation:Maximum=4096
	// +optional
	Length int32 `json:"length,omitempty"`
}

// SecretValueSource says where the secret value comes from. Exactly one field is set.
// +kubebuilder:validation:XValidation:rule="[has(self.secretKeyRef), has(self.secretRef), has(self.binarySecretKeyRef), has(self.generate)].filter(x, x).size() == 1",message="spec.value must set exactly one of secretKeyRef, secretRef, binarySecretKeyRef, generate"
type SecretValueSource struct {
	// secretKeyRef: one key of a Secret, sent as secret_string.
	// +optional
	SecretKeyRef *SecretKeySelector `json:"secretKeyRef,omitempty"`

	// secretRef: every key of a Secret, sent as secret_string holding a JSON object.
	// +optional
	SecretRef *LocalSecretReference `json:"secretRef,omitempty"`

	// binarySecretKeyRef: one key of a Secret, sent as secret_binary.
	// +optional
	BinarySecretKeyRef *SecretKeySelector `json:"binarySecretKeyRef,omitempty"`

	// generate: a random value generated once by the operator, then kept.
	// +optional
	Generate *GenerateSpec `json:"generate,omitempty"`
}

// RotationConfig is the rotation_config of RDS-FG and GaussDB-FG secrets, sent to CSMS as
// {"InstanceId":"…","SecretSubType":"…"}.
type RotationConfig struct {
	// instanceID of the database instance whose account is rotated.
	//
	// CSMS limits rotation_config to 1024 characters. Its JSON form
	// {"InstanceId":"","SecretSubType":""} has 36 fixed characters and the longest subType
	// (SingleUser) has 10, leaving 1024-36-10 = 978 for the instance ID. The pattern admits no
	// character that JSON escapes, so the encoded length equals the raw length.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=978
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9._-]+$`
	InstanceID string `json:"instanceID"`

	// subType is SingleUser or MultiUser.
	// +required
	SubType RotationSubType `json:"subType"`
}

// RotationSpec configures automatic rotation by CSMS (auto_rotation).
// +kubebuilder:validation:XValidation:rule="!(has(self.enabled) && self.enabled) || has(self.period)",message="spec.rotation.period is required when spec.rotation.enabled is true",fieldPath=".period"
// +kubebuilder:validation:XValidation:rule="!(has(self.enabled) && self.enabled) || has(self.functionURN)",message="spec.rotation.functionURN is required when spec.rotation.enabled is true",fieldPath=".functionURN"
type RotationSpec struct {
	// enabled turns on automatic rotation (auto_rotation).
	// +optional
	Enabled bool `json:"enabled,omitempty"`

	// The length bound keeps the integer far from overflow in the range check. The rule
	// repeats the conversion to seconds because cel.bind is not available in CRD rules.

	// period is an integer and a unit d, h, m or s (e.g. 30d, 720h), between 4h and 8760h.
	// +kubebuilder:validation:MaxLength=12
	// +kubebuilder:validation:Pattern=`^[0-9]+[dhms]$`
	// +kubebuilder:validation:XValidation:rule="!self.matches('^[0-9]+[dhms]$') || (int(self.substring(0, self.size() - 1)) * (self.endsWith('d') ? 86400 : self.endsWith('h') ? 3600 : self.endsWith('m') ? 60 : 1) >= 14400 && int(self.substring(0, self.size() - 1)) * (self.endsWith('d') ? 86400 : self.endsWith('h') ? 3600 : self.endsWith('m') ? 60 : 1) <= 31536000)",message="spec.rotation.period must be between 4h and 8760h (365d)"
	// +optional
	Period string `json:"period,omitempty"`

	// functionURN is the URN of the FunctionGraph function that rotates the value
	// (rotation_func_urn).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +optional
	FunctionURN string `json:"functionURN,omitempty"`

	// config is required for RDS-FG and GaussDB-FG secrets.
	// +optional
	Config *RotationConfig `json:"config,omitempty"`
}

// ReplicaSpec asks for a replica of the secret in another region.
// +kubebuilder:validation:XValidation:rule="has(self.kmsKeyID) == has(oldSelf.kmsKeyID) && (!has(self.kmsKeyID) || self.kmsKeyID == oldSelf.kmsKeyID)",message="spec.replicas[].kmsKeyID is immutable: CSMS cannot change the key of an existing replica"
// +kubebuilder:validation:XValidation:rule="self.projectID == oldSelf.projectID",message="spec.replicas[].projectID is immutable: an existing replica cannot move to another project"
type ReplicaSpec struct {
	// region of the replica, e.g. ap-southeast-3.
	// +required
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[a-z]{2,4}(-[a-z0-9]+)+$`
	Region string `json:"region"`

	// projectID is the IAM project ID of the target region (32 characters).
	// +required
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9]{32}$`
	ProjectID string `json:"projectID"`

	// kmsKeyID of the CMK in the target region; empty means csms/default.
	// +kubebuilder:validation:Pattern=`^[0-9a-z]{8}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{12}$`
	// +optional
	KMSKeyID string `json:"kmsKeyID,omitempty"`
}

// TargetCreationPolicy says how the target Secret relates to the ManagedSecret.
// +kubebuilder:validation:Enum=Owner;Orphan;Merge
type TargetCreationPolicy string

const (
	// TargetCreationPolicyOwner creates the Secret with an owner reference to the
	// ManagedSecret: Kubernetes deletes it with the resource.
	TargetCreationPolicyOwner TargetCreationPolicy = "Owner"
	// TargetCreationPolicyOrphan creates the Secret and keeps it when the resource goes.
	TargetCreationPolicyOrphan TargetCreationPolicy = "Orphan"
	// TargetCreationPolicyMerge writes the keys into an existing Secret and leaves its other
	// keys alone; it never creates the Secret.
	TargetCreationPolicyMerge TargetCreationPolicy = "Merge"
)

// WorkloadKind is a kind of workload the operator can restart.
// +kubebuilder:validation:Enum=Deployment;StatefulSet;DaemonSet
type WorkloadKind string

const (
	WorkloadKindDeployment  WorkloadKind = "Deployment"
	WorkloadKindStatefulSet WorkloadKind = "StatefulSet"
	WorkloadKindDaemonSet   WorkloadKind = "DaemonSet"
)

// WorkloadReference names a workload in the ManagedSecret's namespace.
type WorkloadReference struct {
	// kind is Deployment, StatefulSet or DaemonSet.
	// +required
	Kind WorkloadKind `json:"kind"`

	// name of the workload.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`
}

// TargetMetadata are labels and annotations the target Secret carries.
type TargetMetadata struct {
	// labels of the target Secret.
	// +kubebuilder:validation:MaxProperties=64
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// annotations of the target Secret.
	// +kubebuilder:validation:MaxProperties=64
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// TargetTemplate shapes the target Secret.
type TargetTemplate struct {
	// type of the target Secret (default Opaque), e.g. kubernetes.io/tls.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Type string `json:"type,omitempty"`

	// metadata: labels and annotations of the target Secret.
	// +optional
	Metadata TargetMetadata `json:"metadata,omitempty"`

	// data maps each key of the target Secret to a Go text/template. The template sees
	// .Value (the value as a string), .JSON (the value parsed as a JSON object, when it is
	// one) and .VersionID (the CSMS version), and the functions b64enc, b64dec, upper,
	// lower, trim, quote and toJSON besides the text/template built-ins. A missing key is an
	// error. Without data, the value comes back as it would without a template.
	// +kubebuilder:validation:MaxProperties=64
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.size() <= 253 && k.matches('^[-._a-zA-Z0-9]+$'))",message="spec.target.template.data keys must be valid Secret keys (letters, digits, '-', '_', '.'; at most 253)"
	// +optional
	Data map[string]string `json:"data,omitempty"`
}

// SecretTarget keeps a Kubernetes Secret in the ManagedSecret's namespace holding the
// cloud secret's SYSCURRENT value.
// +kubebuilder:validation:XValidation:rule="!has(self.template) || !has(self.template.type) || self.creationPolicy != 'Merge'",message="spec.target.template.type cannot be set with creationPolicy Merge: the existing Secret keeps its type",fieldPath=".template.type"
type SecretTarget struct {
	// name of the target Secret, in the ManagedSecret's namespace. It cannot be the value
	// source Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`

	// creationPolicy: Owner (default) creates the Secret, owned by this resource and
	// deleted with it; Orphan creates it and keeps it; Merge writes the keys into an
	// existing Secret and keeps its other keys.
	// +kubebuilder:default=Owner
	// +optional
	CreationPolicy TargetCreationPolicy `json:"creationPolicy,omitempty"`

	// template shapes the Secret. Without it, a secretRef value comes back as the same
	// keys and any other value as the key "value" (binary values stay bytes).
	// +optional
	Template *TargetTemplate `json:"template,omitempty"`

	// rolloutRestart lists workloads of the same namespace restarted once per new CSMS
	// version the Secret receives (pod-template annotation
	// secrets.csms-operator.io/restarted-for).
	// +listType=map
	// +listMapKey=kind
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=20
	// +optional
	RolloutRestart []WorkloadReference `json:"rolloutRestart,omitempty"`
}

// ManagedSecretSpec is the desired state of a CSMS secret.
// +kubebuilder:validation:XValidation:rule="!has(self.target) || !has(self.value) || !((has(self.value.secretKeyRef) && self.value.secretKeyRef.name == self.target.name) || (has(self.value.secretRef) && self.value.secretRef.name == self.target.name) || (has(self.value.binarySecretKeyRef) && self.value.binarySecretKeyRef.name == self.target.name))",message="spec.target.name must not be the value source Secret: the operator never writes the Secret it reads the value from",fieldPath=".target.name"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.target) || !has(self.target) || self.target.name == oldSelf.target.name",message="spec.target.name is immutable: remove spec.target and add it again to write another Secret",fieldPath=".target.name"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.target) || !has(self.target) || (has(self.target.creationPolicy) ? self.target.creationPolicy : 'Owner') == (has(oldSelf.target.creationPolicy) ? oldSelf.target.creationPolicy : 'Owner')",message="spec.target.creationPolicy is immutable: remove spec.target and add it again to change how the Secret is owned",fieldPath=".target.creationPolicy"
// +kubebuilder:validation:XValidation:rule="(has(self.managementPolicy) && self.managementPolicy == 'Observe') || has(self.value)",message="spec.value is required when spec.managementPolicy is Manage (the default); only Observe may leave it out",fieldPath=".value"
// +kubebuilder:validation:XValidation:rule="!has(self.secretType) || !(self.secretType in ['RDS-FG', 'GaussDB-FG']) || (has(self.rotation) && has(self.rotation.config))",message="spec.rotation.config is required when spec.secretType is RDS-FG or GaussDB-FG",fieldPath=".rotation"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.replicas) || oldSelf.replicas.all(o, has(self.replicas) && self.replicas.exists(n, n.region == o.region))",message="spec.replicas entries cannot be removed: CSMS has no API to delete a replica (delete it in the console, then remove it here by re-creating the resource)",fieldPath=".replicas"
// +kubebuilder:validation:XValidation:rule="has(self.enterpriseProjectID) == has(oldSelf.enterpriseProjectID) && (!has(self.enterpriseProjectID) || self.enterpriseProjectID == oldSelf.enterpriseProjectID)",message="spec.enterpriseProjectID is immutable: CSMS cannot move an existing secret to another enterprise project",fieldPath=".enterpriseProjectID"
// +kubebuilder:validation:XValidation:rule="(has(self.rotation) && has(self.rotation.config)) == (has(oldSelf.rotation) && has(oldSelf.rotation.config)) && (!(has(self.rotation) && has(self.rotation.config)) || (self.rotation.config.instanceID == oldSelf.rotation.config.instanceID && self.rotation.config.subType == oldSelf.rotation.config.subType))",message="spec.rotation.config is immutable: CSMS cannot change rotation_config after the secret is created",fieldPath=".rotation"
type ManagedSecretSpec struct {
	// providerConfigRef selects the region, endpoint and credentials.
	// Defaults to the ClusterProviderConfig named "default".
	// +kubebuilder:default={}
	// +optional
	ProviderConfigRef ProviderConfigReference `json:"providerConfigRef"`

	// name of the secret in CSMS. Defaults to metadata.name, which must then match the same
	// pattern. Immutable.
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9_-]{1,64}$`
	// +optional
	Name string `json:"name,omitempty"`

	// description of the secret, at most 2048 characters (and 2048 bytes of UTF-8).
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="bytes(self).size() <= 2048",message="spec.description must be at most 2048 bytes of UTF-8"
	// +optional
	Description string `json:"description,omitempty"`

	// secretType is COMMON, RDS-FG or GaussDB-FG. Immutable.
	// +kubebuilder:default=COMMON
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.secretType is immutable"
	// +optional
	SecretType SecretType `json:"secretType,omitempty"`

	// kmsKeyID of the CMK that encrypts the value; empty means csms/default.
	// +kubebuilder:validation:Pattern=`^[0-9a-z]{8}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{12}$`
	// +optional
	KMSKeyID string `json:"kmsKeyID,omitempty"`

	// value says where the secret value comes from. Required with managementPolicy Manage;
	// optional with Observe, where it only feeds the plan.
	// +optional
	Value *SecretValueSource `json:"value,omitempty"`

	// rotation configures automatic rotation by CSMS.
	// +optional
	Rotation *RotationSpec `json:"rotation,omitempty"`

	// eventSubscriptions names the CSMS event the secret is subscribed to (at most one).
	// +kubebuilder:validation:MaxItems=1
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:items:Pattern=`^[a-zA-Z0-9_-]{1,64}$`
	// +listType=atomic
	// +optional
	EventSubscriptions []string `json:"eventSubscriptions,omitempty"`

	// enterpriseProjectID of the secret ("0" is the default enterprise project).
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9_-]+$`
	// +optional
	EnterpriseProjectID string `json:"enterpriseProjectID,omitempty"`

	// The limit of 18 is a CEL rule so that its message can say why; maxProperties only
	// bounds the cost of the rules.

	// tags set on the cloud secret. CSMS allows 20 tags per secret and the operator adds two
	// of its own (managed-by and csms-operator-owner), so at most 18 here.
	// +kubebuilder:validation:MaxProperties=64
	// +kubebuilder:validation:XValidation:rule="self.size() <= 18",message="spec.tags may have at most 18 entries: CSMS allows 20 tags per secret and the operator adds two of its own (managed-by, csms-operator-owner)"
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.size() >= 1 && k.size() <= 128)",message="spec.tags keys must be 1 to 128 characters"
	// +kubebuilder:validation:XValidation:rule="self.all(k, !k.startsWith('_sys_'))",message="spec.tags keys must not start with _sys_ (reserved by the cloud)"
	// +kubebuilder:validation:XValidation:rule="self.all(k, !(k in ['managed-by', 'csms-operator-owner']))",message="spec.tags must not use the keys managed-by and csms-operator-owner: the operator sets them to mark ownership"
	// +kubebuilder:validation:XValidation:rule="self.all(k, self[k].size() <= 255)",message="spec.tags values must be at most 255 characters"
	// +optional
	Tags map[string]string `json:"tags,omitempty"`

	// replicas of the secret in other regions. Replicas can be added but not removed, because
	// CSMS has no API to delete a replica.
	// +listType=map
	// +listMapKey=region
	// +kubebuilder:validation:MaxItems=10
	// +optional
	Replicas []ReplicaSpec `json:"replicas,omitempty"`

	// deletionPolicy: Delete schedules deletion of the cloud secret when the resource is
	// deleted; Retain leaves it.
	// +kubebuilder:default=Delete
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`

	// recoveryWindowDays before a scheduled deletion completes: 7 to 30, or 0 to delete at once.
	// +kubebuilder:default=30
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=30
	// +kubebuilder:validation:XValidation:rule="self == 0 || (self >= 7 && self <= 30)",message="spec.recoveryWindowDays must be 0 (delete immediately) or between 7 and 30"
	// +optional
	RecoveryWindowDays *int32 `json:"recoveryWindowDays,omitempty"`

	// adoptionPolicy: None refuses to manage an existing secret this resource did not create;
	// Adopt takes it over.
	// +kubebuilder:default=None
	// +optional
	AdoptionPolicy AdoptionPolicy `json:"adoptionPolicy,omitempty"`

	// resyncInterval between drift checks against the cloud; at least 30s.
	// +kubebuilder:default="10m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('30s')",message="spec.resyncInterval must be at least 30s"
	// +optional
	ResyncInterval *metav1.Duration `json:"resyncInterval,omitempty"`

	// managementPolicy: Manage (default) creates and keeps the cloud secret in line with the
	// spec; Observe never writes to CSMS, deletion included, and shows in
	// status.plannedChanges what Manage would do. Observing a secret this resource does not
	// own needs policy.allowObserve on the provider config.
	// +kubebuilder:default=Manage
	// +optional
	ManagementPolicy ManagementPolicy `json:"managementPolicy,omitempty"`

	// target keeps a Kubernetes Secret in this namespace holding the cloud secret's
	// SYSCURRENT value, rewritten when CSMS moves it (rotation, a source change, a console
	// edit), and restarts the listed workloads once per new version.
	// +optional
	Target *SecretTarget `json:"target,omitempty"`
}

// ReplicaStatus is the observed state of one replica.
type ReplicaStatus struct {
	// id of the replica secret.
	// +optional
	ID string `json:"id,omitempty"`
	// region of the replica.
	// +optional
	Region string `json:"region,omitempty"`
	// projectID of the replica.
	// +optional
	ProjectID string `json:"projectID,omitempty"`
	// kmsKeyID encrypting the replica.
	// +optional
	KMSKeyID string `json:"kmsKeyID,omitempty"`
	// replicaType is PRIMARY or REPLICA.
	// +optional
	ReplicaType ReplicaType `json:"replicaType,omitempty"`
	// status is IN_PROGRESS, IN_SYNC or FAILED.
	// +optional
	Status ReplicaSyncStatus `json:"status,omitempty"`
	// createdAt is when the replica was created.
	// +optional
	CreatedAt *metav1.Time `json:"createdAt,omitempty"`
	// updatedAt is when the replica was last updated.
	// +optional
	UpdatedAt *metav1.Time `json:"updatedAt,omitempty"`
}

// ManagedSecretStatus is the observed state of the CSMS secret. It never holds the value or
// an unsalted hash of it.
type ManagedSecretStatus struct {
	// observedGeneration is the generation the last pass acted on, failed passes included.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready (the cloud secret exists, is ENABLED, is this resource's or observed,
	// matches the spec, holds the desired value, replicas in sync), Synced (the last pass
	// succeeded), Stalled (no retry can succeed without someone's change; absent otherwise)
	// and Reconciling (the operator is making progress; absent otherwise).
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`

	// name of the secret in CSMS, as the cloud reports it (spec.name, or metadata.name when
	// spec.name is empty). Shown by kubectl get as CSMS NAME.
	// +optional
	Name string `json:"name,omitempty"`

	// secretID is the CSMS secret ID.
	// +optional
	SecretID string `json:"secretID,omitempty"`
	// state is ENABLED, DISABLED, PENDING_DELETE or FROZEN.
	// +optional
	State SecretState `json:"state,omitempty"`
	// kmsKeyID that encrypts the secret.
	// +optional
	KMSKeyID string `json:"kmsKeyID,omitempty"`
	// secretType as reported by CSMS.
	// +optional
	SecretType SecretType `json:"secretType,omitempty"`
	// domainID of the account that owns the secret.
	// +optional
	DomainID string `json:"domainID,omitempty"`
	// enterpriseProjectID of the secret.
	// +optional
	EnterpriseProjectID string `json:"enterpriseProjectID,omitempty"`

	// createTime of the cloud secret.
	// +optional
	CreateTime *metav1.Time `json:"createTime,omitempty"`
	// updateTime of the cloud secret.
	// +optional
	UpdateTime *metav1.Time `json:"updateTime,omitempty"`
	// scheduledDeleteTime is set while the secret is PENDING_DELETE.
	// +optional
	ScheduledDeleteTime *metav1.Time `json:"scheduledDeleteTime,omitempty"`
	// lastUsedTime is when the value was last read from CSMS.
	// +optional
	LastUsedTime *metav1.Time `json:"lastUsedTime,omitempty"`

	// autoRotation as reported by CSMS.
	// +optional
	AutoRotation bool `json:"autoRotation,omitempty"`
	// rotationPeriod as reported by CSMS.
	// +optional
	RotationPeriod string `json:"rotationPeriod,omitempty"`
	// rotationTime of the last rotation.
	// +optional
	RotationTime *metav1.Time `json:"rotationTime,omitempty"`
	// nextRotationTime of the next scheduled rotation.
	// +optional
	NextRotationTime *metav1.Time `json:"nextRotationTime,omitempty"`
	// rotationFuncURN as reported by CSMS.
	// +optional
	RotationFuncURN string `json:"rotationFuncURN,omitempty"`
	// eventSubscriptions as reported by CSMS.
	// +listType=atomic
	// +optional
	EventSubscriptions []string `json:"eventSubscriptions,omitempty"`

	// currentVersionID is the version holding the SYSCURRENT stage, e.g. v3.
	// +optional
	CurrentVersionID string `json:"currentVersionID,omitempty"`
	// replicaType is STANDALONE, PRIMARY or REPLICA.
	// +optional
	ReplicaType ReplicaType `json:"replicaType,omitempty"`
	// replicas as reported by CSMS.
	// +listType=atomic
	// +optional
	Replicas []ReplicaStatus `json:"replicas,omitempty"`

	// observedSourceVersion is the resourceVersion of the source Secret last pushed to CSMS
	// (empty for generated values).
	// +optional
	ObservedSourceVersion string `json:"observedSourceVersion,omitempty"`
	// observedSource names the value source last pushed to CSMS (kind, Secret and key, never
	// a value). With observedSourceVersion it tells a changed source from a spec edit that
	// leaves the source alone, which must not push the source over a rotated value.
	// +optional
	ObservedSource string `json:"observedSource,omitempty"`

	// plannedChanges lists, with managementPolicy Observe, the changes Manage would make, in
	// order: one CSMS call or Kubernetes write each, named by the fields it touches, never a
	// value. Empty with Manage, whose plan is carried out.
	// +listType=atomic
	// +optional
	PlannedChanges []string `json:"plannedChanges,omitempty"`

	// createPending is set by the operator right before CreateSecret and cleared once the new
	// secret carries its ownership tags. While it is set, an untagged secret of this name is
	// taken as this resource's: the operator stopped between creating and tagging it. It is
	// status, not an annotation, because only the operator may write status: a mark a
	// tenant could set would let it claim any untagged secret.
	// +optional
	CreatePending bool `json:"createPending,omitempty"`

	// target is what the target Secret holds.
	// +optional
	Target *TargetStatus `json:"target,omitempty"`
}

// TargetStatus is what the target Secret holds and what was rolled out.
type TargetStatus struct {
	// name of the target Secret.
	// +optional
	Name string `json:"name,omitempty"`
	// versionID is the CSMS version the Secret holds.
	// +optional
	VersionID string `json:"versionID,omitempty"`
	// restartedVersionID is the version the listed workloads were last restarted for.
	// +optional
	RestartedVersionID string `json:"restartedVersionID,omitempty"`
	// resourceVersion of the Secret as the operator last wrote or checked it: a different
	// one means someone else changed it, and the operator puts its keys back.
	// +optional
	ResourceVersion string `json:"resourceVersion,omitempty"`
}

// ManagedSecret declares a secret in Huawei Cloud CSMS.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=msec,categories=csms
// +kubebuilder:printcolumn:name="CSMS NAME",type=string,JSONPath=`.status.name`
// +kubebuilder:printcolumn:name="STATE",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="VERSION",type=string,JSONPath=`.status.currentVersionID`
// +kubebuilder:printcolumn:name="READY",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="REASON",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="AGE",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="SECRET ID",type=string,JSONPath=`.status.secretID`,priority=1
// +kubebuilder:printcolumn:name="TYPE",type=string,JSONPath=`.spec.secretType`,priority=1
// +kubebuilder:printcolumn:name="REPLICAS",type=string,JSONPath=`.status.replicaType`,priority=1
// +kubebuilder:printcolumn:name="NEXT ROTATION",type=string,JSONPath=`.status.nextRotationTime`,priority=1
// +kubebuilder:printcolumn:name="POLICY",type=string,JSONPath=`.spec.managementPolicy`,priority=1
// +kubebuilder:printcolumn:name="TARGET",type=string,JSONPath=`.status.target.name`,priority=1
// +kubebuilder:printcolumn:name="TARGET VERSION",type=string,JSONPath=`.status.target.versionID`,priority=1
// +kubebuilder:validation:XValidation:rule="has(self.spec.name) || self.metadata.name.matches('^[a-zA-Z0-9_-]{1,64}$')",message="metadata.name is not a valid CSMS secret name (^[a-zA-Z0-9_-]{1,64}$: at most 64 letters, digits, _ or -, no dots): set spec.name",fieldPath=".spec.name"
// +kubebuilder:validation:XValidation:rule="(has(self.spec.name) ? self.spec.name : self.metadata.name) == (has(oldSelf.spec.name) ? oldSelf.spec.name : oldSelf.metadata.name)",message="spec.name is immutable: the CSMS secret name (spec.name, or metadata.name when unset) cannot change after creation",fieldPath=".spec.name"
type ManagedSecret struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired state.
	// +required
	Spec ManagedSecretSpec `json:"spec"`

	// status is the observed state.
	// +optional
	Status ManagedSecretStatus `json:"status,omitempty"`
}

// ManagedSecretList contains a list of ManagedSecret.
// +kubebuilder:object:root=true
type ManagedSecretList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ManagedSecret `json:"items"`
}

func init() {
	register(&ManagedSecret{}, &ManagedSecretList{})
}
