package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/csms/v1/model"
	"golang.org/x/time/rate"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/csms-operator/csms-operator/api/v1alpha1"
	"github.com/csms-operator/csms-operator/internal/localenv"
)

// Config is one benchmark run.
type Config struct {
	N   int // ManagedSecrets
	QPS int // rate limit of the emulator and of the provider configs
	// Concurrency of the manager (--max-concurrent-reconciles) and of the baseline.
	Concurrency int
	// ClientBurstPct is the depth of the clients' token buckets (the operator's
	// rateLimit.burst and the baseline's) in percent of the emulator's, which is one
	// second of its rate. 0 = 100.
	ClientBurstPct int
	Namespaces     int
	// Cycles is K, the number of forced resync cycles.
	Cycles int
	// SourceUpdates is the number of source-change latency samples.
	SourceUpdates int
	// RestartChanges is the number of source Secrets changed while the manager is down in
	// the restart measurement; 0 leaves the measurement out.
	RestartChanges int
	// Dir holds the environments, logs and result.json (default <root>/.local/bench).
	Dir  string
	Root string
	// SkipUnlimited, SkipBaseline and SkipCeiling leave out those runs (for quick
	// iterations).
	SkipUnlimited, SkipBaseline, SkipCeiling bool
	// Targets is the number of ManagedSecrets with spec.target in the targets phase
	// (rotation-to-Secret latency, reads per resync with a target); 0 leaves it out.
	Targets int
	// TargetLead is how long after its create CSMS first rotates each of them (0 = 30s):
	// long enough for all of them to converge first.
	TargetLead time.Duration
	// ConvergeTimeout bounds each wait for all Ready (0 = derived from N and QPS).
	ConvergeTimeout time.Duration
	// ManagerArgs are extra manager flags; ManagerEnv extra environment (e.g. GOMEMLIMIT).
	ManagerArgs []string
	ManagerEnv  []string
	Out         io.Writer
}

// Result is what result.json holds.
type Result struct {
	N            int `json:"n"`
	QPS          int `json:"qps"`
	QPSEffective int `json:"qps_effective"`
	Projects     int `json:"projects"`
	Concurrency  int `json:"concurrency"`
	// ClientBurst is the client bucket depth per project (rateLimit.burst and baseline).
	ClientBurst        int     `json:"client_burst"`
	ConvergeS          float64 `json:"converge_s"`
	ConvergeUnlimitedS float64 `json:"converge_unlimited_s"`
	BaselineS          float64 `json:"baseline_s"`
	Ratio              float64 `json:"ratio"`
	// CallsPerSecret is emulator calls per ManagedSecret by operation (all statuses) from
	// the first create until the system went quiet, in the rate-limited run.
	CallsPerSecret      map[string]float64 `json:"calls_per_secret"`
	CallsPerSecretTotal float64            `json:"calls_per_secret_total"`
	// CallBoundS is N × calls per secret / Q: the least time the operator's own number
	// of calls needs at the rate limit. converge_s close to it means the operator runs at
	// the limit and only fewer calls would make it faster.
	CallBoundS              float64            `json:"converge_call_bound_s"`
	ThrottledPerSecret      float64            `json:"throttled_per_secret"`
	CallsUnlimitedPerSecret map[string]float64 `json:"calls_per_secret_unlimited"`
	BaselineCallsPerSecret  map[string]float64 `json:"baseline_calls_per_secret"`
	BaselineThrottled       int64              `json:"baseline_throttled"`

	// UnlimitedPerS is N / converge_unlimited_s: new resources Ready per second without a
	// CSMS limit.
	UnlimitedPerS float64 `json:"unlimited_per_s"`
	// KubeWritesPerNewResource is what the operator wrote to the kube-apiserver per new
	// ManagedSecret ("verb resource[/subresource]" → count / N), from the apiserver's
	// apiserver_request_total before and after convergence, less the harness's own
	// requests, in the unlimited run (the rate-limited run when that is left out).
	KubeWritesPerNewResource map[string]float64 `json:"kube_writes_per_new_resource"`
	// KubeWritesPerNewResourceLimited is the same for the rate-limited run.
	KubeWritesPerNewResourceLimited map[string]float64 `json:"kube_writes_per_new_resource_limited"`
	// KubeReadsPerNewResource are the operator's GETs per new resource in the same window.
	KubeReadsPerNewResource map[string]float64 `json:"kube_reads_per_new_resource"`
	// KubeWriteCeilingS is the time the ceiling phase took: the same creates plus the
	// operator's measured writes per resource, replayed with the manager's concurrency
	// and no controller, from the first create to the N-th Ready seen by the watch.
	KubeWriteCeilingS float64 `json:"kube_write_ceiling_s"`
	// KubeWriteCeilingPerS is N / kube_write_ceiling_s, new resources per second: the
	// Kubernetes side's ceiling for unlimited_per_s on this machine.
	KubeWriteCeilingPerS float64 `json:"kube_write_ceiling_per_s"`
	// KubeWriteCeilingWritesPerS is the ceiling phase's kube-apiserver writes per second
	// (creates included).
	KubeWriteCeilingWritesPerS float64 `json:"kube_write_ceiling_writes_per_s"`
	// KubeWriteCeilingReplayed is what the ceiling phase wrote per resource, measured the
	// same way, so its fidelity to kube_writes_per_new_resource can be checked.
	KubeWriteCeilingReplayed map[string]float64 `json:"kube_write_ceiling_writes_per_resource"`
	// UnlimitedOfCeiling is unlimited_per_s / kube_write_ceiling_per_s.
	UnlimitedOfCeiling float64 `json:"unlimited_of_ceiling"`

	SteadyMethod                  string  `json:"steady_method"`
	SteadyCycles                  int     `json:"steady_cycles"`
	SteadyWrites                  int     `json:"steady_writes"`
	SteadyReads                   int     `json:"steady_reads"`
	SteadyReadsPerSecretPerResync float64 `json:"steady_reads_per_secret_per_resync"`
	// SteadyThrottled are the reads among SteadyReads that were answered 429 and retried.
	SteadyThrottled int    `json:"steady_throttled"`
	SteadyCalls     string `json:"steady_calls"`
	// SteadyKubeWrites is the operator's Kubernetes writes per forced resync cycle (all
	// resources together), from apiserver_request_total, less the harness's own writes.
	SteadyKubeWrites float64 `json:"steady_kube_writes"`
	// SteadyKubeWritesByKind splits SteadyKubeWrites by "verb resource[/subresource]".
	SteadyKubeWritesByKind map[string]float64 `json:"steady_kube_writes_by_kind"`
	// SteadyKubeWritesHarness are the harness's own writes per cycle that were taken out
	// (its resync annotations: one patch of managedsecrets per resource).
	SteadyKubeWritesHarness float64 `json:"steady_kube_writes_harness"`

	SourceChangeUpdates int     `json:"source_change_updates"`
	SourceChangeMissed  int     `json:"source_change_missed"`
	SourceChangeP50Ms   float64 `json:"source_change_p50_ms"`
	SourceChangeP99Ms   float64 `json:"source_change_p99_ms"`
	SourceChangeMaxMs   float64 `json:"source_change_max_ms"`
	SourceChangeCalls   string  `json:"source_change_calls"`

	// The restart measurement (restart.go): RestartChanges sources changed while the
	// manager was down; the CSMS calls of the first minute after it started again, split
	// into the changed resources' (pushes) and the spread drift checks (ShowSecret of the
	// others); and the time from the start until the changes were all in CSMS.
	RestartChanges           int            `json:"restart_changes,omitempty"`
	RestartFirstMinuteCalls  int            `json:"restart_first_minute_calls,omitempty"`
	RestartFirstMinuteByOp   map[string]int `json:"restart_first_minute_calls_by_op,omitempty"`
	RestartFirstMinuteDrift  int            `json:"restart_first_minute_drift_checks,omitempty"`
	RestartDriftExpected     float64        `json:"restart_drift_checks_expected_first_minute,omitempty"`
	RestartChangesInCSMSP50S float64        `json:"restart_changes_in_csms_p50_s,omitempty"`
	RestartChangesInCSMSMaxS float64        `json:"restart_changes_in_csms_max_s,omitempty"`
	RestartManagerReadyS     float64        `json:"restart_manager_ready_s,omitempty"`

	// The targets phase (targets.go): TargetItems ManagedSecrets with rotation and a
	// target, in one project limited to TargetQPS (Q).
	TargetItems int     `json:"target_items,omitempty"`
	TargetQPS   int     `json:"target_qps,omitempty"`
	TargetLeadS float64 `json:"target_lead_s,omitempty"`
	// RotationToSecret*: CSMS's scheduled rotation, from its next_rotation_time to the
	// watch event showing the target Secret with the new value; nothing forced.
	RotationToSecretP50Ms  float64 `json:"rotation_to_secret_p50_ms"`
	RotationToSecretP99Ms  float64 `json:"rotation_to_secret_p99_ms"`
	RotationToSecretMaxMs  float64 `json:"rotation_to_secret_max_ms"`
	RotationToSecretMissed int     `json:"rotation_to_secret_missed"`
	// ForcedRotationToSecret*: RotateSecret through the SDK, then the resync annotation;
	// from the annotation to the watch event of the new value (the operator's own pass).
	ForcedRotationToSecretP50Ms  float64 `json:"forced_rotation_to_secret_p50_ms"`
	ForcedRotationToSecretP99Ms  float64 `json:"forced_rotation_to_secret_p99_ms"`
	ForcedRotationToSecretMaxMs  float64 `json:"forced_rotation_to_secret_max_ms"`
	ForcedRotationToSecretMissed int     `json:"forced_rotation_to_secret_missed"`
	// TargetReadsPerResync is CSMS reads per secret per forced resync of the target items
	// in steady state (target: 2, ShowSecret and ShowSecretStage), by operation in
	// TargetReadsPerResyncByOp; TargetSteadyWrites the CSMS writes and
	// TargetSteadyRewrites the target Secret changes over those cycles (target: 0).
	TargetReadsPerResync     float64            `json:"target_reads_per_resync"`
	TargetReadsPerResyncByOp map[string]float64 `json:"target_reads_per_resync_by_op,omitempty"`
	TargetSteadyWrites       int                `json:"target_steady_writes"`
	TargetSteadyRewrites     int                `json:"target_steady_rewrites"`

	// ReconcilesPerSecret is controller_runtime_reconcile_total of the managedsecret
	// controller per ManagedSecret, over the create path (rate-limited run).
	ReconcilesPerSecret float64 `json:"reconciles_per_secret_create"`
	// HeapInuseMiB and GoSysMiB are the manager's Go heap in use and memory obtained from
	// the OS, at the end of the rate-limited run (its /metrics).
	HeapInuseMiB float64 `json:"manager_heap_inuse_mib"`
	GoSysMiB     float64 `json:"manager_go_sys_mib"`
	// FileRSSMiB is the manager's file-backed resident memory (RssFile: the binary's
	// mapped code and data) at the end of the rate-limited run.
	FileRSSMiB float64 `json:"manager_file_rss_mib"`
	// GCCPUS is the CPU time the manager's garbage collector used in the rate-limited
	// run (go_cpu_classes_gc_total_cpu_seconds_total, the runtime's own estimate).
	GCCPUS float64 `json:"manager_gc_cpu_s"`

	PeakRSSMiB          float64 `json:"peak_rss_mib"`
	CPUS                float64 `json:"cpu_s"`
	CPUConvergeS        float64 `json:"cpu_converge_s"`
	PeakRSSUnlimitedMiB float64 `json:"peak_rss_unlimited_mib"`
	CPUUnlimitedS       float64 `json:"cpu_unlimited_s"`

	Machine   Machine  `json:"machine"`
	StartedAt string   `json:"started_at"`
	WallS     float64  `json:"wall_s"`
	Notes     []string `json:"notes,omitempty"`
}

type runner struct {
	cfg    Config
	res    *Result
	shards []Shard
	items  []Item
	out    io.Writer
	// allowed is the operator's RBAC: the only writes it can make (see operatorWrites).
	allowed rbacRules
	// mix is the operator's measured writes on the create path, replayed by the ceiling.
	mix ReqCounts
	// templates are a converged ManagedSecret and one of its Events, for realistic
	// replay bodies.
	templates replayTemplates
	// series are the Ready-over-time curves drawn into ready.svg.
	series []Series
}

func (r *runner) logf(format string, args ...any) {
	_, _ = fmt.Fprintf(r.out, "[%s] %s\n", time.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, args...)) // progress only
}

func (r *runner) note(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	r.res.Notes = append(r.res.Notes, s)
	r.logf("NOTE: %s", s)
}

// Run runs the whole benchmark and writes <Dir>/result.json.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.N <= 0 || cfg.QPS < 0 || cfg.Concurrency <= 0 || cfg.Namespaces <= 0 {
		return nil, fmt.Errorf("bad config: n=%d qps=%d concurrency=%d namespaces=%d", cfg.N, cfg.QPS, cfg.Concurrency, cfg.Namespaces)
	}
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
		cfg.Dir = filepath.Join(cfg.Root, ".local", "bench")
	}
	if cfg.ConvergeTimeout == 0 {
		// Ten times the time the API limit needs for four calls a secret, at least 3 min.
		need := time.Duration(0)
		if cfg.QPS > 0 {
			need = time.Duration(float64(4*cfg.N)/float64(cfg.QPS)*10) * time.Second
		}
		cfg.ConvergeTimeout = max(3*time.Minute, need, time.Duration(cfg.N)*100*time.Millisecond)
	}
	if cfg.TargetLead <= 0 {
		cfg.TargetLead = 30 * time.Second
	}
	p := ShardsFor(cfg.N)
	shards := MakeShards(p, cfg.QPS)
	if cfg.ClientBurstPct <= 0 {
		cfg.ClientBurstPct = 100
	}
	for i := range shards {
		if shards[i].QPS > 0 {
			shards[i].Burst = ClientBurst(shards[i].QPS, cfg.ClientBurstPct)
		}
	}
	r := &runner{cfg: cfg, out: cfg.Out, shards: shards}
	r.items = MakeItems(cfg.N, p, cfg.Namespaces, "ms")
	eff := 0
	for _, sh := range r.shards {
		eff += sh.QPS
	}
	r.res = &Result{N: cfg.N, QPS: cfg.QPS, QPSEffective: eff, Projects: p, Concurrency: cfg.Concurrency, ClientBurst: shards[0].Burst,
		Machine: ReadMachine(), StartedAt: time.Now().UTC().Format(time.RFC3339)}
	if p > 1 {
		r.note("N=%d exceeds the emulator's 500 secrets per project: spread over %d projects, each limited to %d req/s by the emulator and its ClusterProviderConfig (total %d req/s)", cfg.N, p, r.shards[0].QPS, eff)
	}
	start := time.Now()
	defer func() { r.res.WallS = round(time.Since(start).Seconds(), 1) }()
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	r.logf("building bin/manager and bin/csms-emulator")
	if err := localenv.Build(ctx, cfg.Root, "manager", "./cmd/manager", "csms-emulator", "./cmd/csms-emulator"); err != nil {
		return nil, err
	}
	if err := r.checkManagerFlags(ctx); err != nil {
		return nil, err
	}
	rbacFiles := []string{filepath.Join(cfg.Root, "config", "rbac", "role.yaml")}
	for _, a := range r.cfg.ManagerArgs {
		if a == "--leader-elect" || a == "--leader-elect=true" {
			rbacFiles = append(rbacFiles, filepath.Join(cfg.Root, "config", "rbac", "leader_election_role.yaml"))
		}
	}
	allowed, err := loadRBAC(rbacFiles...)
	if err != nil {
		return nil, err
	}
	r.allowed = allowed

	if err := r.limitedRun(ctx); err != nil {
		return r.res, fmt.Errorf("rate-limited run: %w", err)
	}
	if cfg.Targets > 0 {
		if err := r.targetsRun(ctx); err != nil {
			return r.res, fmt.Errorf("targets: %w", err)
		}
		if err := r.write(); err != nil {
			return r.res, err
		}
	}
	if !cfg.SkipUnlimited {
		if err := r.unlimitedRun(ctx); err != nil {
			return r.res, fmt.Errorf("unlimited run: %w", err)
		}
	}
	if !cfg.SkipCeiling {
		if err := r.ceilingRun(ctx); err != nil {
			return r.res, fmt.Errorf("kubernetes ceiling: %w", err)
		}
	}
	if !cfg.SkipBaseline {
		if err := r.baselineRun(ctx); err != nil {
			return r.res, fmt.Errorf("baseline: %w", err)
		}
		if r.res.BaselineS > 0 {
			r.res.Ratio = round(r.res.ConvergeS/r.res.BaselineS, 3)
		}
	}
	r.res.WallS = round(time.Since(start).Seconds(), 1)
	if err := r.write(); err != nil {
		return r.res, err
	}
	return r.res, nil
}

// checkManagerFlags passes --max-concurrent-reconciles when the manager has it.
func (r *runner) checkManagerFlags(ctx context.Context) error {
	out, _ := exec.CommandContext(ctx, filepath.Join(r.cfg.Root, "bin", "manager"), "-h").CombinedOutput()
	if strings.Contains(string(out), "max-concurrent-reconciles") {
		r.cfg.ManagerArgs = append([]string{"--max-concurrent-reconciles=" + strconv.Itoa(r.cfg.Concurrency)}, r.cfg.ManagerArgs...)
	} else {
		r.note("bin/manager has no --max-concurrent-reconciles flag: it runs with its built-in concurrency, the baseline with %d", r.cfg.Concurrency)
	}
	return nil
}

func (r *runner) write() error {
	b, err := json.MarshalIndent(r.res, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(r.cfg.Dir, "result.json")
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	r.logf("wrote %s", path)
	if len(r.series) == 0 {
		return nil
	}
	svg := filepath.Join(r.cfg.Dir, "ready.svg")
	f, err := os.Create(svg)
	if err != nil {
		return fmt.Errorf("writing %s: %w", svg, err)
	}
	title := fmt.Sprintf("ManagedSecrets Ready over time, N = %d, Q = %d req/s", r.cfg.N, r.cfg.QPS)
	if err := WriteReadySVG(f, title, r.cfg.N, r.series); err != nil {
		_ = f.Close()
		return fmt.Errorf("writing %s: %w", svg, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", svg, err)
	}
	r.logf("wrote %s", svg)
	return nil
}

// addSeries records (or replaces) a Ready-over-time curve for ready.svg.
func (r *runner) addSeries(s Series) {
	for i := range r.series {
		if r.series[i].Name == s.Name {
			r.series[i] = s
			return
		}
	}
	r.series = append(r.series, s)
}

// phase is one environment: control plane, emulator, manager.
type phase struct {
	env     *localenv.Env
	em      *localenv.Emulator
	mgr     *localenv.Manager
	admin   *Admin
	tracker *readyTracker
	cancel  context.CancelFunc
	// metricsURL is the manager's plain-HTTP /metrics on loopback.
	metricsURL string
	// mgrOpts started the manager; the restart measurement starts it again with them.
	mgrOpts localenv.ManagerOptions
	// own counts the harness's requests to this phase's kube-apiserver; kube scrapes it.
	own  *requestCounter
	kube *apiserverMetrics
}

// client is a client for the harness's own writes whose requests are counted in own.
func (ph *phase) client() (client.WithWatch, error) {
	cfg := rest.CopyConfig(ph.env.Config)
	cfg.Wrap(ph.own.Wrap)
	return newClient(cfg)
}

// kubeSnapshot is the kube-apiserver's request counters and the harness's own, taken
// together.
type kubeSnapshot struct{ api, own ReqCounts }

func (ph *phase) kubeSnapshot(ctx context.Context) (kubeSnapshot, error) {
	own := ph.own.Snapshot()
	api, err := ph.kube.Requests(ctx)
	return kubeSnapshot{api: api, own: own}, err
}

// operatorWritesSince is what the operator wrote since before, and what the harness did.
func (r *runner) operatorWritesSince(before, after kubeSnapshot) (op, other, own ReqCounts) {
	ownD := after.own.Sub(before.own)
	op, other = operatorWrites(after.api.Sub(before.api), ownD, r.allowed)
	return op, other, ownD.Filter(ReqKey.IsWrite)
}

// waitKubeQuiet scrapes the kube-apiserver until the operator's writes since before have
// not changed for still (the manager's Event sink and status patches may trail the
// last Ready), bounded by timeout; it returns the last snapshot.
func (r *runner) waitKubeQuiet(ctx context.Context, ph *phase, before kubeSnapshot, still, timeout time.Duration) (kubeSnapshot, error) {
	deadline := time.Now().Add(timeout)
	last, err := ph.kubeSnapshot(ctx)
	if err != nil {
		return last, err
	}
	op, _, _ := r.operatorWritesSince(before, last)
	lastTotal, since := op.Total(), time.Now()
	for time.Since(since) < still {
		if time.Now().After(deadline) {
			return last, fmt.Errorf("the operator's Kubernetes writes did not settle within %s", timeout)
		}
		sleepCtx(ctx, 500*time.Millisecond)
		if last, err = ph.kubeSnapshot(ctx); err != nil {
			return last, err
		}
		op, _, _ = r.operatorWritesSince(before, last)
		if t := op.Total(); t != lastTotal {
			lastTotal, since = t, time.Now()
		}
	}
	return last, nil
}

// managerMetrics scrapes the figures the benchmark reports from the manager's /metrics.
func (ph *phase) managerMetrics(ctx context.Context) (map[string]float64, error) {
	return scrapeMetrics(ctx, ph.metricsURL, []string{`controller="managedsecret"`},
		"controller_runtime_reconcile_total", "go_memstats_heap_inuse_bytes", "go_memstats_sys_bytes", "go_goroutines",
		"go_cpu_classes_gc_total_cpu_seconds_total")
}

func (ph *phase) stop() {
	if ph.cancel != nil {
		ph.cancel()
	}
	if ph.env != nil {
		_ = ph.env.Stop()
	}
}

func (r *runner) credentialFlags() []string {
	var out []string
	for _, sh := range r.shards {
		out = append(out, sh.AK+":"+sh.SK+":"+sh.ProjectID)
	}
	return out
}

// startPhase starts a fresh control plane, an emulator with the given per-project limit
// and the providers, the items' sources and the manager; ManagedSecrets are not created
// yet.
// Without operator (the ceiling phase) there is no emulator and no manager; the
// providers and sources are created all the same, so the store holds the same objects.
func (r *runner) startPhase(ctx context.Context, name string, emulatorQPS int, shards []Shard, items []Item, operator bool) (*phase, error) {
	ph := &phase{own: newRequestCounter()}
	ok := false
	defer func() {
		if !ok {
			ph.stop()
		}
	}()
	dir := filepath.Join(r.cfg.Dir, name)
	r.logf("%s: starting control plane in %s", name, dir)
	env, err := localenv.Start(ctx, localenv.Options{Dir: dir, Root: r.cfg.Root})
	if err != nil {
		return nil, err
	}
	ph.env = env
	if ph.kube, err = newAPIServerMetrics(env.Config); err != nil {
		return nil, err
	}
	crds, err := localenv.ReadManifests(filepath.Join(r.cfg.Root, "config", "crd", "bases"))
	if err != nil {
		return nil, err
	}
	if err := env.Apply(ctx, crds...); err != nil {
		return nil, err
	}
	endpoint := "http://127.0.0.1:1" // never called: no manager
	if operator {
		args := []string{}
		if emulatorQPS > 0 {
			args = append(args, "--qps", strconv.Itoa(emulatorQPS))
		}
		ph.em, err = env.StartEmulator(ctx, localenv.EmulatorOptions{Credentials: r.credentialFlags(), ExtraArgs: args})
		if err != nil {
			return nil, err
		}
		ph.admin = NewAdmin(ph.em.AdminURL)
		endpoint = ph.em.URL
	}
	c, err := ph.client()
	if err != nil {
		return nil, err
	}
	if err := setupProviders(ctx, c, endpoint, shards, r.cfg.Namespaces); err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := createSources(ctx, c, items); err != nil {
		return nil, err
	}
	r.logf("%s: %d source Secrets created in %.1fs", name, len(items), time.Since(t0).Seconds())
	if !operator {
		if err := ph.startTracker(ctx, c); err != nil {
			return nil, err
		}
		ok = true
		return ph, nil
	}
	ports, err := localenv.FreePorts(1)
	if err != nil {
		return nil, err
	}
	ph.metricsURL = "http://" + ports[0] + "/metrics"
	// Later flags win: plain HTTP metrics on loopback, so the harness can read them.
	margs := append([]string{"--metrics-bind-address=" + ports[0], "--metrics-secure=false"}, r.cfg.ManagerArgs...)
	ph.mgrOpts = localenv.ManagerOptions{Args: margs, Env: r.cfg.ManagerEnv}
	ph.mgr, err = env.StartManager(ctx, ph.mgrOpts)
	if err != nil {
		return nil, err
	}
	if err := waitProvidersReady(ctx, c, len(shards), 60*time.Second); err != nil {
		r.note("%s: %v (continuing: ManagedSecrets will show it)", name, err)
	}
	if err := ph.startTracker(ctx, c); err != nil {
		return nil, err
	}
	ok = true
	return ph, nil
}

// startTracker starts the phase's Ready tracker and waits until its watch runs; ph.stop
// stops it.
func (ph *phase) startTracker(ctx context.Context, c client.WithWatch) error {
	tctx, cancel := context.WithCancel(ctx)
	ph.cancel = cancel
	ph.tracker = newReadyTracker(c)
	go ph.tracker.run(tctx)
	return ph.tracker.waitWatching(ctx, time.Minute)
}

// convergence is what one converge measured.
type convergence struct {
	took time.Duration
	// calls are the emulator's counters from the first create until they went quiet.
	calls Stats
	// kubeWrites and kubeReads are the operator's requests to the kube-apiserver over the
	// same window (see operatorWrites).
	kubeWrites, kubeReads ReqCounts
	ready                 Series
}

// converge creates the ManagedSecrets and waits for all Ready; it returns the time taken
// and the calls made from the first create until the system went quiet.
func (r *runner) converge(ctx context.Context, name string, ph *phase) (convergence, error) {
	var cv convergence
	c, err := ph.client()
	if err != nil {
		return cv, err
	}
	if err := ph.admin.Reset(ctx); err != nil {
		return cv, err
	}
	kubeBefore, err := ph.kubeSnapshot(ctx)
	if err != nil {
		return cv, err
	}
	r.logf("%s: creating %d ManagedSecrets", name, len(r.items))
	start := time.Now()
	if err := createManagedSecrets(ctx, c, r.items, benchResync); err != nil {
		return cv, err
	}
	r.logf("%s: created in %.1fs; waiting for all Ready (timeout %s)", name, time.Since(start).Seconds(), r.cfg.ConvergeTimeout)
	done, err := ph.tracker.waitAll(ctx, len(r.items), r.cfg.ConvergeTimeout, func(ready int, reasons map[string]int) {
		st, _ := ph.admin.Stats(ctx)
		r.logf("%s: %d/%d Ready after %.0fs (others: %v); emulator calls %d", name, ready, len(r.items), time.Since(start).Seconds(), reasons, st.Total())
	})
	if err != nil {
		return cv, err
	}
	cv.took = done.Sub(start)
	cv.ready = ph.tracker.series(start, done)
	r.logf("%s: all %d Ready in %.2fs", name, len(r.items), cv.took.Seconds())
	if cv.calls, err = ph.admin.WaitQuiet(ctx, 3*time.Second, 2*time.Minute); err != nil {
		r.note("%s: %v", name, err)
	}
	kubeAfter, err := r.waitKubeQuiet(ctx, ph, kubeBefore, 2*time.Second, time.Minute)
	if err != nil {
		r.note("%s: %v", name, err)
	}
	var other, own ReqCounts
	cv.kubeWrites, other, own = r.operatorWritesSince(kubeBefore, kubeAfter)
	cv.kubeReads = operatorReads(kubeAfter.api.Sub(kubeBefore.api), kubeAfter.own.Sub(kubeBefore.own), r.allowed)
	r.logf("%s: the operator's Kubernetes writes: %s; reads: %s; the harness's: %s; others' (control plane): %s", name, cv.kubeWrites, cv.kubeReads, own, other)
	return cv, nil
}

func perSecret(st Stats, n int) map[string]float64 {
	out := map[string]float64{}
	for op, c := range st.ByOp() {
		out[op] = round(float64(c)/float64(n), 3)
	}
	return out
}

func (r *runner) limitedRun(ctx context.Context) error {
	ph, err := r.startPhase(ctx, "limited", r.shards[0].QPS, r.shards, r.items, true)
	if err != nil {
		return err
	}
	defer ph.stop()
	pid := ph.mgr.Pid()
	cv, err := r.converge(ctx, "limited", ph)
	if err != nil {
		return err
	}
	st := cv.calls
	r.res.ConvergeS = round(cv.took.Seconds(), 2)
	r.res.KubeWritesPerNewResourceLimited = cv.kubeWrites.PerResource(r.cfg.N)
	r.res.KubeWritesPerNewResource = r.res.KubeWritesPerNewResourceLimited
	r.res.KubeReadsPerNewResource = cv.kubeReads.PerResource(r.cfg.N)
	r.mix = cv.kubeWrites
	cv.ready.Name = fmt.Sprintf("operator, %d req/s", r.res.QPSEffective)
	r.addSeries(cv.ready)
	if err := r.captureTemplates(ctx, ph); err != nil {
		r.note("limited: %v (the ceiling replays minimal bodies)", err)
	}
	r.res.CallsPerSecret = perSecret(st, r.cfg.N)
	r.res.CallsPerSecretTotal = round(float64(st.Total())/float64(r.cfg.N), 3)
	r.res.ThrottledPerSecret = round(float64(st.Status("429"))/float64(r.cfg.N), 3)
	if r.res.QPSEffective > 0 {
		r.res.CallBoundS = round(float64(st.Total())/float64(r.res.QPSEffective), 2)
	}
	r.logf("limited: create-path calls: %s", st)
	if s, err := ReadProc(pid); err == nil {
		r.res.CPUConvergeS = round(s.CPU.Seconds(), 2)
	}
	if m, err := ph.managerMetrics(ctx); err != nil {
		r.note("manager metrics: %v", err)
	} else {
		r.res.ReconcilesPerSecret = round(m["controller_runtime_reconcile_total"]/float64(r.cfg.N), 3)
	}

	if err := r.steadyState(ctx, ph); err != nil {
		return err
	}
	if err := r.sourceChanges(ctx, ph); err != nil {
		return err
	}
	s, err := ReadProc(pid)
	if err != nil {
		return fmt.Errorf("sampling the manager: %w", err)
	}
	r.res.PeakRSSMiB = round(s.PeakRSSMiB(), 1)
	r.res.CPUS = round(s.CPU.Seconds(), 2)
	r.res.FileRSSMiB = round(float64(s.FileRSSKiB)/1024, 1)
	r.saveHeapProfile(ctx, ph)
	if m, err := ph.managerMetrics(ctx); err != nil {
		r.note("manager metrics: %v", err)
	} else {
		r.res.HeapInuseMiB = round(m["go_memstats_heap_inuse_bytes"]/(1<<20), 1)
		r.res.GoSysMiB = round(m["go_memstats_sys_bytes"]/(1<<20), 1)
		r.res.GCCPUS = round(m["go_cpu_classes_gc_total_cpu_seconds_total"], 2)
	}
	r.logf("limited: manager peak RSS %.1f MiB, CPU %.2fs", r.res.PeakRSSMiB, r.res.CPUS)
	if err := r.write(); err != nil { // keep partial results if a later phase fails
		return err
	}
	if err := r.restart(ctx, ph); err != nil {
		return err
	}
	return r.write()
}

// steadyState forces K resync cycles by bumping an annotation on every ManagedSecret and
// counts the emulator calls they cause.
func (r *runner) steadyState(ctx context.Context, ph *phase) error {
	c, err := ph.client()
	if err != nil {
		return err
	}
	r.res.SteadyMethod = "annotation bump on every ManagedSecret (" + resyncAnnotation + "), which the controller's predicate lets through without a generation change"
	r.res.SteadyCycles = r.cfg.Cycles
	before, err := ph.admin.Stats(ctx)
	if err != nil {
		return err
	}
	kubeBefore, err := ph.kubeSnapshot(ctx)
	if err != nil {
		return err
	}
	n := r.cfg.N
	timeout := 2 * time.Minute
	if q := r.res.QPSEffective; q > 0 {
		timeout = max(timeout, time.Duration(10*n/q)*time.Second)
	}
	for k := 1; k <= r.cfg.Cycles; k++ {
		cycleStart, err := ph.admin.Stats(ctx)
		if err != nil {
			return err
		}
		t0 := time.Now()
		if err := annotateAll(ctx, c, r.items, strconv.Itoa(k)); err != nil {
			return err
		}
		// The cycle is over when every resource has been read once and the counters are
		// quiet; a controller that reads less than once per resource ends on the quiet
		// period, bounded by the timeout.
		deadline := time.Now().Add(timeout)
		var cur Stats
		for {
			if cur, err = ph.admin.Stats(ctx); err != nil {
				return err
			}
			if cur.Sub(cycleStart).Reads() >= n || time.Now().After(deadline) {
				break
			}
			sleepCtx(ctx, 100*time.Millisecond)
		}
		if cur, err = ph.admin.WaitQuiet(ctx, 2*time.Second, timeout); err != nil {
			r.note("steady cycle %d: %v", k, err)
		}
		d := cur.Sub(cycleStart)
		r.logf("steady cycle %d/%d: %d reads, %d writes in %.1fs: %s", k, r.cfg.Cycles, d.Reads(), d.Writes(), time.Since(t0).Seconds(), d)
	}
	after, err := ph.admin.Stats(ctx)
	if err != nil {
		return err
	}
	kubeAfter, err := r.waitKubeQuiet(ctx, ph, kubeBefore, 2*time.Second, time.Minute)
	if err != nil {
		r.note("steady state: %v", err)
	}
	kw, other, own := r.operatorWritesSince(kubeBefore, kubeAfter)
	k := float64(r.cfg.Cycles)
	r.res.SteadyKubeWrites = round(kw.Total()/k, 1)
	r.res.SteadyKubeWritesByKind = map[string]float64{}
	for name, v := range kw.PerResource(1) {
		r.res.SteadyKubeWritesByKind[name] = round(v/k, 1)
	}
	r.res.SteadyKubeWritesHarness = round(own.Total()/k, 1)
	r.logf("steady state: the operator's Kubernetes writes over %d cycles: %s; the harness's (taken out): %s; others' (control plane): %s", r.cfg.Cycles, kw, own, other)
	d := after.Sub(before)
	r.res.SteadyWrites = d.Writes()
	r.res.SteadyReads = d.Reads()
	r.res.SteadyReadsPerSecretPerResync = round(float64(d.Reads())/float64(n*r.cfg.Cycles), 3)
	r.res.SteadyThrottled = d.Status("429")
	r.res.SteadyCalls = d.String()
	return nil
}

// sourceChanges updates SourceUpdates source Secrets one at a time, on an idle system,
// and times each from the update to the moment the emulator has stored a new version
// (its CreateSecretVersion counter, read through the admin API, which costs no API
// quota). At the end every updated secret's current value is checked through the SDK
// against the last value the harness wrote to it.
func (r *runner) sourceChanges(ctx context.Context, ph *phase) error {
	c, err := ph.client()
	if err != nil {
		return err
	}
	m := min(r.cfg.SourceUpdates, r.cfg.N)
	if m == 0 {
		return nil
	}
	if _, err := ph.admin.WaitQuiet(ctx, time.Second, time.Minute); err != nil {
		r.note("before source changes: %v", err)
	}
	before, err := ph.admin.Stats(ctx)
	if err != nil {
		return err
	}
	var lat []time.Duration
	// last is the value each updated item must hold at the end: with more updates than
	// items an item is updated more than once, and only its last value counts.
	last := map[int]string{}
	var order []int
	missed := 0
	for i, idx := range pickSourceUpdates(r.cfg.N, m, len(r.shards), r.cfg.Namespaces) {
		it := r.items[idx]
		it.Value = randomValue()
		if _, seen := last[idx]; !seen {
			order = append(order, idx)
		}
		last[idx] = it.Value
		r.items[idx].Value = it.Value
		prev, err := ph.admin.Stats(ctx)
		if err != nil {
			return err
		}
		base := prev.OpStatus("CreateSecretVersion", "200")
		t0 := time.Now()
		if err := setSourceValue(ctx, c, it, it.Value); err != nil {
			return err
		}
		seen := false
		for deadline := t0.Add(30 * time.Second); time.Now().Before(deadline); {
			st, err := ph.admin.Stats(ctx)
			if err != nil {
				return err
			}
			if st.OpStatus("CreateSecretVersion", "200") > base {
				seen = true
				break
			}
			sleepCtx(ctx, 5*time.Millisecond)
		}
		if !seen {
			missed++
			r.note("source change %d (%s/%s): no new CSMS version within 30s", i, it.Namespace, it.Name)
			continue
		}
		lat = append(lat, time.Since(t0))
		// Idle between samples: let the reconcile finish its status patch.
		if _, err := ph.admin.WaitQuiet(ctx, 200*time.Millisecond, 30*time.Second); err != nil {
			r.note("after source change %d: %v", i, err)
		}
	}
	after, err := ph.admin.Stats(ctx)
	if err != nil {
		return err
	}
	r.res.SourceChangeUpdates = m
	r.res.SourceChangeMissed = missed
	r.res.SourceChangeP50Ms = round(float64(Percentile(lat, 50))/1e6, 1)
	r.res.SourceChangeP99Ms = round(float64(Percentile(lat, 99))/1e6, 1)
	r.res.SourceChangeMaxMs = round(float64(Percentile(lat, 100))/1e6, 1)
	r.res.SourceChangeCalls = after.Sub(before).String()
	r.logf("source changes: %d updates of %d secrets, p50 %.0f ms, p99 %.0f ms, max %.0f ms; calls %s", m, len(order), r.res.SourceChangeP50Ms, r.res.SourceChangeP99Ms, r.res.SourceChangeMaxMs, r.res.SourceChangeCalls)
	// A missed update may still land later; the check below then tells whether it did.
	updated := make([]Item, 0, len(order))
	for _, idx := range order {
		it := r.items[idx]
		it.Value = last[idx]
		updated = append(updated, it)
	}
	return r.verifyValues(ctx, ph, updated)
}

// pickSourceUpdates returns the indexes of the m items the source-change phase updates,
// in order, out of n. With m <= n they are distinct. The stride is coprime with n (so
// i*stride mod n visits distinct items) and with the project and namespace counts, so
// consecutive updates land in different namespaces and, with several projects, on
// different projects' token buckets: otherwise the figure would measure one bucket's
// refill rather than the operator. With m > n every item is updated, some more than once.
func pickSourceUpdates(n, m, projects, namespaces int) []int {
	if n <= 0 || m <= 0 {
		return nil
	}
	stride := max(1, n/max(1, min(m, n)))
	for gcd(stride, n) != 1 || gcd(stride, max(1, projects)) != 1 || gcd(stride, max(1, namespaces)) != 1 {
		stride++
	}
	out := make([]int, m)
	for i := range out {
		out[i] = (i * stride) % n
	}
	return out
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// verifyValues checks through the SDK that CSMS holds each item's value, paced under the
// rate limit.
func (r *runner) verifyValues(ctx context.Context, ph *phase, items []Item) error {
	lim := rate.NewLimiter(rate.Inf, 1)
	if q := r.shards[0].QPS; q > 0 {
		lim = rate.NewLimiter(rate.Limit(q)/2, 1)
	}
	for _, it := range items {
		if err := lim.Wait(ctx); err != nil {
			return err
		}
		cl, err := newSDKClient(ph.em.URL, r.shards[it.Shard])
		if err != nil {
			return err
		}
		v, err := cl.ShowSecretVersion(&model.ShowSecretVersionRequest{SecretName: it.Name, VersionId: "latest"})
		if err != nil {
			return fmt.Errorf("reading back %s: %w", it.Name, err)
		}
		if v.Version == nil || v.Version.SecretString == nil || *v.Version.SecretString != it.Value {
			return fmt.Errorf("CSMS secret %s does not hold the updated source value", it.Name)
		}
	}
	r.logf("source changes: all %d updated values read back from CSMS through the SDK", len(items))
	return nil
}

// saveHeapProfile saves the manager's heap profile to <Dir>/manager-heap.pb.gz when the
// manager serves net/http/pprof on its metrics listener (a profiling build; the released
// manager does not, and then nothing is saved).
func (r *runner) saveHeapProfile(ctx context.Context, ph *phase) {
	url := strings.TrimSuffix(ph.metricsURL, "/metrics") + "/debug/pprof/heap"
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return
	}
	path := filepath.Join(r.cfg.Dir, "manager-heap.pb.gz")
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err == nil {
		err = os.WriteFile(path, b, 0o644)
	}
	if err != nil {
		r.note("saving the manager's heap profile: %v", err)
		return
	}
	r.logf("limited: saved the manager's heap profile to %s (go tool pprof -top %s)", path, path)
}

func (r *runner) unlimitedRun(ctx context.Context) error {
	shards := MakeShards(len(r.shards), 0)
	ph, err := r.startPhase(ctx, "unlimited", 0, shards, r.items, true)
	if err != nil {
		return err
	}
	defer ph.stop()
	cv, err := r.converge(ctx, "unlimited", ph)
	if err != nil {
		return err
	}
	r.res.ConvergeUnlimitedS = round(cv.took.Seconds(), 2)
	r.res.UnlimitedPerS = round(float64(r.cfg.N)/cv.took.Seconds(), 1)
	r.res.CallsUnlimitedPerSecret = perSecret(cv.calls, r.cfg.N)
	// The ceiling is compared with this run, so it replays this run's writes.
	r.res.KubeWritesPerNewResource = cv.kubeWrites.PerResource(r.cfg.N)
	r.res.KubeReadsPerNewResource = cv.kubeReads.PerResource(r.cfg.N)
	r.mix = cv.kubeWrites
	cv.ready.Name = "operator, unlimited"
	r.addSeries(cv.ready)
	if s, err := ReadProc(ph.mgr.Pid()); err == nil {
		r.res.PeakRSSUnlimitedMiB = round(s.PeakRSSMiB(), 1)
		r.res.CPUUnlimitedS = round(s.CPU.Seconds(), 2)
	}
	return r.write()
}

// baselineRun starts a fresh emulator (same limit, same projects) in its own environment
// directory and runs the SDK loop. No control plane is needed, but localenv owns process
// lifetimes, so it starts one; it sits idle.
func (r *runner) baselineRun(ctx context.Context) error {
	dir := filepath.Join(r.cfg.Dir, "baseline")
	r.logf("baseline: starting a fresh emulator")
	env, err := localenv.Start(ctx, localenv.Options{Dir: dir, Root: r.cfg.Root})
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()
	var args []string
	if q := r.shards[0].QPS; q > 0 {
		args = append(args, "--qps", strconv.Itoa(q))
	}
	em, err := env.StartEmulator(ctx, localenv.EmulatorOptions{Credentials: r.credentialFlags(), ExtraArgs: args})
	if err != nil {
		return err
	}
	admin := NewAdmin(em.AdminURL)
	res, err := RunBaseline(ctx, em.URL, r.shards, r.items, r.cfg.Concurrency, func(it Item) map[string]string {
		// The operator's two tags, with a UID-sized owner value.
		return map[string]string{
			v1alpha1.TagKeyManagedBy: v1alpha1.TagValueManagedBy,
			v1alpha1.TagKeyOwner:     it.Namespace + "/" + it.Name + "/00000000-0000-0000-0000-000000000000",
		}
	})
	if err != nil {
		return err
	}
	st, err := admin.Stats(ctx)
	if err != nil {
		return err
	}
	r.res.BaselineS = round(res.Elapsed.Seconds(), 2)
	r.addSeries(Series{Name: fmt.Sprintf("bare SDK baseline, %d req/s", r.res.QPSEffective), Points: stepPoints(res.Done)})
	r.res.BaselineThrottled = res.Throttled
	r.res.BaselineCallsPerSecret = perSecret(st, r.cfg.N)
	r.logf("baseline: %d secrets in %.2fs (%d throttled and retried): %s", r.cfg.N, res.Elapsed.Seconds(), res.Throttled, st)
	return nil
}
