/*
Copyright 2026 The csms-operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Command manager runs the csms-operator controllers.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	_ "k8s.io/client-go/plugin/pkg/client/auth"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	secretsv1alpha1 "github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/controller"
	"github.com/csms-operator/csms-operator/internal/memlimit"
	"github.com/csms-operator/csms-operator/internal/metricsauth"
)

var (
	scheme   = runtime.NewScheme()
	setupLog = ctrl.Log.WithName("setup")
)

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(secretsv1alpha1.AddToScheme(scheme))
}

func main() {
	var (
		metricsAddr          string
		probeAddr            string
		enableLeaderElection bool
		leaderElectionNS     string
		leaseDuration        time.Duration
		renewDeadline        time.Duration
		retryPeriod          time.Duration
		secureMetrics        bool
		enableHTTP2          bool
		metricsCertPath      string
		metricsCertName      string
		metricsCertKey       string
		maxConcurrent        int
		csmsTimeout          time.Duration
		replicaPollInterval  time.Duration
		allowNamespacedEnv   bool
		enableTargets        bool
		pprofAddr            string
		restartQPS           float64
		restartBurst         int
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", "0",
		"The address the metrics endpoint binds to. Use :8443 for HTTPS or :8080 for HTTP, or 0 to disable it.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "The address the probe endpoint binds to.")
	flag.StringVar(&pprofAddr, "pprof-bind-address", "0",
		"The address of the Go profiling endpoint (/debug/pprof), e.g. 127.0.0.1:6060; 0 disables it. Unauthenticated: bind it to loopback.")
	flag.BoolVar(&enableLeaderElection, "leader-elect", false,
		"Enable leader election, ensuring only one active manager.")
	// In a pod the namespace comes from the service account mount; outside one (the e2e
	// tests run the binary as a process) it must be named.
	flag.StringVar(&leaderElectionNS, "leader-election-namespace", "",
		"Namespace of the leader-election Lease; default: the pod's own namespace.")
	// The defaults are controller-runtime's. A shorter lease fails over faster after a
	// crash but renews more often and tolerates less clock skew and API latency; see
	// docs/install.md#leader-election.
	flag.DurationVar(&leaseDuration, "leader-elect-lease-duration", 15*time.Second,
		"How long a standby waits after the leader's last renewal before it takes over the Lease.")
	flag.DurationVar(&renewDeadline, "leader-elect-renew-deadline", 10*time.Second,
		"How long the leader keeps retrying to renew before it gives up leadership (and exits).")
	flag.DurationVar(&retryPeriod, "leader-elect-retry-period", 2*time.Second,
		"How often the leader renews and a standby tries to acquire the Lease.")
	flag.BoolVar(&secureMetrics, "metrics-secure", true,
		"Serve metrics over HTTPS with authentication and authorization. Use --metrics-secure=false for HTTP.")
	flag.StringVar(&metricsCertPath, "metrics-cert-path", "", "The directory that contains the metrics server certificate.")
	flag.StringVar(&metricsCertName, "metrics-cert-name", "tls.crt", "The name of the metrics server certificate file.")
	flag.StringVar(&metricsCertKey, "metrics-cert-key", "tls.key", "The name of the metrics server key file.")
	flag.BoolVar(&enableHTTP2, "enable-http2", false,
		"Enable HTTP/2 for the metrics server (off by default: HTTP/2 Stream Cancellation and Rapid Reset CVEs).")
	flag.IntVar(&maxConcurrent, "max-concurrent-reconciles", 16,
		"How many ManagedSecrets are reconciled in parallel.")
	flag.DurationVar(&csmsTimeout, "csms-timeout", 0,
		"Timeout of each CSMS HTTP attempt (0 = the client default).")
	flag.DurationVar(&replicaPollInterval, "replica-poll-interval", controller.DefaultReplicaPollInterval,
		"How often a ManagedSecret is re-read while one of its replicas is syncing.")
	flag.BoolVar(&enableTargets, "enable-targets", true,
		"Let spec.target write Secrets and restart workloads; needs the manager-targets-role. With false the manager only reads Secrets.")
	flag.Float64Var(&restartQPS, "workload-restart-qps", controller.DefaultWorkloadRestartQPS,
		"Workload restarts per second across all ManagedSecrets (spec.target.rolloutRestart).")
	flag.IntVar(&restartBurst, "workload-restart-burst", controller.DefaultWorkloadRestartBurst,
		"Workload restarts allowed at once before --workload-restart-qps applies.")
	flag.BoolVar(&allowNamespacedEnv, "allow-namespaced-environment-credentials", false,
		"Let namespaced ProviderConfigs use credentials.source Environment, i.e. the manager's own cloud identity. "+
			"Off by default: anyone allowed to create a ProviderConfig in a namespace could otherwise act in the cloud as the manager.")
	opts := zap.Options{Development: false}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()

	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))

	if err := validateLeaderElection(enableLeaderElection, leaseDuration, renewDeadline, retryPeriod); err != nil {
		setupLog.Error(err, "Invalid leader-election flags")
		os.Exit(1)
	}

	// In a container with a memory limit, let the garbage collector work harder near it
	// rather than be killed (GOMEMLIMIT, when set, wins).
	if limit, file := memlimit.FromCgroup(); limit > 0 {
		setupLog.Info("Go memory limit set below the container's", "bytes", limit, "fraction", memlimit.Fraction, "from", file)
	}

	var tlsOpts []func(*tls.Config)
	if !enableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}

	metricsServerOptions := metricsserver.Options{
		BindAddress:   metricsAddr,
		SecureServing: secureMetrics,
		TLSOpts:       tlsOpts,
	}
	if secureMetrics {
		// TokenReview + SubjectAccessReview, as controller-runtime's filters package does,
		// without linking k8s.io/apiserver (see internal/metricsauth).
		metricsServerOptions.FilterProvider = metricsauth.FilterProvider
	}
	if metricsCertPath != "" {
		metricsServerOptions.CertDir = metricsCertPath
		metricsServerOptions.CertName = metricsCertName
		metricsServerOptions.KeyName = metricsCertKey
	}

	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsServerOptions,
		HealthProbeBindAddress:  probeAddr,
		PprofBindAddress:        pprofAddr,
		LeaderElection:          enableLeaderElection,
		LeaderElectionID:        "csms-operator.csms-operator.io",
		LeaderElectionNamespace: leaderElectionNS,
		LeaseDuration:           &leaseDuration,
		RenewDeadline:           &renewDeadline,
		RetryPeriod:             &retryPeriod,
		// On SIGTERM the leader clears the Lease once its controllers have stopped, so a
		// standby takes over at its next retry instead of waiting out the lease. Safe
		// because main returns as soon as Start does: nothing runs after the release.
		LeaderElectionReleaseOnCancel: true,
		// Secret data is never cached (see controller.ClientOptions).
		Client: controller.ClientOptions(),
		Cache:  controller.CacheOptions(),
	})
	if err != nil {
		setupLog.Error(err, "Unable to create manager")
		os.Exit(1)
	}

	ctx := ctrl.SetupSignalHandler()
	if err := controller.SetupAll(ctx, mgr, controller.Options{
		MaxConcurrentReconciles:               maxConcurrent,
		ReplicaPollInterval:                   replicaPollInterval,
		CSMSTimeout:                           csmsTimeout,
		AllowNamespacedEnvironmentCredentials: allowNamespacedEnv,
		EnableTargets:                         enableTargets,
		WorkloadRestartQPS:                    restartQPS,
		WorkloadRestartBurst:                  restartBurst,
	}); err != nil {
		setupLog.Error(err, "Unable to set up controllers")
		os.Exit(1)
	}
	// +kubebuilder:scaffold:builder

	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		setupLog.Error(err, "Unable to set up health check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		setupLog.Error(err, "Unable to set up ready check")
		os.Exit(1)
	}

	setupLog.Info("Starting manager")
	if err := mgr.Start(ctx); err != nil {
		setupLog.Error(err, "Problem running manager")
		os.Exit(1)
	}
}

// validateLeaderElection checks the order client-go's leader elector requires, so a bad
// combination is refused at start with the flag names rather than after the manager has
// begun: lease > renew deadline > 1.2 × retry period > 0.
func validateLeaderElection(enabled bool, lease, renew, retry time.Duration) error {
	switch {
	case !enabled:
		return nil
	case retry <= 0:
		return fmt.Errorf("--leader-elect-retry-period must be positive, got %s", retry)
	case renew <= time.Duration(1.2*float64(retry)):
		return fmt.Errorf("--leader-elect-renew-deadline (%s) must be more than 1.2 × --leader-elect-retry-period (%s)", renew, retry)
	case lease <= renew:
		return fmt.Errorf("--leader-elect-lease-duration (%s) must be more than --leader-elect-renew-deadline (%s)", lease, renew)
	}
	return nil
}
