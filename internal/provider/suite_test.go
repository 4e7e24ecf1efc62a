package provider

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/csms"
	"github.com/csms-operator/csms-operator/internal/emulator"
	"github.com/csms-operator/csms-operator/internal/emulator/emulatortest"
	"github.com/csms-operator/csms-operator/internal/testenv"
)

// Shared by the envtest tests of this package.
var (
	// k8sClient talks to the API server directly (no cache), as a user would.
	k8sClient client.Client
	// resolver is the one the reconcilers use, built on the manager's cached client and
	// API reader exactly as cmd/manager wires it.
	resolver *Resolver
	// builds counts and records every client the resolver builds.
	builds = &countingFactory{}
	// managerLog captures everything the manager and the reconcilers log.
	managerLog = &testenv.LogBuffer{}
)

// testPollTimeout is generous: the machine is small and shared.
const (
	testPollTimeout  = 30 * time.Second
	testPollInterval = 100 * time.Millisecond
)

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	ctrl.SetLogger(managerLog.Logger(10))

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

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "manager: %v\n", err)
		return 1
	}
	resolver = NewResolver(mgr.GetClient(), mgr.GetAPIReader(), WithClientFactory(builds.New))
	if err := (&ProviderConfigReconciler{Client: mgr.GetClient(), Resolver: resolver}).SetupWithManager(mgr); err != nil {
		fmt.Fprintf(os.Stderr, "setup ProviderConfig controller: %v\n", err)
		return 1
	}
	if err := (&ClusterProviderConfigReconciler{Client: mgr.GetClient(), Resolver: resolver}).SetupWithManager(mgr); err != nil {
		fmt.Fprintf(os.Stderr, "setup ClusterProviderConfig controller: %v\n", err)
		return 1
	}

	ctx, cancel := context.WithCancel(context.Background())
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

	code := m.Run()
	// Every test has run by now, so this sees all the manager logged in this package,
	// including the canary credentials of TestCanaryCredentialsNeverLeak.
	if containsCanary(managerLog.String()) {
		fmt.Fprintln(os.Stderr, "FAIL: the manager log contains a canary credential")
		return 1
	}
	if code != 0 {
		// The manager's log helps explain a failure; it holds no credential (checked
		// above).
		fmt.Fprintf(os.Stderr, "---- manager log ----\n%s\n", managerLog.String())
	}
	return code
}

// countingFactory wraps csms.New: it counts builds per endpoint (each test uses its own
// endpoint, so tests running reconciles in the background do not disturb each other's
// counts) and keeps the last config built per endpoint.
type countingFactory struct {
	mu     sync.Mutex
	counts map[string]int
	last   map[string]csms.Config
}

func (f *countingFactory) New(cfg csms.Config) (csms.Client, error) {
	c, err := csms.New(cfg)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.counts == nil {
		f.counts = map[string]int{}
		f.last = map[string]csms.Config{}
	}
	f.counts[cfg.Endpoint]++
	f.last[cfg.Endpoint] = cfg
	return c, nil
}

func (f *countingFactory) count(endpoint string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[endpoint]
}

func (f *countingFactory) lastConfig(endpoint string) (csms.Config, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.last[endpoint]
	return c, ok
}

// ---- helpers ----

// newNamespace creates a namespace with a generated name and the given labels.
func newNamespace(t *testing.T, prefix string, labels map[string]string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-", Labels: labels}}
	if err := k8sClient.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	return ns.Name
}

// credentialsSecret returns a Secret with the given data (string values).
func credentialsSecret(ns, name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

// projectID is a syntactically valid 32-character project ID.
const projectID = "0123456789abcdef0123456789abcdef"

func providerConfig(ns, name, endpoint, secretName string) *v1alpha1.ProviderConfig {
	return &v1alpha1.ProviderConfig{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.ProviderConfigSpec{
			ProviderSettings: v1alpha1.ProviderSettings{Region: "cn-north-4", ProjectID: projectID, Endpoint: endpoint},
			Credentials: v1alpha1.ProviderCredentials{
				Source:    v1alpha1.CredentialsSourceSecret,
				SecretRef: &v1alpha1.LocalSecretReference{Name: secretName},
			},
		},
	}
}

func clusterProviderConfig(name, endpoint, secretNS, secretName string, sel *metav1.LabelSelector) *v1alpha1.ClusterProviderConfig {
	return &v1alpha1.ClusterProviderConfig{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.ClusterProviderConfigSpec{
			ProviderSettings: v1alpha1.ProviderSettings{Region: "cn-north-4", ProjectID: projectID, Endpoint: endpoint},
			Credentials: v1alpha1.ClusterProviderCredentials{
				Source:    v1alpha1.CredentialsSourceSecret,
				SecretRef: &v1alpha1.NamespacedSecretReference{Namespace: secretNS, Name: secretName},
			},
			NamespaceSelector: sel,
		},
	}
}

func mustCreate(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8sClient.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

// eventually polls cond until it returns nil or the deadline passes, then fails with the
// last error.
func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(testPollTimeout)
	var last error
	for {
		if last = cond(); last == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %s: %v", what, testPollTimeout, last)
		}
		time.Sleep(testPollInterval)
	}
}

// readyOf fetches obj and returns its Ready condition and status.observedGeneration.
func readyOf(obj client.Object) (*metav1.Condition, int64, error) {
	if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
		return nil, 0, err
	}
	st := statusOf(obj)
	return findReady(st.Conditions), st.ObservedGeneration, nil
}

// waitReady waits until obj's Ready condition has the given status and reason for the
// object's current generation, and returns it.
func waitReady(t *testing.T, obj client.Object, status metav1.ConditionStatus, reason string) metav1.Condition {
	t.Helper()
	var got metav1.Condition
	eventually(t, fmt.Sprintf("%T %s Ready=%s/%s", obj, obj.GetName(), status, reason), func() error {
		c, observed, err := readyOf(obj)
		if err != nil {
			return err
		}
		if c == nil {
			return fmt.Errorf("no Ready condition yet")
		}
		if c.Status != status || c.Reason != reason {
			return fmt.Errorf("Ready=%s/%s: %s", c.Status, c.Reason, c.Message)
		}
		if c.ObservedGeneration != obj.GetGeneration() || observed != obj.GetGeneration() {
			return fmt.Errorf("observedGeneration condition=%d status=%d, generation %d",
				c.ObservedGeneration, observed, obj.GetGeneration())
		}
		got = *c
		return nil
	})
	return got
}

// emuProviderConfig is a ProviderConfig for the emulator emu with a credentials Secret
// named secretName.
func emuProviderConfig(ns, name string, emu *emulatortest.Env, secretName string) *v1alpha1.ProviderConfig {
	pc := providerConfig(ns, name, emu.URL, secretName)
	pc.Spec.Region, pc.Spec.ProjectID = emu.Region, emu.ProjectID
	return pc
}

// emuClusterProviderConfig is a ClusterProviderConfig for the emulator emu.
func emuClusterProviderConfig(name string, emu *emulatortest.Env, secretNS, secretName string, sel *metav1.LabelSelector) *v1alpha1.ClusterProviderConfig {
	cpc := clusterProviderConfig(name, emu.URL, secretNS, secretName, sel)
	cpc.Spec.Region, cpc.Spec.ProjectID = emu.Region, emu.ProjectID
	return cpc
}

// checks is how many credentials checks (ListSecrets) the emulator answered, by status.
func checks(emu *emulatortest.Env) map[string]int {
	out := map[string]int{}
	for status, n := range emu.Server.Stats()["ListSecrets"] {
		out[status] = n
	}
	return out
}

// totalCalls is how many signed requests of any operation the emulator received.
func totalCalls(emu *emulatortest.Env) int {
	n := 0
	for _, byStatus := range emu.Server.Stats() {
		for _, c := range byStatus {
			n += c
		}
	}
	return n
}

// reconcileNow runs one pass of the provider-config reconciler of obj's kind directly,
// with the suite's resolver (so it shares the verdict cache of the manager's
// reconcilers), and returns its result.
func reconcileNow(t *testing.T, obj client.Object) ctrl.Result {
	t.Helper()
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(obj)}
	var (
		res ctrl.Result
		err error
	)
	switch obj.(type) {
	case *v1alpha1.ProviderConfig:
		res, err = (&ProviderConfigReconciler{Client: k8sClient, Resolver: resolver}).Reconcile(context.Background(), req)
	case *v1alpha1.ClusterProviderConfig:
		res, err = (&ClusterProviderConfigReconciler{Client: k8sClient, Resolver: resolver}).Reconcile(context.Background(), req)
	default:
		t.Fatalf("not a provider config: %T", obj)
	}
	if err != nil {
		t.Fatalf("Reconcile %s: %v", obj.GetName(), err)
	}
	return res
}

// startEmulator runs an emulator that knows exactly creds (emulatortest.Start knows only
// its default key pair); t.Cleanup stops it. The returned Env's AK/SK are creds[0]'s.
func startEmulator(t *testing.T, creds ...emulator.Credential) *emulatortest.Env {
	t.Helper()
	srv, err := emulator.New(emulator.Config{Region: emulatortest.Region, DataDir: t.TempDir(), Credentials: creds,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("emulator: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("emulator: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return &emulatortest.Env{Server: srv, URL: "http://" + srv.Addr(), AK: creds[0].AK, SK: creds[0].SK,
		ProjectID: creds[0].Projects[emulatortest.Region], Region: emulatortest.Region}
}
