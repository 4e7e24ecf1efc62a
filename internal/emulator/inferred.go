package emulator

// This file is the ONE place where the emulator keeps behaviour that no source confirms
// (see /work/emulator-decisions.md and docs/emulator.md, "Inferred"). Every guessed error
// code, status, field name or rule lives here so it can be corrected in one edit.

import (
	"fmt"
	"net/http"
)

// Limits. The seed doc (2026-06-09) wins over the older SDK/OAS values.
const (
	// MaxValueBytes is the largest secret_string / secret_binary accepted, counted on the
	// field as sent (the base64 text for secret_binary). Seed: 64 KB (SDK/OAS say 32 KB).
	MaxValueBytes = 64 * 1024
	// MaxRequestBytes bounds every request body; larger bodies get 413 CSMS.0003.
	MaxRequestBytes = 1 << 20
	// MaxVersions per secret [DOC CreateSecretVersion]. A new version past it first drops
	// the oldest unstaged version (inferredLimitPrunesDeprecated); when none exists it is
	// refused with CSMS.0002 (INFERRED).
	MaxVersions = 20
	// MaxSecretsPerProject [dew_01_9993]. Exceeding it is CSMS.0002 (INFERRED).
	MaxSecretsPerProject = 500
	// MaxTagsPerSecret [SDK].
	MaxTagsPerSecret       = 20
	maxDescriptionBytes    = 2048
	maxRotationConfigChars = 1024
	maxEventSubscriptions  = 1
	maxVersionStages       = 12
	maxStageNameChars      = 64
	maxTagKeyChars         = 128
	maxTagValueChars       = 255
	maxEventTypes          = 12
	minRotationHours       = 4 // seed; the SDK says 6h
	maxRotationHours       = 8760
	// minRecoveryDays: the SDK always sends recovery_window_in_days (int32, not a
	// pointer), so an unset field arrives as 0; it is refused like any value below 7
	// (INFERRED). Only a missing field or empty body gets the default of 30.
	minRecoveryDays         = 7
	maxRecoveryDays         = 30
	defaultRecoveryDays     = 30
	defaultListLimit        = 50
	maxListLimit            = 1000
	defaultInstancesLimit   = 10
	rotatedValueLen         = 32
	defaultEnterpriseProjID = "0"
	// MaxSkewMinutes is the accepted X-Sdk-Date skew (UNVERIFIED: API gateway default).
	MaxSkewMinutes = 15
)

// Replica request body field names (INFERRED from the seed's Replica object).
const (
	replicaFieldRegion    = "region"
	replicaFieldProjectID = "project_id"
	replicaFieldKmsKeyID  = "kms_key_id"
)

// Replica types and statuses (UNVERIFIED names, from the seed doc tables).
const (
	ReplicaStandalone = "STANDALONE"
	ReplicaPrimary    = "PRIMARY"
	ReplicaReplica    = "REPLICA"

	ReplicaInProgress = "IN_PROGRESS"
	ReplicaInSync     = "IN_SYNC"
	ReplicaFailed     = "FAILED"
)

// Rotation task and batch import details (INFERRED).
const (
	taskOperateRotate = "ROTATE"
	maxBatchImport    = 100
)

// Other inferred rules, as switches so a test documents each one.
const (
	// A version created with explicit version_stages that omit SYSCURRENT does not take
	// SYSCURRENT (AWS-like). Without version_stages the new version gets SYSCURRENT.
	inferredExplicitStagesOnly = true
	// Moving SYSCURRENT with UpdateSecretStage gives the old current version SYSPREVIOUS.
	inferredStageMoveSetsPrevious = true
	// A new version that would pass MaxVersions (CreateSecretVersion, RotateSecret or an
	// automatic rotation) first drops the oldest version with no stage: the seed says
	// deprecated versions "can be automatically deleted by CSMS". Only when every version
	// holds a stage is the new one refused (errLimit, 400 CSMS.0002; an automatic
	// rotation records a FAILED task instead). Decided in txn.makeRoom.
	inferredLimitPrunesDeprecated = true
	// A secret name that is PENDING_DELETE still blocks re-creation (CSMS.0104).
	inferredPendingBlocksCreate = true
	// ShowSecret, ListSecretVersions, ShowSecretStage and ListSecretTags still work while
	// PENDING_DELETE (decided in metadataReadable); values stay unreadable (CSMS.0103).
	inferredPendingMetadataReadable = true
	// event_subscriptions are not checked against existing events on create/update
	// (decided in txn.checkSubscriptions).
	inferredEventSubscriptionUnchecked = true
)

type apiError struct {
	Status int
	Code   string
	Msg    string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Msg) }

func errSecretNotFound() *apiError {
	return &apiError{http.StatusNotFound, "CSMS.0106", "The secret name not found int the db."}
}

// errNotFound is for a version, stage, event or other resource (404 is INFERRED).
func errNotFound(what string) *apiError {
	return &apiError{http.StatusNotFound, "CSMS.0005", fmt.Sprintf("The %s does not exist.", what)}
}

// errAlreadyExists: the code is INFERRED (no source names it).
func errAlreadyExists() *apiError {
	return &apiError{http.StatusBadRequest, "CSMS.0104", "The secret already exists."}
}

func errInvalid(field, why string) *apiError {
	return &apiError{http.StatusBadRequest, "CSMS.0002", fmt.Sprintf("Invalid parameter %s: %s.", field, why)}
}

func errBadBody(why string) *apiError {
	return &apiError{http.StatusBadRequest, "CSMS.0004", "The request body format is wrong: " + why}
}

func errPendingRead() *apiError {
	return &apiError{http.StatusBadRequest, "CSMS.0103", "The secret is in scheduled deletion state and cannot be used."}
}

func errPendingWrite() *apiError {
	return &apiError{http.StatusBadRequest, "CSMS.0107", "The secret is in schedule-delete state."}
}

func errNotPending() *apiError {
	return &apiError{http.StatusBadRequest, "CSMS.0108", "The secret is not in schedule-delete state."}
}

func errSystemStage() *apiError {
	return &apiError{http.StatusBadRequest, "CSMS.0105", "Cannot delete the system internal stage."}
}

// errLimit: version limit and secret quota share CSMS.0002 (INFERRED).
func errLimit(what string, n int) *apiError {
	return &apiError{http.StatusBadRequest, "CSMS.0002", fmt.Sprintf("Invalid parameter: the %s limit of %d is reached.", what, n)}
}

// errEventInUse: deleting an event a secret subscribes to (code INFERRED).
func errEventInUse() *apiError {
	return &apiError{http.StatusBadRequest, "CSMS.0002", "Invalid parameter event_name: the event is subscribed by a secret."}
}

// errEventExists: creating an event whose name exists (code INFERRED).
func errEventExists() *apiError {
	return &apiError{http.StatusBadRequest, "CSMS.0104", "The event already exists."}
}

// errReplicaExists: a replica for that region already exists (INFERRED).
func errReplicaExists() *apiError {
	return &apiError{http.StatusBadRequest, "CSMS.0104", "The replica secret already exists in the region."}
}

// errReplicaWrite: a REPLICA secret is read-only for values (INFERRED).
func errReplicaWrite() *apiError {
	return &apiError{http.StatusBadRequest, "CSMS.0003", "Invalid request: a replica secret cannot be changed directly."}
}

func errThrottled(limit int) *apiError {
	return &apiError{http.StatusTooManyRequests, "APIGW.0308",
		fmt.Sprintf("The throttling threshold has been reached: policy user over ratelimit,limit:%d,time:1 second", limit)}
}

func errAuth(detail string) *apiError {
	return &apiError{http.StatusUnauthorized, "APIGW.0301", "Incorrect IAM authentication information: " + detail}
}

// errForbidden: the project does not belong to the AK (INFERRED).
func errForbidden() *apiError {
	return &apiError{http.StatusForbidden, "APIGW.0302", "The IAM user is not authorized to access the project."}
}

func errTooLarge() *apiError {
	return &apiError{http.StatusRequestEntityTooLarge, "CSMS.0003", fmt.Sprintf("Invalid request: the body exceeds %d bytes.", MaxRequestBytes)}
}

func errNoRoute() *apiError {
	return &apiError{http.StatusNotFound, "APIGW.0101", "The API does not exist or has not been published in the environment."}
}

func errInternal() *apiError {
	return &apiError{http.StatusInternalServerError, "CSMS.0000", "Internal error."}
}
