//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/csms-operator/csms-operator/internal/localenv"
)

// TestManagerContainerAsShipped (container mode only) looks at the running manager from
// the kernel's side rather than trusting the engine's flags: it runs as UID/GID 65532
// with no capabilities and no_new_privs, on a read-only root file system with no writable
// tmpfs, configured in-cluster (no kubeconfig; the mounted ServiceAccount token), with the
// Deployment's memory limit in its cgroup; its probes answer; and it is gone after Stop.
func TestManagerContainerAsShipped(t *testing.T) {
	if managerImage == "" {
		t.Skip("process mode; make test-e2e-image runs this with the manager in its image")
	}
	ctx := context.Background()
	s := newSuite(t, setupOptions{})
	c := s.container

	// The image is what users get: entrypoint /manager, numeric non-root user.
	out, err := exec.CommandContext(ctx, containerTool[0], append(containerTool[1:], "image", "inspect", "--format", "{{json .Config}}", managerImage)...).Output()
	if err != nil {
		t.Fatalf("inspecting %s: %v", managerImage, err)
	}
	var cfg struct {
		User       string
		Entrypoint []string
		Labels     map[string]string
	}
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.User != "65532:65532" || len(cfg.Entrypoint) != 1 || cfg.Entrypoint[0] != "/manager" {
		t.Errorf("image config: user %q entrypoint %q; want 65532:65532 and [/manager]", cfg.User, cfg.Entrypoint)
	}
	t.Logf("image %s: revision %s, base %s", managerImage, cfg.Labels["org.opencontainers.image.revision"], cfg.Labels["org.opencontainers.image.base.name"])

	pid, err := c.PID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	status := procFields(t, pid, "status")
	for field, want := range map[string]string{
		"Uid": "65532 65532 65532 65532", "Gid": "65532 65532 65532 65532",
		"CapInh": "0000000000000000", "CapPrm": "0000000000000000", "CapEff": "0000000000000000",
		"CapBnd": "0000000000000000", "CapAmb": "0000000000000000", "NoNewPrivs": "1",
	} {
		if got := strings.Join(strings.Fields(status[field]), " "); got != want {
			t.Errorf("/proc/%d/status %s = %q, want %q", pid, field, got, want)
		}
	}

	// Mounts as the process sees them: "/" read-only, nothing writable on /tmp, the
	// ServiceAccount directory read-only.
	mi, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		t.Fatal(err)
	}
	mounts := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(mi)), "\n") {
		f := strings.Fields(l)
		if len(f) > 5 {
			mounts[f[4]] = f[5]
		}
	}
	if !hasOpt(mounts["/"], "ro") {
		t.Errorf("the root file system is mounted %q, want ro", mounts["/"])
	}
	for _, p := range []string{"/tmp", "/var/tmp", "/run"} {
		if o, ok := mounts[p]; ok && !hasOpt(o, "ro") {
			t.Errorf("%s is a writable mount (%s); a pod with readOnlyRootFilesystem has none", p, o)
		}
	}
	if o := mounts[localenv.ServiceAccountMountPath]; !hasOpt(o, "ro") {
		t.Errorf("%s is mounted %q, want ro", localenv.ServiceAccountMountPath, o)
	}

	// In-cluster configuration: no kubeconfig anywhere, the service environment set.
	cmdline := readNul(t, fmt.Sprintf("/proc/%d/cmdline", pid))
	environ := readNul(t, fmt.Sprintf("/proc/%d/environ", pid))
	for _, a := range cmdline {
		if strings.Contains(a, "kubeconfig") {
			t.Errorf("the manager's command line has %q", a)
		}
	}
	env := map[string]string{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	if _, ok := env["KUBECONFIG"]; ok {
		t.Error("KUBECONFIG is set in the container")
	}
	if env["KUBERNETES_SERVICE_HOST"] == "" || env["KUBERNETES_SERVICE_PORT"] == "" {
		t.Errorf("KUBERNETES_SERVICE_HOST/PORT not set: %q %q", env["KUBERNETES_SERVICE_HOST"], env["KUBERNETES_SERVICE_PORT"])
	}
	t.Logf("manager pid %d: %s", pid, strings.Join(cmdline, " "))

	// Leader election ran in the namespace read from the mounted ServiceAccount directory
	// (the Deployment names none), by this container (its hostname is the Lease holder's
	// prefix).
	err = localenv.Poll(ctx, wait, func(ctx context.Context) (bool, string, error) {
		lease := &coordinationv1.Lease{}
		if err := s.env.Client.Get(ctx, client.ObjectKey{Namespace: systemNamespace, Name: "csms-operator.csms-operator.io"}, lease); err != nil {
			return false, "leader-election Lease: " + err.Error(), nil
		}
		if h := lease.Spec.HolderIdentity; h == nil || !strings.HasPrefix(*h, "csms-operator-controller-manager_") {
			return false, fmt.Sprintf("Lease holder %v is not the container (hostname csms-operator-controller-manager)", h), nil
		}
		return true, "", nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// The probes of the Deployment answer.
	if len(c.ProbeURLs) < 2 {
		t.Errorf("probes %v; the shipped Deployment has a liveness and a readiness probe", c.ProbeURLs)
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	for kind, u := range c.ProbeURLs {
		resp, err := hc.Get(u)
		if err != nil {
			t.Errorf("%s probe %s: %v", kind, u, err)
			continue
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s probe %s answered %d", kind, u, resp.StatusCode)
		}
	}

	// The Deployment's memory limit reached the cgroup, and the manager read it there.
	limit := deploymentMemoryLimit(t)
	want := fmt.Sprintf(`"bytes":%d`, int64(float64(limit)*0.9))
	logText, err := os.ReadFile(s.mgr.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if line := grep(string(logText), "go memory limit"); !strings.Contains(line, want) {
		t.Errorf("the manager log does not show a Go memory limit of 90%% of %d (%s): %q", limit, want, line)
	}

	// Stop stops and removes the container.
	if err := s.env.Stop(); err != nil {
		t.Fatal(err)
	}
	if out, err := c.Inspect(ctx, "{{.State.Status}}"); err == nil {
		t.Errorf("container %s still exists after Stop (state %s)", c.ContainerName, out)
	}
	if !strings.Contains(strings.ToLower(tail(s.mgr.LogPath, 20)), "stopping and waiting") {
		t.Logf("the manager log does not show a graceful shutdown:\n%s", tail(s.mgr.LogPath, 10))
	}
}

func deploymentMemoryLimit(t *testing.T) int64 {
	t.Helper()
	for _, o := range installed {
		if o.GetKind() != "Deployment" {
			continue
		}
		containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		for _, c := range containers {
			cm := c.(map[string]any)
			if cm["name"] != "manager" {
				continue
			}
			v, _, _ := unstructured.NestedString(cm, "resources", "limits", "memory")
			q, err := resourceQuantity(v)
			if err != nil {
				t.Fatalf("the manager's memory limit %q: %v", v, err)
			}
			return q
		}
	}
	t.Fatal("the shipped Deployment has no manager container with a memory limit")
	return 0
}

func resourceQuantity(v string) (int64, error) {
	var rl corev1.ResourceList
	if err := json.Unmarshal([]byte(`{"memory":"`+v+`"}`), &rl); err != nil {
		return 0, err
	}
	q := rl[corev1.ResourceMemory]
	return q.Value(), nil
}

func procFields(t *testing.T, pid int, file string) map[string]string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/" + file)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out
}

func readNul(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (the test reads the container's process from the host; run it as root)", err)
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

func hasOpt(opts, want string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}
