// Command bench runs the csms-operator benchmark (see docs/performance.md):
//
//	go run ./test/bench/cmd/bench -n 1000 -qps 100
//
// It prints a table and writes .local/bench/result.json and ready.svg. With -failover it
// measures leader failover instead (two managers, the leader killed or stopped):
//
//	go run ./test/bench/cmd/bench -failover
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/csms-operator/csms-operator/test/bench"
)

func main() {
	var cfg bench.Config
	var timeout time.Duration
	flag.IntVar(&cfg.N, "n", 1000, "number of ManagedSecrets (each with its own source Secret)")
	flag.IntVar(&cfg.QPS, "qps", 100, "rate limit Q of the emulator and of the ClusterProviderConfig, req/s")
	flag.IntVar(&cfg.Concurrency, "concurrency", 16, "manager --max-concurrent-reconciles and baseline workers")
	flag.IntVar(&cfg.ClientBurstPct, "client-burst-pct", 50, "depth of the clients' token buckets (operator rateLimit.burst and baseline) in percent of the emulator's (one second of its rate); 100 = as deep as the emulator's")
	flag.IntVar(&cfg.Namespaces, "namespaces", 10, "namespaces the ManagedSecrets are spread over")
	flag.IntVar(&cfg.Cycles, "cycles", 3, "forced resync cycles K in the steady-state measurement")
	flag.IntVar(&cfg.SourceUpdates, "source-updates", 100, "source Secret updates timed one at a time")
	flag.IntVar(&cfg.RestartChanges, "restart-changes", 20, "source Secrets changed while the manager is down in the restart measurement; 0 leaves it out")
	flag.IntVar(&cfg.Targets, "targets", 20, "ManagedSecrets with spec.target in the targets phase (rotation-to-Secret latency, reads per resync); 0 leaves it out")
	flag.DurationVar(&cfg.TargetLead, "target-lead", 30*time.Second, "in the targets phase, how long after its create CSMS first rotates each secret (they must converge within it)")
	flag.StringVar(&cfg.Dir, "dir", "", "state, logs and result.json (default <repo>/.local/bench)")
	flag.BoolVar(&cfg.SkipUnlimited, "skip-unlimited", false, "leave out the unlimited run")
	flag.BoolVar(&cfg.SkipBaseline, "skip-baseline", false, "leave out the SDK baseline")
	flag.BoolVar(&cfg.SkipCeiling, "skip-ceiling", false, "leave out the Kubernetes ceiling (the operator's measured writes replayed with no controller)")
	failover := flag.Bool("failover", false, "measure leader failover instead of the benchmark")
	var fo bench.FailoverConfig
	flag.IntVar(&fo.Kills, "failover-kills", 5, "with -failover: rounds per setting in which the leader is killed (SIGKILL)")
	flag.IntVar(&fo.Stops, "failover-stops", 3, "with -failover: rounds per setting in which the leader is stopped (SIGTERM)")
	settings := flag.String("failover-settings", "15s/10s/2s,4s/3s/1s", "with -failover: comma-separated lease-duration/renew-deadline/retry-period settings")
	flag.DurationVar(&cfg.ConvergeTimeout, "converge-timeout", 0, "bound on each wait for all Ready (0 = from N and Q)")
	flag.Func("manager-arg", "extra manager flag (repeatable), e.g. -manager-arg=--zap-log-level=error", func(v string) error {
		cfg.ManagerArgs = append(cfg.ManagerArgs, v)
		return nil
	})
	flag.Func("manager-env", "extra manager environment variable NAME=VALUE (repeatable), e.g. GOMEMLIMIT=100MiB", func(v string) error {
		cfg.ManagerEnv = append(cfg.ManagerEnv, v)
		return nil
	})
	flag.DurationVar(&timeout, "timeout", 90*time.Minute, "bound on the whole run")
	flag.Parse()
	// envtest logs through controller-runtime's logger; the benchmark prints its own
	// progress, and the processes' logs are under <dir>/<phase>/logs.
	ctrllog.SetLogger(logr.Discard())

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, timeout)
	defer cancelT()

	if *failover {
		for _, v := range strings.Split(*settings, ",") {
			s, err := bench.ParseLeaseSetting(strings.TrimSpace(v))
			if err != nil {
				fmt.Fprintln(os.Stderr, "bench:", err)
				os.Exit(2)
			}
			fo.Settings = append(fo.Settings, s)
		}
		fo.Dir = cfg.Dir
		res, err := bench.RunFailover(ctx, fo)
		if res != nil {
			bench.PrintFailover(os.Stdout, res)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}

	res, err := bench.Run(ctx, cfg)
	if res != nil {
		bench.PrintTable(os.Stdout, res)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
