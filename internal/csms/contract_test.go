//go:build contract

package csms

// Contract tier: the Client against a real CSMS endpoint, to catch where the service
// differs from the emulator the other tiers use. Run by `make test-contract` (never in
// CI: it needs an account) with
//
//	CSMS_ENDPOINT       e.g. https://csms.ap-southeast-3.myhuaweicloud.com
//	CSMS_REGION         e.g. ap-southeast-3
//	CSMS_PROJECT_ID     the IAM project of that region
//	HUAWEICLOUD_SDK_AK  access key with csms:secret:* permissions
//	HUAWEICLOUD_SDK_SK  its secret key
//
// Without all five every test skips and says which are missing. Each run creates secrets
// named csms-operator-contract-<time>-<random> and deletes them immediately at the end
// (and in t.Cleanup when a step fails); see docs/contract-tests.md.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

var contractEnv = []string{"CSMS_ENDPOINT", "CSMS_REGION", "CSMS_PROJECT_ID", "HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK"}

// contractClient returns a Client for the account in the environment, or skips.
func contractClient(t *testing.T) Client {
	t.Helper()
	var missing []string
	for _, v := range contractEnv {
		if os.Getenv(v) == "" {
			missing = append(missing, v)
		}
	}
	if len(missing) > 0 {
		t.Skipf("SKIPPED: no CSMS account given; set %s (see docs/contract-tests.md)", strings.Join(missing, ", "))
	}
	c, err := New(Config{
		Endpoint:  os.Getenv("CSMS_ENDPOINT"),
		Region:    os.Getenv("CSMS_REGION"),
		ProjectID: os.Getenv("CSMS_PROJECT_ID"),
		AccessKey: os.Getenv("HUAWEICLOUD_SDK_AK"),
		SecretKey: os.Getenv("HUAWEICLOUD_SDK_SK"),
		// Gentle on a real account's quota.
		QPS: 2, Burst: 2, Timeout: 30 * time.Second,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// contractName is unique per run, so concurrent or aborted runs never collide.
func contractName(t *testing.T, what string) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("csms-operator-contract-%s-%d-%s", what, time.Now().Unix(), hex.EncodeToString(b))
}

// cleanupSecret deletes name at the end of the test whatever happened, restoring it first
// if it is pending deletion (the service may refuse to delete it then). What it cannot
// delete is reported by name, for deletion by hand.
func cleanupSecret(t *testing.T, c Client, name string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		s, err := c.GetSecret(ctx, name)
		if errors.Is(err, ErrNotFound) {
			return
		}
		if err == nil && s.State == StatePendingDelete {
			if _, err := c.RestoreSecret(ctx, name); err != nil {
				t.Logf("cleanup: restoring %s before deleting it: %v", name, err)
			}
		}
		if err := c.DeleteSecret(ctx, name); err != nil {
			t.Errorf("cleanup: could not delete %s, delete it by hand: %v", name, err)
			return
		}
		t.Logf("cleanup: deleted %s", name)
	})
}

// TestContractSecretLifecycle: create, read, new version, tags, description, scheduled
// deletion and restore, delete: every call the reconciler makes except CreateReplica
// (which needs a second region).
func TestContractSecretLifecycle(t *testing.T) {
	c := contractClient(t)
	ctx := context.Background()
	name := contractName(t, "lifecycle")
	cleanupSecret(t, c, name)
	v1, v2 := canary+"-contract-one", canary+"-contract-two"

	created, err := c.CreateSecret(ctx, CreateSecretInput{Name: name, Value: StringValue(v1), Description: "csms-operator contract test; safe to delete"})
	noCanary(t, err, v1)
	if err != nil {
		t.Fatalf("CreateSecret: %v", err)
	}
	if created.ID == "" || created.State != StateEnabled || created.Name != name {
		t.Errorf("created = id %q state %q name %q", created.ID, created.State, created.Name)
	}
	t.Logf("created %s (id %s)", name, created.ID)

	got, err := c.GetSecret(ctx, name)
	if err != nil {
		t.Fatalf("GetSecret: %v", err)
	}
	if got.ID != created.ID || got.State != StateEnabled || got.CreateTime.IsZero() {
		t.Errorf("GetSecret = id %q state %q created %v; want id %q ENABLED", got.ID, got.State, got.CreateTime, created.ID)
	}
	if _, err := c.CreateSecret(ctx, CreateSecretInput{Name: name, Value: StringValue(v1)}); !errors.Is(err, ErrAlreadyExists) {
		t.Errorf("CreateSecret of a taken name = %v, want ErrAlreadyExists", err)
	}

	val, ver1, err := c.GetCurrentValue(ctx, name)
	noCanary(t, err, v1)
	if err != nil {
		t.Fatalf("GetCurrentValue: %v", err)
	}
	if !val.Equal(StringValue(v1)) || ver1 == "" {
		t.Errorf("GetCurrentValue: equal to the created value %v, version %q", val.Equal(StringValue(v1)), ver1)
	}

	ver2, err := c.PutValue(ctx, name, StringValue(v2))
	noCanary(t, err, v1, v2)
	if err != nil {
		t.Fatalf("PutValue: %v", err)
	}
	if ver2 == "" || ver2 == ver1 {
		t.Errorf("PutValue returned version %q after %q; want a new one", ver2, ver1)
	}
	val, cur, err := c.GetCurrentValue(ctx, name)
	if err != nil {
		t.Fatalf("GetCurrentValue after PutValue: %v", err)
	}
	if !val.Equal(StringValue(v2)) || cur != ver2 {
		t.Errorf("after PutValue: equal to the new value %v, current version %q (want %q)", val.Equal(StringValue(v2)), cur, ver2)
	}

	run := name[len(name)-8:]
	if err := c.UpdateTags(ctx, created.ID, map[string]string{"managed-by": "csms-operator-contract", "run": run}, nil); err != nil {
		t.Fatalf("UpdateTags: %v", err)
	}
	tags, err := c.ListTags(ctx, created.ID)
	if err != nil {
		t.Fatalf("ListTags: %v", err)
	}
	if tags["managed-by"] != "csms-operator-contract" || tags["run"] != run {
		t.Errorf("tags = %v; want managed-by=csms-operator-contract run=%s", tags, run)
	}
	if err := c.UpdateTags(ctx, created.ID, map[string]string{"managed-by": "csms-operator"}, []string{"run"}); err != nil {
		t.Fatalf("UpdateTags set+remove: %v", err)
	}
	tags, err = c.ListTags(ctx, created.ID)
	if err != nil {
		t.Fatalf("ListTags: %v", err)
	}
	if _, still := tags["run"]; still || tags["managed-by"] != "csms-operator" {
		t.Errorf("tags after set+remove = %v; want managed-by=csms-operator and no run", tags)
	}

	upd, err := c.UpdateSecret(ctx, name, UpdateSecretInput{Description: ptr("csms-operator contract test, updated")})
	if err != nil {
		t.Fatalf("UpdateSecret: %v", err)
	}
	if upd.Description != "csms-operator contract test, updated" {
		t.Errorf("UpdateSecret description = %q", upd.Description)
	}

	sched, err := c.ScheduleDeletion(ctx, name, 7)
	if err != nil {
		t.Fatalf("ScheduleDeletion: %v", err)
	}
	if sched.State != StatePendingDelete {
		t.Errorf("after ScheduleDeletion state = %q, want PENDING_DELETE", sched.State)
	}
	if d := time.Until(sched.ScheduledDeleteTime); d < 6*24*time.Hour || d > 8*24*time.Hour {
		t.Errorf("scheduled_delete_time is %v away, want about 7 days", d)
	}
	if again, err := c.ScheduleDeletion(ctx, name, 10); err != nil || again.State != StatePendingDelete {
		t.Errorf("second ScheduleDeletion = %v (state %v); want the pending secret unchanged", err, stateOf(again))
	}
	if _, _, err := c.GetCurrentValue(ctx, name); !errors.Is(err, ErrPendingDelete) {
		t.Errorf("GetCurrentValue while pending deletion = %v, want ErrPendingDelete", err)
	}
	restored, err := c.RestoreSecret(ctx, name)
	if err != nil {
		t.Fatalf("RestoreSecret: %v", err)
	}
	if restored.State != StateEnabled || !restored.ScheduledDeleteTime.IsZero() {
		t.Errorf("after RestoreSecret state %q scheduled %v; want ENABLED, none", restored.State, restored.ScheduledDeleteTime)
	}
	if again, err := c.RestoreSecret(ctx, name); err != nil || again.State != StateEnabled {
		t.Errorf("second RestoreSecret = %v (state %v); want the enabled secret unchanged", err, stateOf(again))
	}

	if err := c.DeleteSecret(ctx, name); err != nil {
		t.Fatalf("DeleteSecret: %v", err)
	}
	if _, err := c.GetSecret(ctx, name); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetSecret after DeleteSecret = %v, want ErrNotFound", err)
	}
	if err := c.DeleteSecret(ctx, name); err != nil {
		t.Errorf("DeleteSecret of a deleted secret = %v, want success (NotFound is success)", err)
	}
}

// TestContractErrors: how the service answers what the reconciler must classify.
func TestContractErrors(t *testing.T) {
	c := contractClient(t)
	ctx := context.Background()
	missing := contractName(t, "missing")
	if _, err := c.GetSecret(ctx, missing); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetSecret(%s) = %v, want ErrNotFound", missing, err)
	}
	if _, _, err := c.GetCurrentValue(ctx, missing); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetCurrentValue(%s) = %v, want ErrNotFound", missing, err)
	}

	name := contractName(t, "window")
	cleanupSecret(t, c, name)
	if _, err := c.CreateSecret(ctx, CreateSecretInput{Name: name, Value: StringValue(canary)}); err != nil {
		t.Fatalf("CreateSecret: %v", err)
	}
	if _, err := c.ScheduleDeletion(ctx, name, 3); !errors.Is(err, ErrInvalid) {
		t.Errorf("ScheduleDeletion with a 3-day window = %v, want ErrInvalid (7-30 days)", err)
	}

	bad, err := New(Config{Endpoint: os.Getenv("CSMS_ENDPOINT"), Region: os.Getenv("CSMS_REGION"), ProjectID: os.Getenv("CSMS_PROJECT_ID"),
		AccessKey: os.Getenv("HUAWEICLOUD_SDK_AK"), SecretKey: "not-the-secret-key", MaxRetries: -1, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.GetSecret(ctx, name); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("GetSecret with a wrong secret key = %v, want ErrUnauthorized", err)
	}
}

func stateOf(s *Secret) string {
	if s == nil {
		return "<nil>"
	}
	return s.State
}
