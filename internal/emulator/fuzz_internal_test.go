package emulator

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzHandlers feeds arbitrary bodies and path parameters to every route's handler (the
// layer behind authentication): no panic, every error is a documented 4xx/5xx with a
// code, and every success marshals to JSON. The seeds run in every go test.
func FuzzHandlers(f *testing.F) {
	seeds := []struct {
		op    string
		param string
		query string
		body  string
	}{
		{"CreateSecret", "", "", `{"name":"a","secret_string":"v"}`},
		{"CreateSecret", "", "", `{"name":"b","secret_binary":"AA=="}`},
		{"ListSecrets", "", "limit=2&marker=a", ``},
		{"ShowSecret", "a", "", ``},
		{"UpdateSecret", "a", "", `{"description":"d","auto_rotation":true,"rotation_period":"4h","rotation_func_urn":"u"}`},
		{"DeleteSecretForSchedule", "a", "", `{"recovery_window_in_days":7}`},
		{"RestoreSecret", "a", "", ``},
		{"RotateSecret", "a", "", ``},
		{"DownloadSecretBlob", "a", "", ``},
		{"CreateSecretReplica", "a", "", `{"region":"r","project_id":"0123456789abcdef0123456789abcdef"}`},
		{"CreateSecretVersion", "a", "", `{"secret_string":"x","version_stages":["S"],"expire_time":99999999999999}`},
		{"ShowSecretVersion", "a", "", ``},
		{"UpdateVersion", "a", "", `{"expire_time":1}`},
		{"UpdateSecretStage", "a", "", `{"version_id":"v1"}`},
		{"ListResourceInstances", "", "", `{"action":"filter","tags":[{"key":"k","values":["v"]}],"matches":[{"key":"resource_name","value":"a"}]}`},
		{"ListResourceInstances", "", "", `{"action":"filter","limit":5,"offset":"1"}`},
		{"CreateSecretEvent", "", "", `{"name":"e","event_types":["SECRET_ROTATED"],"state":"ENABLED","notification":{"target_type":"t","target_id":"i","target_name":"n"}}`},
		{"BatchCreateOrDeleteTags", "x", "", `{"tags":[{"key":"k","value":"v"}],"action":"create"}`},
		{"UploadSecretBlob", "", "", `{"secret_blob":"AAAA"}`},
		{"DeleteSecret", "a", "", `null`},
		{"CreateSecretVersion", "a", "", `[1,2]`},
	}
	index := map[string]int{}
	for i, rt := range routes {
		index[rt.op] = i
	}
	for _, s := range seeds {
		i, ok := index[s.op]
		if !ok {
			f.Fatalf("no route %s", s.op)
		}
		f.Add(i, s.param, s.query, []byte(s.body))
	}
	srv, err := New(Config{DataDir: f.TempDir(), AdminListen: "-", SweepInterval: time.Hour,
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Credentials: []Credential{{AK: "ak", SK: "sk", Projects: map[string]string{"cn-north-4": "p"}}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		if err := srv.Close(); err != nil {
			f.Errorf("close emulator: %v", err)
		}
	})
	cred := srv.creds["ak"]
	f.Fuzz(func(t *testing.T, routeIdx int, param, query string, body []byte) {
		if routeIdx < 0 {
			routeIdx = -routeIdx
		}
		rt := routes[routeIdx%len(routes)]
		params := map[string]string{}
		for _, seg := range rt.segs {
			if strings.HasPrefix(seg, "{") {
				params[strings.Trim(seg, "{}")] = param
			}
		}
		if id, ok := params["secret_id"]; ok && id == "x" {
			// Reach tag handlers with a real id when the fuzzer asks for "x".
			if rec, _ := srv.store.getSecret(scopeKey("cn-north-4", "p", "a")); rec != nil {
				params["secret_id"] = rec.ID
			}
		}
		q, _ := url.ParseQuery(query)
		c := &reqCtx{r: httptest.NewRequest(rt.method, "/", nil), body: body, region: "cn-north-4", project: "p",
			cred: cred, params: params, query: q}
		resp, aerr := rt.h(srv, c)
		if aerr != nil {
			if aerr.Status < 400 || aerr.Status > 599 || aerr.Code == "" || aerr.Msg == "" {
				t.Fatalf("%s: bad error %+v", rt.op, aerr)
			}
			if aerr.Status == 500 {
				t.Fatalf("%s: internal error for body %q", rt.op, body)
			}
			return
		}
		if resp != nil {
			if _, err := json.Marshal(resp); err != nil {
				t.Fatalf("%s: response does not marshal: %v", rt.op, err)
			}
		}
	})
}
