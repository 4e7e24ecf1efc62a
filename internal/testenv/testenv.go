// Package testenv starts the envtest control plane with this project's CRDs for the
// envtest suites of internal/controller and internal/provider, so they set it up one way.
package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	kruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
)

// Env is a running control plane with the CRDs of config/crd/bases installed.
type Env struct {
	Config *rest.Config
	// Scheme holds the client-go types and v1alpha1.
	Scheme *kruntime.Scheme
	// Client talks to the API server directly (no cache).
	Client client.Client

	env *envtest.Environment
}

// repoRoot is the module root, found from this file's location so that tests work
// whatever their package directory.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Start starts etcd and kube-apiserver. When KUBEBUILDER_ASSETS is not set it runs
// hack/setup-envtest.sh (a no-op once the binaries are built) and sets it, so
// `go test ./internal/...` works without exporting it first.
func Start() (*Env, error) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		out, err := exec.Command(filepath.Join(repoRoot(), "hack", "setup-envtest.sh")).Output()
		if err != nil {
			return nil, fmt.Errorf("hack/setup-envtest.sh: %w", err)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if err := os.Setenv("KUBEBUILDER_ASSETS", lines[len(lines)-1]); err != nil {
			return nil, fmt.Errorf("setting KUBEBUILDER_ASSETS: %w", err)
		}
	}
	scheme := kruntime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("client-go scheme: %w", err)
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("v1alpha1 scheme: %w", err)
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(repoRoot(), "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting envtest: %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("client: %w", err), env.Stop())
	}
	return &Env{Config: cfg, Scheme: scheme, Client: c, env: env}, nil
}

// Stop stops the control plane.
func (e *Env) Stop() error {
	return e.env.Stop()
}
