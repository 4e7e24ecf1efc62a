// Package emulatortest starts an in-process CSMS emulator for tests.
//
//	env := emulatortest.Start(t, emulatortest.Options{})
//	client := env.Client(t)                // SDK client bound to the emulator
//	_ = env.Count("CreateSecret", 200)     // request counter
//	env.Server.SetClockOffset(48 * time.Hour)
//
// In a TestMain, use StartServer, NewRegionClient and the returned stop function.
package emulatortest

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/config"
	csms "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1"

	"github.com/csms-operator/csms-operator/internal/emulator"
)

// Default credentials of a test emulator.
const (
	AK        = "test-ak"
	SK        = "test-sk"
	ProjectID = "0123456789abcdef0123456789abcdef"
	Region    = "cn-north-4"
)

// Options tune the emulator; the zero value is fine.
type Options struct {
	DataDir          string        // default t.TempDir()
	QPS              int           // 0 = unlimited
	ReplicationDelay time.Duration // default 200ms (fast tests)
	// ReplicaRegions maps more served regions to their project IDs for the default AK.
	ReplicaRegions map[string]string
	Logger         *slog.Logger // default discards
}

// Env is a running emulator; it is closed by t.Cleanup.
type Env struct {
	Server    *emulator.Server
	URL       string            // primary region endpoint, http://127.0.0.1:port
	RegionURL map[string]string // every served region → endpoint
	AdminURL  string
	AK, SK    string
	ProjectID string
	Region    string
	Projects  map[string]string // region → project ID of the default AK
	DataDir   string
}

// Start runs an emulator on loopback ports chosen by the kernel; t.Cleanup stops it.
func Start(t testing.TB, opts Options) *Env {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	env, stop, err := StartServer(opts)
	if err != nil {
		t.Fatalf("start emulator: %v", err)
	}
	t.Cleanup(stop)
	return env
}

// StartServer is Start for a TestMain (no testing.TB): stop closes the server and
// removes the data directory it created (a given DataDir is left in place).
func StartServer(opts Options) (env *Env, stop func(), err error) {
	cleanupDir := func() {}
	if opts.DataDir == "" {
		dir, err := os.MkdirTemp("", "csms-emulator-")
		if err != nil {
			return nil, nil, fmt.Errorf("data dir: %w", err)
		}
		opts.DataDir = dir
		cleanupDir = func() { _ = os.RemoveAll(dir) }
	}
	if opts.ReplicationDelay == 0 {
		opts.ReplicationDelay = 200 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	projects := map[string]string{Region: ProjectID}
	cfg := emulator.Config{Region: Region, DataDir: opts.DataDir, QPS: opts.QPS,
		ReplicationDelay: opts.ReplicationDelay, Logger: opts.Logger, SweepInterval: 50 * time.Millisecond}
	for r, pid := range opts.ReplicaRegions {
		projects[r] = pid
		cfg.ReplicaRegions = append(cfg.ReplicaRegions, emulator.RegionListener{Region: r, Addr: "127.0.0.1:0"})
	}
	cfg.Credentials = []emulator.Credential{{AK: AK, SK: SK, Projects: projects}}
	srv, err := emulator.New(cfg)
	if err != nil {
		cleanupDir()
		return nil, nil, fmt.Errorf("start emulator: %w", err)
	}
	if err := srv.Start(); err != nil {
		_ = srv.Close()
		cleanupDir()
		return nil, nil, fmt.Errorf("start emulator: %w", err)
	}
	env = &Env{Server: srv, URL: "http://" + srv.Addr(), AdminURL: "http://" + srv.AdminAddr(),
		AK: AK, SK: SK, ProjectID: ProjectID, Region: Region, Projects: projects, RegionURL: map[string]string{}, DataDir: opts.DataDir}
	for r := range projects {
		env.RegionURL[r] = "http://" + srv.RegionAddr(r)
	}
	return env, func() { _ = srv.Close(); cleanupDir() }, nil
}

// Client returns an SDK client for the primary region; it fails t if the SDK refuses
// to build one.
func (e *Env) Client(t testing.TB) *csms.CsmsClient {
	t.Helper()
	return e.RegionClient(t, e.Region)
}

// RegionClient returns an SDK client for a served region, using that region's project;
// it fails t if the SDK refuses to build one.
func (e *Env) RegionClient(t testing.TB, region string) *csms.CsmsClient {
	t.Helper()
	c, err := e.NewRegionClient(region)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// NewRegionClient is RegionClient for callers without a testing.TB (a TestMain).
func (e *Env) NewRegionClient(region string) (*csms.CsmsClient, error) {
	cred, err := basic.NewCredentialsBuilder().WithAk(e.AK).WithSk(e.SK).WithProjectId(e.Projects[region]).SafeBuild()
	if err != nil {
		return nil, fmt.Errorf("emulator credentials for %s: %w", region, err)
	}
	hc, err := csms.CsmsClientBuilder().
		WithEndpoints([]string{e.RegionURL[region]}).
		WithCredential(cred).
		WithHttpConfig(config.DefaultHttpConfig().WithTimeout(30 * time.Second)).
		SafeBuild()
	if err != nil {
		return nil, fmt.Errorf("SDK client for emulator region %s: %w", region, err)
	}
	return csms.NewCsmsClient(hc), nil
}

// Count is how many requests of an SDK operation (e.g. "CreateSecret") got status.
func (e *Env) Count(op string, status int) int {
	st := e.Server.Stats()
	n := 0
	for k, v := range st[op] {
		if k == strconv.Itoa(status) {
			n += v
		}
	}
	return n
}
