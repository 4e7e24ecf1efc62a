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
	// ConditionTypeReady is True when the cloud secret exists, is ENABLED, is this
	// resource's (or observed), matches the spec, holds the desired value and every
	// replica is IN_SYNC. It reports the cloud, not the last pass. On a provider
	// configuration it is True when CSMS accepted its credentials.
	ConditionTypeReady = "Ready"
	// ConditionTypeSynced is True when the last reconcile succeeded.
	ConditionTypeSynced = "Synced"
	// ConditionTypeStalled is True when no retry can succeed without a change by someone
	// (the spec, a policy, the cloud secret's owner); absent otherwise. kstatus reports such a
	// resource as Failed.
	ConditionTypeStalled = "Stalled"
	// ConditionTypeReconciling is True while the operator is making progress (creating,
	// updating, replicas syncing); absent otherwise. kstatus reports it as InProgress.
	ConditionTypeReconciling = "Reconciling"
)

// Condition reasons. Messages that go with them say what to do, carry no timestamps and
// never a secret value.
const (
	// ReasonAvailable: the secret (or provider configuration) is ready.
	ReasonAvailable = "Available"
	// ReasonReconcileSuccess: the last reconcile succeeded (Synced=True).
	ReasonReconcileSuccess = "ReconcileSuccess"
	// ReasonCreating: the secret is being created (or its creation is being finished).
	ReasonCreating = "Creating"
	// ReasonUpdating: the secret differs from the spec (or the source) and is being updated.
	ReasonUpdating = "Updating"
	// ReasonReplicasSyncing: at least one replica is IN_PROGRESS.
	ReasonReplicasSyncing = "ReplicasSyncing"
	// ReasonReplicaFailed: at least one replica is FAILED.
	ReasonReplicaFailed = "ReplicaFailed"
	// ReasonPendingDeletion: the cloud secret is scheduled for deletion.
	ReasonPendingDeletion = "PendingDeletion"
	// ReasonDeleting: the resource is being deleted and the cloud side is not done yet.
	ReasonDeleting = "Deleting"
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
	// ReasonOwnedByAnotherResource: adoptionPolicy Adopt was refused because the secret's
	// owner tag names another ManagedSecret that still exists.
	ReasonOwnedByAnotherResource = "OwnedByAnotherResource"
	// ReasonOwnershipLost: the secret this resource created (or adopted) is now tagged as
	// another resource's; the operator writes nothing to it and never retags it.
	ReasonOwnershipLost = "OwnershipLost"
	// ReasonVersionLimitReached: CSMS refused a new version because the secret holds the
	// most versions it allows and none can be removed automatically.
	ReasonVersionLimitReached = "VersionLimitReached"
	// ReasonSecretNotFound: with managementPolicy Observe, the cloud secret does not exist
	// (Observe never creates it).
	ReasonSecretNotFound = "SecretNotFound"
	// ReasonTargetConflict: the target Secret exists and was not created by this resource
	// (and creationPolicy is not Merge), or with Merge it does not exist; it is left as it is.
	ReasonTargetConflict = "TargetConflict"
	// ReasonTemplateError: spec.target.template cannot be rendered with the value; nothing
	// is written.
	ReasonTemplateError = "TemplateError"
	// ReasonTargetsDisabled: spec.target is set but the manager runs with
	// --enable-targets=false (no permission to write Secrets).
	ReasonTargetsDisabled = "TargetsDisabled"
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

	// AnnotationRestartedFor is the pod-template annotation a restarted workload gets:
	// "<secret id>/<version id>" of the version it was restarted for.
	AnnotationRestartedFor = "secrets.csms-operator.io/restarted-for"

	// LabelTargetOf marks a target Secret the operator created: the name of the
	// ManagedSecret it belongs to.
	LabelTargetOf = "secrets.csms-operator.io/target-of"

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
