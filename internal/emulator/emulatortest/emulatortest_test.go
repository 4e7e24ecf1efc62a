package emulatortest_test

import (
	"os"
	"testing"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1/model"

	"github.com/csms-operator/csms-operator/internal/emulator/emulatortest"
)

func TestStartServerAndCount(t *testing.T) {
	env, stop, err := emulatortest.StartServer(emulatortest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// StartServer is for a TestMain: use the client constructor that needs no testing.TB.
	c, err := env.NewRegionClient(env.Region)
	if err != nil {
		t.Fatal(err)
	}
	v := "v"
	if _, err := c.CreateSecret(&model.CreateSecretRequest{Body: &model.CreateSecretRequestBody{Name: "x", SecretString: &v}}); err != nil {
		t.Fatal(err)
	}
	if n := env.Count("CreateSecret", 200); n != 1 {
		t.Fatalf("count %d", n)
	}
	stop()
	if _, err := os.Stat(env.DataDir); !os.IsNotExist(err) {
		t.Fatalf("data dir left behind: %v", err)
	}
}
