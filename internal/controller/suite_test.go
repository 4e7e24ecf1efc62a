package controller

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/csms"
	"github.com/csms-operator/csms-operator/internal/emulator"
	"github.com/csms-operator/csms-operator/internal/testenv"
)

// The envtest suite: a real kube-apiserver with the generated CRDs, one CSMS emulator
// reached through the official SDK, and a manager wired as cmd/manager wires it.

const (
	emuAK          = "suite-ak"
	emuSK          = "suite-sk"
	emuRegion      = "cn-north-4"
	emuProjectID   = "0123456789abcdef0123456789abcdef"
	replicaRegion  = "ap-southeast-3"
	replicaProject = "fedcba9876543210fedcba9876543210"
	// credsNamespace holds the credentials Secret of the default ClusterProviderConfig.
	credsNamespace = "csms-system"
	credsName      = "csms-credentials"
	// replicationDelay keeps a replica IN_PROGRESS long enough to be seen in status.
	replicationDelay = 4 * time.Second

	pollTimeout  = 30 * time.Second
	pollInterval = 100 * time.Millisecond
)

var (
	// k8sClient talks to the API server directly (no cache), as a user would.
	k8sClient client.Client
	// emu is the CSMS emulator; emuURL its primary-region endpoint.
	emu    *emulator.Server
	emuURL string
	// cloud is a CSMS client (the csms seam over the SDK) the tests use to look at and
	// prepare the cloud side.
	cloud csms.Client
	// managerLog captures everything the manager logs.
	managerLog = &testenv.LogBuffer{}
	// envtestReady is false when the suite could not start; envtest tests then fail.
	envtestReady bool
	// managerCache is the running manager's cache, to check what it keeps.
	managerCache cache.Cache
)

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	// Verbosity 5 includes the reconciler's and controller-runtime's debug logs; from 6 on
	// client-go traces HTTP requests, and at 8 it dumps request and response bodies (of
	// Secrets too), which no production setting should enable.
	ctrl.SetLogger(managerLog.Logger(5))

	dataDir, err := os.MkdirTemp("", "csms-controller-suite-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "temp dir: %v\n", err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dataDir) }()
	emu, err = emulator.New(emulator.Config{
		Region:           emuRegion,
		DataDir:          dataDir,
		ReplicationDelay: replicationDelay,
		SweepInterval:    50 * time.Millisecond,
		ReplicaRegions:   []emulator.RegionListener{{Region: replicaRegion, Addr: "127.0.0.1:0"}},
		Credentials: []emulator.Credential{{AK: emuAK, SK: emuSK,
			Projects: map[string]string{emuRegion: emuProjectID, replicaRegion: replicaProject}}},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "emulator: %v\n", err)
		return 1
	}
	if err := emu.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "emulator: %v\n", err)
		return 1
	}
	defer func() { _ = emu.Close() }()
	emuURL = "http://" + emu.Addr()
	cloud, err = csms.New(csms.Config{Region: emuRegion, ProjectID: emuProjectID, Endpoint: emuURL,
		Credentials: csms.StaticCredentials{AccessKey: emuAK, SecretKey: emuSK}, QPS: 1000, Burst: 1000})
	if err != nil {
		fmt.Fprintf(os.Stderr, "csms client: %v\n", err)
		return 1
	}

	env, err := testenv.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%v\n", err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping envtest: %v\n", err)
		}
	}()
	cfg, scheme := env.Config, env.Scheme
	k8sClient = env.Client
	if err := createDefaultProvider(); err != nil {
		fmt.Fprintf(os.Stderr, "default provider: %v\n", err)
		return 1
	}

	// Wired like cmd/manager: Secrets are never cached with their data.
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Client:                 ClientOptions(),
		Cache:                  CacheOptions(),
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "manager: %v\n", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := SetupAll(ctx, mgr, Options{
		MaxConcurrentReconciles: 4,
		ReplicaPollInterval:     time.Second,
		CSMSTimeout:             10 * time.Second,
		EnableTargets:           true,
		WorkloadRestartQPS:      100,
	}); err != nil {
		fmt.Fprintf(os.Stderr, "setup controllers: %v\n", err)
		cancel()
		return 1
	}

	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			fmt.Fprintf(os.Stderr, "manager: %v\n", err)
		}
	}()
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		fmt.Fprintln(os.Stderr, "cache did not sync")
		return 1
	}
	managerCache = mgr.GetCache()
	envtestReady = true

	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "---- manager log (last 200 lines) ----\n%s\n", tail(managerLog.String(), 200))
	}
	return code
}

// createDefaultProvider creates the ClusterProviderConfig "default" every ManagedSecret
// uses unless it says otherwise, and its credentials Secret.
func createDefaultProvider() error {
	ctx := context.Background()
	if err := k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: credsNamespace}}); err != nil {
		return err
	}
	if err := k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: credsNamespace, Name: credsName},
		Data: map[string][]byte{v1alpha1.CredentialsKeyAccessKeyID: []byte(emuAK), v1alpha1.CredentialsKeySecretAccessKey: []byte(emuSK)}}); err != nil {
		return err
	}
	// The suite's default config lets its resources adopt and observe, so the tests of
	// those features need no config of their own; strictProvider keeps the API's safe
	// defaults (both off) for the tests of the policy itself.
	def := clusterProviderConfig("default", emuURL, nil, nil)
	def.Spec.Policy = &v1alpha1.ProviderPolicy{AllowAdoption: true, AllowObserve: true}
	if err := k8sClient.Create(ctx, def); err != nil {
		return err
	}
	return k8sClient.Create(ctx, clusterProviderConfig(strictProvider, emuURL, nil, nil))
}

// strictProvider is a ClusterProviderConfig with the default (empty) policy.
const strictProvider = "strict"

func clusterProviderConfig(name, endpoint string, sel *metav1.LabelSelector, rl *v1alpha1.RateLimit) *v1alpha1.ClusterProviderConfig {
	return &v1alpha1.ClusterProviderConfig{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.ClusterProviderConfigSpec{
			ProviderSettings: v1alpha1.ProviderSettings{Region: emuRegion, ProjectID: emuProjectID, Endpoint: endpoint, RateLimit: rl},
			Credentials: v1alpha1.ClusterProviderCredentials{
				Source:    v1alpha1.CredentialsSourceSecret,
				SecretRef: &v1alpha1.NamespacedSecretReference{Namespace: credsNamespace, Name: credsName},
			},
			NamespaceSelector: sel,
		},
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
