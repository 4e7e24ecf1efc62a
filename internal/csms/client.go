// Package csms is the narrow seam between the ManagedSecret reconciler and Huawei Cloud
// CSMS (Cloud Secret Management Service). It holds only the calls the reconciler needs and
// is implemented over the official SDK (huaweicloud-sdk-go-v3/services/csms/v1).
//
// Every method:
//   - waits on a per-credential rate limiter (shared by all clients with the same
//     AK + region + endpoint),
//   - is bounded by Config.Timeout and by the caller's context,
//   - retries throttling (429), 5xx and transport errors with jittered exponential
//     backoff — except that non-idempotent writes (CreateSecret, PutValue, CreateReplica)
//     are NOT retried when the outcome is ambiguous (see below),
//   - returns errors that match exactly one of the sentinel errors (errors.go) with
//     errors.Is and can be inspected with errors.As(err, **APIError),
//   - never puts a secret value into an error, log line or metric.
//
// Ambiguous writes: when CreateSecret, PutValue or CreateReplica fail with ErrTransient the
// request may or may not have been applied (the response can be lost after the server
// acted). The caller must re-observe (GetSecret / GetCurrentValue) before trying again
// instead of repeating the write blindly.
package csms

import (
	"context"
	"time"
)

// Client is the set of CSMS calls the reconciler uses. Implementations are safe for
// concurrent use. Every error a method returns matches exactly one sentinel (ErrNotFound,
// ErrPendingDelete, ErrInvalid, ErrThrottled, ErrUnauthorized, ErrTransient,
// ErrAlreadyExists, ErrVersionLimit) with errors.Is; the refined kinds (ErrAlreadyExists,
// ErrVersionLimit) are only ever given after a read confirmed them, never from an error
// code alone.
type Client interface {
	// GetSecret reads the secret's metadata, including the fields the SDK model lacks
	// (domain_id, replica_type, replicas, last_used_time). ErrNotFound when it does not
	// exist. A secret pending deletion is returned normally (State == StatePendingDelete).
	GetSecret(ctx context.Context, name string) (*Secret, error)

	// CreateSecret creates the secret with its initial value (version v1, SYSCURRENT).
	// If the name is already taken (confirmed by a read, never by an error code alone)
	// the error matches ErrAlreadyExists. On ErrTransient the caller must re-observe:
	// the secret may have been created.
	CreateSecret(ctx context.Context, in CreateSecretInput) (*Secret, error)

	// UpdateSecret changes the mutable metadata; nil fields are left untouched.
	UpdateSecret(ctx context.Context, name string, in UpdateSecretInput) (*Secret, error)

	// DeleteSecret deletes the secret immediately (cannot be undone). NotFound is success.
	DeleteSecret(ctx context.Context, name string) error

	// ScheduleDeletion moves the secret to PENDING_DELETE with the given recovery window
	// (7–30 days, validated by the service). Idempotent: a secret already pending
	// deletion is returned as it is (its window unchanged).
	ScheduleDeletion(ctx context.Context, name string, recoveryWindowDays int32) (*Secret, error)

	// RestoreSecret cancels a scheduled deletion. Idempotent: a secret that is not pending
	// deletion is returned as it is.
	RestoreSecret(ctx context.Context, name string) (*Secret, error)

	// GetCurrentValue reads the SYSCURRENT version's value and returns it with the
	// version ID. ErrPendingDelete while the secret is pending deletion.
	GetCurrentValue(ctx context.Context, name string) (Value, string, error)

	// PutValue creates a new version holding v; it becomes SYSCURRENT. Returns the new
	// version ID. On ErrTransient the caller must re-observe before writing again. When
	// the service refuses the version as invalid and a read of the version list shows
	// MaxVersions or more, the error matches ErrVersionLimit instead of ErrInvalid.
	PutValue(ctx context.Context, name string, v Value) (string, error)

	// CurrentVersionID returns the ID of the version holding SYSCURRENT, with one
	// ShowSecretStage call and without reading the value. ErrNotFound when the secret
	// (or the stage) does not exist; ErrPendingDelete when the service refuses the read
	// because the secret is pending deletion (the emulator answers it: metadata stays
	// readable while pending, inferred).
	CurrentVersionID(ctx context.Context, name string) (string, error)

	// ListTags returns the user tags of the secret. Tags are addressed by secret ID.
	ListTags(ctx context.Context, secretID string) (map[string]string, error)

	// UpdateTags removes the keys in remove (one batch "delete" call) and then sets the
	// tags in set (one batch "create" call, which overwrites existing values). Either may
	// be empty, in which case its call is skipped.
	UpdateTags(ctx context.Context, secretID string, set map[string]string, remove []string) error

	// CreateReplica creates a replica of the secret in another region. Replication is
	// absent from the SDK; the request body field names are inferred (see replica.go).
	// ErrAlreadyExists when the secret already has a replica in r.Region (confirmed by a
	// read). On ErrTransient the caller must re-observe (GetSecret().Replicas).
	CreateReplica(ctx context.Context, name string, r ReplicaInput) (*Replica, error)
}

// Secret states, as returned by CSMS.
const (
	StateEnabled       = "ENABLED"
	StateDisabled      = "DISABLED"
	StatePendingDelete = "PENDING_DELETE"
	StateFrozen        = "FROZEN"
)

// Secret types.
const (
	SecretTypeCommon    = "COMMON"
	SecretTypeRDSFG     = "RDS-FG"
	SecretTypeGaussDBFG = "GaussDB-FG"
)

// Multi-region replica types and replica sync states.
const (
	ReplicaTypeStandalone = "STANDALONE"
	ReplicaTypePrimary    = "PRIMARY"
	ReplicaTypeReplica    = "REPLICA"

	ReplicaStatusInProgress = "IN_PROGRESS"
	ReplicaStatusInSync     = "IN_SYNC"
	ReplicaStatusFailed     = "FAILED"
)

// StageCurrent is the stage of the version that holds the current value.
const StageCurrent = "SYSCURRENT"

// MaxVersions is the number of versions a secret can hold [DOC CreateSecretVersion]. CSMS
// may delete deprecated (unstaged) versions to make room; when it cannot, a new version
// is refused, which PutValue reports as ErrVersionLimit.
const MaxVersions = 20

// MaxValueBytes is the largest secret value CSMS accepts, counted on the field as sent
// (base64 text for binary values). The seed doc, updated 2026-06-09, says 64 KB; older
// API docs said 32 KB.
const MaxValueBytes = 64 * 1024

// Secret is the cloud's view of a secret (every field of the API's Secret object).
//
// Times are time.Time in UTC, converted from the API's epoch milliseconds; a time the API
// leaves null or 0 is the zero time.Time (check with IsZero). ScheduledDeleteTime is zero
// unless State is PENDING_DELETE.
type Secret struct {
	ID                  string
	Name                string
	State               string
	KmsKeyID            string
	Description         string
	CreateTime          time.Time
	UpdateTime          time.Time
	ScheduledDeleteTime time.Time
	SecretType          string
	AutoRotation        bool
	RotationPeriod      string
	RotationConfig      string
	RotationTime        time.Time
	NextRotationTime    time.Time
	LastUsedTime        time.Time
	EventSubscriptions  []string
	EnterpriseProjectID string
	RotationFuncURN     string
	DomainID            string
	// ReplicaType is STANDALONE, PRIMARY or REPLICA; empty when the service does not
	// report it.
	ReplicaType string
	Replicas    []Replica
}

// Replica is one multi-region replica of a secret, as listed on the primary.
type Replica struct {
	ID          string
	KmsKeyID    string
	ProjectID   string
	Region      string
	ReplicaType string
	// Status is IN_PROGRESS, IN_SYNC or FAILED.
	Status    string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// CreateSecretInput is the body of CreateSecret. Empty strings / nil slices are omitted
// from the request so the service applies its defaults.
type CreateSecretInput struct {
	Name  string
	Value Value
	// KmsKeyID empty → csms/default.
	KmsKeyID            string
	Description         string
	SecretType          string
	AutoRotation        bool
	RotationPeriod      string
	RotationConfig      string
	EventSubscriptions  []string
	EnterpriseProjectID string
	RotationFuncURN     string
}

// UpdateSecretInput is the body of UpdateSecret. A nil field is not sent (left
// unchanged); a pointer to an empty value clears the field.
type UpdateSecretInput struct {
	KmsKeyID           *string
	Description        *string
	AutoRotation       *bool
	RotationPeriod     *string
	EventSubscriptions *[]string
	RotationFuncURN    *string
}

// ReplicaInput asks for a replica in Region, owned by ProjectID (Huawei project IDs are
// per region, so this is the project of the target region). KmsKeyID empty →
// csms/default in the target region.
type ReplicaInput struct {
	Region    string
	ProjectID string
	KmsKeyID  string
}

// Config configures a Client built by New.
type Config struct {
	// Region is the CSMS region, e.g. "ap-southeast-3".
	Region string
	// ProjectID is the IAM project of Region. Required with Endpoint; otherwise, if
	// empty, the SDK discovers it with an IAM call.
	ProjectID string
	// Endpoint overrides the region table (e.g. the emulator's "http://127.0.0.1:port").
	Endpoint string

	// Credentials sign the requests: StaticCredentials (keys from a Secret) or
	// EnvironmentCredentials (the SDK's provider chain of this process). Required.
	Credentials Credentials

	// QPS and Burst bound the calls per credential (0 → DefaultQPS / DefaultBurst).
	QPS   float64
	Burst int
	// Timeout bounds each HTTP attempt (0 → DefaultTimeout).
	Timeout time.Duration
	// MaxRetries is the number of retries after the first attempt (0 → DefaultMaxRetries;
	// negative → no retries).
	MaxRetries int
}

// Defaults applied by New for zero Config fields.
const (
	DefaultQPS        = 10.0
	DefaultBurst      = 20
	DefaultTimeout    = 30 * time.Second
	DefaultMaxRetries = 5
)
