package csms

import (
	"errors"
	"strconv"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"
	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Metrics of every HTTP attempt (retries count separately). Labels never carry a secret
// name or value: only the operation and the HTTP status.
var (
	apiRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "csms_api_requests_total",
		Help: "CSMS API requests by operation and result (HTTP status, or \"error\" when no response was received).",
	}, []string{"operation", "code"})
	apiDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "csms_api_request_duration_seconds",
		Help:    "Duration of CSMS API requests by operation.",
		Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
	}, []string{"operation"})
)

func init() {
	// Registered once per process (init runs once); controller-runtime serves this
	// registry on the manager's metrics endpoint.
	for _, c := range []prometheus.Collector{apiRequests, apiDuration} {
		if err := ctrlmetrics.Registry.Register(c); err != nil {
			var already prometheus.AlreadyRegisteredError
			if !errors.As(err, &already) {
				panic(err)
			}
		}
	}
}

func observe(op string, resp any, err error, d time.Duration) {
	code := "error"
	if err == nil {
		if s := statusOf(resp); s != 0 {
			code = strconv.Itoa(s)
		} else {
			code = "200"
		}
	} else {
		var sre *sdkerr.ServiceResponseError
		if errors.As(err, &sre) && sre.StatusCode != 0 {
			code = strconv.Itoa(sre.StatusCode)
		}
	}
	apiRequests.WithLabelValues(op, code).Inc()
	apiDuration.WithLabelValues(op).Observe(d.Seconds())
}
