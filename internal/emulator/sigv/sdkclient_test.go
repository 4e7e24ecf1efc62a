package sigv

import (
	"errors"
	"net/http"
	"testing"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"
	csms "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1/model"
)

// newCsmsClient builds the official CSMS client pointed at the test server,
// exactly as the operator and the emulator's users do.
func newCsmsClient(t *testing.T, endpoint, ak, sk, token string) *csms.CsmsClient {
	t.Helper()
	b := basic.NewCredentialsBuilder().WithAk(ak).WithSk(sk).WithProjectId(testProject)
	if token != "" {
		b = b.WithSecurityToken(token)
	}
	cred, err := b.SafeBuild()
	if err != nil {
		t.Fatalf("credentials: %v", err)
	}
	hc, err := csms.CsmsClientBuilder().WithEndpoints([]string{endpoint}).WithCredential(cred).SafeBuild()
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	return csms.NewCsmsClient(hc)
}

func TestVerifyAcceptsOfficialCsmsClient(t *testing.T) {
	s := newVerifyServer(t)
	str := func(v string) *string { return &v }
	for _, creds := range []struct{ name, ak, sk, token string }{
		{"permanent", testAK, testSK, ""},
		{"temporary", tempAK, tempSK, tempToken},
	} {
		t.Run(creds.name, func(t *testing.T) {
			c := newCsmsClient(t, s.URL, creds.ak, creds.sk, creds.token)
			calls := map[string]func() error{
				"CreateSecret (POST, JSON body)": func() error {
					_, err := c.CreateSecret(&model.CreateSecretRequest{Body: &model.CreateSecretRequestBody{
						Name: "db-password", SecretString: str(`{"user":"a b","pass":"p&ss=1+2"}`), KmsKeyId: str("csms/default"),
					}})
					return err
				},
				"ListSecrets (GET, query with spaces and specials)": func() error {
					_, err := c.ListSecrets(&model.ListSecretsRequest{Limit: str("10"), Marker: str("a b+c&d=e/é%")})
					return err
				},
				"ShowSecret (path with specials)": func() error {
					_, err := c.ShowSecret(&model.ShowSecretRequest{SecretName: "my secret:ü@!$&'()*+,;=~._-%41"})
					return err
				},
				"DeleteSecretStage (DELETE)": func() error {
					_, err := c.DeleteSecretStage(&model.DeleteSecretStageRequest{SecretName: "db-password", StageName: "SYS CUSTOM"})
					return err
				},
			}
			for name, call := range calls {
				if err := call(); err != nil {
					t.Errorf("%s: client error: %v", name, err)
				}
				res := s.next(t)
				if res.err != nil || res.ak != creds.ak {
					t.Errorf("%s: Verify: ak=%q err=%v", name, res.ak, res.err)
				}
			}
		})
	}
}

func TestVerifyRefusesOfficialClientWithWrongCredentials(t *testing.T) {
	s := newVerifyServer(t)
	for _, tc := range []struct {
		name, ak, sk, token string
		want                error
	}{
		{"wrong SK", testAK, "not-the-secret", "", ErrSignatureMismatch},
		{"unknown AK", "NOSUCHACCESSKEY00000", testSK, "", ErrUnknownAccessKey},
		{"temporary key without token", tempAK, tempSK, "", ErrBadSecurityToken},
		{"temporary key with wrong token", tempAK, tempSK, "other-token", ErrBadSecurityToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCsmsClient(t, s.URL, tc.ak, tc.sk, tc.token)
			_, err := c.ListSecrets(&model.ListSecretsRequest{})
			var sre *sdkerr.ServiceResponseError
			if !errors.As(err, &sre) || sre.StatusCode != http.StatusUnauthorized {
				t.Fatalf("client error = %v, want a 401 ServiceResponseError", err)
			}
			if res := s.next(t); !errors.Is(res.err, tc.want) {
				t.Fatalf("Verify err = %v, want %v", res.err, tc.want)
			}
		})
	}
}
