package csms

import (
	"net/http"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/def"
)

// Replication is absent from SDK v0.1.207 and from every stored API definition; only
// "POST /v1/{project_id}/secrets/{secret_name}/replicas" is documented. The request body
// field names below are INFERRED from the seed's Replica object and agreed with the
// emulator (/work/emulator-decisions.md). They live here, and only here, so that they can
// be corrected in one place.
const (
	replicaPath = "/v1/{project_id}/secrets/{secret_name}/replicas"

	replicaFieldRegion    = "region"
	replicaFieldProjectID = "project_id"
	replicaFieldKmsKeyID  = "kms_key_id"
)

// createReplicaRequest is the SDK-style request object: the SDK reads path fields and
// the body from it by reflection (field names must match the FieldDef names).
type createReplicaRequest struct {
	SecretName string         `json:"secret_name"`
	Body       map[string]any `json:"body,omitempty"`
}

type replicaEnvelope struct {
	Replica        *replicaWire `json:"replica,omitempty"`
	HttpStatusCode int          `json:"-"`
}

func newCreateReplicaDef() (*def.HttpRequestDef, *replicaEnvelope) {
	env := new(replicaEnvelope)
	d := def.NewHttpRequestDefBuilder().
		WithMethod(http.MethodPost).
		WithPath(replicaPath).
		WithResponse(env).
		WithContentType("application/json;charset=UTF-8").
		WithRequestField(def.NewFieldDef().WithName("SecretName").WithJsonTag("secret_name").WithLocationType(def.Path)).
		WithRequestField(def.NewFieldDef().WithName("Body").WithLocationType(def.Body)).
		Build()
	return d, env
}

func replicaBody(r ReplicaInput) map[string]any {
	body := map[string]any{
		replicaFieldRegion:    r.Region,
		replicaFieldProjectID: r.ProjectID,
	}
	if r.KmsKeyID != "" {
		body[replicaFieldKmsKeyID] = r.KmsKeyID
	}
	return body
}
