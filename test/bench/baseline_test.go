package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1/model"

	"github.com/csms-operator/csms-operator/internal/emulator"
)

// startEmulator runs an in-process emulator with one credential per shard.
func startEmulator(t *testing.T, qps int, shards []Shard) (url, admin string) {
	t.Helper()
	cfg := emulator.Config{Region: "cn-north-4", DataDir: t.TempDir(), QPS: qps,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, sh := range shards {
		cfg.Credentials = append(cfg.Credentials, emulator.Credential{AK: sh.AK, SK: sh.SK, Projects: map[string]string{"cn-north-4": sh.ProjectID}})
	}
	srv, err := emulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + srv.Addr(), "http://" + srv.AdminAddr()
}

// TestBaselineAgainstEmulator runs the SDK loop over two projects limited to 10 req/s
// each: it must make exactly two calls per secret, leave every secret tagged, and cannot
// finish faster than the limit allows.
func TestBaselineAgainstEmulator(t *testing.T) {
	const perShardQPS, n = 10, 40
	shards := MakeShards(2, 2*perShardQPS)
	if shards[0].QPS != perShardQPS || shards[1].QPS != perShardQPS {
		t.Fatalf("shards = %+v", shards)
	}
	url, adminURL := startEmulator(t, perShardQPS, shards)
	items := MakeItems(n, len(shards), 10, "bl")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin := NewAdmin(adminURL)
	res, err := RunBaseline(ctx, url, shards, items, 4, func(it Item) map[string]string {
		return map[string]string{"managed-by": "csms-operator", "owner": it.Namespace + "." + it.Name}
	})
	if err != nil {
		t.Fatal(err)
	}
	st, err := admin.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.OpStatus("CreateSecret", "200"); got != n {
		t.Errorf("CreateSecret 200 = %d, want %d (%s)", got, n, st)
	}
	if got := st.Op("BatchCreateOrDeleteTags") - st.OpStatus("BatchCreateOrDeleteTags", "429"); got != n {
		t.Errorf("successful tag calls = %d, want %d (%s)", got, n, st)
	}
	if int64(st.Status("429")) != res.Throttled {
		t.Errorf("baseline saw %d throttles, emulator counted %d", res.Throttled, st.Status("429"))
	}
	// 80 calls at 20/s with a burst of 10 per project: at least (80-20)/20 = 3s.
	if res.Elapsed < 2500*time.Millisecond {
		t.Errorf("baseline took %s: faster than the rate limit allows", res.Elapsed)
	}
	t.Logf("baseline: %d secrets in %s, %d throttled; %s", n, res.Elapsed, res.Throttled, st)

	// Every secret holds its value and its tags, in its own shard's project. The loop has
	// just drained the projects' token buckets: let them refill (burst 10 at 10/s) first.
	time.Sleep(1500 * time.Millisecond)
	for _, it := range []Item{items[0], items[n-1]} {
		c, err := newSDKClient(url, shards[it.Shard])
		if err != nil {
			t.Fatal(err)
		}
		v, err := c.ShowSecretVersion(&model.ShowSecretVersionRequest{SecretName: it.Name, VersionId: "latest"})
		if err != nil {
			t.Fatal(err)
		}
		if v.Version == nil || v.Version.SecretString == nil || *v.Version.SecretString != it.Value {
			t.Errorf("%s: value not stored", it.Name)
		}
		s, err := c.ShowSecret(&model.ShowSecretRequest{SecretName: it.Name})
		if err != nil {
			t.Fatal(err)
		}
		tags, err := c.ListSecretTags(&model.ListSecretTagsRequest{SecretId: *s.Secret.Id})
		if err != nil {
			t.Fatal(err)
		}
		if tags.Tags == nil || len(*tags.Tags) != 2 {
			t.Errorf("%s: tags = %v", it.Name, fmt.Sprint(tags.Tags))
		}
	}
}

func TestClientBurst(t *testing.T) {
	for _, tt := range []struct{ qps, pct, want int }{
		{50, 50, 25}, {5, 50, 2}, {1, 50, 1}, {100, 100, 100}, {3, 10, 1},
	} {
		if got := ClientBurst(tt.qps, tt.pct); got != tt.want {
			t.Errorf("ClientBurst(%d, %d) = %d, want %d", tt.qps, tt.pct, got, tt.want)
		}
	}
	if b := (Shard{QPS: 7}).burst(); b != 7 {
		t.Errorf("unset Burst: %d, want the shard's QPS", b)
	}
	if b := (Shard{QPS: 7, Burst: 3}).burst(); b != 3 {
		t.Errorf("Burst 3: got %d", b)
	}
}
