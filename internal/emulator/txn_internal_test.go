package emulator

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	csms "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1/model"
)

// TestPurgeSettledByCreate moves the clock without sweeping, so CreateSecret itself
// purges the expired pending secret and re-creates the name in one transaction: the
// old id must leave the id index (tag paths resolve ids).
func TestPurgeSettledByCreate(t *testing.T) {
	const pid = "0123456789abcdef0123456789abcdef"
	srv, err := New(Config{DataDir: t.TempDir(), SweepInterval: time.Hour, AdminListen: "-",
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Credentials: []Credential{{AK: "ak", SK: "sk", Projects: map[string]string{"cn-north-4": pid}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close emulator: %v", err)
		}
	})
	cred, err := basic.NewCredentialsBuilder().WithAk("ak").WithSk("sk").WithProjectId(pid).SafeBuild()
	if err != nil {
		t.Fatal(err)
	}
	hc, err := csms.CsmsClientBuilder().WithEndpoints([]string{"http://" + srv.Addr()}).WithCredential(cred).SafeBuild()
	if err != nil {
		t.Fatal(err)
	}
	c := csms.NewCsmsClient(hc)
	v := "v"
	old, err := c.CreateSecret(&model.CreateSecretRequest{Body: &model.CreateSecretRequestBody{Name: "reuse", SecretString: &v}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteSecretForSchedule(&model.DeleteSecretForScheduleRequest{SecretName: "reuse",
		Body: &model.DeleteSecretForScheduleRequestBody{RecoveryWindowInDays: 7}}); err != nil {
		t.Fatal(err)
	}
	srv.clockOffset.Store(int64(8 * 24 * time.Hour)) // no sweep
	fresh, err := c.CreateSecret(&model.CreateSecretRequest{Body: &model.CreateSecretRequestBody{Name: "reuse", SecretString: &v}})
	if err != nil {
		t.Fatal(err)
	}
	if *fresh.Secret.Id == *old.Secret.Id {
		t.Fatal("re-created secret reuses the id")
	}
	if key, _ := srv.store.keyForID(*old.Secret.Id); key != "" {
		t.Fatalf("old id still indexed to %q", key)
	}
	if _, err := c.ListSecretTags(&model.ListSecretTagsRequest{SecretId: *old.Secret.Id}); err == nil {
		t.Fatal("old id reaches the new secret")
	}
}
