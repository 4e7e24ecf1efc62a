package emulator_test

import (
	"fmt"
	"testing"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1/model"

	"github.com/csms-operator/csms-operator/internal/emulator/emulatortest"
)

// BenchmarkCreateShow measures one CreateSecret plus one ShowSecret through the SDK on
// loopback, with fsync on (the store's default).
func BenchmarkCreateShow(b *testing.B) {
	env := emulatortest.Start(b, emulatortest.Options{})
	c := env.Client(b)
	value := "benchmark-value"
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("bench-%d", i)
		if _, err := c.CreateSecret(&model.CreateSecretRequest{Body: &model.CreateSecretRequestBody{Name: name, SecretString: &value}}); err != nil {
			b.Fatal(err)
		}
		if _, err := c.ShowSecret(&model.ShowSecretRequest{SecretName: name}); err != nil {
			b.Fatal(err)
		}
		if (i+1)%400 == 0 { // stay under the 500-secret quota
			b.StopTimer()
			for j := i - 399; j <= i; j++ {
				_, _ = c.DeleteSecret(&model.DeleteSecretRequest{SecretName: fmt.Sprintf("bench-%d", j)})
			}
			b.StartTimer()
		}
	}
}
