// Package bench measures the operator against the limit the cloud sets: its API rate limit.
//
// `make bench` runs Run through cmd/bench: a local control plane (envtest binaries), the
// CSMS emulator and the manager binary as separate processes (internal/localenv), N
// ManagedSecrets with one source Secret each, spread over 10 namespaces. It measures the
// time to converge with the rate limit Q and unlimited, a bare SDK baseline doing the least
// a correct operator must do (create with value, tag) at the same limit and concurrency,
// cloud calls per secret from the emulator's admin counters, calls during forced resyncs,
// source-change latency, and the manager's peak RSS and CPU time from /proc. From the
// kube-apiserver's own request counters it takes the operator's Kubernetes writes per new
// resource and per steady resync cycle, and a ceiling phase replays those writes with no
// controller to show what the Kubernetes side allows; ready.svg draws Ready over time.
// RunFailover measures leader failover with two manager processes. See
// docs/performance.md for the method and recorded results.
package bench
