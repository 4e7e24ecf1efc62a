package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/csms-operator/csms-operator/internal/localenv"
)

// The failover measurement: two manager processes with --leader-elect against a local
// control plane; the leader is killed (SIGKILL) or stopped (SIGTERM) and the time until
// the Lease names the standby is taken, over several rounds per lease setting.

// leaseName is the manager's LeaderElectionID (cmd/manager).
const leaseName = "csms-operator.csms-operator.io"

// LeaseSetting is one set of leader-election timings.
type LeaseSetting struct {
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

func (s LeaseSetting) String() string {
	return fmt.Sprintf("%s/%s/%s", s.LeaseDuration, s.RenewDeadline, s.RetryPeriod)
}

// ParseLeaseSetting parses "lease/renew/retry", e.g. "15s/10s/2s".
func ParseLeaseSetting(v string) (LeaseSetting, error) {
	parts := strings.Split(v, "/")
	if len(parts) != 3 {
		return LeaseSetting{}, fmt.Errorf("lease setting %q: want lease/renew/retry, e.g. 15s/10s/2s", v)
	}
	var ds [3]time.Duration
	for i, p := range parts {
		d, err := time.ParseDuration(p)
		if err != nil {
			return LeaseSetting{}, fmt.Errorf("lease setting %q: %w", v, err)
		}
		ds[i] = d
	}
	return LeaseSetting{LeaseDuration: ds[0], RenewDeadline: ds[1], RetryPeriod: ds[2]}, nil
}

// args are the manager's flags for the setting.
func (s LeaseSetting) args() []string {
	return []string{
		"--leader-elect", "--leader-election-namespace=" + credentialsNamespace,
		"--leader-elect-lease-duration=" + s.LeaseDuration.String(),
		"--leader-elect-renew-deadline=" + s.RenewDeadline.String(),
		"--leader-elect-retry-period=" + s.RetryPeriod.String(),
	}
}

// FailoverConfig is one failover measurement.
type FailoverConfig struct {
	Settings []LeaseSetting
	// Kills and Stops are the rounds per setting with SIGKILL and with SIGTERM.
	Kills, Stops int
	Dir, Root    string
	Out          io.Writer
}

// TakeoverStats summarises the takeover times of one setting and signal, in seconds.
type TakeoverStats struct {
	Samples []float64 `json:"samples_s"`
	Min     float64   `json:"min_s"`
	Median  float64   `json:"median_s"`
	Max     float64   `json:"max_s"`
}

func takeoverStats(ds []time.Duration) TakeoverStats {
	var st TakeoverStats
	if len(ds) == 0 {
		return st
	}
	for _, d := range ds {
		st.Samples = append(st.Samples, round(d.Seconds(), 2))
	}
	st.Min = round(Percentile(ds, 0).Seconds(), 2)
	st.Median = round(Percentile(ds, 50).Seconds(), 2)
	st.Max = round(Percentile(ds, 100).Seconds(), 2)
	return st
}

// FailoverSettingResult is what one setting measured.
type FailoverSettingResult struct {
	Setting string `json:"setting"`
	// Kill: from SIGKILL of the leader to the Lease naming the standby.
	Kill TakeoverStats `json:"sigkill"`
	// Stop: from SIGTERM of the leader to the Lease naming the standby; the leader
	// releases the Lease when it stops.
	Stop TakeoverStats `json:"sigterm"`
	// StopExitS is how long the stopped leader took to exit (median).
	StopExitS float64 `json:"sigterm_exit_median_s"`
	// LeaseRequestsPerS are the kube-apiserver's requests on leases per second with one
	// leader and one standby and nothing else happening (apiserver_request_total).
	LeaseRequestsPerS float64 `json:"lease_requests_per_s"`
	LeaseRequests     string  `json:"lease_requests"`
}

// FailoverResult is what failover.json holds.
type FailoverResult struct {
	Settings  []FailoverSettingResult `json:"settings"`
	Machine   Machine                 `json:"machine"`
	StartedAt string                  `json:"started_at"`
	WallS     float64                 `json:"wall_s"`
}

// RunFailover measures every setting and writes <Dir>/failover.json.
func RunFailover(ctx context.Context, cfg FailoverConfig) (*FailoverResult, error) {
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	if cfg.Root == "" {
		root, err := localenv.FindRoot()
		if err != nil {
			return nil, err
		}
		cfg.Root = root
	}
	if cfg.Dir == "" {
		cfg.Dir = filepath.Join(cfg.Root, ".local", "bench-failover")
	}
	if len(cfg.Settings) == 0 || cfg.Kills+cfg.Stops <= 0 {
		return nil, errors.New("failover: no settings or no rounds")
	}
	logf := func(format string, args ...any) {
		_, _ = fmt.Fprintf(cfg.Out, "[%s] %s\n", time.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, args...)) // progress only
	}
	start := time.Now()
	res := &FailoverResult{Machine: ReadMachine(), StartedAt: start.UTC().Format(time.RFC3339)}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	logf("building bin/manager")
	if err := localenv.Build(ctx, cfg.Root, "manager", "./cmd/manager"); err != nil {
		return nil, err
	}
	for i, s := range cfg.Settings {
		sr, err := failoverSetting(ctx, cfg, filepath.Join(cfg.Dir, fmt.Sprintf("setting-%d", i)), s, logf)
		if err != nil {
			return res, fmt.Errorf("setting %s: %w", s, err)
		}
		res.Settings = append(res.Settings, sr)
	}
	res.WallS = round(time.Since(start).Seconds(), 1)
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return res, err
	}
	path := filepath.Join(cfg.Dir, "failover.json")
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return res, fmt.Errorf("writing %s: %w", path, err)
	}
	logf("wrote %s", path)
	return res, nil
}

// failoverSetting runs the rounds of one setting in a fresh control plane.
func failoverSetting(ctx context.Context, cfg FailoverConfig, dir string, s LeaseSetting, logf func(string, ...any)) (FailoverSettingResult, error) {
	sr := FailoverSettingResult{Setting: s.String()}
	env, err := localenv.Start(ctx, localenv.Options{Dir: dir, Root: cfg.Root})
	if err != nil {
		return sr, err
	}
	defer func() { _ = env.Stop() }()
	crds, err := localenv.ReadManifests(filepath.Join(cfg.Root, "config", "crd", "bases"))
	if err != nil {
		return sr, err
	}
	if err := env.Apply(ctx, crds...); err != nil {
		return sr, err
	}
	if err := env.EnsureNamespace(ctx, credentialsNamespace); err != nil {
		return sr, err
	}
	c, err := newClient(env.Config)
	if err != nil {
		return sr, err
	}
	kube, err := newAPIServerMetrics(env.Config)
	if err != nil {
		return sr, err
	}
	started := 0
	startManager := func() (*localenv.Manager, error) {
		started++
		return env.StartManager(ctx, localenv.ManagerOptions{Name: fmt.Sprintf("manager-%d", started), Args: s.args()})
	}
	// settle lets a new standby observe the Lease and enter its retry loop; the random
	// part spreads the signal over the leader's renew cycle.
	settle := func() {
		sleepCtx(ctx, 2*s.RetryPeriod+time.Duration(rand.Int64N(int64(s.RetryPeriod))))
	}

	// The kube-apiserver renews a Lease of its own; count it before any manager runs, so
	// it can be taken out of the managers' figure.
	window := max(10*time.Second, 5*s.RetryPeriod)
	leaseRequests := func() (ReqCounts, error) {
		before, err := kube.Requests(ctx)
		if err != nil {
			return nil, err
		}
		sleepCtx(ctx, window)
		after, err := kube.Requests(ctx)
		if err != nil {
			return nil, err
		}
		return after.Sub(before).Filter(func(k ReqKey) bool { return k.Resource == "leases" }), nil
	}
	own, err := leaseRequests()
	if err != nil {
		return sr, err
	}
	leader, err := startManager()
	if err != nil {
		return sr, err
	}
	holder, err := waitLeaseHolder(ctx, c, "", s.LeaseDuration*3+30*time.Second)
	if err != nil {
		return sr, err
	}
	standby, err := startManager()
	if err != nil {
		return sr, err
	}
	logf("%s: %s leads (%s), %s stands by", s, leader.Name, holder, standby.Name)
	settle()

	// Lease traffic with one leader and one standby, nothing else running.
	all, err := leaseRequests()
	if err != nil {
		return sr, err
	}
	leases := all.Sub(own).Filter(func(k ReqKey) bool { return all[k]-own[k] > 0 })
	sr.LeaseRequestsPerS = round(leases.Total()/window.Seconds(), 2)
	sr.LeaseRequests = fmt.Sprintf("%s in %s", leases, window)
	logf("%s: lease requests over %s with leader and standby: %s (%.2f/s), less the kube-apiserver's own over as long before: %s", s, window, leases, sr.LeaseRequestsPerS, own)

	var kills, stops, exits []time.Duration
	rounds := make([]syscall.Signal, 0, cfg.Kills+cfg.Stops)
	for i := 0; i < cfg.Kills; i++ {
		rounds = append(rounds, syscall.SIGKILL)
	}
	for i := 0; i < cfg.Stops; i++ {
		rounds = append(rounds, syscall.SIGTERM)
	}
	for n, sig := range rounds {
		t0 := time.Now()
		exited := watchExit(leader.Process, 60*time.Second)
		if err := syscall.Kill(leader.Pid(), sig); err != nil {
			return sr, fmt.Errorf("signalling %s: %w", leader.Name, err)
		}
		newHolder, err := waitLeaseHolder(ctx, c, holder, s.LeaseDuration*3+30*time.Second)
		if err != nil {
			return sr, err
		}
		took := time.Since(t0)
		exitAt, ok := <-exited
		if !ok {
			return sr, fmt.Errorf("%s did not exit within 60s of %s", leader.Name, sigName(sig))
		}
		exit := exitAt.Sub(t0)
		if sig == syscall.SIGKILL {
			kills = append(kills, took)
		} else {
			stops = append(stops, took)
			exits = append(exits, exit)
		}
		logf("%s: round %d/%d, %s of %s: %s took over after %.2fs (the old leader exited after %.2fs)", s, n+1, len(rounds), sigName(sig), leader.Name, standby.Name, took.Seconds(), exit.Seconds())
		leader, holder = standby, newHolder
		if n == len(rounds)-1 {
			break
		}
		if standby, err = startManager(); err != nil {
			return sr, err
		}
		settle()
	}
	sr.Kill = takeoverStats(kills)
	sr.Stop = takeoverStats(stops)
	if len(exits) > 0 {
		sr.StopExitS = round(Percentile(exits, 50).Seconds(), 2)
	}
	return sr, nil
}

func sigName(s syscall.Signal) string {
	if s == syscall.SIGKILL {
		return "SIGKILL"
	}
	return "SIGTERM"
}

// waitLeaseHolder polls the Lease every 25 ms until it names a holder other than old
// (and not empty: a released Lease has no holder), and returns it.
func waitLeaseHolder(ctx context.Context, c client.Client, old string, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		l := &coordinationv1.Lease{}
		err := c.Get(ctx, client.ObjectKey{Namespace: credentialsNamespace, Name: leaseName}, l)
		switch {
		case err == nil:
			if h := l.Spec.HolderIdentity; h != nil && *h != "" && *h != old {
				return *h, nil
			}
		case !apierrors.IsNotFound(err):
			return "", fmt.Errorf("reading the Lease: %w", err)
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no new holder of Lease %s/%s within %s (old holder %q)", credentialsNamespace, leaseName, timeout, old)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// watchExit delivers the moment p is seen to have ended (polled every 10 ms), or closes
// the channel without a value after timeout.
func watchExit(p *localenv.Process, timeout time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	go func() {
		defer close(ch)
		for t0 := time.Now(); time.Since(t0) < timeout; time.Sleep(10 * time.Millisecond) {
			if done, _ := p.Exited(); done {
				ch <- time.Now()
				return
			}
		}
	}()
	return ch
}

// PrintFailover writes the summary table.
func PrintFailover(out io.Writer, r *FailoverResult) {
	var w strings.Builder
	defer func() { _, _ = io.WriteString(out, w.String()) }()
	fmt.Fprintf(&w, "\ncsms-operator leader failover: two managers, one control plane\n")
	fmt.Fprintf(&w, "machine: %d CPU (%s), %d MiB, kernel %s, %s\n\n", r.Machine.NProc, r.Machine.CPUModel, r.Machine.MemMiB, r.Machine.Kernel, r.Machine.Go)
	fmt.Fprintf(&w, "%-18s %-8s %-30s %-30s %s\n", "lease/renew/retry", "signal", "takeover min / median / max", "samples (s)", "")
	for _, s := range r.Settings {
		for _, x := range []struct {
			sig string
			st  TakeoverStats
		}{{"SIGKILL", s.Kill}, {"SIGTERM", s.Stop}} {
			if len(x.st.Samples) == 0 {
				continue
			}
			sm := make([]string, 0, len(x.st.Samples))
			ss := append([]float64(nil), x.st.Samples...)
			sort.Float64s(ss)
			for _, v := range ss {
				sm = append(sm, fmt.Sprintf("%.2f", v))
			}
			fmt.Fprintf(&w, "%-18s %-8s %-30s %s\n", s.Setting, x.sig, fmt.Sprintf("%.2f / %.2f / %.2f s", x.st.Min, x.st.Median, x.st.Max), strings.Join(sm, " "))
		}
		fmt.Fprintf(&w, "%-18s lease requests with leader + standby: %.2f /s (%s)", s.Setting, s.LeaseRequestsPerS, s.LeaseRequests)
		if s.StopExitS > 0 {
			fmt.Fprintf(&w, "; SIGTERM to exit, median %.2f s", s.StopExitS)
		}
		w.WriteString("\n")
	}
	fmt.Fprintf(&w, "wall time %.0f s\n\n", r.WallS)
}
