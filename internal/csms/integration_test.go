package csms

// Integration tier: every Client method through the official SDK against the real
// emulator (internal/emulator), signed requests and all.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1/model"

	"github.com/csms-operator/csms-operator/internal/emulator"
	"github.com/csms-operator/csms-operator/internal/emulator/emulatortest"
)

const replicaProject = "fedcba9876543210fedcba9876543210"

// emuClient returns a Client for region of env, with its own access-key limiter.
func emuClient(t *testing.T, env *emulatortest.Env, region string, mutate func(*Config)) Client {
	t.Helper()
	cfg := Config{Region: region, ProjectID: env.Projects[region], Endpoint: env.RegionURL[region],
		Credentials: StaticCredentials{AccessKey: env.AK, SecretKey: env.SK}, QPS: 1000, Burst: 1000, Timeout: 10 * time.Second}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// noCanary fails the test if err's text contains a secret value.
func noCanary(t *testing.T, err error, values ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, v := range values {
		if strings.Contains(err.Error(), v) {
			t.Errorf("error leaks a value: %v", err)
		}
	}
}

// poll calls f until it returns true or 30s pass (generous for a loaded machine).
func poll(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestIntegrationSecretLifecycle(t *testing.T) {
	env := emulatortest.Start(t, emulatortest.Options{})
	c := emuClient(t, env, env.Region, nil)
	ctx := context.Background()
	const v1, v2 = canary + "-one", canary + "-two"

	created, err := c.CreateSecret(ctx, CreateSecretInput{Name: "app-db", Value: StringValue(v1), Description: "first",
		EventSubscriptions: nil})
	noCanary(t, err, v1)
	if err != nil {
		t.Fatalf("CreateSecret: %v", err)
	}
	if created.State != StateEnabled || created.ID == "" || created.CreateTime.IsZero() || created.SecretType != SecretTypeCommon {
		t.Errorf("created = %+v", created)
	}

	got, err := c.GetSecret(ctx, "app-db")
	if err != nil {
		t.Fatalf("GetSecret: %v", err)
	}
	// The fields the SDK model lacks are read through the custom definition.
	if got.DomainID == "" || got.ReplicaType != ReplicaTypeStandalone || len(got.Replicas) != 0 {
		t.Errorf("extra fields: domain=%q replicaType=%q replicas=%v", got.DomainID, got.ReplicaType, got.Replicas)
	}
	if !got.LastUsedTime.IsZero() {
		t.Errorf("last_used_time before any read = %v", got.LastUsedTime)
	}
	if d := cmp.Diff(created.ID, got.ID); d != "" {
		t.Errorf("id differs: %s", d)
	}

	// Update: description, rotation, event subscriptions cleared.
	upd, err := c.UpdateSecret(ctx, "app-db", UpdateSecretInput{Description: ptr("second"),
		AutoRotation: ptr(true), RotationPeriod: ptr("30d"), RotationFuncURN: ptr("urn:fss:cn-north-4:p:function:default:rot:latest")})
	if err != nil {
		t.Fatalf("UpdateSecret: %v", err)
	}
	if upd.Description != "second" || !upd.AutoRotation || upd.RotationPeriod != "30d" {
		t.Errorf("updated = %+v", upd)
	}
	if got, _ := c.GetSecret(ctx, "app-db"); got.Description != "second" || got.NextRotationTime.IsZero() {
		t.Errorf("after update: description=%q nextRotation=%v", got.Description, got.NextRotationTime)
	}
	if _, err := c.UpdateSecret(ctx, "app-db", UpdateSecretInput{RotationPeriod: ptr("1h")}); !errors.Is(err, ErrInvalid) {
		t.Errorf("rotation period below 4h: %v, want ErrInvalid", err)
	}

	// Tags, addressed by secret id.
	if err := c.UpdateTags(ctx, created.ID, map[string]string{"managed-by": "csms-operator", "owner": "ns/a/uid1"}, nil); err != nil {
		t.Fatalf("UpdateTags: %v", err)
	}
	tags, err := c.ListTags(ctx, created.ID)
	if err != nil {
		t.Fatalf("ListTags: %v", err)
	}
	if d := cmp.Diff(map[string]string{"managed-by": "csms-operator", "owner": "ns/a/uid1"}, tags); d != "" {
		t.Errorf("tags (-want +got):\n%s", d)
	}
	if err := c.UpdateTags(ctx, created.ID, map[string]string{"owner": "ns/b/uid2"}, []string{"managed-by"}); err != nil {
		t.Fatalf("UpdateTags set+remove: %v", err)
	}
	tags, _ = c.ListTags(ctx, created.ID)
	if d := cmp.Diff(map[string]string{"owner": "ns/b/uid2"}, tags); d != "" {
		t.Errorf("tags after set+remove (-want +got):\n%s", d)
	}
	if _, err := c.ListTags(ctx, "00000000-0000-0000-0000-000000000000"); !errors.Is(err, ErrNotFound) {
		t.Errorf("ListTags(unknown id) = %v", err)
	}

	// Value round trip.
	val, ver, err := c.GetCurrentValue(ctx, "app-db")
	if err != nil || ver != "v1" || !val.Equal(StringValue(v1)) {
		t.Fatalf("GetCurrentValue = %q, equal=%v, %v", ver, val.Equal(StringValue(v1)), err)
	}
	if got, _ := c.GetSecret(ctx, "app-db"); got.LastUsedTime.IsZero() {
		t.Error("last_used_time not set after reading the value")
	}
	ver, err = c.PutValue(ctx, "app-db", StringValue(v2))
	noCanary(t, err, v1, v2)
	if err != nil || ver != "v2" {
		t.Fatalf("PutValue = %q, %v", ver, err)
	}
	val, ver, err = c.GetCurrentValue(ctx, "app-db")
	if err != nil || ver != "v2" || !val.Equal(StringValue(v2)) {
		t.Errorf("after PutValue: version %q equal=%v err=%v", ver, val.Equal(StringValue(v2)), err)
	}

	// Binary values.
	bin := []byte{0, 1, 2, 0xfe, 0xff}
	if _, err := c.CreateSecret(ctx, CreateSecretInput{Name: "bin", Value: BinaryValue(bin)}); err != nil {
		t.Fatalf("CreateSecret binary: %v", err)
	}
	if val, _, err := c.GetCurrentValue(ctx, "bin"); err != nil || !val.IsBinary() || !val.Equal(BinaryValue(bin)) {
		t.Errorf("binary round trip: binary=%v err=%v", val.IsBinary(), err)
	}

	// Scheduled deletion and restore, both idempotent.
	sched, err := c.ScheduleDeletion(ctx, "app-db", 7)
	if err != nil {
		t.Fatalf("ScheduleDeletion: %v", err)
	}
	if sched.State != StatePendingDelete {
		t.Errorf("state = %s", sched.State)
	}
	if d := time.Until(sched.ScheduledDeleteTime); d < 6*24*time.Hour || d > 8*24*time.Hour {
		t.Errorf("scheduled_delete_time is %v away, want ~7 days", d)
	}
	again, err := c.ScheduleDeletion(ctx, "app-db", 10)
	if err != nil || again.State != StatePendingDelete || !again.ScheduledDeleteTime.Equal(sched.ScheduledDeleteTime) {
		t.Errorf("second ScheduleDeletion = %+v, %v", again, err)
	}
	if got, err := c.GetSecret(ctx, "app-db"); err != nil || got.State != StatePendingDelete {
		t.Errorf("GetSecret while pending = %v", err)
	}
	if _, _, err := c.GetCurrentValue(ctx, "app-db"); !errors.Is(err, ErrPendingDelete) {
		t.Errorf("GetCurrentValue while pending = %v, want ErrPendingDelete", err)
	}
	if _, err := c.PutValue(ctx, "app-db", StringValue(v1)); !errors.Is(err, ErrPendingDelete) {
		t.Errorf("PutValue while pending = %v, want ErrPendingDelete", err)
	} else {
		noCanary(t, err, v1)
	}
	if _, err := c.ScheduleDeletion(ctx, "bin", 3); !errors.Is(err, ErrInvalid) {
		t.Errorf("recovery window 3 = %v, want ErrInvalid", err)
	}
	restored, err := c.RestoreSecret(ctx, "app-db")
	if err != nil || restored.State != StateEnabled || !restored.ScheduledDeleteTime.IsZero() {
		t.Errorf("RestoreSecret = %+v, %v", restored, err)
	}
	if again, err := c.RestoreSecret(ctx, "app-db"); err != nil || again.State != StateEnabled {
		t.Errorf("second RestoreSecret = %v", err)
	}

	// Immediate delete; NotFound afterwards and deleting again is success.
	if err := c.DeleteSecret(ctx, "app-db"); err != nil {
		t.Fatalf("DeleteSecret: %v", err)
	}
	if _, err := c.GetSecret(ctx, "app-db"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetSecret after delete = %v, want ErrNotFound", err)
	}
	if _, _, err := c.GetCurrentValue(ctx, "app-db"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetCurrentValue after delete = %v, want ErrNotFound", err)
	}
	if err := c.DeleteSecret(ctx, "app-db"); err != nil {
		t.Errorf("second DeleteSecret = %v, want nil", err)
	}
	if _, err := c.RestoreSecret(ctx, "app-db"); !errors.Is(err, ErrNotFound) {
		t.Errorf("RestoreSecret of a deleted secret = %v, want ErrNotFound", err)
	}
}

func TestIntegrationAlreadyExistsIsConfirmedByRead(t *testing.T) {
	env := emulatortest.Start(t, emulatortest.Options{})
	c := emuClient(t, env, env.Region, nil)
	ctx := context.Background()
	if _, err := c.CreateSecret(ctx, CreateSecretInput{Name: "taken", Value: StringValue(canary)}); err != nil {
		t.Fatal(err)
	}
	showsBefore := env.Count("ShowSecret", 200)
	_, err := c.CreateSecret(ctx, CreateSecretInput{Name: "taken", Value: StringValue(canary)})
	if !errors.Is(err, ErrAlreadyExists) {
		t.Fatalf("second create = %v, want ErrAlreadyExists", err)
	}
	noCanary(t, err, canary)
	if n := env.Count("ShowSecret", 200) - showsBefore; n != 1 {
		t.Errorf("confirming reads = %d, want 1", n)
	}
	if n := env.Count("CreateSecret", 400); n != 1 {
		t.Errorf("CreateSecret 400s = %d, want 1 (no retry)", n)
	}

	// A pending-deletion name also blocks creation; the read confirms it exists.
	if _, err := c.ScheduleDeletion(ctx, "taken", 7); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateSecret(ctx, CreateSecretInput{Name: "taken", Value: StringValue(canary)}); !errors.Is(err, ErrAlreadyExists) {
		t.Errorf("create over a pending secret = %v, want ErrAlreadyExists", err)
	}

	// Input the service refuses is ErrInvalid, never AlreadyExists, and is not read back.
	showsBefore = env.Count("ShowSecret", 200) + env.Count("ShowSecret", 404)
	_, err = c.CreateSecret(ctx, CreateSecretInput{Name: "bad-rotation", Value: StringValue(canary), AutoRotation: true, RotationPeriod: "1h"})
	if !errors.Is(err, ErrInvalid) || errors.Is(err, ErrAlreadyExists) {
		t.Errorf("invalid create = %v, want ErrInvalid", err)
	}
	noCanary(t, err, canary)
	if n := env.Count("ShowSecret", 200) + env.Count("ShowSecret", 404) - showsBefore; n != 0 {
		t.Errorf("validation error triggered %d reads", n)
	}
}

func TestIntegrationReplicas(t *testing.T) {
	const replicaRegion = "ap-southeast-3"
	env := emulatortest.Start(t, emulatortest.Options{ReplicaRegions: map[string]string{replicaRegion: replicaProject}})
	c := emuClient(t, env, env.Region, nil)
	ctx := context.Background()
	if _, err := c.CreateSecret(ctx, CreateSecretInput{Name: "multi", Value: StringValue(canary)}); err != nil {
		t.Fatal(err)
	}
	rep, err := c.CreateReplica(ctx, "multi", ReplicaInput{Region: replicaRegion, ProjectID: replicaProject})
	if err != nil {
		t.Fatalf("CreateReplica: %v", err)
	}
	if rep.Region != replicaRegion || rep.ProjectID != replicaProject || rep.ReplicaType != ReplicaTypeReplica || rep.ID == "" {
		t.Errorf("replica = %+v", rep)
	}
	got, err := c.GetSecret(ctx, "multi")
	if err != nil {
		t.Fatal(err)
	}
	if got.ReplicaType != ReplicaTypePrimary || len(got.Replicas) != 1 || got.Replicas[0].Region != replicaRegion {
		t.Fatalf("primary after CreateReplica: type=%q replicas=%+v", got.ReplicaType, got.Replicas)
	}
	poll(t, "replica IN_SYNC", func() bool {
		s, err := c.GetSecret(ctx, "multi")
		return err == nil && len(s.Replicas) == 1 && s.Replicas[0].Status == ReplicaStatusInSync
	})

	// The replica exists in the target region, readable with that region's project.
	rc := emuClient(t, env, replicaRegion, nil)
	var replica *Secret
	poll(t, "replica secret in the target region", func() bool {
		replica, err = rc.GetSecret(ctx, "multi")
		return err == nil
	})
	if replica.ReplicaType != ReplicaTypeReplica {
		t.Errorf("replica secret type = %q", replica.ReplicaType)
	}

	// A second replica in the same region is refused; the read confirms it exists.
	if _, err := c.CreateReplica(ctx, "multi", ReplicaInput{Region: replicaRegion, ProjectID: replicaProject}); !errors.Is(err, ErrAlreadyExists) {
		t.Errorf("duplicate CreateReplica = %v, want ErrAlreadyExists", err)
	}
	// A region the emulator does not serve fails to sync.
	if _, err := c.CreateReplica(ctx, "multi", ReplicaInput{Region: "la-south-2", ProjectID: replicaProject}); err != nil {
		t.Fatalf("CreateReplica unknown region: %v", err)
	}
	poll(t, "unserved region FAILED", func() bool {
		s, err := c.GetSecret(ctx, "multi")
		if err != nil {
			return false
		}
		for _, r := range s.Replicas {
			if r.Region == "la-south-2" {
				return r.Status == ReplicaStatusFailed
			}
		}
		return false
	})
	// Invalid input is not read back as "exists".
	if _, err := c.CreateReplica(ctx, "multi", ReplicaInput{Region: replicaRegion, ProjectID: "short"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad project = %v, want ErrInvalid", err)
	}
}

// A 429 storm: the emulator allows 3 requests/s per project, 12 concurrent reads all
// succeed through retries with backoff.
func TestIntegrationThrottlingConverges(t *testing.T) {
	env := emulatortest.Start(t, emulatortest.Options{QPS: 3})
	c := emuClient(t, env, env.Region, func(c *Config) { c.MaxRetries = 30 })
	c.(*sdkClient).backoff = backoff{base: 50 * time.Millisecond, max: time.Second}
	ctx := context.Background()
	if _, err := c.CreateSecret(ctx, CreateSecretInput{Name: "hot", Value: StringValue(canary)}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 12)
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.GetSecret(ctx, "hot")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("GetSecret under throttling: %v", err)
		}
	}
	if n := env.Count("ShowSecret", 429); n == 0 {
		t.Error("the emulator never throttled; the test did not exercise retries")
	}
	if n := env.Count("ShowSecret", 200); n != 12 {
		t.Errorf("successful reads = %d, want 12", n)
	}
}

// A client limiter below the service's quota means the service never has to throttle.
func TestIntegrationClientLimiterStaysUnderQuota(t *testing.T) {
	env := emulatortest.Start(t, emulatortest.Options{QPS: 10})
	c := emuClient(t, env, env.Region, func(c *Config) { c.QPS = 4; c.Burst = 2 })
	ctx := context.Background()
	if _, err := c.CreateSecret(ctx, CreateSecretInput{Name: "calm", Value: StringValue(canary)}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.GetSecret(ctx, "calm"); err != nil {
				t.Errorf("GetSecret: %v", err)
			}
		}()
	}
	wg.Wait()
	if n := env.Count("ShowSecret", 429); n != 0 {
		t.Errorf("the service throttled %d times despite the client limiter", n)
	}
}

// Faults: a create whose response is lost is not repeated (the caller re-observes and
// finds it); 5xx on reads is retried.
func TestIntegrationFaults(t *testing.T) {
	env := emulatortest.Start(t, emulatortest.Options{})
	c := emuClient(t, env, env.Region, nil)
	c.(*sdkClient).backoff = backoff{base: time.Millisecond, max: 10 * time.Millisecond}
	ctx := context.Background()

	if err := env.Server.InjectFault(emulator.Fault{Operation: "CreateSecret", Drop: true, After: true, Count: 1}); err != nil {
		t.Fatal(err)
	}
	_, err := c.CreateSecret(ctx, CreateSecretInput{Name: "lost", Value: StringValue(canary)})
	if !errors.Is(err, ErrTransient) {
		t.Fatalf("create with lost response = %v, want ErrTransient", err)
	}
	noCanary(t, err, canary)
	// The server records the dropped request after closing the connection: wait for it.
	poll(t, "the dropped create to be recorded", func() bool { return env.Server.Stats()["CreateSecret"]["dropped"] == 1 })
	if st := env.Server.Stats()["CreateSecret"]; st["dropped"] != 1 || len(st) != 1 {
		t.Errorf("CreateSecret attempts = %v, want exactly one (dropped)", st)
	}
	if s, err := c.GetSecret(ctx, "lost"); err != nil || s.State != StateEnabled {
		t.Errorf("re-observe after lost response: %v", err)
	}

	if err := env.Server.InjectFault(emulator.Fault{Operation: "ShowSecret", Status: 503, Count: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetSecret(ctx, "lost"); err != nil {
		t.Errorf("GetSecret through two 503s: %v", err)
	}
	if n := env.Count("ShowSecret", 503); n != 2 {
		t.Errorf("503s served = %d", n)
	}

	if err := env.Server.InjectFault(emulator.Fault{Operation: "CreateSecretVersion", Status: 500, Count: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutValue(ctx, "lost", StringValue(canary+"2")); !errors.Is(err, ErrTransient) {
		t.Errorf("PutValue with 500 = %v, want ErrTransient", err)
	}
	if n := env.Count("CreateSecretVersion", 500) + env.Count("CreateSecretVersion", 200); n != 1 {
		t.Errorf("CreateSecretVersion attempts = %d, want 1", n)
	}
}

func TestIntegrationUnauthorized(t *testing.T) {
	env := emulatortest.Start(t, emulatortest.Options{})
	ctx := context.Background()
	bad := emuClient(t, env, env.Region, func(c *Config) { c.Credentials = StaticCredentials{AccessKey: env.AK, SecretKey: "wrong-sk"} })
	if _, err := bad.GetSecret(ctx, "x"); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("wrong SK = %v, want ErrUnauthorized", err)
	}
	otherProject := emuClient(t, env, env.Region, func(c *Config) { c.ProjectID = replicaProject })
	if _, err := otherProject.GetSecret(ctx, "x"); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("foreign project = %v, want ErrUnauthorized", err)
	}
	// Refused credentials are not retried.
	if n := env.Count("ShowSecret", 401); n != 1 {
		t.Errorf("401s served = %d, want 1", n)
	}
	if n := env.Count("ShowSecret", 403); n != 1 {
		t.Errorf("403s served = %d, want 1", n)
	}
}

// fill adds versions to name through PutValue until it holds n.
func fill(t *testing.T, c Client, name string, have, n int) {
	t.Helper()
	for i := have; i < n; i++ {
		if _, err := c.PutValue(context.Background(), name, StringValue(fmt.Sprintf("%s-%d", canary, i))); err != nil {
			t.Fatalf("PutValue %d: %v", i+1, err)
		}
	}
}

// The version limit: a refusal becomes ErrVersionLimit only when the version list,
// read afterwards, holds MaxVersions. The emulator drops unstaged versions at the limit,
// so the refusals come from an injected fault and from a secret whose versions all hold
// a stage.
func TestIntegrationVersionLimitIsConfirmedByRead(t *testing.T) {
	env := emulatortest.Start(t, emulatortest.Options{})
	c := emuClient(t, env, env.Region, nil)
	ctx := context.Background()
	refuse := emulator.Fault{Operation: "CreateSecretVersion", Status: 400, ErrorCode: "CSMS.0002",
		ErrorMsg: "Invalid parameter: the version limit of 20 is reached.", Count: 1}

	if _, err := c.CreateSecret(ctx, CreateSecretInput{Name: "full", Value: StringValue(canary)}); err != nil {
		t.Fatal(err)
	}
	fill(t, c, "full", 1, MaxVersions)
	if err := env.Server.InjectFault(refuse); err != nil {
		t.Fatal(err)
	}
	_, err := c.PutValue(ctx, "full", StringValue(canary+"-21"))
	if !errors.Is(err, ErrVersionLimit) || errors.Is(err, ErrInvalid) {
		t.Fatalf("refused PutValue at 20 versions = %v, want ErrVersionLimit", err)
	}
	noCanary(t, err, canary)
	if n := env.Count("ListSecretVersions", 200); n != 1 {
		t.Errorf("version list read %d times, want 1", n)
	}
	// Without the fault the emulator makes room by dropping the oldest unstaged version.
	if id, err := c.PutValue(ctx, "full", StringValue(canary+"-21")); err != nil || id != "v21" {
		t.Errorf("PutValue after the fault = %q, %v", id, err)
	}

	if _, err := c.CreateSecret(ctx, CreateSecretInput{Name: "few", Value: StringValue(canary)}); err != nil {
		t.Fatal(err)
	}
	fill(t, c, "few", 1, 2)
	if err := env.Server.InjectFault(refuse); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutValue(ctx, "few", StringValue(canary+"-3")); !errors.Is(err, ErrInvalid) || errors.Is(err, ErrVersionLimit) {
		t.Errorf("refused PutValue at 2 versions = %v, want ErrInvalid", err)
	}

	// The emulator's own refusal: every one of the 20 versions holds a stage.
	if _, err := c.CreateSecret(ctx, CreateSecretInput{Name: "staged", Value: StringValue(canary)}); err != nil {
		t.Fatal(err)
	}
	sdk := env.Client(t)
	for i := 2; i <= MaxVersions; i++ {
		if _, err := sdk.CreateSecretVersion(&model.CreateSecretVersionRequest{SecretName: "staged", Body: &model.CreateSecretVersionRequestBody{
			SecretString: ptr("x"), VersionStages: &[]string{fmt.Sprintf("S%d", i)}}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.PutValue(ctx, "staged", StringValue(canary+"-21")); !errors.Is(err, ErrVersionLimit) {
		t.Errorf("PutValue on 20 staged versions = %v, want ErrVersionLimit", err)
	}
}

// CurrentVersionID is one ShowSecretStage call and follows SYSCURRENT, whether it moved
// by PutValue or by hand.
func TestIntegrationCurrentVersionID(t *testing.T) {
	env := emulatortest.Start(t, emulatortest.Options{})
	c := emuClient(t, env, env.Region, nil)
	ctx := context.Background()
	if _, err := c.CreateSecret(ctx, CreateSecretInput{Name: "cur", Value: StringValue(canary)}); err != nil {
		t.Fatal(err)
	}
	want := func(id string) {
		t.Helper()
		before := env.Count("ShowSecretStage", 200)
		got, err := c.CurrentVersionID(ctx, "cur")
		if err != nil || got != id {
			t.Fatalf("CurrentVersionID = %q, %v; want %s", got, err, id)
		}
		if n := env.Count("ShowSecretStage", 200) - before; n != 1 {
			t.Errorf("%d ShowSecretStage calls, want 1", n)
		}
	}
	want("v1")
	id, err := c.PutValue(ctx, "cur", StringValue(canary+"-2"))
	if err != nil {
		t.Fatal(err)
	}
	want(id)
	if _, err := env.Client(t).UpdateSecretStage(&model.UpdateSecretStageRequest{SecretName: "cur", StageName: StageCurrent,
		Body: &model.UpdateSecretStageRequestBody{VersionId: "v1"}}); err != nil {
		t.Fatal(err)
	}
	want("v1")
	if n := env.Count("ShowSecretVersion", 200); n != 0 {
		t.Errorf("CurrentVersionID read %d values", n)
	}

	if _, err := c.CurrentVersionID(ctx, "absent"); !errors.Is(err, ErrNotFound) {
		t.Errorf("absent secret = %v, want ErrNotFound", err)
	}
	// Pending deletion: the emulator still answers stage reads (inferred); a service that
	// refuses them with CSMS.0103 is ErrPendingDelete.
	if _, err := c.ScheduleDeletion(ctx, "cur", 7); err != nil {
		t.Fatal(err)
	}
	want("v1")
	if err := env.Server.InjectFault(emulator.Fault{Operation: "ShowSecretStage", Status: 400, ErrorCode: "CSMS.0103",
		ErrorMsg: "The secret is in scheduled deletion state and cannot be used.", Count: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CurrentVersionID(ctx, "cur"); !errors.Is(err, ErrPendingDelete) {
		t.Errorf("refused stage read of a pending secret = %v, want ErrPendingDelete", err)
	}
}
