// Package localenv starts a throwaway local environment for the demo, the e2e tests and
// the benchmark: a control plane from the envtest binaries (etcd + kube-apiserver), an
// admin kubeconfig, the CSMS emulator and the manager as subprocesses. Everything it starts
// is stopped by Stop; a reaper process kills what is left if our process dies without
// calling it, and the next Start in the same directory kills any leftovers of a previous
// run that both missed. State and logs live in one directory (under the repo's ignored
// .local/), which Start wipes and Stop keeps, so logs can be read after a failure.
package localenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Options configures Start.
type Options struct {
	// Dir holds all state and logs. Required. It is wiped at Start.
	Dir string
	// Root is the repository root (for bin/ and hack/). Default: found from the working
	// directory by looking for go.mod.
	Root string
	// AssetsDir holds kube-apiserver and etcd. Default: $KUBEBUILDER_ASSETS, else the last
	// line printed by hack/setup-envtest.sh.
	AssetsDir string
	// Logf reports progress; nil is silent.
	Logf func(format string, args ...any)
}

// Env is a running local environment.
type Env struct {
	Dir  string
	Root string
	// Kubeconfig is the path of an admin (system:masters) kubeconfig file.
	Kubeconfig string
	// Config and Client act as that admin.
	Config *rest.Config
	Client client.Client

	logf     func(string, ...any)
	testEnv  *envtest.Environment
	cpLog    *os.File
	reaper   *reaper
	mu       sync.Mutex
	procs    []*Process
	stopOnce sync.Once
	stopErr  error
}

// Scheme is the scheme of Env.Client: client-go types; other kinds go through unstructured.
var Scheme = runtime.NewScheme()

func init() {
	if err := clientgoscheme.AddToScheme(Scheme); err != nil {
		panic(err)
	}
}

// Start wipes opts.Dir, starts etcd and kube-apiserver and writes the admin kubeconfig.
// On error everything already started is stopped again.
func Start(ctx context.Context, opts Options) (_ *Env, err error) {
	if opts.Dir == "" {
		return nil, errors.New("localenv: Options.Dir is required")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", opts.Dir, err)
	}
	root := opts.Root
	if root == "" {
		if root, err = FindRoot(); err != nil {
			return nil, err
		}
	}
	e := &Env{Dir: dir, Root: root, logf: opts.Logf}
	if e.logf == nil {
		e.logf = func(string, ...any) {}
	}

	reaperFile := filepath.Join(dir, "pgids")
	if killed := killStale(reaperFile, dir); len(killed) > 0 {
		e.logf("killed %d process group(s) left by an earlier run in %s: %v", len(killed), dir, killed)
		time.Sleep(500 * time.Millisecond) // let the kernel release their ports and files
	}
	if err := safeToWipe(dir); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("wiping %s: %w", dir, err)
	}
	for _, d := range []string{dir, filepath.Join(dir, "apiserver"), filepath.Join(dir, "etcd"), filepath.Join(dir, "logs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("creating %s: %w", d, err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, markerFile), []byte("state of a local environment; wiped by its next start\n"), 0o644); err != nil {
		return nil, fmt.Errorf("writing %s: %w", markerFile, err)
	}
	if e.reaper, err = startReaper(reaperFile); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = e.Stop()
		}
	}()

	assets := opts.AssetsDir
	if assets == "" {
		assets = os.Getenv("KUBEBUILDER_ASSETS")
	}
	if assets == "" {
		if assets, err = setupEnvtest(ctx, root); err != nil {
			return nil, err
		}
	}

	e.cpLog, err = os.OpenFile(filepath.Join(dir, "logs", "control-plane.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening control-plane log: %w", err)
	}
	cpLog := e.cpLog
	e.testEnv = &envtest.Environment{
		BinaryAssetsDirectory:    assets,
		ControlPlaneStartTimeout: 2 * time.Minute,
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	apiServer := e.testEnv.ControlPlane.GetAPIServer()
	// Directories under dir put dir on both command lines, which is how a later run
	// recognises leftovers (see killStale).
	apiServer.CertDir = filepath.Join(dir, "apiserver")
	apiServer.Out, apiServer.Err = cpLog, cpLog
	e.testEnv.ControlPlane.Etcd = &envtest.Etcd{DataDir: filepath.Join(dir, "etcd"), Out: cpLog, Err: cpLog}

	e.logf("starting control plane (etcd, kube-apiserver) from %s", assets)
	cfg, err := e.testEnv.Start()
	// Register envtest's processes with the reaper whatever happened: a failed start may
	// still have left etcd running.
	for _, pid := range childrenMentioning(dir) {
		if pid == e.reaper.cmd.Process.Pid {
			continue
		}
		if rerr := e.reaper.add(pid); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("starting control plane (log: %s): %w", cpLog.Name(), err)
	}

	user, err := e.testEnv.AddUser(envtest.User{Name: "localenv-admin", Groups: []string{"system:masters"}}, cfg)
	if err != nil {
		return nil, fmt.Errorf("adding admin user: %w", err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return nil, fmt.Errorf("rendering admin kubeconfig: %w", err)
	}
	e.Kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(e.Kubeconfig, kc, 0o600); err != nil {
		return nil, fmt.Errorf("writing admin kubeconfig: %w", err)
	}
	e.Config = user.Config()
	if e.Client, err = client.New(e.Config, client.Options{Scheme: Scheme}); err != nil {
		return nil, fmt.Errorf("creating admin client: %w", err)
	}
	e.logf("control plane up at %s; admin kubeconfig %s", e.Config.Host, e.Kubeconfig)
	return e, nil
}

// track registers a started process for Stop and for the reaper.
func (e *Env) track(p *Process) error {
	e.mu.Lock()
	e.procs = append(e.procs, p)
	e.mu.Unlock()
	return e.reaper.add(p.Pid())
}

// Stop stops everything Start and the Start* methods started, newest first, then the
// control plane. It is safe to call more than once.
func (e *Env) Stop() error {
	e.stopOnce.Do(func() {
		var errs []error
		e.mu.Lock()
		procs := e.procs
		e.procs = nil
		e.mu.Unlock()
		for i := len(procs) - 1; i >= 0; i-- {
			if err := procs[i].Stop(20 * time.Second); err != nil {
				errs = append(errs, err)
			}
		}
		if e.testEnv != nil {
			if err := e.testEnv.Stop(); err != nil {
				errs = append(errs, fmt.Errorf("stopping control plane: %w", err))
			}
		}
		// envtest stops the leaders; anything they forked would share their group.
		if e.reaper != nil {
			e.reaper.mu.Lock()
			for _, g := range e.reaper.pgids {
				if cmdlineMentions(g, e.Dir) {
					errs = append(errs, fmt.Errorf("process group %d still running after stop; killing it", g))
					_ = syscall.Kill(-g, syscall.SIGKILL)
				}
			}
			e.reaper.mu.Unlock()
			if err := e.reaper.release(); err != nil {
				errs = append(errs, err)
			}
		}
		if e.cpLog != nil {
			_ = e.cpLog.Close()
		}
		e.stopErr = errors.Join(errs...)
	})
	return e.stopErr
}

// FindRoot returns the nearest directory at or above the working directory that holds
// go.mod.
func FindRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding repository root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("finding repository root: no go.mod at or above the working directory")
		}
		dir = parent
	}
}

func setupEnvtest(ctx context.Context, root string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(root, "hack", "setup-envtest.sh"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("hack/setup-envtest.sh: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(lines[len(lines)-1]), nil
}

// Build compiles the given main packages into root/bin, e.g.
// Build(ctx, root, "manager", "./cmd/manager"). go's build cache makes a repeat cheap.
func Build(ctx context.Context, root string, nameAndPkg ...string) error {
	return BuildInto(ctx, root, filepath.Join(root, "bin"), nameAndPkg...)
}

// BuildInto is Build with the binaries written to outDir: a directory of the checkout's
// own, where root/bin may be shared with other checkouts building other code.
func BuildInto(ctx context.Context, root, outDir string, nameAndPkg ...string) error {
	if len(nameAndPkg)%2 != 0 {
		return errors.New("localenv.Build: want name, package pairs")
	}
	for i := 0; i < len(nameAndPkg); i += 2 {
		out := filepath.Join(outDir, nameAndPkg[i])
		cmd := exec.CommandContext(ctx, "go", "build", "-o", out, nameAndPkg[i+1])
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %w\n%s", nameAndPkg[i+1], err, b)
		}
	}
	return nil
}

// markerFile marks a directory as a local environment's, which Start may wipe.
const markerFile = ".localenv"

// safeToWipe refuses to wipe a directory that holds anything but a previous environment:
// a mistyped --dir must not delete someone's files.
func safeToWipe(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) || (err == nil && len(entries) == 0) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("inspecting %s: %w", dir, err)
	}
	// Directories made before the marker existed are known by their reaper list.
	for _, f := range []string{markerFile, "pgids"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return nil
		}
	}
	return fmt.Errorf("refusing to wipe %s: it is not empty and holds no %s marker of an earlier local environment", dir, markerFile)
}
