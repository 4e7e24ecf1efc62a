package csms

import (
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/def"
)

// secretEnvelope is the response of every call that returns {"secret":{…}}. It replaces
// the SDK's response models, which drop domain_id, replica_type, replicas and
// last_used_time (reference §7). HttpStatusCode is set by the SDK through reflection.
type secretEnvelope struct {
	Secret         *secretWire `json:"secret,omitempty"`
	HttpStatusCode int         `json:"-"`
}

// secretWire is the Secret object of the seed doc (updated 2026-06-09).
type secretWire struct {
	ID                  string        `json:"id"`
	Name                string        `json:"name"`
	State               string        `json:"state"`
	KmsKeyID            string        `json:"kms_key_id"`
	Description         string        `json:"description"`
	CreateTime          *int64        `json:"create_time"`
	UpdateTime          *int64        `json:"update_time"`
	ScheduledDeleteTime *int64        `json:"scheduled_delete_time"`
	SecretType          string        `json:"secret_type"`
	AutoRotation        bool          `json:"auto_rotation"`
	RotationPeriod      string        `json:"rotation_period"`
	RotationConfig      string        `json:"rotation_config"`
	RotationTime        *int64        `json:"rotation_time"`
	NextRotationTime    *int64        `json:"next_rotation_time"`
	LastUsedTime        *int64        `json:"last_used_time"`
	EventSubscriptions  []string      `json:"event_subscriptions"`
	EnterpriseProjectID string        `json:"enterprise_project_id"`
	RotationFuncURN     string        `json:"rotation_func_urn"`
	DomainID            string        `json:"domain_id"`
	ReplicaType         string        `json:"replica_type"`
	Replicas            []replicaWire `json:"replicas"`
}

// replicaWire is the Replica object of the seed doc.
type replicaWire struct {
	ID          string `json:"id"`
	KmsKeyID    string `json:"kms_key_id"`
	ProjectID   string `json:"project_id"`
	Region      string `json:"region"`
	ReplicaType string `json:"replica_type"`
	Status      string `json:"status"`
	CreatedAt   *int64 `json:"created_at"`
	UpdatedAt   *int64 `json:"updated_at"`
}

// msTime converts the API's epoch milliseconds; null and 0 become the zero time.
func msTime(ms *int64) time.Time {
	if ms == nil || *ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(*ms).UTC()
}

func (w *secretWire) toSecret() *Secret {
	if w == nil {
		return nil
	}
	s := &Secret{
		ID:                  w.ID,
		Name:                w.Name,
		State:               w.State,
		KmsKeyID:            w.KmsKeyID,
		Description:         w.Description,
		CreateTime:          msTime(w.CreateTime),
		UpdateTime:          msTime(w.UpdateTime),
		ScheduledDeleteTime: msTime(w.ScheduledDeleteTime),
		SecretType:          w.SecretType,
		AutoRotation:        w.AutoRotation,
		RotationPeriod:      w.RotationPeriod,
		RotationConfig:      w.RotationConfig,
		RotationTime:        msTime(w.RotationTime),
		NextRotationTime:    msTime(w.NextRotationTime),
		LastUsedTime:        msTime(w.LastUsedTime),
		EventSubscriptions:  append([]string(nil), w.EventSubscriptions...),
		EnterpriseProjectID: w.EnterpriseProjectID,
		RotationFuncURN:     w.RotationFuncURN,
		DomainID:            w.DomainID,
		ReplicaType:         w.ReplicaType,
	}
	for i := range w.Replicas {
		s.Replicas = append(s.Replicas, w.Replicas[i].toReplica())
	}
	return s
}

func (w *replicaWire) toReplica() Replica {
	return Replica{
		ID:          w.ID,
		KmsKeyID:    w.KmsKeyID,
		ProjectID:   w.ProjectID,
		Region:      w.Region,
		ReplicaType: w.ReplicaType,
		Status:      w.Status,
		CreatedAt:   msTime(w.CreatedAt),
		UpdatedAt:   msTime(w.UpdatedAt),
	}
}

// withSecretResponse reuses the SDK's own definition of an operation (method, path,
// request fields) but decodes the response into a fresh secretEnvelope. gen must build a
// new definition on each call, because the SDK stores the response object inside it.
func withSecretResponse(gen func() *def.HttpRequestDef) (*def.HttpRequestDef, *secretEnvelope) {
	d := gen()
	env := new(secretEnvelope)
	d.Response = env
	return d, env
}
