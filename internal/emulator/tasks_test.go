package emulator_test

import (
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1/model"
)

func TestRotationTasks(t *testing.T) {
	env, c := startEnv(t)
	_, err := c.CreateSecret(&model.CreateSecretRequest{Body: &model.CreateSecretRequestBody{Name: "t1", SecretString: ptr("v"),
		AutoRotation: ptr(true), RotationPeriod: ptr("6h"), RotationFuncUrn: ptr("urn:fss:f")}})
	mustOK(t, err)
	createSecret(t, c, "t2", "v")
	rot, err := c.RotateSecret(&model.RotateSecretRequest{SecretName: "t2"})
	mustOK(t, err)
	env.Server.SetClockOffset(7 * time.Hour) // t1 rotates automatically

	all, err := c.ListSecretTask(&model.ListSecretTaskRequest{})
	mustOK(t, err)
	if *all.Total != 2 || len(*all.Tasks) != 2 {
		t.Fatalf("tasks %d", *all.Total)
	}
	for _, task := range *all.Tasks {
		if *task.TaskStatus != "SUCCESS" || *task.OperateType != "ROTATE" || *task.TaskTime == 0 {
			t.Fatalf("task %+v", task)
		}
	}
	one, err := c.ListSecretTask(&model.ListSecretTaskRequest{TaskId: rot.RotationTaskId})
	mustOK(t, err)
	if *one.Total != 1 || *(*one.Tasks)[0].SecretName != "t2" {
		t.Fatalf("by id %+v", one)
	}
	byName, err := c.ListSecretTask(&model.ListSecretTaskRequest{SecretName: ptr("t1")})
	mustOK(t, err)
	if *byName.Total != 1 || *(*byName.Tasks)[0].RotationFuncUrn != "urn:fss:f" {
		t.Fatalf("by name %+v", byName)
	}
	page, err := c.ListSecretTask(&model.ListSecretTaskRequest{Limit: ptr(int32(1))})
	mustOK(t, err)
	if len(*page.Tasks) != 1 || page.NextMarker == nil {
		t.Fatalf("page %+v", page)
	}
	page2, err := c.ListSecretTask(&model.ListSecretTaskRequest{Limit: ptr(int32(1)), Marker: page.NextMarker})
	mustOK(t, err)
	if len(*page2.Tasks) != 1 || *(*page2.Tasks)[0].TaskId == *(*page.Tasks)[0].TaskId {
		t.Fatalf("page 2 %+v", page2)
	}
}

func TestBatchImport(t *testing.T) {
	_, c := startEnv(t)
	createSecret(t, c, "exists", "v")
	resp, err := c.BatchImportSecrets(&model.BatchImportSecretsRequest{Body: &model.ImportSecretsRequest{Secrets: []model.CreateSecretRequestBody{
		{Name: "i1", SecretString: ptr("a")},
		{Name: "i2", SecretBinary: ptr("YQ==")},
		{Name: "exists", SecretString: ptr("b")},
		{Name: "bad.name", SecretString: ptr("c")},
	}}})
	mustOK(t, err)
	if *resp.Total != 4 || *resp.Success != 2 || *resp.Failed != 2 || len(*resp.ErrorList) != 2 || (*resp.ErrorList)[0].Name != "exists" {
		t.Fatalf("import %+v %+v", resp, *resp.ErrorList)
	}
	if v := showValue(t, c, "i2", "v1"); *v.SecretBinary != "YQ==" {
		t.Fatalf("imported binary %q", *v.SecretBinary)
	}
	_, err = c.BatchImportSecrets(&model.BatchImportSecretsRequest{Body: &model.ImportSecretsRequest{Secrets: []model.CreateSecretRequestBody{}}})
	wantErr(t, err, 400, "CSMS.0002")
}

// TestAutoRotationAtVersionLimit: automatic rotation drops the oldest version without a
// stage; when every version holds a stage it records a FAILED task instead (inferred).
func TestAutoRotationAtVersionLimit(t *testing.T) {
	env, c := startEnv(t)
	_, err := c.CreateSecret(&model.CreateSecretRequest{Body: &model.CreateSecretRequestBody{Name: "full", SecretString: ptr("v"),
		AutoRotation: ptr(true), RotationPeriod: ptr("4h"), RotationFuncUrn: ptr("urn:fss:f")}})
	mustOK(t, err)
	for i := 2; i <= 20; i++ {
		_, err := c.CreateSecretVersion(&model.CreateSecretVersionRequest{SecretName: "full", Body: &model.CreateSecretVersionRequestBody{SecretString: ptr("v")}})
		mustOK(t, err)
	}
	env.Server.SetClockOffset(5 * time.Hour)
	l, err := c.ListSecretVersions(&model.ListSecretVersionsRequest{SecretName: "full"})
	mustOK(t, err)
	vs := *l.VersionMetadatas
	if len(vs) != 20 || *vs[0].Id != "v2" || *vs[19].Id != "v21" {
		t.Fatalf("after pruning rotation: %d versions, first %s last %s", len(vs), *vs[0].Id, *vs[len(vs)-1].Id)
	}
	// Pin a stage on every deprecated version: the next rotation cannot prune.
	for _, v := range vs {
		if len(*v.VersionStages) == 0 {
			_, err := c.UpdateSecretStage(&model.UpdateSecretStageRequest{SecretName: "full", StageName: "keep-" + *v.Id,
				Body: &model.UpdateSecretStageRequestBody{VersionId: *v.Id}})
			mustOK(t, err)
		}
	}
	env.Server.SetClockOffset(10 * time.Hour)
	tasks, err := c.ListSecretTask(&model.ListSecretTaskRequest{SecretName: ptr("full"), Status: &[]model.ListSecretTaskRequestStatus{model.GetListSecretTaskRequestStatusEnum().FAILED}[0]})
	mustOK(t, err)
	if *tasks.Total != 1 || *(*tasks.Tasks)[0].TaskErrorCode != "CSMS.0002" {
		t.Fatalf("failed tasks %+v", tasks)
	}
	s, err := c.ShowSecret(&model.ShowSecretRequest{SecretName: "full"})
	mustOK(t, err)
	if *s.Secret.NextRotationTime <= time.Now().Add(10*time.Hour).UnixMilli() {
		t.Fatalf("next rotation not moved on after a failed rotation")
	}
}
