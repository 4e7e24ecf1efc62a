package emulator_test

import (
	"encoding/base64"
	"regexp"
	"testing"

	"github.com/csms-operator/csms-operator/internal/emulator"
)

var fuzzNameRe = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// FuzzDecodeCreate checks that CreateSecret body decoding never panics and that any
// body it accepts satisfies the documented rules. The seeds run in every go test.
func FuzzDecodeCreate(f *testing.F) {
	for _, seed := range []string{
		`{"name":"demo","secret_string":"v"}`,
		`{"name":"demo","secret_binary":"AAEC"}`,
		`{"name":"demo","kms_key_id":"0d0466b0-e727-4d9c-b35d-f84bb474a37f","secret_string":"this is a demo secret string"}`,
		`{"name":"rds","secret_string":"v","secret_type":"RDS-FG","rotation_config":"{\"InstanceId\":\"i\",\"SecretSubType\":\"SingleUser\"}"}`,
		`{"name":"auto","secret_string":"v","auto_rotation":true,"rotation_period":"4h","rotation_func_urn":"urn:fss:x"}`,
		`{"name":"a","secret_string":"v","event_subscriptions":["e1","e2"]}`,
		`{"name":"a","secret_string":"v","secret_binary":"AA=="}`,
		`{"name":"a.b","secret_string":"v"}`,
		`{"name":1}`,
		`{"name":"a","secret_string":"v","rotation_period":"99999999999d"}`,
		`[]`, `null`, ``, `{`, `{"name":"\u0000"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := emulator.DecodeCreate(body)
		if err != nil {
			return
		}
		if req.Name == nil || !fuzzNameRe.MatchString(*req.Name) {
			t.Fatalf("accepted a bad name: %q", body)
		}
		if (req.SecretString == nil) == (req.SecretBinary == nil) {
			t.Fatalf("accepted without exactly one value: %q", body)
		}
		if req.SecretString != nil && len(*req.SecretString) > emulator.MaxValueBytes {
			t.Fatalf("accepted an oversized value")
		}
		if req.SecretBinary != nil {
			if _, err := base64.StdEncoding.DecodeString(*req.SecretBinary); err != nil {
				t.Fatalf("accepted bad base64")
			}
		}
		if req.EventSubscriptions != nil && len(*req.EventSubscriptions) > 1 {
			t.Fatalf("accepted two subscriptions")
		}
		if req.AutoRotation != nil && *req.AutoRotation && req.RotationPeriod == nil {
			t.Fatalf("accepted auto rotation without a period")
		}
	})
}
