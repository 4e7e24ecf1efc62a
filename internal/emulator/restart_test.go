package emulator_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1/model"

	"github.com/csms-operator/csms-operator/internal/emulator"
	"github.com/csms-operator/csms-operator/internal/emulator/emulatortest"
)

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuf) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// TestRestartKeepsStateAndSchedules closes the server and opens the same data dir:
// secrets, versions, tags and a pending deletion (purged on time) survive.
func TestRestartKeepsStateAndSchedules(t *testing.T) {
	dir := t.TempDir()
	env := emulatortest.Start(t, emulatortest.Options{DataDir: dir})
	c := env.Client(t)
	s := createSecret(t, c, "keep", "v1")
	_, err := c.CreateSecretVersion(&model.CreateSecretVersionRequest{SecretName: "keep", Body: &model.CreateSecretVersionRequestBody{SecretString: ptr("v2")}})
	mustOK(t, err)
	_, err = c.CreateSecretTag(&model.CreateSecretTagRequest{SecretId: *s.Id, Body: &model.CreateSecretTagRequestBody{Tag: &model.TagItem{Key: "k", Value: ptr("v")}}})
	mustOK(t, err)
	createSecret(t, c, "doomed", "x")
	_, err = c.DeleteSecretForSchedule(&model.DeleteSecretForScheduleRequest{SecretName: "doomed", Body: &model.DeleteSecretForScheduleRequestBody{RecoveryWindowInDays: 7}})
	mustOK(t, err)
	mustOK(t, env.Server.Close())

	env2 := emulatortest.Start(t, emulatortest.Options{DataDir: dir})
	c2 := env2.Client(t)
	if v := showValue(t, c2, "keep", "latest"); *v.SecretString != "v2" {
		t.Fatalf("latest after restart %q", *v.SecretString)
	}
	lt, err := c2.ListSecretTags(&model.ListSecretTagsRequest{SecretId: *s.Id})
	mustOK(t, err)
	if len(*lt.Tags) != 1 {
		t.Fatalf("tags after restart %v", *lt.Tags)
	}
	env2.Server.SetClockOffset(8 * 24 * time.Hour)
	// The sweeper purges without a request on that secret.
	deadline := time.Now().Add(30 * time.Second)
	for {
		l, err := c2.ListSecrets(&model.ListSecretsRequest{})
		mustOK(t, err)
		if len(*l.Secrets) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("doomed not purged")
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, err = c2.ShowSecret(&model.ShowSecretRequest{SecretName: "doomed"})
	wantErr(t, err, 404, "CSMS.0106")
}

func TestSecretQuota(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 500 secrets")
	}
	_, c := startEnv(t)
	for i := 0; i < 500; i++ {
		createSecret(t, c, fmt.Sprintf("q%03d", i), "v")
	}
	_, err := c.CreateSecret(&model.CreateSecretRequest{Body: &model.CreateSecretRequestBody{Name: "one-too-many", SecretString: ptr("v")}})
	wantErr(t, err, 400, "CSMS.0002")
}

func TestValuesNeverLogged(t *testing.T) {
	var logs lockedBuf
	env := emulatortest.Start(t, emulatortest.Options{Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	c := env.Client(t)
	canary := "CANARY-log-" + fmt.Sprint(time.Now().UnixNano())
	createSecret(t, c, "logged", canary)
	showValue(t, c, "logged", "latest")
	_, err := c.CreateSecretVersion(&model.CreateSecretVersionRequest{SecretName: "logged", Body: &model.CreateSecretVersionRequestBody{SecretString: ptr(canary + "2")}})
	mustOK(t, err)
	// Error paths with the value in the body.
	_, err = c.CreateSecret(&model.CreateSecretRequest{Body: &model.CreateSecretRequestBody{Name: "bad.name", SecretString: &canary}})
	wantErr(t, err, 400, "CSMS.0002")
	r := raw(t, env, "POST", "/v1/{project_id}/secrets", `{"name":"x","secret_string":"`+canary+`","auto_rotation":"`+canary+`"}`, nil)
	if r.Status != 400 || strings.Contains(fmt.Sprint(r.Body), canary) {
		t.Fatalf("error body echoes the value: %v", r.Body)
	}
	if strings.Contains(logs.String(), canary) {
		t.Fatalf("canary value in the logs")
	}
	if !strings.Contains(logs.String(), `"op":"ShowSecretVersion"`) {
		t.Fatalf("requests not logged: %s", logs.String())
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		in, region string
		ok         bool
		projects   map[string]string
		token      string
	}{
		{in: "ak:sk:0123456789abcdef0123456789abcdef", ok: true, projects: map[string]string{"cn-north-4": "0123456789abcdef0123456789abcdef"}},
		{in: "ak:sk:cn-north-4=aaaa,ap-southeast-3=bbbb", ok: true, projects: map[string]string{"cn-north-4": "aaaa", "ap-southeast-3": "bbbb"}},
		{in: "ak:sk:pid:tok:with:colons", ok: true, projects: map[string]string{"cn-north-4": "pid"}, token: "tok:with:colons"},
		{in: "ak:sk"},
		{in: "ak::pid"},
		{in: "ak:sk:=pid"},
		{in: "ak:sk:r=bad/pid"},
	} {
		c, err := emulator.ParseCredential(tc.in, "cn-north-4")
		if (err == nil) != tc.ok {
			t.Errorf("%q: err %v", tc.in, err)
			continue
		}
		if tc.ok && (fmt.Sprint(c.Projects) != fmt.Sprint(tc.projects) || c.SecurityToken != tc.token) {
			t.Errorf("%q: got %v %q", tc.in, c.Projects, c.SecurityToken)
		}
	}
	if _, err := emulator.ParseRegionListener("ap-southeast-3"); err == nil {
		t.Errorf("region without address accepted")
	}
	_, err := emulator.New(emulator.Config{DataDir: t.TempDir(), AdminListen: "0.0.0.0:0"})
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("non-loopback admin listener: %v", err)
	}
}
