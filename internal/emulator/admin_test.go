package emulator_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1/model"
)

func admin(t *testing.T, method, url, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	mustOK(t, err)
	resp, err := http.DefaultClient.Do(req)
	mustOK(t, err)
	defer func() {
		if err := resp.Body.Close(); err != nil {
			t.Errorf("close response body: %v", err)
		}
	}()
	if out != nil {
		mustOK(t, json.NewDecoder(resp.Body).Decode(out))
	}
	return resp.StatusCode
}

func TestAdminStatsFaultsClock(t *testing.T) {
	env, c := startEnv(t)
	if st := admin(t, "GET", env.AdminURL+"/healthz", "", nil); st != 200 {
		t.Fatalf("healthz %d", st)
	}
	createSecret(t, c, "one", "v")
	_, err := c.ShowSecret(&model.ShowSecretRequest{SecretName: "none"})
	wantErr(t, err, 404, "CSMS.0106")
	var stats map[string]map[string]int
	admin(t, "GET", env.AdminURL+"/admin/stats", "", &stats)
	if stats["CreateSecret"]["200"] != 1 || stats["ShowSecret"]["404"] != 1 {
		t.Fatalf("stats %v", stats)
	}
	admin(t, "POST", env.AdminURL+"/admin/stats/reset", "", nil)
	stats = nil
	admin(t, "GET", env.AdminURL+"/admin/stats", "", &stats)
	if len(stats) != 0 {
		t.Fatalf("stats after reset %v", stats)
	}

	// A status fault for the next call only.
	if st := admin(t, "POST", env.AdminURL+"/admin/faults", `{"operation":"CreateSecret","status":500,"error_code":"CSMS.0000","error_msg":"boom","count":1}`, nil); st != 200 {
		t.Fatalf("add fault %d", st)
	}
	_, err = c.CreateSecret(&model.CreateSecretRequest{Body: &model.CreateSecretRequestBody{Name: "f1", SecretString: ptr("v")}})
	wantErr(t, err, 500, "CSMS.0000")
	_, err = c.ShowSecret(&model.ShowSecretRequest{SecretName: "f1"})
	wantErr(t, err, 404, "CSMS.0106") // the faulted create did nothing
	createSecret(t, c, "f1", "v")     // count exhausted

	// after=true: the operation happens, the client still sees the error.
	admin(t, "POST", env.AdminURL+"/admin/faults", `{"operation":"CreateSecret","status":503,"error_code":"APIGW.0201","error_msg":"gone","count":1,"after":true}`, nil)
	_, err = c.CreateSecret(&model.CreateSecretRequest{Body: &model.CreateSecretRequestBody{Name: "f2", SecretString: ptr("v")}})
	wantErr(t, err, 503, "APIGW.0201")
	_, err = c.ShowSecret(&model.ShowSecretRequest{SecretName: "f2"})
	mustOK(t, err)

	// drop: the connection closes without an answer.
	// (A POST: Go's transport silently retries idempotent requests on a dropped reused
	// connection.)
	admin(t, "POST", env.AdminURL+"/admin/faults", `{"operation":"CreateSecret","drop":true,"count":1}`, nil)
	_, err = c.CreateSecret(&model.CreateSecretRequest{Body: &model.CreateSecretRequestBody{Name: "f3", SecretString: ptr("v")}})
	var se *sdkerr.ServiceResponseError
	if err == nil || errors.As(err, &se) {
		t.Fatalf("drop: want a transport error, got %v", err)
	}
	_, err = c.ShowSecret(&model.ShowSecretRequest{SecretName: "f3"})
	wantErr(t, err, 404, "CSMS.0106")
	// latency.
	admin(t, "POST", env.AdminURL+"/admin/faults", `{"operation":"ShowSecret","latency":"300ms","count":1}`, nil)
	start := time.Now()
	_, err = c.ShowSecret(&model.ShowSecretRequest{SecretName: "f2"})
	mustOK(t, err)
	if time.Since(start) < 300*time.Millisecond {
		t.Fatalf("latency not applied")
	}
	// probability 1 on every operation until cleared.
	admin(t, "POST", env.AdminURL+"/admin/faults", `{"operation":"*","status":502,"error_code":"APIGW.0202","error_msg":"x","probability":1}`, nil)
	for i := 0; i < 3; i++ {
		_, err = c.ListSecrets(&model.ListSecretsRequest{})
		wantErr(t, err, 502, "APIGW.0202")
	}
	admin(t, "DELETE", env.AdminURL+"/admin/faults", "", nil)
	_, err = c.ListSecrets(&model.ListSecretsRequest{})
	mustOK(t, err)
	if st := admin(t, "POST", env.AdminURL+"/admin/faults", `{"operation":"X","latency":"nope"}`, nil); st != 400 {
		t.Fatalf("bad fault accepted: %d", st)
	}
	if n := env.Count("CreateSecret", 500); n != 1 {
		t.Fatalf("faulted creates counted %d", n)
	}

	// Clock.
	var clock struct {
		Offset string `json:"offset"`
		Now    int64  `json:"now"`
	}
	admin(t, "POST", env.AdminURL+"/admin/clock", `{"offset":"720h"}`, &clock)
	if clock.Offset != "720h0m0s" || clock.Now < time.Now().Add(719*time.Hour).UnixMilli() {
		t.Fatalf("clock %+v", clock)
	}
	admin(t, "GET", env.AdminURL+"/admin/clock", "", &clock)
	if clock.Offset != "720h0m0s" {
		t.Fatalf("clock get %+v", clock)
	}
	s := createSecret(t, c, "later", "v")
	if *s.CreateTime < time.Now().Add(719*time.Hour).UnixMilli() {
		t.Fatalf("create_time ignores the clock offset")
	}
}

// TestAdminFaultRefusesCreateSecretVersion pins the admin call that simulates CSMS
// refusing a new version at the limit anyway: the next N CreateSecretVersion calls get
// 400 with the chosen code and message and create nothing; other operations and the
// call after the N-th are untouched.
func TestAdminFaultRefusesCreateSecretVersion(t *testing.T) {
	env, c := startEnv(t)
	createSecret(t, c, "s", "one")
	const msg = "Invalid parameter: the version limit of 20 is reached."
	body := `{"operation":"CreateSecretVersion","status":400,"error_code":"CSMS.0002","error_msg":"` + msg + `","count":2}`
	if st := admin(t, "POST", env.AdminURL+"/admin/faults", body, nil); st != 200 {
		t.Fatalf("add fault %d", st)
	}
	for i := 0; i < 2; i++ {
		_, err := c.CreateSecretVersion(&model.CreateSecretVersionRequest{SecretName: "s", Body: &model.CreateSecretVersionRequestBody{SecretString: ptr("two")}})
		wantErr(t, err, 400, "CSMS.0002")
		var se *sdkerr.ServiceResponseError
		if !errors.As(err, &se) || se.ErrorMessage != msg {
			t.Fatalf("refusal %d message: %v", i, err)
		}
		_, err = c.ShowSecret(&model.ShowSecretRequest{SecretName: "s"})
		mustOK(t, err)
	}
	if got := *showValue(t, c, "s", "latest").VersionMetadata.Id; got != "v1" {
		t.Fatalf("a refused call created %s", got)
	}
	v, err := c.CreateSecretVersion(&model.CreateSecretVersionRequest{SecretName: "s", Body: &model.CreateSecretVersionRequestBody{SecretString: ptr("two")}})
	mustOK(t, err)
	if *v.VersionMetadata.Id != "v2" {
		t.Fatalf("third call made %s", *v.VersionMetadata.Id)
	}
}
