//go:build e2e

// Package e2e tests the manifests we ship, not just the Go code: config/default (CRDs,
// RBAC, ServiceAccount, namespace) is applied to an envtest kube-apiserver, and the manager
// binary runs as a process with the args of the shipped Deployment and a kubeconfig that
// authenticates as the shipped ServiceAccount (a TokenRequest token), so every API call it
// makes is authorised by the shipped RBAC. The cloud side is the CSMS emulator with two
// regions.
//
// With E2E_MANAGER_IMAGE set (make test-e2e-image), the manager runs instead inside that
// image as a container (engine: E2E_CONTAINER_TOOL, default podman), translated from the
// shipped Deployment: its command, args, env, security contexts and limits, in-cluster
// configuration from a mounted ServiceAccount token, on the host network so it reaches the
// envtest API server on loopback.
package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/csms-operator/csms-operator/internal/localenv"
)

const (
	systemNamespace = "csms-system"
	managerSA       = "csms-operator-controller-manager"
	managerRole     = "csms-operator-manager-role"
	primaryRegion   = "cn-north-4"
	replicaRegion   = "ap-southeast-3"
)

var (
	root string
	// installed is config/default rendered by kustomize.
	installed []*unstructured.Unstructured
	// samples is config/samples/demo, the objects the lifecycle test drives.
	samples []*unstructured.Unstructured
	// binDir holds the manager and emulator binaries built for this run.
	binDir string
	// managerImage, when set, runs the manager in that image as a container.
	managerImage = os.Getenv("E2E_MANAGER_IMAGE")
	// containerTool is the engine command for managerImage.
	containerTool = strings.Fields(os.Getenv("E2E_CONTAINER_TOOL"))
)

func TestMain(m *testing.M) {
	os.Exit(func() int {
		// envtest logs through controller-runtime's logger; its output is not ours to show.
		ctrllog.SetLogger(zap.New(zap.WriteTo(io.Discard)))
		var err error
		if root, err = localenv.FindRoot(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		ctx := context.Background()
		// Always rebuild: a stale binary would test old code. go's cache makes it cheap.
		// In container mode the manager comes from the image instead.
		bins := []string{"csms-emulator", "./cmd/csms-emulator"}
		if managerImage == "" {
			bins = append(bins, "manager", "./cmd/manager")
		} else if len(containerTool) == 0 {
			containerTool = []string{"podman"}
		}
		// Into .local, not bin/: bin/ may be a directory shared by several checkouts
		// (worktrees), whose concurrent builds would replace our binaries with theirs.
		binDir = filepath.Join(root, ".local", "e2e-bin")
		if err := localenv.BuildInto(ctx, root, binDir, bins...); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		out, err := localenv.Kustomize(ctx, root, filepath.Join(root, "config", "default"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if installed, err = localenv.DecodeYAML(out); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if samples, err = localenv.ReadManifests(filepath.Join(root, "config", "samples", "demo")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return m.Run()
	}())
}

// suite is one environment: control plane with config/default applied, emulator, manager
// running as its ServiceAccount.
type suite struct {
	t       *testing.T
	env     *localenv.Env
	em      *localenv.Emulator
	mgr     *localenv.Manager
	acct    account
	metrics string // https://127.0.0.1:port of the manager's metrics endpoint
	// container is the manager's container in container mode, else nil.
	container *localenv.ContainerManager
}

type account struct {
	ak, sk   string
	projects map[string]string
}

// setupOptions changes what is installed before the manager starts.
type setupOptions struct {
	// install replaces the rendered config/default (e.g. an overlay of it with a
	// component); nil installs config/default.
	install []*unstructured.Unstructured
	// mutate may change the rendered config/default objects (e.g. drop an RBAC rule).
	mutate func(objs []*unstructured.Unstructured)
	// managerEnv is added to the manager's environment: to the process's, or to the
	// shipped Deployment's manager container in container mode.
	managerEnv []corev1.EnvVar
}

func newSuite(t *testing.T, o setupOptions) *suite {
	t.Helper()
	ctx := context.Background()
	s := &suite{t: t}
	dir := filepath.Join(root, ".local", "e2e", t.Name())
	env, err := localenv.Start(ctx, localenv.Options{Dir: dir, Root: root, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	s.env = env
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range []string{"manager", "emulator"} {
				p := filepath.Join(dir, "logs", n+".log")
				t.Logf("--- last lines of %s ---\n%s", p, tail(p, 40))
			}
		}
		if err := env.Stop(); err != nil {
			t.Errorf("stopping the environment: %v", err)
		}
		// Nothing the environment started may survive it.
		for _, g := range env.ProcessGroups() {
			t.Errorf("process group %d still tracked after Stop", g)
		}
	})

	// Install config/default as shipped, minus the Deployment (no container runtime).
	install := installed
	if o.install != nil {
		install = o.install
	}
	objs := make([]*unstructured.Unstructured, 0, len(install))
	var deployment *unstructured.Unstructured
	for _, obj := range install {
		obj = obj.DeepCopy()
		if obj.GetKind() == "Deployment" {
			deployment = obj
			continue
		}
		objs = append(objs, obj)
	}
	if deployment == nil {
		t.Fatal("the install set renders no Deployment")
	}
	if o.mutate != nil {
		o.mutate(objs)
	}
	if err := env.Apply(ctx, objs...); err != nil {
		t.Fatal(err)
	}

	s.acct = accountFromSamples(t)
	s.em, err = env.StartEmulator(ctx, localenv.EmulatorOptions{
		Binary:         filepath.Join(binDir, "csms-emulator"),
		Region:         primaryRegion,
		ReplicaRegions: []string{replicaRegion},
		Credentials:    []string{s.acct.credentialsFlag()},
		ExtraArgs:      []string{"--replication-delay=1s"},
	})
	if err != nil {
		t.Fatal(err)
	}

	if managerImage != "" {
		if len(o.managerEnv) > 0 {
			addContainerEnv(t, deployment, o.managerEnv)
		}
		s.startContainer(ctx, deployment)
		return s
	}
	// The manager authenticates as the shipped ServiceAccount.
	kc := filepath.Join(dir, "manager-sa.kubeconfig")
	if err := env.ServiceAccountKubeconfig(ctx, systemNamespace, managerSA, kc, time.Hour); err != nil {
		t.Fatal(err)
	}
	args, metricsAddr := managerArgs(t, deployment)
	s.metrics = "https://" + metricsAddr
	var menv []string
	for _, ev := range o.managerEnv {
		menv = append(menv, ev.Name+"="+ev.Value)
	}
	s.mgr, err = env.StartManager(ctx, localenv.ManagerOptions{Binary: filepath.Join(binDir, "manager"), Kubeconfig: kc, Args: args, Env: menv})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// addContainerEnv appends env to the Deployment's manager container.
func addContainerEnv(t *testing.T, deployment *unstructured.Unstructured, env []corev1.EnvVar) {
	t.Helper()
	containers, _, _ := unstructured.NestedSlice(deployment.Object, "spec", "template", "spec", "containers")
	found := false
	for _, c := range containers {
		cm, _ := c.(map[string]any)
		if cm["name"] != "manager" {
			continue
		}
		found = true
		list, _ := cm["env"].([]any)
		for _, ev := range env {
			list = append(list, map[string]any{"name": ev.Name, "value": ev.Value})
		}
		cm["env"] = list
	}
	if !found {
		t.Fatal("the Deployment has no manager container")
	}
	if err := unstructured.SetNestedSlice(deployment.Object, containers, "spec", "template", "spec", "containers"); err != nil {
		t.Fatal(err)
	}
}

// managerArgs turns the Deployment's container args into a local command line: the probe
// and metrics addresses move to free loopback ports. Every other flag is kept, so a flag
// the binary does not know fails the test.
func managerArgs(t *testing.T, deployment *unstructured.Unstructured) ([]string, string) {
	t.Helper()
	containers, _, _ := unstructured.NestedSlice(deployment.Object, "spec", "template", "spec", "containers")
	var raw []string
	for _, c := range containers {
		cm, _ := c.(map[string]any)
		if cm["name"] != "manager" {
			continue
		}
		for _, a := range cm["args"].([]any) {
			raw = append(raw, a.(string))
		}
	}
	if len(raw) == 0 {
		t.Fatal("the Deployment has no manager container args")
	}
	addrs, err := localenv.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	var args []string
	sawMetrics, sawLeaderElect := false, false
	for _, a := range raw {
		switch {
		case strings.HasPrefix(a, "--health-probe-bind-address"):
			// StartManager binds probes to a free loopback port.
		case strings.HasPrefix(a, "--metrics-bind-address"):
			sawMetrics = true
			args = append(args, "--metrics-bind-address="+addrs[0])
		case a == "--leader-elect" || a == "--leader-elect=true":
			sawLeaderElect = true
			args = append(args, a)
		default:
			args = append(args, a)
		}
	}
	if !sawMetrics || !sawLeaderElect {
		t.Fatalf("the Deployment's args %q lack --metrics-bind-address or --leader-elect", raw)
	}
	// Out of a cluster the manager cannot read its namespace from the pod's service
	// account mount: name it, so the Lease lives where the shipped leader-election Role
	// allows.
	args = append(args, "--leader-election-namespace="+systemNamespace)
	return args, addrs[0]
}

// startContainer runs the shipped Deployment's manager container from managerImage. Its
// args, env and security contexts come from the Deployment unchanged, except that the
// bind addresses move to free loopback ports (the host network is shared); the metrics
// port is the one the shipped metrics Service targets.
func (s *suite) startContainer(ctx context.Context, deployment *unstructured.Unstructured) {
	s.t.Helper()
	d := &appsv1.Deployment{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(deployment.Object, d); err != nil {
		s.t.Fatalf("decoding the shipped Deployment: %v", err)
	}
	cm, err := s.env.StartManagerContainer(ctx, localenv.ContainerOptions{
		Engine: containerTool, Image: managerImage, Deployment: d, Container: "manager",
	})
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Logf("manager container: %s %s", strings.Join(containerTool, " "), strings.Join(cm.RunArgs, " "))
	s.container, s.mgr = cm, cm.Manager
	port := metricsTargetPort(s.t, d)
	addr, ok := cm.Ports[port]
	if !ok {
		s.t.Fatalf("the metrics Service targets container port %d, which no --*-bind-address of the Deployment binds (bound: %v)", port, cm.Ports)
	}
	s.metrics = "https://" + addr
}

// metricsTargetPort is the container port the shipped metrics Service sends "https" to.
func metricsTargetPort(t *testing.T, d *appsv1.Deployment) int32 {
	t.Helper()
	for _, o := range installed {
		if o.GetKind() != "Service" || !strings.Contains(o.GetName(), "metrics") {
			continue
		}
		ports, _, _ := unstructured.NestedSlice(o.Object, "spec", "ports")
		for _, p := range ports {
			pm := p.(map[string]any)
			if pm["name"] != "https" {
				continue
			}
			switch tp := pm["targetPort"].(type) {
			case int64:
				return int32(tp)
			case float64: // YAML decoded through JSON
				return int32(tp)
			case string:
				for _, c := range d.Spec.Template.Spec.Containers {
					for _, cp := range c.Ports {
						if cp.Name == tp {
							return cp.ContainerPort
						}
					}
				}
				t.Fatalf("the metrics Service targets port %q, which the Deployment does not name", tp)
			}
		}
	}
	t.Fatal("config/default has no metrics Service with an https port")
	return 0
}

func accountFromSamples(t *testing.T) account {
	t.Helper()
	a := account{projects: map[string]string{}}
	for _, o := range samples {
		switch o.GetKind() {
		case "ClusterProviderConfig":
			r, _, _ := unstructured.NestedString(o.Object, "spec", "region")
			p, _, _ := unstructured.NestedString(o.Object, "spec", "projectID")
			a.projects[r] = p
		case "ManagedSecret":
			reps, _, _ := unstructured.NestedSlice(o.Object, "spec", "replicas")
			for _, r := range reps {
				rm := r.(map[string]any)
				a.projects[rm["region"].(string)] = rm["projectID"].(string)
			}
		case "Secret":
			if o.GetNamespace() == systemNamespace {
				a.ak, _, _ = unstructured.NestedString(o.Object, "stringData", "accessKeyID")
				a.sk, _, _ = unstructured.NestedString(o.Object, "stringData", "secretAccessKey")
			}
		}
	}
	if a.ak == "" || a.projects[primaryRegion] == "" || a.projects[replicaRegion] == "" {
		t.Fatalf("config/samples/demo lacks credentials, the %s project or a %s replica", primaryRegion, replicaRegion)
	}
	return a
}

func (a account) credentialsFlag() string {
	return fmt.Sprintf("%s:%s:%s=%s,%s=%s", a.ak, a.sk, primaryRegion, a.projects[primaryRegion], replicaRegion, a.projects[replicaRegion])
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
