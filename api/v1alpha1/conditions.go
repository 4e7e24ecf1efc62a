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

// Condition types.
const (
	// ConditionTypeReady is True when the cloud secret exists, is ENABLED, matches the spec
	// and every replica is IN_SYNC. On a provider configuration it is True when the
	// configuration is usable.
	ConditionTypeReady = "Ready"
	// ConditionTypeSynced is True when the last reconcile succeeded.
	ConditionTypeSynced = "Synced"
)

// Condition reasons. Messages that go with them say what to do, carry no timestamps and
// never a secret value.
const (
	// ReasonAvailable: the secret (or provider configuration) is ready.
	ReasonAvailable = "Available"
	// ReasonReconcileSuccess: the last reconcile succeeded (Synced=True).
	ReasonReconcileSuccess = "ReconcileSuccess"
	// ReasonCreating: the secret is being created.
	ReasonCreating = "Creating"
	// ReasonUpdating: the secret differs from the spec and is being updated.
	ReasonUpdating = "Updating"
	// ReasonReplicasSyncing: at least one replica is IN_PROGRESS.
	ReasonReplicasSyncing = "ReplicasSyncing"
	// ReasonReplicaFailed: at least one replica is FAILED.
	ReasonReplicaFailed = "ReplicaFailed"
	// ReasonPendingDeletion: the cloud secret is scheduled for deletion.
	ReasonPendingDeletion = "PendingDeletion"
	// ReasonDeleting: the resource is being deleted and the cloud side is not done yet.
	ReasonDeleting = "Deleting"
	// ReasonDeleted: the cloud secret was deleted (or scheduled for deletion).
	ReasonDeleted = "Deleted"
	// ReasonRetained: the resource was deleted and the cloud secret kept (deletionPolicy Retain).
	ReasonRetained = "Retained"
	// ReasonSourceNotFound: the value source Secret or its key does not exist.
	ReasonSourceNotFound = "SourceNotFound"
	// ReasonProviderConfigNotReady: the provider configuration is missing, not allowed for
	// this namespace, or unusable.
	ReasonProviderConfigNotReady = "ProviderConfigNotReady"
	// ReasonCredentialsNotFound: the credentials Secret or one of its keys is missing.
	ReasonCredentialsNotFound = "CredentialsNotFound"
	// ReasonUnauthorized: CSMS refused the credentials (401/403). On a provider
	// configuration: its one signed check call was refused.
	ReasonUnauthorized = "Unauthorized"
	// ReasonEndpointUnreachable: the provider configuration's CSMS endpoint could not be
	// reached (connection refused, DNS, timeout, 5xx after retries); it is retried.
	ReasonEndpointUnreachable = "EndpointUnreachable"
	// ReasonEnvironmentNotAllowed: a namespaced ProviderConfig asks for credentials.source
	// Environment, which would lend the manager's own cloud identity to its namespace; the
	// manager refuses it unless started with --allow-namespaced-environment-credentials.
	ReasonEnvironmentNotAllowed = "EnvironmentNotAllowed"
	// ReasonPolicyDenied: the provider configuration's spec.policy does not allow what the
	// resource asks for (adoptionPolicy Adopt, managementPolicy Observe of a secret it does
	// not own).
	ReasonPolicyDenied = "PolicyDenied"
	// ReasonAlreadyExists: a secret of that name exists and is not owned by this resource.
	ReasonAlreadyExists = "AlreadyExists"
	// ReasonAdopted: an existing secret was taken over (adoptionPolicy Adopt).
	ReasonAdopted = "Adopted"
	// ReasonRestored: a secret pending deletion was restored.
	ReasonRestored = "Restored"
	// ReasonInvalidSpec: the spec (or the value) was refused; fix the resource.
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonThrottled: CSMS or the local rate limit throttled the call; it is retried.
	ReasonThrottled = "Throttled"
	// ReasonReconcileError: any other failure; it is retried with backoff.
	ReasonReconcileError = "ReconcileError"
)

// Names the operator writes on resources and cloud secrets.
const (
	// Finalizer keeps a ManagedSecret until the cloud side of its deletion is done.
	Finalizer = "secrets.csms-operator.io/finalizer"

	// AnnotationCreatePending records the intent to create the cloud secret before
	// CreateSecret is called, so that a crash between create and tagging can be recognised:
	// an existing, untagged secret whose resource carries this mark is ours.
	AnnotationCreatePending = "secrets.csms-operator.io/create-pending"

	// TagKeyManagedBy and TagValueManagedBy mark every secret the operator created or adopted.
	TagKeyManagedBy   = "managed-by"
	TagValueManagedBy = "csms-operator"

	// TagKeyOwner names the owning resource; its value is OwnerTagValue().
	TagKeyOwner = "csms-operator-owner"

	// MaxTagsPerSecret is CSMS's limit of tags per secret.
	MaxTagsPerSecret = 20
	// MaxUserTags is what is left for spec.tags after the operator's two ownership tags.
	MaxUserTags = MaxTagsPerSecret - 2
	// MaxTagValueLength is CSMS's limit on the length of a tag value.
	MaxTagValueLength = 255
)

// ReservedTagKeys are the tag keys the operator manages itself; spec.tags cannot use them.
var ReservedTagKeys = []string{TagKeyManagedBy, TagKeyOwner}
