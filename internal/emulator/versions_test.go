package emulator_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"
	csmsv1 "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1/model"

	"github.com/csms-operator/csms-operator/internal/emulator/emulatortest"
)

func TestVersionsAndStages(t *testing.T) {
	_, c := startEnv(t)
	createSecret(t, c, "s", "one")
	vresp, err := c.CreateSecretVersion(&model.CreateSecretVersionRequest{SecretName: "s", Body: &model.CreateSecretVersionRequestBody{SecretString: ptr("two")}})
	mustOK(t, err)
	if *vresp.VersionMetadata.Id != "v2" || (*vresp.VersionMetadata.VersionStages)[0] != "SYSCURRENT" {
		t.Fatalf("v2 meta %+v", vresp.VersionMetadata)
	}
	v1 := showValue(t, c, "s", "v1")
	if st := *v1.VersionMetadata.VersionStages; len(st) != 1 || st[0] != "SYSPREVIOUS" {
		t.Fatalf("v1 stages %v", st)
	}
	if got := *showValue(t, c, "s", "latest").SecretString; got != "two" {
		t.Fatalf("latest = %q", got)
	}
	// Binary version.
	_, err = c.CreateSecretVersion(&model.CreateSecretVersionRequest{SecretName: "s", Body: &model.CreateSecretVersionRequestBody{SecretBinary: ptr("AQID")}})
	mustOK(t, err)
	if v3 := showValue(t, c, "s", "v3"); v3.SecretBinary == nil || *v3.SecretBinary != "AQID" || v3.SecretString != nil {
		t.Fatalf("v3 %+v", v3)
	}
	// v1 lost SYSPREVIOUS to v2: no stage left.
	if st := *showValue(t, c, "s", "v1").VersionMetadata.VersionStages; len(st) != 0 {
		t.Fatalf("v1 stages after v3: %v", st)
	}
	// Custom stage on a new version without SYSCURRENT leaves SYSCURRENT alone (inferred).
	_, err = c.CreateSecretVersion(&model.CreateSecretVersionRequest{SecretName: "s", Body: &model.CreateSecretVersionRequestBody{SecretString: ptr("four"), VersionStages: &[]string{"PENDING"}}})
	mustOK(t, err)
	st, err := c.ShowSecretStage(&model.ShowSecretStageRequest{SecretName: "s", StageName: "SYSCURRENT"})
	mustOK(t, err)
	if *st.Stage.VersionId != "v3" {
		t.Fatalf("SYSCURRENT on %s", *st.Stage.VersionId)
	}
	// Move SYSCURRENT to v4: v3 becomes SYSPREVIOUS.
	up, err := c.UpdateSecretStage(&model.UpdateSecretStageRequest{SecretName: "s", StageName: "SYSCURRENT", Body: &model.UpdateSecretStageRequestBody{VersionId: "v4"}})
	mustOK(t, err)
	if *up.Stage.VersionId != "v4" || *up.Stage.UpdateTime == 0 {
		t.Fatalf("stage %+v", up.Stage)
	}
	prev, err := c.ShowSecretStage(&model.ShowSecretStageRequest{SecretName: "s", StageName: "SYSPREVIOUS"})
	mustOK(t, err)
	if *prev.Stage.VersionId != "v3" {
		t.Fatalf("SYSPREVIOUS on %s", *prev.Stage.VersionId)
	}
	// Custom stage moves, then deletes; system stages cannot be deleted.
	_, err = c.UpdateSecretStage(&model.UpdateSecretStageRequest{SecretName: "s", StageName: "PENDING", Body: &model.UpdateSecretStageRequestBody{VersionId: "v1"}})
	mustOK(t, err)
	_, err = c.DeleteSecretStage(&model.DeleteSecretStageRequest{SecretName: "s", StageName: "PENDING"})
	mustOK(t, err)
	_, err = c.ShowSecretStage(&model.ShowSecretStageRequest{SecretName: "s", StageName: "PENDING"})
	wantErr(t, err, 404, "CSMS.0005")
	_, err = c.DeleteSecretStage(&model.DeleteSecretStageRequest{SecretName: "s", StageName: "SYSCURRENT"})
	wantErr(t, err, 400, "CSMS.0105")
	_, err = c.DeleteSecretStage(&model.DeleteSecretStageRequest{SecretName: "s", StageName: "SYSPREVIOUS"})
	wantErr(t, err, 400, "CSMS.0105")
	_, err = c.UpdateSecretStage(&model.UpdateSecretStageRequest{SecretName: "s", StageName: "X", Body: &model.UpdateSecretStageRequestBody{VersionId: "v99"}})
	wantErr(t, err, 404, "CSMS.0005")
	_, err = c.ShowSecretVersion(&model.ShowSecretVersionRequest{SecretName: "s", VersionId: "v99"})
	wantErr(t, err, 404, "CSMS.0005")
	_, err = c.ShowSecretVersion(&model.ShowSecretVersionRequest{SecretName: "nope", VersionId: "v1"})
	wantErr(t, err, 404, "CSMS.0106")

	// Version validation.
	for name, body := range map[string]model.CreateSecretVersionRequestBody{
		"no value":      {},
		"both values":   {SecretString: ptr("a"), SecretBinary: ptr("YQ==")},
		"13 stages":     {SecretString: ptr("a"), VersionStages: &[]string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13"}},
		"empty stages":  {SecretString: ptr("a"), VersionStages: &[]string{}},
		"long stage":    {SecretString: ptr("a"), VersionStages: &[]string{string(make([]byte, 65))}},
		"past expiry":   {SecretString: ptr("a"), ExpireTime: ptr(int64(1000))},
		"set previous":  {SecretString: ptr("a"), VersionStages: &[]string{"SYSPREVIOUS"}},
		"value too big": {SecretString: ptr(string(make([]byte, 64*1024+1)))},
	} {
		b := body
		_, err := c.CreateSecretVersion(&model.CreateSecretVersionRequest{SecretName: "s", Body: &b})
		if s, code := apiErr(t, err); s != 400 || code != "CSMS.0002" {
			t.Errorf("%s: %d %s", name, s, code)
		}
	}

	// List with paging by version id.
	l, err := c.ListSecretVersions(&model.ListSecretVersionsRequest{SecretName: "s", Limit: ptr(int32(3))})
	mustOK(t, err)
	if len(*l.VersionMetadatas) != 3 || *l.PageInfo.NextMarker != "v3" {
		t.Fatalf("page 1: %d %v", len(*l.VersionMetadatas), l.PageInfo)
	}
	l, err = c.ListSecretVersions(&model.ListSecretVersionsRequest{SecretName: "s", Limit: ptr(int32(3)), Marker: ptr("v3")})
	mustOK(t, err)
	if len(*l.VersionMetadatas) != 1 || *(*l.VersionMetadatas)[0].Id != "v4" || l.PageInfo.NextMarker != nil {
		t.Fatalf("page 2: %+v", l)
	}

	// Update expiry.
	exp := time.Now().Add(48 * time.Hour).UnixMilli()
	uv, err := c.UpdateVersion(&model.UpdateVersionRequest{SecretName: "s", VersionId: "v2", Body: &model.UpdateVersionRequestBody{ExpireTime: exp}})
	mustOK(t, err)
	if *uv.VersionMetadata.ExpireTime != exp {
		t.Fatalf("expire %d", *uv.VersionMetadata.ExpireTime)
	}
	_, err = c.UpdateVersion(&model.UpdateVersionRequest{SecretName: "s", VersionId: "v2", Body: &model.UpdateVersionRequestBody{ExpireTime: 5}})
	wantErr(t, err, 400, "CSMS.0002")
	_, err = c.UpdateVersion(&model.UpdateVersionRequest{SecretName: "s", VersionId: "v77", Body: &model.UpdateVersionRequestBody{ExpireTime: exp}})
	wantErr(t, err, 404, "CSMS.0005")
}

// listVersionIDs returns the secret's version IDs in order and the version holding each
// stage.
func listVersionIDs(t *testing.T, c *csmsv1.CsmsClient, name string) ([]string, map[string]string) {
	t.Helper()
	l, err := c.ListSecretVersions(&model.ListSecretVersionsRequest{SecretName: name, Limit: ptr(int32(100))})
	mustOK(t, err)
	var ids []string
	stages := map[string]string{}
	for _, v := range *l.VersionMetadatas {
		ids = append(ids, *v.Id)
		for _, st := range *v.VersionStages {
			stages[st] = *v.Id
		}
	}
	return ids, stages
}

// TestVersionLimitPrunesDeprecated: a new version past the 20-version limit drops the
// oldest version without a stage (inferred), for CreateSecretVersion and RotateSecret,
// and the drop survives a restart.
func TestVersionLimitPrunesDeprecated(t *testing.T) {
	dir := t.TempDir()
	env := emulatortest.Start(t, emulatortest.Options{DataDir: dir})
	c := env.Client(t)
	createSecret(t, c, "lim", "1")
	for i := 2; i <= 25; i++ {
		_, err := c.CreateSecretVersion(&model.CreateSecretVersionRequest{SecretName: "lim", Body: &model.CreateSecretVersionRequestBody{SecretString: ptr(fmt.Sprint(i))}})
		mustOK(t, err)
	}
	want := []string{}
	for i := 6; i <= 25; i++ {
		want = append(want, fmt.Sprintf("v%d", i))
	}
	ids, stages := listVersionIDs(t, c, "lim")
	if !reflect.DeepEqual(ids, want) || stages["SYSCURRENT"] != "v25" || stages["SYSPREVIOUS"] != "v24" {
		t.Fatalf("after 25 versions: %v, stages %v", ids, stages)
	}
	_, err := c.ShowSecretVersion(&model.ShowSecretVersionRequest{SecretName: "lim", VersionId: "v5"})
	wantErr(t, err, 404, "CSMS.0005")
	if got := *showValue(t, c, "lim", "v24").SecretString; got != "24" {
		t.Fatalf("v24 = %q", got)
	}

	// A custom stage protects a version from the drop: v6 keeps it, v7 goes.
	_, err = c.UpdateSecretStage(&model.UpdateSecretStageRequest{SecretName: "lim", StageName: "KEEP", Body: &model.UpdateSecretStageRequestBody{VersionId: "v6"}})
	mustOK(t, err)
	rot, err := c.RotateSecret(&model.RotateSecretRequest{SecretName: "lim"})
	mustOK(t, err)
	if *rot.VersionId != "v26" {
		t.Fatalf("rotation made %s", *rot.VersionId)
	}
	mustOK(t, env.Server.Close())

	env2 := emulatortest.Start(t, emulatortest.Options{DataDir: dir})
	c2 := env2.Client(t)
	ids, stages = listVersionIDs(t, c2, "lim")
	if len(ids) != 20 || ids[0] != "v6" || ids[1] != "v8" || ids[19] != "v26" ||
		stages["SYSCURRENT"] != "v26" || stages["SYSPREVIOUS"] != "v25" || stages["KEEP"] != "v6" {
		t.Fatalf("after rotation and restart: %v, stages %v", ids, stages)
	}
	_, err = c2.ShowSecretVersion(&model.ShowSecretVersionRequest{SecretName: "lim", VersionId: "v7"})
	wantErr(t, err, 404, "CSMS.0005")
	// The version counter survived too: the next version is v27, not a reused id.
	v, err := c2.CreateSecretVersion(&model.CreateSecretVersionRequest{SecretName: "lim", Body: &model.CreateSecretVersionRequestBody{SecretString: ptr("27")}})
	mustOK(t, err)
	if *v.VersionMetadata.Id != "v27" {
		t.Fatalf("next version %s", *v.VersionMetadata.Id)
	}
}

// TestVersionLimitAllStaged: when each of the 20 versions holds a stage, nothing can be
// dropped and a 21st version is refused with CSMS.0002 (inferred), leaving the secret as
// it was.
func TestVersionLimitAllStaged(t *testing.T) {
	_, c := startEnv(t)
	createSecret(t, c, "full", "1")
	for i := 2; i <= 20; i++ {
		// Explicit stages without SYSCURRENT: SYSCURRENT stays on v1, nothing is unstaged.
		_, err := c.CreateSecretVersion(&model.CreateSecretVersionRequest{SecretName: "full", Body: &model.CreateSecretVersionRequestBody{
			SecretString: ptr(fmt.Sprint(i)), VersionStages: &[]string{fmt.Sprintf("S%d", i)}}})
		mustOK(t, err)
	}
	_, err := c.CreateSecretVersion(&model.CreateSecretVersionRequest{SecretName: "full", Body: &model.CreateSecretVersionRequestBody{SecretString: ptr("21")}})
	wantErr(t, err, 400, "CSMS.0002")
	var se *sdkerr.ServiceResponseError
	if !errors.As(err, &se) || se.ErrorMessage != "Invalid parameter: the version limit of 20 is reached." {
		t.Fatalf("refusal message: %v", err)
	}
	_, err = c.CreateSecretVersion(&model.CreateSecretVersionRequest{SecretName: "full", Body: &model.CreateSecretVersionRequestBody{
		SecretString: ptr("21"), VersionStages: &[]string{"S21"}}})
	wantErr(t, err, 400, "CSMS.0002")
	_, err = c.RotateSecret(&model.RotateSecretRequest{SecretName: "full"})
	wantErr(t, err, 400, "CSMS.0002")
	ids, stages := listVersionIDs(t, c, "full")
	if len(ids) != 20 || ids[0] != "v1" || ids[19] != "v20" || stages["SYSCURRENT"] != "v1" || stages["S20"] != "v20" {
		t.Fatalf("after refusals: %v, stages %v", ids, stages)
	}
	// Freeing one stage makes room again: that version is the one dropped.
	_, err = c.DeleteSecretStage(&model.DeleteSecretStageRequest{SecretName: "full", StageName: "S9"})
	mustOK(t, err)
	_, err = c.CreateSecretVersion(&model.CreateSecretVersionRequest{SecretName: "full", Body: &model.CreateSecretVersionRequestBody{SecretString: ptr("21")}})
	mustOK(t, err)
	ids, stages = listVersionIDs(t, c, "full")
	if len(ids) != 20 || slices.Contains(ids, "v9") || ids[19] != "v21" || stages["SYSCURRENT"] != "v21" || stages["SYSPREVIOUS"] != "v1" {
		t.Fatalf("after freeing S9: %v, stages %v", ids, stages)
	}
}

func TestRotateSecret(t *testing.T) {
	_, c := startEnv(t)
	createSecret(t, c, "r", "orig")
	resp, err := c.RotateSecret(&model.RotateSecretRequest{SecretName: "r"})
	mustOK(t, err)
	if *resp.VersionId != "v2" || *resp.SecretName != "r" || *resp.RotationTaskId == "" {
		t.Fatalf("rotate %+v", resp)
	}
	v := showValue(t, c, "r", "latest")
	if *v.SecretString == "orig" || len(*v.SecretString) != 32 || (*v.VersionMetadata.VersionStages)[0] != "SYSCURRENT" {
		t.Fatalf("rotated version %+v", v.VersionMetadata)
	}
	s, err := c.ShowSecret(&model.ShowSecretRequest{SecretName: "r"})
	mustOK(t, err)
	if *s.Secret.RotationTime == 0 {
		t.Fatalf("rotation_time not set")
	}
	_, err = c.RotateSecret(&model.RotateSecretRequest{SecretName: "none"})
	wantErr(t, err, 404, "CSMS.0106")
}
