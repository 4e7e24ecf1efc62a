package emulator_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/config"
	csms "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1/model"

	"github.com/csms-operator/csms-operator/internal/emulator"
	"github.com/csms-operator/csms-operator/internal/emulator/emulatortest"
)

func TestSignatureTampering(t *testing.T) {
	env, c := startEnv(t)
	createSecret(t, c, "a", "v")
	createSecret(t, c, "b", "v")
	setBody := func(r *http.Request, s string) {
		r.Body = io.NopCloser(strings.NewReader(s))
		r.ContentLength = int64(len(s))
	}
	cases := []struct {
		name               string
		method, path, body string
		ak, sk             string
		pre                map[string]string
		tamper             func(*http.Request)
		wantStatus         int
		wantCode           string
	}{
		{name: "untouched", method: "GET", path: "/v1/{project_id}/secrets/a", wantStatus: 200},
		{name: "method", method: "GET", path: "/v1/{project_id}/secrets/a", tamper: func(r *http.Request) { r.Method = "DELETE" }, wantStatus: 401, wantCode: "APIGW.0301"},
		{name: "path", method: "GET", path: "/v1/{project_id}/secrets/a", tamper: func(r *http.Request) { r.URL.Path = strings.Replace(r.URL.Path, "/a", "/b", 1) }, wantStatus: 401, wantCode: "APIGW.0301"},
		{name: "query", method: "GET", path: "/v1/{project_id}/secrets?limit=1", tamper: func(r *http.Request) { r.URL.RawQuery = "limit=2" }, wantStatus: 401, wantCode: "APIGW.0301"},
		{name: "body", method: "POST", path: "/v1/{project_id}/secrets", body: `{"name":"c","secret_string":"v"}`, tamper: func(r *http.Request) { setBody(r, `{"name":"d","secret_string":"v"}`) }, wantStatus: 401, wantCode: "APIGW.0301"},
		{name: "signed header", method: "GET", path: "/v1/{project_id}/secrets/a", tamper: func(r *http.Request) { r.Header.Set("X-Project-Id", "ffffffffffffffffffffffffffffffff") }, wantStatus: 401, wantCode: "APIGW.0301"},
		{name: "date", method: "GET", path: "/v1/{project_id}/secrets/a", tamper: func(r *http.Request) {
			r.Header.Set("X-Sdk-Date", time.Now().UTC().Add(time.Minute).Format("20060102T150405Z"))
		}, wantStatus: 401, wantCode: "APIGW.0301"},
		{name: "no authorization", method: "GET", path: "/v1/{project_id}/secrets/a", tamper: func(r *http.Request) { r.Header.Del("Authorization") }, wantStatus: 401, wantCode: "APIGW.0301"},
		{name: "wrong secret key", method: "GET", path: "/v1/{project_id}/secrets/a", sk: "wrong-sk", wantStatus: 401, wantCode: "APIGW.0301"},
		{name: "unknown access key", method: "GET", path: "/v1/{project_id}/secrets/a", ak: "nobody", wantStatus: 401, wantCode: "APIGW.0301"},
		{name: "date 16 minutes old", method: "GET", path: "/v1/{project_id}/secrets/a",
			pre: map[string]string{"X-Sdk-Date": time.Now().UTC().Add(-16 * time.Minute).Format("20060102T150405Z")}, wantStatus: 401, wantCode: "APIGW.0301"},
		{name: "date 16 minutes ahead", method: "GET", path: "/v1/{project_id}/secrets/a",
			pre: map[string]string{"X-Sdk-Date": time.Now().UTC().Add(16 * time.Minute).Format("20060102T150405Z")}, wantStatus: 401, wantCode: "APIGW.0301"},
		{name: "date 14 minutes old", method: "GET", path: "/v1/{project_id}/secrets/a",
			pre: map[string]string{"X-Sdk-Date": time.Now().UTC().Add(-14 * time.Minute).Format("20060102T150405Z")}, wantStatus: 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ak, sk := env.AK, env.SK
			if tc.ak != "" {
				ak = tc.ak
			}
			if tc.sk != "" {
				sk = tc.sk
			}
			r := rawWith(t, env.URL, ak, sk, env.ProjectID, tc.method, tc.path, tc.body, tc.pre, tc.tamper)
			if r.Status != tc.wantStatus || r.Code != tc.wantCode {
				t.Fatalf("got %d %s (%v), want %d %s", r.Status, r.Code, r.Body, tc.wantStatus, tc.wantCode)
			}
			if len(r.Header.Get("X-Request-Id")) != 32 {
				t.Fatalf("X-Request-Id %q", r.Header.Get("X-Request-Id"))
			}
			if msg, _ := r.Body["error_msg"].(string); tc.wantStatus == 401 && (!strings.HasPrefix(msg, "Incorrect IAM authentication information") || strings.Contains(msg, sk)) {
				t.Fatalf("401 message %q", msg)
			}
		})
	}
	// The clock offset moves emulator time but not the signature window.
	env.Server.SetClockOffset(48 * time.Hour)
	_, err := c.ShowSecret(&model.ShowSecretRequest{SecretName: "a"})
	mustOK(t, err)
}

func TestProjectScopeAndTemporaryCredentials(t *testing.T) {
	const other = "99999999999999999999999999999999"
	srv, err := emulator.New(emulator.Config{DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Credentials: []emulator.Credential{
			{AK: "ak1", SK: "sk1", Projects: map[string]string{"cn-north-4": emulatortest.ProjectID}},
			{AK: "ak2", SK: "sk2", Projects: map[string]string{"cn-north-4": other}},
			{AK: "tmp", SK: "tmpsk", SecurityToken: "the-token", Projects: map[string]string{"cn-north-4": emulatortest.ProjectID}},
		}})
	mustOK(t, err)
	mustOK(t, srv.Start())
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close emulator: %v", err)
		}
	})
	url := "http://" + srv.Addr()
	client := func(ak, sk, project, token string) *csms.CsmsClient {
		b := basic.NewCredentialsBuilder().WithAk(ak).WithSk(sk).WithProjectId(project)
		if token != "" {
			b = b.WithSecurityToken(token)
		}
		cred, err := b.SafeBuild()
		mustOK(t, err)
		hc, err := csms.CsmsClientBuilder().WithEndpoints([]string{url}).WithCredential(cred).
			WithHttpConfig(config.DefaultHttpConfig()).SafeBuild()
		mustOK(t, err)
		return csms.NewCsmsClient(hc)
	}
	c1 := client("ak1", "sk1", emulatortest.ProjectID, "")
	createSecret(t, c1, "mine", "v")
	// ak2 may not use ak1's project.
	_, err = client("ak2", "sk2", emulatortest.ProjectID, "").ShowSecret(&model.ShowSecretRequest{SecretName: "mine"})
	wantErr(t, err, 403, "APIGW.0302")
	// Projects are isolated.
	_, err = client("ak2", "sk2", other, "").ShowSecret(&model.ShowSecretRequest{SecretName: "mine"})
	wantErr(t, err, 404, "CSMS.0106")
	// Temporary credentials need their token.
	_, err = client("tmp", "tmpsk", emulatortest.ProjectID, "the-token").ShowSecret(&model.ShowSecretRequest{SecretName: "mine"})
	mustOK(t, err)
	_, err = client("tmp", "tmpsk", emulatortest.ProjectID, "").ShowSecret(&model.ShowSecretRequest{SecretName: "mine"})
	wantErr(t, err, 401, "APIGW.0301")
	_, err = client("tmp", "tmpsk", emulatortest.ProjectID, "wrong").ShowSecret(&model.ShowSecretRequest{SecretName: "mine"})
	wantErr(t, err, 401, "APIGW.0301")
}

func TestRequestLimits(t *testing.T) {
	env, _ := startEnv(t)
	big := `{"name":"big","secret_string":"` + strings.Repeat("x", 1<<20) + `"}`
	r := raw(t, env, "POST", "/v1/{project_id}/secrets", big, nil)
	if r.Status != 413 || r.Code != "CSMS.0003" {
		t.Fatalf("large body: %d %s", r.Status, r.Code)
	}
	r = raw(t, env, "GET", "/v1/{project_id}/nothing/here", "", nil)
	if r.Status != 404 {
		t.Fatalf("unknown path: %d", r.Status)
	}
	_ = bytes.MinRead
}

func TestThrottling(t *testing.T) {
	env := emulatortest.Start(t, emulatortest.Options{QPS: 2})
	c := env.Client(t)
	var throttled int
	for i := 0; i < 10; i++ {
		_, err := c.ListSecrets(&model.ListSecretsRequest{})
		if err != nil {
			s, code := apiErr(t, err)
			if s != 429 || code != "APIGW.0308" {
				t.Fatalf("got %d %s", s, code)
			}
			throttled++
		}
	}
	if throttled == 0 || env.Count("ListSecrets", 429) != throttled {
		t.Fatalf("throttled %d, counted %d", throttled, env.Count("ListSecrets", 429))
	}
	r := raw(t, env, "GET", "/v1/{project_id}/secrets", "", nil)
	if r.Status == 429 && !strings.Contains(r.Body["error_msg"].(string), "limit:2,time:1 second") {
		t.Fatalf("429 message %v", r.Body)
	}
}
