package emulator

import (
	"sort"
	"strconv"
	"strings"
)

// Stored records. Values are kept only as envelope ciphertext (versionRec.Cipher).

type secretRec struct {
	ID                  string           `json:"id"`
	Name                string           `json:"name"`
	Region              string           `json:"region"`
	ProjectID           string           `json:"project_id"`
	DomainID            string           `json:"domain_id"`
	State               string           `json:"state"`
	KmsKeyID            string           `json:"kms_key_id"`
	Description         string           `json:"description"`
	CreateTime          int64            `json:"create_time"`
	UpdateTime          int64            `json:"update_time"`
	ScheduledDeleteTime int64            `json:"scheduled_delete_time"`
	SecretType          string           `json:"secret_type"`
	AutoRotation        bool             `json:"auto_rotation"`
	RotationPeriod      string           `json:"rotation_period"`
	RotationConfig      string           `json:"rotation_config"`
	RotationTime        int64            `json:"rotation_time"`
	NextRotationTime    int64            `json:"next_rotation_time"`
	LastUsedTime        int64            `json:"last_used_time"`
	EventSubscriptions  []string         `json:"event_subscriptions"`
	EnterpriseProjectID string           `json:"enterprise_project_id"`
	RotationFuncURN     string           `json:"rotation_func_urn"`
	ReplicaType         string           `json:"replica_type"`
	Replicas            []replicaRec     `json:"replicas"`
	Versions            []versionRec     `json:"versions"`
	NextVersion         int              `json:"next_version"`
	StageTimes          map[string]int64 `json:"stage_times"`
	Tags                []tagRec         `json:"tags"`
}

type versionRec struct {
	ID         string   `json:"id"`
	CreateTime int64    `json:"create_time"`
	ExpireTime int64    `json:"expire_time"`
	KmsKeyID   string   `json:"kms_key_id"`
	Stages     []string `json:"stages"`
	Binary     bool     `json:"binary"`
	Cipher     []byte   `json:"cipher"`
}

type replicaRec struct {
	ID          string `json:"id"`
	KmsKeyID    string `json:"kms_key_id"`
	ProjectID   string `json:"project_id"`
	Region      string `json:"region"`
	ReplicaType string `json:"replica_type"`
	Status      string `json:"status"`
	CreatedAt   int64  `json:"created_at"`
	UpdatedAt   int64  `json:"updated_at"`
	SyncDue     int64  `json:"sync_due"`
}

// taskRec is a rotation task as ListSecretTask shows it.
type taskRec struct {
	TaskID          string `json:"task_id"`
	SecretName      string `json:"secret_name"`
	RotationFuncURN string `json:"rotation_func_urn"`
	TaskStatus      string `json:"task_status"`
	OperateType     string `json:"operate_type"`
	TaskTime        int64  `json:"task_time"`
	AttemptNums     int    `json:"attempt_nums"`
	TaskErrorCode   string `json:"task_error_code,omitempty"`
	TaskErrorMsg    string `json:"task_error_msg,omitempty"`
	Region          string `json:"-"`
	ProjectID       string `json:"-"`
}

type tagRec struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type eventRec struct {
	Name         string       `json:"name"`
	EventID      string       `json:"event_id"`
	EventTypes   []string     `json:"event_types"`
	State        string       `json:"state"`
	CreateTime   int64        `json:"create_time"`
	UpdateTime   int64        `json:"update_time"`
	Notification notification `json:"notification"`
}

type notification struct {
	TargetType string `json:"target_type"`
	TargetID   string `json:"target_id"`
	TargetName string `json:"target_name"`
}

const (
	stateEnabled       = "ENABLED"
	statePendingDelete = "PENDING_DELETE"
	stageCurrent       = "SYSCURRENT"
	stagePrevious      = "SYSPREVIOUS"
)

func isSystemStage(s string) bool { return s == stageCurrent || s == stagePrevious }

// JSON views sent to clients.

type secretView struct {
	ID                  string        `json:"id"`
	Name                string        `json:"name"`
	State               string        `json:"state"`
	KmsKeyID            string        `json:"kms_key_id"`
	Description         string        `json:"description"`
	CreateTime          int64         `json:"create_time"`
	UpdateTime          int64         `json:"update_time"`
	ScheduledDeleteTime *int64        `json:"scheduled_delete_time"`
	SecretType          string        `json:"secret_type"`
	AutoRotation        bool          `json:"auto_rotation"`
	RotationPeriod      string        `json:"rotation_period"`
	RotationConfig      string        `json:"rotation_config"`
	RotationTime        int64         `json:"rotation_time"`
	NextRotationTime    int64         `json:"next_rotation_time"`
	LastUsedTime        int64         `json:"last_used_time"`
	EventSubscriptions  []string      `json:"event_subscriptions"`
	EnterpriseProjectID string        `json:"enterprise_project_id"`
	RotationFuncURN     string        `json:"rotation_func_urn"`
	DomainID            string        `json:"domain_id"`
	ReplicaType         string        `json:"replica_type"`
	Replicas            []replicaView `json:"replicas"`
}

type replicaView struct {
	ID          string `json:"id"`
	KmsKeyID    string `json:"kms_key_id"`
	ProjectID   string `json:"project_id"`
	Region      string `json:"region"`
	ReplicaType string `json:"replica_type"`
	Status      string `json:"status"`
	CreatedAt   int64  `json:"created_at"`
	UpdatedAt   int64  `json:"updated_at"`
}

type versionMetaView struct {
	ID            string   `json:"id"`
	CreateTime    int64    `json:"create_time"`
	ExpireTime    *int64   `json:"expire_time,omitempty"`
	KmsKeyID      string   `json:"kms_key_id"`
	SecretName    string   `json:"secret_name"`
	VersionStages []string `json:"version_stages"`
}

type tagView struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

func (r *secretRec) view() secretView {
	v := secretView{
		ID: r.ID, Name: r.Name, State: r.State, KmsKeyID: r.KmsKeyID, Description: r.Description,
		CreateTime: r.CreateTime, UpdateTime: r.UpdateTime, SecretType: r.SecretType,
		AutoRotation: r.AutoRotation, RotationPeriod: r.RotationPeriod, RotationConfig: r.RotationConfig,
		RotationTime: r.RotationTime, NextRotationTime: r.NextRotationTime, LastUsedTime: r.LastUsedTime,
		EventSubscriptions: append([]string{}, r.EventSubscriptions...), EnterpriseProjectID: r.EnterpriseProjectID,
		RotationFuncURN: r.RotationFuncURN, DomainID: r.DomainID, ReplicaType: r.ReplicaType,
		Replicas: []replicaView{},
	}
	if r.State == statePendingDelete {
		t := r.ScheduledDeleteTime
		v.ScheduledDeleteTime = &t
	}
	for _, rp := range r.Replicas {
		v.Replicas = append(v.Replicas, replicaView{rp.ID, rp.KmsKeyID, rp.ProjectID, rp.Region, rp.ReplicaType, rp.Status, rp.CreatedAt, rp.UpdatedAt})
	}
	return v
}

func (r *secretRec) versionMeta(v *versionRec) versionMetaView {
	m := versionMetaView{ID: v.ID, CreateTime: v.CreateTime, KmsKeyID: v.KmsKeyID, SecretName: r.Name,
		VersionStages: append([]string{}, v.Stages...)}
	if v.ExpireTime != 0 {
		t := v.ExpireTime
		m.ExpireTime = &t
	}
	return m
}

// version is findVersion for handlers: an unknown version is a "secret version" not found.
func (r *secretRec) version(id string) (*versionRec, *apiError) {
	v := r.findVersion(id)
	if v == nil {
		return nil, errNotFound("secret version")
	}
	return v, nil
}

// purgedBy says whether rec's deletion is due at now: the next sweep removes it, so
// clients no longer see it.
func (r *secretRec) purgedBy(now int64) bool {
	return r.State == statePendingDelete && r.ScheduledDeleteTime <= now
}

func (r *secretRec) findVersion(id string) *versionRec {
	if id == "latest" {
		// "latest" is the newest version by creation (highest number).
		if len(r.Versions) == 0 {
			return nil
		}
		return &r.Versions[len(r.Versions)-1]
	}
	for i := range r.Versions {
		if r.Versions[i].ID == id {
			return &r.Versions[i]
		}
	}
	return nil
}

func (r *secretRec) stageHolder(stage string) *versionRec {
	for i := range r.Versions {
		for _, s := range r.Versions[i].Stages {
			if s == stage {
				return &r.Versions[i]
			}
		}
	}
	return nil
}

// setStage moves stage to version v (a stage is unique within a secret).
func (r *secretRec) setStage(stage string, v *versionRec, now int64) {
	for i := range r.Versions {
		r.Versions[i].Stages = removeString(r.Versions[i].Stages, stage)
	}
	v.Stages = append(v.Stages, stage)
	if r.StageTimes == nil {
		r.StageTimes = map[string]int64{}
	}
	r.StageTimes[stage] = now
}

func (r *secretRec) removeStage(stage string) {
	for i := range r.Versions {
		r.Versions[i].Stages = removeString(r.Versions[i].Stages, stage)
	}
	delete(r.StageTimes, stage)
}

func (r *secretRec) tagValue(key string) (string, bool) {
	for _, t := range r.Tags {
		if t.Key == key {
			return t.Value, true
		}
	}
	return "", false
}

func (r *secretRec) tagViews() []tagView {
	out := []tagView{}
	for _, t := range r.Tags {
		out = append(out, tagView(t))
	}
	return out
}

func removeString(list []string, s string) []string {
	out := list[:0:0]
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

func versionNumber(id string) int {
	n, err := strconv.Atoi(strings.TrimPrefix(id, "v"))
	if err != nil {
		return -1
	}
	return n
}

func sortStrings(s []string) []string { sort.Strings(s); return s }
