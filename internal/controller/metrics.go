package controller

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Metrics of spec.target. Labels never name a Secret, a workload or a value.
var (
	targetWrites = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "csms_operator_target_writes_total",
		Help: "Writes of target Secrets (spec.target) by kind: Created or Updated.",
	}, []string{"kind"})
	workloadRestarts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "csms_operator_workload_restarts_total",
		Help: "Workloads restarted for a new version of their target Secret, by workload kind.",
	}, []string{"kind"})
	restartsDeferred = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "csms_operator_workload_restarts_deferred_total",
		Help: "Workload restarts put off by the restart rate limit (--workload-restart-qps).",
	})
)

func init() {
	for _, c := range []prometheus.Collector{targetWrites, workloadRestarts, restartsDeferred} {
		if err := ctrlmetrics.Registry.Register(c); err != nil {
			var already prometheus.AlreadyRegisteredError
			if !errors.As(err, &already) {
				panic(err)
			}
		}
	}
	// Known label values start at 0, so a dashboard shows them before the first write.
	for _, k := range []string{"Created", "Updated"} {
		targetWrites.WithLabelValues(k)
	}
	for _, k := range []string{"Deployment", "StatefulSet", "DaemonSet"} {
		workloadRestarts.WithLabelValues(k)
	}
}
