package localenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// These tests start a real control plane from the envtest binaries; they skip when
// KUBEBUILDER_ASSETS is not set (make test sets it).
func requireAssets(t *testing.T) {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Skip("KUBEBUILDER_ASSETS not set; run through make test")
	}
}

// groupAlive reports whether any process of group pgid still exists.
func groupAlive(pgid int) bool {
	return syscall.Kill(-pgid, 0) == nil
}

func waitGone(t *testing.T, pgids []int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var alive []int
		for _, g := range pgids {
			if groupAlive(g) {
				alive = append(alive, g)
			}
		}
		if len(alive) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process groups still alive 30s after stop: %v", alive)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestStartApplyStop(t *testing.T) {
	requireAssets(t)
	ctx := context.Background()
	env, err := Start(ctx, Options{Dir: filepath.Join(t.TempDir(), "env"), Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })

	// The admin kubeconfig file works on its own.
	cfg, err := RESTConfigFromKubeconfig(env.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: Scheme})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := DecodeYAML([]byte(`
apiVersion: v1
kind: ConfigMap
metadata: {name: cm, namespace: applied}
data: {k: v}
---
apiVersion: v1
kind: Namespace
metadata: {name: applied}
`))
	if err != nil {
		t.Fatal(err)
	}
	// The namespace comes second in the stream: Apply must order it first.
	if err := env.Apply(ctx, objs...); err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "applied", Name: "cm"}, cm); err != nil {
		t.Fatal(err)
	}
	if cm.Data["k"] != "v" {
		t.Fatalf("configmap data = %v", cm.Data)
	}

	// A child that forks: Stop must end the whole group, not just the leader.
	p, err := env.StartProcess("forker", nil, "/bin/sh", "-c", "sleep 300 & sleep 300")
	if err != nil {
		t.Fatal(err)
	}
	if done, _ := p.Exited(); done {
		t.Fatal("forker exited at once")
	}
	pgids := env.ProcessGroups()
	if len(pgids) < 3 { // etcd, kube-apiserver, forker
		t.Fatalf("want at least 3 tracked process groups, got %v", pgids)
	}
	if err := env.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	waitGone(t, pgids)
}

// TestReaperKillsWhenParentDies SIGKILLs a process that started an environment and
// checks that the reaper ends everything it had started.
func TestReaperKillsWhenParentDies(t *testing.T) {
	requireAssets(t)
	dir := filepath.Join(t.TempDir(), "env")
	ready := filepath.Join(t.TempDir(), "ready")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperEnv$", "-test.v")
	cmd.Env = append(os.Environ(), "LOCALENV_HELPER_DIR="+dir, "LOCALENV_HELPER_READY="+ready)
	out, err := os.Create(filepath.Join(t.TempDir(), "helper.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pgids []int
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if b, err := os.ReadFile(ready); err == nil {
			for _, f := range strings.Fields(string(b)) {
				g, _ := strconv.Atoi(f)
				pgids = append(pgids, g)
			}
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			b, _ := os.ReadFile(out.Name())
			t.Fatalf("helper did not get ready:\n%s", b)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(pgids) < 3 {
		t.Fatalf("helper reported %v, want etcd, kube-apiserver and a sleeper", pgids)
	}
	for _, g := range pgids {
		if !groupAlive(g) {
			t.Fatalf("group %d not alive before the kill", g)
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	waitGone(t, pgids)
}

// TestHelperEnv is the body of the process TestReaperKillsWhenParentDies kills.
func TestHelperEnv(t *testing.T) {
	dir, ready := os.Getenv("LOCALENV_HELPER_DIR"), os.Getenv("LOCALENV_HELPER_READY")
	if dir == "" {
		t.Skip("helper process only")
	}
	env, err := Start(context.Background(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.StartProcess("sleeper", nil, "/bin/sh", "-c", "sleep 300 & sleep 300"); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, g := range env.ProcessGroups() {
		fmt.Fprintln(&b, g)
	}
	if err := os.WriteFile(ready, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Minute) // killed by the parent test
}

func TestStartRefusesToWipeForeignDir(t *testing.T) {
	dir := t.TempDir()
	precious := filepath.Join(dir, "precious.txt")
	if err := os.WriteFile(precious, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Start(context.Background(), Options{Dir: dir, AssetsDir: "/nonexistent"})
	if err == nil || !strings.Contains(err.Error(), "refusing to wipe") {
		t.Fatalf("Start on a foreign non-empty dir: err = %v, want a refusal", err)
	}
	if _, err := os.Stat(precious); err != nil {
		t.Fatalf("the foreign file is gone: %v", err)
	}
}

// TestStartEmulatorRetriesAPortRace hands the emulator a port that is already taken on
// the first attempt: StartEmulator must retry with new ports and come up.
func TestStartEmulatorRetriesAPortRace(t *testing.T) {
	requireAssets(t)
	ctx := context.Background()
	root, err := FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "csms-emulator")
	build := exec.Command("go", "build", "-o", bin, "./cmd/csms-emulator")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the emulator: %v\n%s", err, out)
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = taken.Close() }()
	calls := 0
	freePorts = func(n int) ([]string, error) {
		calls++
		addrs, err := FreePorts(n)
		if err == nil && calls == 1 {
			addrs[0] = taken.Addr().String()
		}
		return addrs, err
	}
	t.Cleanup(func() { freePorts = FreePorts })

	env, err := Start(ctx, Options{Dir: filepath.Join(t.TempDir(), "env"), Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	em, err := env.StartEmulator(ctx, EmulatorOptions{Binary: bin, Credentials: []string{"AK:SK:0123456789abcdef0123456789abcdef"}})
	if err != nil {
		t.Fatalf("StartEmulator did not recover from the port race: %v", err)
	}
	if calls < 2 {
		t.Fatalf("freePorts called %d time(s); the first attempt should have failed", calls)
	}
	if em.URL == "http://"+taken.Addr().String() {
		t.Fatal("the emulator claims the port that was taken")
	}
	pgids := env.ProcessGroups()
	if err := env.Stop(); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pgids)
}
