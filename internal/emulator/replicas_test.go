package emulator_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/def"
	csms "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1/model"

	"github.com/csms-operator/csms-operator/internal/emulator/emulatortest"
)

// Custom request definitions for what SDK v0.1.207 lacks (reference §7).

type replicaBody struct {
	Region    string `json:"region"`
	ProjectID string `json:"project_id"`
	KmsKeyID  string `json:"kms_key_id,omitempty"`
}

type createReplicaRequest struct {
	SecretName string       `json:"secret_name"`
	Body       *replicaBody `json:"body,omitempty"`
}

type replicaInfo struct {
	ID          string `json:"id"`
	KmsKeyID    string `json:"kms_key_id"`
	ProjectID   string `json:"project_id"`
	Region      string `json:"region"`
	ReplicaType string `json:"replica_type"`
	Status      string `json:"status"`
	CreatedAt   int64  `json:"created_at"`
	UpdatedAt   int64  `json:"updated_at"`
}

type createReplicaResponse struct {
	Replica        *replicaInfo `json:"replica"`
	HttpStatusCode int          `json:"-"`
}

type fullSecret struct {
	ID           string        `json:"id"`
	Name         string        `json:"name"`
	DomainID     string        `json:"domain_id"`
	ReplicaType  string        `json:"replica_type"`
	Replicas     []replicaInfo `json:"replicas"`
	LastUsedTime *int64        `json:"last_used_time"`
}

type showFullRequest struct {
	SecretName string `json:"secret_name"`
}

type showFullResponse struct {
	Secret         *fullSecret `json:"secret"`
	HttpStatusCode int         `json:"-"`
}

func createReplica(c *csms.CsmsClient, name string, body replicaBody) (*createReplicaResponse, error) {
	d := def.NewHttpRequestDefBuilder().WithMethod(http.MethodPost).
		WithPath("/v1/{project_id}/secrets/{secret_name}/replicas").
		WithResponse(new(createReplicaResponse)).WithContentType("application/json;charset=UTF-8").
		WithRequestField(def.NewFieldDef().WithName("SecretName").WithJsonTag("secret_name").WithLocationType(def.Path)).
		WithRequestField(def.NewFieldDef().WithName("Body").WithLocationType(def.Body)).Build()
	resp, err := c.HcClient.Sync(&createReplicaRequest{SecretName: name, Body: &body}, d)
	if err != nil {
		return nil, err
	}
	return resp.(*createReplicaResponse), nil
}

func showFull(t *testing.T, c *csms.CsmsClient, name string) *fullSecret {
	t.Helper()
	d := def.NewHttpRequestDefBuilder().WithMethod(http.MethodGet).
		WithPath("/v1/{project_id}/secrets/{secret_name}").
		WithResponse(new(showFullResponse)).WithContentType("application/json").
		WithRequestField(def.NewFieldDef().WithName("SecretName").WithJsonTag("secret_name").WithLocationType(def.Path)).Build()
	resp, err := c.HcClient.Sync(&showFullRequest{SecretName: name}, d)
	mustOK(t, err)
	return resp.(*showFullResponse).Secret
}

const replicaProject = "fedcba9876543210fedcba9876543210"

func waitReplicas(t *testing.T, c *csms.CsmsClient, name string, want map[string]string) *fullSecret {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s := showFull(t, c, name)
		got := map[string]string{}
		for _, r := range s.Replicas {
			got[r.Region] = r.Status
		}
		match := len(got) == len(want)
		for k, v := range want {
			if got[k] != v {
				match = false
			}
		}
		if match {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("replicas %v, want %v", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestReplicas(t *testing.T) {
	env := emulatortest.Start(t, emulatortest.Options{ReplicaRegions: map[string]string{"ap-southeast-3": replicaProject}})
	c := env.Client(t)
	createSecret(t, c, "rep", "primary-value")
	s := showFull(t, c, "rep")
	if s.ReplicaType != "STANDALONE" || s.Replicas == nil || len(s.Replicas) != 0 || len(s.DomainID) != 32 ||
		s.LastUsedTime == nil || *s.LastUsedTime != 0 {
		t.Fatalf("standalone %+v", s)
	}

	resp, err := createReplica(c, "rep", replicaBody{Region: "ap-southeast-3", ProjectID: replicaProject})
	mustOK(t, err)
	if r := resp.Replica; r.Status != "IN_PROGRESS" || r.ReplicaType != "REPLICA" || r.Region != "ap-southeast-3" || r.KmsKeyID == "" || r.CreatedAt == 0 {
		t.Fatalf("replica %+v", r)
	}
	_, err = createReplica(c, "rep", replicaBody{Region: "ap-southeast-3", ProjectID: replicaProject})
	wantErr(t, err, 400, "CSMS.0104")
	// A region this process does not serve fails.
	_, err = createReplica(c, "rep", replicaBody{Region: "eu-west-101", ProjectID: replicaProject})
	mustOK(t, err)
	s = waitReplicas(t, c, "rep", map[string]string{"ap-southeast-3": "IN_SYNC", "eu-west-101": "FAILED"})
	if s.ReplicaType != "PRIMARY" {
		t.Fatalf("primary type %s", s.ReplicaType)
	}

	// The replica exists in the other region with its own id and the value.
	rc := env.RegionClient(t, "ap-southeast-3")
	rs := showFull(t, rc, "rep")
	if rs.ReplicaType != "REPLICA" || rs.ID == s.ID || len(rs.Replicas) != 1 || rs.Replicas[0].ReplicaType != "PRIMARY" {
		t.Fatalf("replica secret %+v", rs)
	}
	if v := showValue(t, rc, "rep", "latest"); *v.SecretString != "primary-value" {
		t.Fatalf("replica value %q", *v.SecretString)
	}
	if s = showFull(t, c, "rep"); *s.LastUsedTime != 0 {
		t.Fatalf("primary last_used_time changed by a replica read")
	}
	showValue(t, c, "rep", "latest")
	if s = showFull(t, c, "rep"); *s.LastUsedTime == 0 {
		t.Fatalf("last_used_time not set after a read")
	}

	// A new primary version propagates: IN_PROGRESS, then IN_SYNC with the new value.
	_, err = c.CreateSecretVersion(&model.CreateSecretVersionRequest{SecretName: "rep", Body: &model.CreateSecretVersionRequestBody{SecretString: ptr("v2-value")}})
	mustOK(t, err)
	s = showFull(t, c, "rep")
	for _, r := range s.Replicas {
		if r.Region == "ap-southeast-3" && r.Status != "IN_PROGRESS" {
			t.Fatalf("after new version: %s", r.Status)
		}
		if r.Region == "eu-west-101" && r.Status != "FAILED" {
			t.Fatalf("failed replica changed to %s", r.Status)
		}
	}
	waitReplicas(t, c, "rep", map[string]string{"ap-southeast-3": "IN_SYNC", "eu-west-101": "FAILED"})
	if v := showValue(t, rc, "rep", "latest"); *v.SecretString != "v2-value" || *v.VersionMetadata.Id != "v2" {
		t.Fatalf("replica after sync %q %s", *v.SecretString, *v.VersionMetadata.Id)
	}
	// Replica values are read-only.
	_, err = rc.CreateSecretVersion(&model.CreateSecretVersionRequest{SecretName: "rep", Body: &model.CreateSecretVersionRequestBody{SecretString: ptr("x")}})
	wantErr(t, err, 400, "CSMS.0003")

	// Validation of the inferred body.
	for name, b := range map[string]replicaBody{
		"no region":      {ProjectID: replicaProject},
		"same region":    {Region: "cn-north-4", ProjectID: replicaProject},
		"short project":  {Region: "ap-southeast-1", ProjectID: "abc"},
		"bad kms key id": {Region: "ap-southeast-1", ProjectID: replicaProject, KmsKeyID: "x"},
	} {
		_, err := createReplica(c, "rep", b)
		if s, code := apiErr(t, err); s != 400 || code != "CSMS.0002" {
			t.Errorf("%s: %d %s", name, s, code)
		}
	}
	_, err = createReplica(c, "missing", replicaBody{Region: "ap-southeast-3", ProjectID: replicaProject})
	wantErr(t, err, 404, "CSMS.0106")
	// The replica region's project is refused on the primary endpoint.
	r := rawAs(t, env.URL, env.AK, env.SK, replicaProject, "GET", "/v1/{project_id}/secrets/rep", "", nil)
	if r.Status != 403 || r.Code != "APIGW.0302" {
		t.Fatalf("cross-region project: %d %s", r.Status, r.Code)
	}
}

// TestReplicaFollowsPrimaryRotation: automatic rotation happens on the primary only and
// reaches the replica through synchronisation.
func TestReplicaFollowsPrimaryRotation(t *testing.T) {
	env := emulatortest.Start(t, emulatortest.Options{ReplicaRegions: map[string]string{"ap-southeast-3": replicaProject}})
	c := env.Client(t)
	_, err := c.CreateSecret(&model.CreateSecretRequest{Body: &model.CreateSecretRequestBody{Name: "rot", SecretString: ptr("first"),
		AutoRotation: ptr(true), RotationPeriod: ptr("12h"), RotationFuncUrn: ptr("urn:fss:f")}})
	mustOK(t, err)
	_, err = createReplica(c, "rot", replicaBody{Region: "ap-southeast-3", ProjectID: replicaProject})
	mustOK(t, err)
	waitReplicas(t, c, "rot", map[string]string{"ap-southeast-3": "IN_SYNC"})
	env.Server.SetClockOffset(13 * time.Hour)
	waitReplicas(t, c, "rot", map[string]string{"ap-southeast-3": "IN_SYNC"})
	rc := env.RegionClient(t, "ap-southeast-3")
	deadline := time.Now().Add(30 * time.Second)
	for {
		pv := showValue(t, c, "rot", "latest")
		rv := showValue(t, rc, "rot", "latest")
		if *pv.VersionMetadata.Id == "v2" && *rv.VersionMetadata.Id == "v2" {
			if *pv.SecretString != *rv.SecretString {
				t.Fatalf("replica value differs from the primary after rotation")
			}
			break
		}
		if *rv.VersionMetadata.Id > "v2" || *pv.VersionMetadata.Id > "v2" || time.Now().After(deadline) {
			t.Fatalf("primary %s, replica %s", *pv.VersionMetadata.Id, *rv.VersionMetadata.Id)
		}
		time.Sleep(50 * time.Millisecond)
	}
	l, err := rc.ListSecretVersions(&model.ListSecretVersionsRequest{SecretName: "rot"})
	mustOK(t, err)
	if len(*l.VersionMetadatas) != 2 {
		t.Fatalf("replica has %d versions, want 2", len(*l.VersionMetadatas))
	}
}
