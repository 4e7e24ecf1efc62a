package localenv

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
)

// freePorts is FreePorts; a test replaces it to lose a port race on purpose.
var freePorts = FreePorts

// FreePorts returns n distinct free loopback TCP addresses ("127.0.0.1:port"). All
// listeners stay open until every port is chosen, so the n are distinct; another program
// could still take one before our child binds it, which the child then reports.
func FreePorts(n int) ([]string, error) {
	var addrs []string
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		ls = append(ls, l)
		addrs = append(addrs, l.Addr().String())
	}
	return addrs, nil
}

// EmulatorOptions configures StartEmulator.
type EmulatorOptions struct {
	// Binary defaults to <root>/bin/csms-emulator.
	Binary string
	// Region is the primary region (default cn-north-4).
	Region string
	// ReplicaRegions are more regions served by the same process, each on its own port.
	ReplicaRegions []string
	// Credentials are --credentials values: "AK:SK:PROJECT_ID" or
	// "AK:SK:REGION=PROJECT_ID,...".
	Credentials []string
	// ExtraArgs are appended (e.g. "--replication-delay=1s").
	ExtraArgs []string
	// Name names the log file (logs/<Name>.log) and the store (<Name>-data), so that one
	// environment can run several emulators (e.g. one per cloud account); default
	// "emulator".
	Name string
}

// Emulator is a running CSMS emulator.
type Emulator struct {
	*Process
	Region string
	// URL is the primary region's endpoint, e.g. http://127.0.0.1:40123.
	URL string
	// RegionURLs maps every served region, the primary included, to its endpoint.
	RegionURLs map[string]string
	// AdminURL is the unsigned admin API (health, stats, fault injection).
	AdminURL string
	DataDir  string
}

// StartEmulator starts bin/csms-emulator on free loopback ports with its store under
// Dir/emulator-data, and waits until its admin /healthz answers.
func (e *Env) StartEmulator(ctx context.Context, o EmulatorOptions) (*Emulator, error) {
	// Free ports are chosen before the emulator binds them; on a busy machine another
	// program can take one in between. That is worth a retry with new ports, nothing else is.
	for attempt := 1; ; attempt++ {
		em, err := e.startEmulatorOnce(ctx, o)
		if err == nil || attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			return em, err
		}
		e.logf("csms-emulator lost a port race (attempt %d); retrying with new ports", attempt)
	}
}

func (e *Env) startEmulatorOnce(ctx context.Context, o EmulatorOptions) (*Emulator, error) {
	if o.Binary == "" {
		o.Binary = filepath.Join(e.Root, "bin", "csms-emulator")
	}
	if o.Region == "" {
		o.Region = "cn-north-4"
	}
	if o.Name == "" {
		o.Name = "emulator"
	}
	addrs, err := freePorts(2 + len(o.ReplicaRegions))
	if err != nil {
		return nil, err
	}
	em := &Emulator{
		Region:     o.Region,
		URL:        "http://" + addrs[0],
		RegionURLs: map[string]string{o.Region: "http://" + addrs[0]},
		AdminURL:   "http://" + addrs[1],
		DataDir:    filepath.Join(e.Dir, o.Name+"-data"),
	}
	args := []string{"--listen", addrs[0], "--region", o.Region, "--admin-listen", addrs[1], "--data", em.DataDir}
	for i, r := range o.ReplicaRegions {
		args = append(args, "--replica-region", r+"="+addrs[2+i])
		em.RegionURLs[r] = "http://" + addrs[2+i]
	}
	for _, c := range o.Credentials {
		args = append(args, "--credentials", c)
	}
	args = append(args, o.ExtraArgs...)
	p, err := startProcess("csms-"+o.Name, filepath.Join(e.Dir, "logs", o.Name+".log"), nil, o.Binary, args...)
	if err != nil {
		return nil, err
	}
	em.Process = p
	if err := e.track(p); err != nil {
		return nil, err
	}
	e.logf("started csms-emulator (pid %d): %s, admin %s, log %s", p.Pid(), em.URL, em.AdminURL, p.LogPath)
	if err := waitHTTP(ctx, p, em.AdminURL+"/healthz", 60*time.Second); err != nil {
		return nil, err
	}
	return em, nil
}

// ManagerOptions configures StartManager.
type ManagerOptions struct {
	// Binary defaults to <root>/bin/manager.
	Binary string
	// Kubeconfig defaults to the admin kubeconfig.
	Kubeconfig string
	// Name names the log file (logs/<Name>.log); default "manager".
	Name string
	// Args are appended to the defaults (--kubeconfig, --metrics-bind-address=0,
	// --health-probe-bind-address=127.0.0.1:<free>).
	Args []string
	// Env is added to the process environment.
	Env []string
}

// Manager is a running manager process.
type Manager struct {
	*Process
	// ProbeURL is the base URL of /healthz and /readyz.
	ProbeURL string
}

// StartManager starts the manager binary and waits until /readyz answers 200.
func (e *Env) StartManager(ctx context.Context, o ManagerOptions) (*Manager, error) {
	if o.Binary == "" {
		o.Binary = filepath.Join(e.Root, "bin", "manager")
	}
	if o.Kubeconfig == "" {
		o.Kubeconfig = e.Kubeconfig
	}
	if o.Name == "" {
		o.Name = "manager"
	}
	addrs, err := FreePorts(1)
	if err != nil {
		return nil, err
	}
	args := append([]string{
		"--kubeconfig=" + o.Kubeconfig,
		"--metrics-bind-address=0",
		"--health-probe-bind-address=" + addrs[0],
	}, o.Args...)
	// KUBECONFIG is cleared so only the flag decides which identity the manager uses.
	env := append([]string{"KUBECONFIG="}, o.Env...)
	p, err := startProcess(o.Name, filepath.Join(e.Dir, "logs", o.Name+".log"), env, o.Binary, args...)
	if err != nil {
		return nil, err
	}
	if err := e.track(p); err != nil {
		return nil, err
	}
	m := &Manager{Process: p, ProbeURL: "http://" + addrs[0]}
	e.logf("started %s (pid %d): probes %s, log %s", o.Name, p.Pid(), m.ProbeURL, p.LogPath)
	if err := waitHTTP(ctx, p, m.ProbeURL+"/readyz", 90*time.Second); err != nil {
		return nil, err
	}
	return m, nil
}

// waitHTTP polls url until it answers 200; it fails early, with the log's tail, when the
// process exits.
func waitHTTP(ctx context.Context, p *Process, url string, timeout time.Duration) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	err := Poll(ctx, timeout, func(ctx context.Context) (bool, string, error) {
		if done, werr := p.Exited(); done {
			return false, "", fmt.Errorf("%s exited before it was ready (%v); last lines of %s:\n%s", p.Name, werr, p.LogPath, p.LogTail(30))
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false, "", err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return false, fmt.Sprintf("%s: %v", url, err), nil
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false, fmt.Sprintf("%s answered %d", url, resp.StatusCode), nil
		}
		return true, "", nil
	})
	if err != nil {
		return fmt.Errorf("waiting for %s: %w; log %s", p.Name, err, p.LogPath)
	}
	return nil
}

// ServiceAccountKubeconfig writes to path a kubeconfig that authenticates as the
// ServiceAccount namespace/name with a TokenRequest token (valid for the given duration),
// so a process using it has exactly the RBAC that account is granted.
func (e *Env) ServiceAccountKubeconfig(ctx context.Context, namespace, name, path string, validity time.Duration) error {
	cs, err := kubernetes.NewForConfig(e.Config)
	if err != nil {
		return fmt.Errorf("creating clientset: %w", err)
	}
	tr, err := cs.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To(int64(validity.Seconds()))},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("requesting a token for ServiceAccount %s/%s: %w", namespace, name, err)
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["local"] = &clientcmdapi.Cluster{Server: e.Config.Host, CertificateAuthorityData: e.Config.CAData}
	user := "system:serviceaccount:" + namespace + ":" + name
	kc.AuthInfos[user] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	kc.Contexts["local"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: user, Namespace: namespace}
	kc.CurrentContext = "local"
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("writing kubeconfig: %w", err)
	}
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		return fmt.Errorf("writing kubeconfig: %w", err)
	}
	return nil
}

// RESTConfigFromKubeconfig loads a kubeconfig file.
func RESTConfigFromKubeconfig(path string) (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", path, err)
	}
	return cfg, nil
}

// EnsureNamespace creates a namespace if it does not exist.
func (e *Env) EnsureNamespace(ctx context.Context, name string) error {
	ns := &corev1.Namespace{}
	ns.Name = name
	if err := e.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return nil
}

// StartProcess starts any program as part of the environment (own process group, log in
// logs/<name>.log, stopped by Stop, killed by the reaper if we die).
func (e *Env) StartProcess(name string, env []string, bin string, args ...string) (*Process, error) {
	p, err := startProcess(name, filepath.Join(e.Dir, "logs", name+".log"), env, bin, args...)
	if err != nil {
		return nil, err
	}
	if err := e.track(p); err != nil {
		return nil, err
	}
	return p, nil
}

// ProcessGroups lists the process groups the environment has started and not yet
// stopped (control plane included); tests use it to check that nothing survives.
func (e *Env) ProcessGroups() []int {
	e.reaper.mu.Lock()
	defer e.reaper.mu.Unlock()
	return append([]int(nil), e.reaper.pgids...)
}
