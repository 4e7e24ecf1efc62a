package emulator_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	csms "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1/model"
	csmsregion "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1/region"
)

func TestCreateShowDelete(t *testing.T) {
	_, c := startEnv(t)
	s := createSecret(t, c, "db-password", "s3cr3t")
	if *s.State != "ENABLED" || *s.Name != "db-password" || len(*s.Id) != 36 || *s.CreateTime < 1e12 {
		t.Fatalf("unexpected secret %+v", s)
	}
	got, err := c.ShowSecret(&model.ShowSecretRequest{SecretName: "db-password"})
	mustOK(t, err)
	if *got.Secret.Id != *s.Id || got.Secret.ScheduledDeleteTime != nil {
		t.Fatalf("show: %+v", got.Secret)
	}
	v := showValue(t, c, "db-password", "latest")
	if *v.SecretString != "s3cr3t" || *v.VersionMetadata.Id != "v1" || (*v.VersionMetadata.VersionStages)[0] != "SYSCURRENT" {
		t.Fatalf("version: %+v %+v", v, v.VersionMetadata)
	}
	_, err = c.DeleteSecret(&model.DeleteSecretRequest{SecretName: "db-password"})
	mustOK(t, err)
	_, err = c.ShowSecret(&model.ShowSecretRequest{SecretName: "db-password"})
	wantErr(t, err, 404, "CSMS.0106")
}

func TestCreateValidation(t *testing.T) {
	env, c := startEnv(t)
	createSecret(t, c, "taken", "x")
	long := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = 'a'
		}
		return string(b)
	}
	rdsFG := model.GetCreateSecretRequestBodySecretTypeEnum().RDS_FG
	cases := []struct {
		name string
		body model.CreateSecretRequestBody
		code string
	}{
		{"empty name", model.CreateSecretRequestBody{Name: "", SecretString: ptr("v")}, "CSMS.0002"},
		{"name with dot", model.CreateSecretRequestBody{Name: "a.b", SecretString: ptr("v")}, "CSMS.0002"},
		{"name 65 chars", model.CreateSecretRequestBody{Name: long(65), SecretString: ptr("v")}, "CSMS.0002"},
		{"no value", model.CreateSecretRequestBody{Name: "n1"}, "CSMS.0002"},
		{"both values", model.CreateSecretRequestBody{Name: "n1", SecretString: ptr("v"), SecretBinary: ptr("dg==")}, "CSMS.0002"},
		{"value over 64KB", model.CreateSecretRequestBody{Name: "n1", SecretString: ptr(long(64*1024 + 1))}, "CSMS.0002"},
		{"binary not base64", model.CreateSecretRequestBody{Name: "n1", SecretBinary: ptr("!!!")}, "CSMS.0002"},
		{"bad kms id", model.CreateSecretRequestBody{Name: "n1", SecretString: ptr("v"), KmsKeyId: ptr("csms/default")}, "CSMS.0002"},
		{"upper-case kms id", model.CreateSecretRequestBody{Name: "n1", SecretString: ptr("v"), KmsKeyId: ptr("0D0466B0-e727-4d9c-b35d-f84bb474a37f")}, "CSMS.0002"},
		{"description too long", model.CreateSecretRequestBody{Name: "n1", SecretString: ptr("v"), Description: ptr(long(2049))}, "CSMS.0002"},
		{"period below 4h", model.CreateSecretRequestBody{Name: "n1", SecretString: ptr("v"), RotationPeriod: ptr("3h")}, "CSMS.0002"},
		{"period above 8760h", model.CreateSecretRequestBody{Name: "n1", SecretString: ptr("v"), RotationPeriod: ptr("366d")}, "CSMS.0002"},
		{"period malformed", model.CreateSecretRequestBody{Name: "n1", SecretString: ptr("v"), RotationPeriod: ptr("1w")}, "CSMS.0002"},
		{"auto rotation without period", model.CreateSecretRequestBody{Name: "n1", SecretString: ptr("v"), AutoRotation: ptr(true), RotationFuncUrn: ptr("urn:fss:x")}, "CSMS.0002"},
		{"auto rotation without function", model.CreateSecretRequestBody{Name: "n1", SecretString: ptr("v"), AutoRotation: ptr(true), RotationPeriod: ptr("1d")}, "CSMS.0002"},
		{"RDS-FG without rotation_config", model.CreateSecretRequestBody{Name: "n1", SecretString: ptr("v"), SecretType: &rdsFG}, "CSMS.0002"},
		{"RDS-FG bad subtype", model.CreateSecretRequestBody{Name: "n1", SecretString: ptr("v"), SecretType: &rdsFG, RotationConfig: ptr(`{"InstanceId":"i","SecretSubType":"Other"}`)}, "CSMS.0002"},
		{"rotation_config too long", model.CreateSecretRequestBody{Name: "n1", SecretString: ptr("v"), RotationConfig: ptr(long(1025))}, "CSMS.0002"},
		{"two event subscriptions", model.CreateSecretRequestBody{Name: "n1", SecretString: ptr("v"), EventSubscriptions: &[]string{"a", "b"}}, "CSMS.0002"},
		{"name exists", model.CreateSecretRequestBody{Name: "taken", SecretString: ptr("v")}, "CSMS.0104"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.body
			_, err := c.CreateSecret(&model.CreateSecretRequest{Body: &body})
			wantErr(t, err, 400, tc.code)
		})
	}
	// Accepted edge values.
	ok := []model.CreateSecretRequestBody{
		{Name: "exactly-64k", SecretString: ptr(long(64 * 1024))},
		{Name: "p4h", SecretString: ptr("v"), RotationPeriod: ptr("4h")},
		{Name: "p8760h", SecretString: ptr("v"), RotationPeriod: ptr("365d")},
		{Name: "rds", SecretString: ptr("v"), SecretType: &rdsFG, RotationConfig: ptr(`{"InstanceId":"i1","SecretSubType":"MultiUser"}`)},
		{Name: "bin", SecretBinary: ptr("AAECAw==")},
		{Name: "kms", SecretString: ptr("v"), KmsKeyId: ptr("0d0466b0-e727-4d9c-b35d-f84bb474a37f")},
	}
	for _, b := range ok {
		_, err := c.CreateSecret(&model.CreateSecretRequest{Body: &b})
		if err != nil {
			t.Errorf("create %s: %v", b.Name, err)
		}
	}
	// Bodies the typed SDK cannot send.
	rawCases := []struct{ name, body, code string }{
		{"not JSON", `{"name":`, "CSMS.0004"},
		{"empty body", ``, "CSMS.0004"},
		{"wrong type", `{"name":"x1","secret_string":"v","auto_rotation":"yes"}`, "CSMS.0002"},
		{"missing name", `{"secret_string":"v"}`, "CSMS.0002"},
		{"RDS no longer supported", `{"name":"x2","secret_string":"v","secret_type":"RDS"}`, "CSMS.0002"},
		{"GaussDB-FG without config", `{"name":"x3","secret_string":"v","secret_type":"GaussDB-FG"}`, "CSMS.0002"},
	}
	for _, tc := range rawCases {
		r := raw(t, env, "POST", "/v1/{project_id}/secrets", tc.body, nil)
		if r.Status != 400 || r.Code != tc.code {
			t.Errorf("%s: got %d %s, want 400 %s", tc.name, r.Status, r.Code, tc.code)
		}
	}
	r := raw(t, env, "POST", "/v1/{project_id}/secrets", `{"name":"gauss","secret_string":"v","secret_type":"GaussDB-FG","rotation_config":"{\"InstanceId\":\"i\",\"SecretSubType\":\"SingleUser\"}"}`, nil)
	if r.Status != 200 {
		t.Errorf("GaussDB-FG with config: %d %v", r.Status, r.Body)
	}
}

func TestListPaging(t *testing.T) {
	_, c := startEnv(t)
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		createSecret(t, c, n, "v")
	}
	var names []string
	marker := (*string)(nil)
	for page := 0; page < 5; page++ {
		resp, err := c.ListSecrets(&model.ListSecretsRequest{Limit: ptr("2"), Marker: marker})
		mustOK(t, err)
		for _, s := range *resp.Secrets {
			names = append(names, *s.Name)
		}
		if resp.PageInfo.NextMarker == nil {
			break
		}
		marker = resp.PageInfo.NextMarker
	}
	if got := len(names); got != 5 || names[0] != "a" || names[4] != "e" {
		t.Fatalf("paged names %v", names)
	}
	_, err := c.ListSecrets(&model.ListSecretsRequest{Limit: ptr("0")})
	wantErr(t, err, 400, "CSMS.0002")
	_, err = c.ListSecrets(&model.ListSecretsRequest{Limit: ptr("1001")})
	wantErr(t, err, 400, "CSMS.0002")
}

func TestUpdateSecret(t *testing.T) {
	_, c := startEnv(t)
	createSecret(t, c, "u", "v")
	resp, err := c.UpdateSecret(&model.UpdateSecretRequest{SecretName: "u", Body: &model.UpdateSecretRequestBody{
		Description: ptr("new"), AutoRotation: ptr(true), RotationPeriod: ptr("1d"), RotationFuncUrn: ptr("urn:fss:f"),
		KmsKeyId: ptr("0d0466b0-e727-4d9c-b35d-f84bb474a37f"), EventSubscriptions: &[]string{"ev"}}})
	mustOK(t, err)
	s := resp.Secret
	if *s.Description != "new" || !*s.AutoRotation || *s.RotationPeriod != "1d" || *s.NextRotationTime <= *s.CreateTime ||
		*s.KmsKeyId != "0d0466b0-e727-4d9c-b35d-f84bb474a37f" || (*s.EventSubscriptions)[0] != "ev" {
		t.Fatalf("updated %+v", s)
	}
	// A new KMS key applies to new versions only.
	if id := *showValue(t, c, "u", "v1").VersionMetadata.KmsKeyId; id == "0d0466b0-e727-4d9c-b35d-f84bb474a37f" {
		t.Fatalf("v1 kms changed to %s", id)
	}
	for name, body := range map[string]model.UpdateSecretRequestBody{
		"period too short": {RotationPeriod: ptr("1h")},
		"bad kms":          {KmsKeyId: ptr("nope")},
		"two events":       {EventSubscriptions: &[]string{"a", "b"}},
	} {
		b := body
		_, err := c.UpdateSecret(&model.UpdateSecretRequest{SecretName: "u", Body: &b})
		if s, code := apiErr(t, err); s != 400 || code != "CSMS.0002" {
			t.Errorf("%s: %d %s", name, s, code)
		}
	}
	_, err = c.UpdateSecret(&model.UpdateSecretRequest{SecretName: "missing", Body: &model.UpdateSecretRequestBody{Description: ptr("x")}})
	wantErr(t, err, 404, "CSMS.0106")
	resp, err = c.UpdateSecret(&model.UpdateSecretRequest{SecretName: "u", Body: &model.UpdateSecretRequestBody{AutoRotation: ptr(false)}})
	mustOK(t, err)
	if *resp.Secret.AutoRotation || *resp.Secret.NextRotationTime != 0 {
		t.Fatalf("rotation off: %+v", resp.Secret)
	}
}

// TestRegionEnvOverride points an unchanged, region-based SDK client at the emulator
// with HUAWEICLOUD_SDK_REGION_CSMS_<REGION>, as docs/emulator.md describes.
func TestRegionEnvOverride(t *testing.T) {
	env, _ := startEnv(t)
	// The SDK caches env lookups per process, so each run uses a fresh region id
	// (the docs' example is HUAWEICLOUD_SDK_REGION_CSMS_CN_NORTH_4).
	regionID := fmt.Sprintf("emu-test-%d", time.Now().UnixNano())
	t.Setenv("HUAWEICLOUD_SDK_REGION_CSMS_"+strings.ToUpper(strings.ReplaceAll(regionID, "-", "_")), env.URL)
	reg, err := csmsregion.SafeValueOf(regionID)
	mustOK(t, err)
	cred, err := basic.NewCredentialsBuilder().WithAk(env.AK).WithSk(env.SK).WithProjectId(env.ProjectID).SafeBuild()
	mustOK(t, err)
	hc, err := csms.CsmsClientBuilder().WithRegion(reg).WithCredential(cred).SafeBuild()
	mustOK(t, err)
	c := csms.NewCsmsClient(hc)
	createSecret(t, c, "via-env", "v")
}
