package emulator_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/signer"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/request"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"
	csms "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1/model"

	"github.com/csms-operator/csms-operator/internal/emulator/emulatortest"
)

func ptr[T any](v T) *T { return &v }

func startEnv(t *testing.T) (*emulatortest.Env, *csms.CsmsClient) {
	t.Helper()
	env := emulatortest.Start(t, emulatortest.Options{})
	return env, env.Client(t)
}

// apiErr unpacks an SDK error into status and error code.
func apiErr(t *testing.T, err error) (int, string) {
	t.Helper()
	if err == nil {
		t.Fatalf("expected an error, got success")
	}
	var se *sdkerr.ServiceResponseError
	if !errors.As(err, &se) {
		t.Fatalf("expected *sdkerr.ServiceResponseError, got %T: %v", err, err)
	}
	if len(se.RequestId) != 32 {
		t.Errorf("error without a 32-hex X-Request-Id: %q", se.RequestId)
	}
	return se.StatusCode, se.ErrorCode
}

func wantErr(t *testing.T, err error, status int, code string) {
	t.Helper()
	gs, gc := apiErr(t, err)
	if gs != status || gc != code {
		t.Fatalf("got %d %s, want %d %s (err: %v)", gs, gc, status, code, err)
	}
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func createSecret(t *testing.T, c *csms.CsmsClient, name, value string) *model.Secret {
	t.Helper()
	resp, err := c.CreateSecret(&model.CreateSecretRequest{Body: &model.CreateSecretRequestBody{Name: name, SecretString: &value}})
	mustOK(t, err)
	return resp.Secret
}

func showValue(t *testing.T, c *csms.CsmsClient, name, version string) *model.Version {
	t.Helper()
	resp, err := c.ShowSecretVersion(&model.ShowSecretVersionRequest{SecretName: name, VersionId: version})
	mustOK(t, err)
	return resp.Version
}

// rawResp is a signed request's outcome, for bodies the typed SDK cannot send.
type rawResp struct {
	Status int
	Code   string
	Body   map[string]any
	Header http.Header
}

// raw sends a request signed by the SDK's own signer with a literal body; tamper may
// change the signed request before it is sent.
func raw(t *testing.T, env *emulatortest.Env, method, path, body string, tamper func(*http.Request)) rawResp {
	t.Helper()
	return rawAs(t, env.URL, env.AK, env.SK, env.ProjectID, method, path, body, tamper)
}

func rawAs(t *testing.T, endpoint, ak, sk, project, method, path, body string, tamper func(*http.Request)) rawResp {
	t.Helper()
	return rawWith(t, endpoint, ak, sk, project, method, path, body, nil, tamper)
}

// rawWith also sets headers before signing (e.g. an old X-Sdk-Date, which the signer
// then uses, or X-Security-Token).
func rawWith(t *testing.T, endpoint, ak, sk, project, method, path, body string, pre map[string]string, tamper func(*http.Request)) rawResp {
	t.Helper()
	path, query, _ := strings.Cut(path, "?")
	b := request.NewHttpRequestBuilder().WithEndpoint(endpoint).WithMethod(method).
		WithPath(strings.ReplaceAll(path, "{project_id}", project)).
		AddHeaderParam("Content-Type", "application/json;charset=UTF-8").
		AddHeaderParam("X-Project-Id", project)
	if query != "" {
		q, err := url.ParseQuery(query)
		if err != nil {
			t.Fatalf("query: %v", err)
		}
		for k := range q {
			b = b.AddQueryParam(k, reflect.ValueOf(q.Get(k)))
		}
	}
	for k, v := range pre {
		b = b.AddHeaderParam(k, v)
	}
	if body != "" {
		b = b.WithBody("", body)
	}
	req := b.Build()
	hdrs, err := signer.Sign(req, ak, sk)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	for k, v := range hdrs {
		req.AddHeaderParam(k, v)
	}
	hreq, err := req.ConvertRequest()
	if err != nil {
		t.Fatalf("convert: %v", err)
	}
	if tamper != nil {
		tamper(hreq)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(hreq)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer func() {
		if err := resp.Body.Close(); err != nil {
			t.Errorf("close response body: %v", err)
		}
	}()
	data, _ := io.ReadAll(resp.Body)
	out := rawResp{Status: resp.StatusCode, Header: resp.Header}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &out.Body); err != nil {
			t.Fatalf("response is not JSON: %q", data)
		}
		if c, ok := out.Body["error_code"].(string); ok {
			out.Code = c
		}
	}
	return out
}
