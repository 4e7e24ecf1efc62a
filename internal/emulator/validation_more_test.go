package emulator_test

import (
	"strings"
	"testing"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1/model"
)

// TestMoreValidation covers rules with bodies the typed SDK cannot produce or that the
// other tables do not reach.
func TestMoreValidation(t *testing.T) {
	env, c := startEnv(t)
	createSecret(t, c, "s", "v")
	notif := `"notification":{"target_type":"SMN","target_id":"urn:smn:x","target_name":"t"}`
	thirteen := strings.TrimSuffix(strings.Repeat(`"SECRET_ROTATED",`, 13), ",")
	cases := []struct {
		name, method, path, body, code string
		status                         int
	}{
		{"event without state", "POST", "/v1/{project_id}/csms/events", `{"name":"e","event_types":["SECRET_ROTATED"],` + notif + `}`, "CSMS.0002", 400},
		{"event without notification", "POST", "/v1/{project_id}/csms/events", `{"name":"e","event_types":["SECRET_ROTATED"],"state":"ENABLED"}`, "CSMS.0002", 400},
		{"event unknown type", "POST", "/v1/{project_id}/csms/events", `{"name":"e","event_types":["SECRET_EATEN"],"state":"ENABLED",` + notif + `}`, "CSMS.0002", 400},
		{"event no types", "POST", "/v1/{project_id}/csms/events", `{"name":"e","event_types":[],"state":"ENABLED",` + notif + `}`, "CSMS.0002", 400},
		{"event 13 types", "POST", "/v1/{project_id}/csms/events", `{"name":"e","event_types":[` + thirteen + `],"state":"ENABLED",` + notif + `}`, "CSMS.0002", 400},
		{"event bad state", "POST", "/v1/{project_id}/csms/events", `{"name":"e","event_types":["SECRET_ROTATED"],"state":"ON",` + notif + `}`, "CSMS.0002", 400},
		{"event empty target", "POST", "/v1/{project_id}/csms/events", `{"name":"e","event_types":["SECRET_ROTATED"],"state":"ENABLED","notification":{"target_type":"SMN","target_id":"","target_name":"t"}}`, "CSMS.0002", 400},
		{"event not found", "GET", "/v1/{project_id}/csms/events/none", ``, "CSMS.0005", 404},
		{"events limit", "GET", "/v1/{project_id}/csms/events?limit=abc", ``, "CSMS.0002", 400},
		{"versions limit", "GET", "/v1/{project_id}/secrets/s/versions?limit=0", ``, "CSMS.0002", 400},
		{"stage name too long", "PUT", "/v1/{project_id}/secrets/s/stages/" + strings.Repeat("x", 65), `{"version_id":"v1"}`, "CSMS.0002", 400},
		{"stage without version", "PUT", "/v1/{project_id}/secrets/s/stages/X", `{}`, "CSMS.0002", 400},
		{"set SYSPREVIOUS", "PUT", "/v1/{project_id}/secrets/s/stages/SYSPREVIOUS", `{"version_id":"v1"}`, "CSMS.0002", 400},
		{"expiry missing", "PUT", "/v1/{project_id}/secrets/s/versions/v1", `{}`, "CSMS.0002", 400},
		{"tag without key", "POST", "/v1/{project_id}/csms/{id}/tags", `{"tag":{"value":"v"}}`, "CSMS.0002", 400},
		{"tag body missing", "POST", "/v1/{project_id}/csms/{id}/tags", `{}`, "CSMS.0002", 400},
		{"batch without tags", "POST", "/v1/{project_id}/csms/{id}/tags/action", `{"action":"create","tags":[]}`, "CSMS.0002", 400},
		{"instances bad action", "POST", "/v1/{project_id}/csms/resource_instances/action", `{"action":"list"}`, "CSMS.0002", 400},
		{"instances bad match key", "POST", "/v1/{project_id}/csms/resource_instances/action", `{"action":"filter","matches":[{"key":"id","value":"x"}]}`, "CSMS.0002", 400},
		{"instances offset", "POST", "/v1/{project_id}/csms/resource_instances/action", `{"action":"filter","offset":"-1"}`, "CSMS.0002", 400},
		{"blob missing", "POST", "/v1/{project_id}/secrets/restore", `{}`, "CSMS.0002", 400},
		{"blob not base64", "POST", "/v1/{project_id}/secrets/restore", `{"secret_blob":"@@@"}`, "CSMS.0002", 400},
		{"scheduled delete 0 days", "POST", "/v1/{project_id}/secrets/s/scheduled-deleted-tasks/create", `{"recovery_window_in_days":0}`, "CSMS.0002", 400},
		{"update not JSON", "PUT", "/v1/{project_id}/secrets/s", `nope`, "CSMS.0004", 400},
		{"wrong method", "PATCH", "/v1/{project_id}/secrets/s", `{}`, "APIGW.0101", 405},
	}
	id := *createSecret(t, c, "tagged", "v").Id
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := raw(t, env, tc.method, strings.ReplaceAll(tc.path, "{id}", id), tc.body, nil)
			if r.Status != tc.status || r.Code != tc.code {
				t.Fatalf("got %d %s (%v), want %d %s", r.Status, r.Code, r.Body, tc.status, tc.code)
			}
		})
	}

	// Turning rotation on needs a period and a function, from the request or the secret.
	_, err := c.UpdateSecret(&model.UpdateSecretRequest{SecretName: "s", Body: &model.UpdateSecretRequestBody{AutoRotation: ptr(true), RotationPeriod: ptr("1d")}})
	wantErr(t, err, 400, "CSMS.0002")
	_, err = c.UpdateSecret(&model.UpdateSecretRequest{SecretName: "s", Body: &model.UpdateSecretRequestBody{AutoRotation: ptr(true), RotationFuncUrn: ptr("urn:fss:f")}})
	wantErr(t, err, 400, "CSMS.0002")
	// A version holds at most 12 stages.
	for i := 0; i < 11; i++ {
		_, err := c.UpdateSecretStage(&model.UpdateSecretStageRequest{SecretName: "s", StageName: "st" + string(rune('a'+i)), Body: &model.UpdateSecretStageRequestBody{VersionId: "v1"}})
		mustOK(t, err)
	}
	_, err = c.UpdateSecretStage(&model.UpdateSecretStageRequest{SecretName: "s", StageName: "one-more", Body: &model.UpdateSecretStageRequestBody{VersionId: "v1"}})
	wantErr(t, err, 400, "CSMS.0002")
	// Empty scheduled-deletion body means the default window of 30 days.
	r := raw(t, env, "POST", "/v1/{project_id}/secrets/tagged/scheduled-deleted-tasks/create", ``, nil)
	if r.Status != 200 {
		t.Fatalf("empty body: %d %v", r.Status, r.Body)
	}
	sec := r.Body["secret"].(map[string]any)
	if d := sec["scheduled_delete_time"].(float64) - sec["update_time"].(float64); d != 30*24*3600*1000 {
		t.Fatalf("default window %v ms", d)
	}
}

// TestResourceInstancesNumericPaging: limit and offset are accepted as JSON numbers (what
// the Terraform provider sends) and as numeric strings (what the SDK sends), with the
// same result; other values keep their refusal.
func TestResourceInstancesNumericPaging(t *testing.T) {
	env, c := startEnv(t)
	for _, name := range []string{"p1", "p2", "p3", "p4"} {
		createSecret(t, c, name, "v")
	}
	const path = "/v1/{project_id}/csms/resource_instances/action"
	names := func(r rawResp) []string {
		t.Helper()
		if r.Status != 200 {
			t.Fatalf("filter: %d %v", r.Status, r.Body)
		}
		if tc := r.Body["total_count"].(float64); tc != 4 {
			t.Fatalf("total_count %v", tc)
		}
		var out []string
		for _, res := range r.Body["resources"].([]any) {
			out = append(out, res.(map[string]any)["resource_name"].(string))
		}
		return out
	}
	all := names(raw(t, env, "POST", path, `{"action":"filter"}`, nil))
	if len(all) != 4 {
		t.Fatalf("unpaged filter: %v", all)
	}
	num := names(raw(t, env, "POST", path, `{"action":"filter","limit":2,"offset":1}`, nil))
	str := names(raw(t, env, "POST", path, `{"action":"filter","limit":"2","offset":"1"}`, nil))
	if len(num) != 2 || num[0] != all[1] || num[1] != all[2] || strings.Join(num, ",") != strings.Join(str, ",") {
		t.Fatalf("numbers %v, strings %v, all %v", num, str, all)
	}
	if got := names(raw(t, env, "POST", path, `{"action":"filter","limit":1000,"offset":3}`, nil)); len(got) != 1 || got[0] != all[3] {
		t.Fatalf("limit 1000 offset 3: %v", got)
	}
	if r := raw(t, env, "POST", path, `{"action":"count","limit":5,"offset":0}`, nil); r.Status != 200 || r.Body["total_count"].(float64) != 4 {
		t.Fatalf("count with numbers: %d %v", r.Status, r.Body)
	}
	for _, tc := range []struct{ body, field string }{
		{`"limit":0`, "limit"}, {`"limit":1001`, "limit"}, {`"limit":1.5`, "limit"}, {`"limit":1e2`, "limit"},
		{`"limit":-3`, "limit"}, {`"limit":99999999999999999999`, "limit"}, {`"limit":"abc"`, "limit"},
		{`"limit":"0"`, "limit"}, {`"limit":true`, "limit"}, {`"limit":[1]`, "limit"},
		{`"offset":-1`, "offset"}, {`"offset":"-1"`, "offset"}, {`"offset":0.5`, "offset"}, {`"offset":"x"`, "offset"},
		{`"offset":{}`, "offset"},
	} {
		r := raw(t, env, "POST", path, `{"action":"filter",`+tc.body+`}`, nil)
		msg, _ := r.Body["error_msg"].(string)
		if r.Status != 400 || r.Code != "CSMS.0002" || !strings.Contains(msg, "Invalid parameter "+tc.field) {
			t.Errorf("%s: %d %s %q", tc.body, r.Status, r.Code, msg)
		}
	}
}
