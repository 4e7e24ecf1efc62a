package csms

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/csms-operator/csms-operator/internal/emulator"
	"github.com/csms-operator/csms-operator/internal/emulator/emulatortest"
)

// fastRetries makes the client's retries quick enough for a test.
func fastRetries(c Client) Client {
	c.(*sdkClient).backoff = backoff{base: time.Millisecond, max: 5 * time.Millisecond}
	return c
}

// verify calls VerifyCredentials on c, which must implement it.
func verify(t *testing.T, c Client) error {
	t.Helper()
	v, ok := c.(CredentialsVerifier)
	if !ok {
		t.Fatalf("%T does not implement CredentialsVerifier", c)
	}
	return v.VerifyCredentials(context.Background())
}

// TestIntegrationVerifyCredentials drives VerifyCredentials through the SDK against the
// emulator's signature check: one signed read per call, and the answer classified.
func TestIntegrationVerifyCredentials(t *testing.T) {
	env := emulatortest.Start(t, emulatortest.Options{})

	good := fastRetries(emuClient(t, env, env.Region, nil))
	if err := verify(t, good); err != nil {
		t.Fatalf("good credentials: %v", err)
	}
	if n := env.Count("ListSecrets", 200); n != 1 {
		t.Errorf("ListSecrets served = %d, want 1 (one cheap read)", n)
	}

	wrongSK := fastRetries(emuClient(t, env, env.Region, func(c *Config) {
		c.Credentials = StaticCredentials{AccessKey: env.AK, SecretKey: "wrong-sk"}
	}))
	if err := verify(t, wrongSK); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("wrong SK: %v, want ErrUnauthorized", err)
	}
	unknownAK := fastRetries(emuClient(t, env, env.Region, func(c *Config) {
		c.Credentials = StaticCredentials{AccessKey: "nobody", SecretKey: env.SK}
	}))
	if err := verify(t, unknownAK); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("unknown AK: %v, want ErrUnauthorized", err)
	}
	foreignProject := fastRetries(emuClient(t, env, env.Region, func(c *Config) { c.ProjectID = replicaProject }))
	if err := verify(t, foreignProject); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("foreign project: %v, want ErrUnauthorized", err)
	}
	if n := env.Count("ListSecrets", 401) + env.Count("ListSecrets", 403); n != 3 {
		t.Errorf("refusals served = %d, want 3 (a refusal is not retried)", n)
	}

	// A 5xx is retried and, when it persists, reported as transient.
	if err := env.Server.InjectFault(emulator.Fault{Operation: "ListSecrets", Status: 503}); err != nil {
		t.Fatal(err)
	}
	if err := verify(t, good); !errors.Is(err, ErrTransient) {
		t.Errorf("persistent 503: %v, want ErrTransient", err)
	}
	env.Server.ClearFaults()
	if err := env.Server.InjectFault(emulator.Fault{Operation: "ListSecrets", Status: 503, Count: 2}); err != nil {
		t.Fatal(err)
	}
	if err := verify(t, good); err != nil {
		t.Errorf("503 twice, then served: %v, want nil", err)
	}

	// Any other answer proves the signature was checked and accepted.
	if err := env.Server.InjectFault(emulator.Fault{Operation: "ListSecrets", Status: 400, ErrorCode: "CSMS.0002", Count: 1}); err != nil {
		t.Fatal(err)
	}
	if err := verify(t, good); err != nil {
		t.Errorf("400: %v, want nil", err)
	}
	if err := env.Server.InjectFault(emulator.Fault{Operation: "ListSecrets", Status: 429}); err != nil {
		t.Fatal(err)
	}
	if err := verify(t, good); !errors.Is(err, ErrThrottled) {
		t.Errorf("429: %v, want ErrThrottled", err)
	}
	env.Server.ClearFaults()
}

func TestVerifyCredentialsClosedPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + l.Addr().String()
	_ = l.Close()
	c, err := New(Config{Region: "cn-north-4", ProjectID: testProject, Endpoint: endpoint,
		Credentials: StaticCredentials{AccessKey: "ak-" + t.Name(), SecretKey: "sk"}, MaxRetries: 2})
	if err != nil {
		t.Fatal(err)
	}
	err = verify(t, fastRetries(c))
	var ae *APIError
	if !errors.Is(err, ErrTransient) || !errors.As(err, &ae) || ae.StatusCode != 0 {
		t.Fatalf("closed port: %v, want a transport ErrTransient", err)
	}
}
