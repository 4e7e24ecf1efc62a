package bench

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
)

// Machine describes where a run happened.
type Machine struct {
	NProc    int    `json:"nproc"`
	MemMiB   int64  `json:"mem_mib"`
	CPUModel string `json:"cpu_model"`
	Kernel   string `json:"kernel"`
	Go       string `json:"go"`
}

// ReadMachine reads /proc/cpuinfo, /proc/meminfo and the kernel release.
func ReadMachine() Machine {
	m := Machine{NProc: runtime.NumCPU(), Go: runtime.Version()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		_ = f.Close()
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var kb int64
			if _, err := fmt.Sscanf(sc.Text(), "MemTotal: %d kB", &kb); err == nil {
				m.MemMiB = kb / 1024
				break
			}
		}
		_ = f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

// verdict compares a figure with its target; "" when there is nothing to compare.
func verdict(ok bool, measured bool) string {
	switch {
	case !measured:
		return "not measured"
	case ok:
		return "met"
	default:
		return "MISSED"
	}
}

// PrintTable writes the human-readable summary of r.
func PrintTable(out io.Writer, r *Result) {
	// One write at the end: a broken terminal is not worth an error path per line.
	var w strings.Builder
	defer func() { _, _ = io.WriteString(out, w.String()) }()
	fmt.Fprintf(&w, "\ncsms-operator benchmark: N=%d, Q=%d req/s (%d project(s), effective %d req/s), concurrency %d, client burst %d per project\n",
		r.N, r.QPS, r.Projects, r.QPSEffective, r.Concurrency, r.ClientBurst)
	fmt.Fprintf(&w, "machine: %d CPU (%s), %d MiB, kernel %s, %s\n\n", r.Machine.NProc, r.Machine.CPUModel, r.Machine.MemMiB, r.Machine.Kernel, r.Machine.Go)
	row := func(name, value, target, v string) {
		fmt.Fprintf(&w, "%-44s %-22s %-20s %s\n", name, value, target, v)
	}
	row("metric", "value", "target", "")
	row(strings.Repeat("-", 44), strings.Repeat("-", 22), strings.Repeat("-", 20), "------")
	row("converge, rate-limited (apply → all Ready)", fmt.Sprintf("%.2f s", r.ConvergeS), "", "")
	if r.CallBoundS > 0 {
		row("  its calls at Q (N × calls/secret / Q)", fmt.Sprintf("%.2f s", r.CallBoundS), "", "")
	}
	if r.ConvergeUnlimitedS > 0 {
		row("converge, unlimited", fmt.Sprintf("%.2f s (%.1f /s)", r.ConvergeUnlimitedS, r.UnlimitedPerS), "", "")
	} else {
		row("converge, unlimited", "not run", "", "")
	}
	if r.KubeWriteCeilingS > 0 {
		row("ceiling: the same kube writes, no operator", fmt.Sprintf("%.2f s (%.1f /s)", r.KubeWriteCeilingS, r.KubeWriteCeilingPerS), "", "")
		row("  its kube-apiserver writes per second", fmt.Sprintf("%.1f", r.KubeWriteCeilingWritesPerS), "", "")
		if r.UnlimitedOfCeiling > 0 {
			row("  unlimited rate / ceiling rate", fmt.Sprintf("%.2f", r.UnlimitedOfCeiling), "≥ 0.8", verdict(r.UnlimitedOfCeiling >= 0.8, true))
		}
	} else {
		row("ceiling: the same kube writes, no operator", "not run", "", "")
	}
	if len(r.KubeWritesPerNewResource) > 0 {
		total := 0.0
		for _, v := range r.KubeWritesPerNewResource {
			total += v
		}
		row("Kubernetes writes per new resource", fmt.Sprintf("%.2f", total), "", "")
		for _, k := range sortedFloatKeys(r.KubeWritesPerNewResource) {
			row("  "+k, fmt.Sprintf("%.2f", r.KubeWritesPerNewResource[k]), "", "")
		}
	}
	if r.BaselineS > 0 {
		row("baseline: SDK create+tag, same limit", fmt.Sprintf("%.2f s", r.BaselineS), "", "")
		row("ratio operator / baseline (rate-limited)", fmt.Sprintf("%.2f", r.Ratio), "≤ 1.1", verdict(r.Ratio <= 1.1, true))
	} else {
		row("baseline / ratio", "not run", "≤ 1.1", verdict(false, false))
	}
	row("cloud calls per secret, create path", fmt.Sprintf("%.2f", r.CallsPerSecretTotal), "(baseline 2)", "")
	ops := make([]string, 0, len(r.CallsPerSecret))
	for op := range r.CallsPerSecret {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		row("  "+op, fmt.Sprintf("%.2f", r.CallsPerSecret[op]), "", "")
	}
	if r.ReconcilesPerSecret > 0 {
		row("reconciles per secret, create path", fmt.Sprintf("%.2f", r.ReconcilesPerSecret), "", "")
	}
	if r.ThrottledPerSecret > 0 {
		row("  of which throttled (429)", fmt.Sprintf("%.2f", r.ThrottledPerSecret), "", "")
	}
	row(fmt.Sprintf("steady state: writes in %d resync cycles", r.SteadyCycles), fmt.Sprintf("%d", r.SteadyWrites), "0", verdict(r.SteadyWrites == 0, r.SteadyCycles > 0))
	reads := fmt.Sprintf("%.3f", r.SteadyReadsPerSecretPerResync)
	if r.SteadyThrottled > 0 && r.SteadyCycles > 0 {
		reads += fmt.Sprintf(" (%d × 429)", r.SteadyThrottled)
	}
	row("steady state: reads / secret / resync", reads, "≤ 1", verdict(r.SteadyReadsPerSecretPerResync <= 1, r.SteadyCycles > 0))
	row("steady state: Kubernetes writes / cycle", fmt.Sprintf("%.1f", r.SteadyKubeWrites), "0", verdict(r.SteadyKubeWrites == 0, r.SteadyCycles > 0))
	for _, k := range sortedFloatKeys(r.SteadyKubeWritesByKind) {
		row("  "+k, fmt.Sprintf("%.1f", r.SteadyKubeWritesByKind[k]), "", "")
	}
	row(fmt.Sprintf("source change → new version, p50 (%d)", r.SourceChangeUpdates-r.SourceChangeMissed), fmt.Sprintf("%.0f ms", r.SourceChangeP50Ms), "", "")
	row("source change → new version, p99", fmt.Sprintf("%.0f ms", r.SourceChangeP99Ms), "≤ 2000 ms (idle)", verdict(r.SourceChangeP99Ms <= 2000 && r.SourceChangeMissed == 0, r.SourceChangeUpdates > 0))
	if r.RestartChanges > 0 {
		row(fmt.Sprintf("restart: %d sources changed while down", r.RestartChanges), fmt.Sprintf("ready in %.1f s", r.RestartManagerReadyS), "", "")
		row("  changes in CSMS after the start, p50 / last", fmt.Sprintf("%.2f / %.2f s", r.RestartChangesInCSMSP50S, r.RestartChangesInCSMSMaxS), "at once", "")
		// The provider configs' credential checks (one ListSecrets each) are the new
		// process's, not the resources'.
		pushes := r.RestartFirstMinuteCalls - r.RestartFirstMinuteDrift - r.RestartFirstMinuteByOp["ListSecrets"]
		// A drift check that finds the cloud moved since status was written (the last push
		// of a secret leaves status.updateTime behind) re-reads its tags and stage: two
		// calls more, counted by its ShowSecretStage.
		moved := r.RestartFirstMinuteByOp["ShowSecretStage"]
		row("  CSMS calls, first minute: changed resources", fmt.Sprintf("%d", pushes), fmt.Sprintf("%d × 4 (+2 × %d moved)", r.RestartChanges, moved),
			verdict(r.RestartFirstMinuteByOp["CreateSecretVersion"] == r.RestartChanges && pushes <= 4*r.RestartChanges+2*moved, true))
		row("  CSMS calls, first minute: spread drift checks", fmt.Sprintf("%d", r.RestartFirstMinuteDrift), fmt.Sprintf("≈ %.0f (N/60 per min)", r.RestartDriftExpected),
			verdict(float64(r.RestartFirstMinuteDrift) <= 2*r.RestartDriftExpected+10, true))
	}
	if r.TargetItems > 0 {
		row(fmt.Sprintf("spec.target: %d secrets, rotation lead %.0f s", r.TargetItems, r.TargetLeadS), "", "", "")
		n := r.TargetItems - r.RotationToSecretMissed
		row(fmt.Sprintf("  scheduled rotation → Secret, p50 (%d)", n), fmt.Sprintf("%.0f ms", r.RotationToSecretP50Ms), "", "")
		row("  scheduled rotation → Secret, p99 / max", fmt.Sprintf("%.0f / %.0f ms", r.RotationToSecretP99Ms, r.RotationToSecretMaxMs), "≤ 10 s, none missed", verdict(r.RotationToSecretMissed == 0 && r.RotationToSecretP99Ms <= 10000, true))
		n = r.TargetItems - r.ForcedRotationToSecretMissed
		row(fmt.Sprintf("  RotateSecret + resync → Secret, p50 (%d)", n), fmt.Sprintf("%.0f ms", r.ForcedRotationToSecretP50Ms), "", "")
		row("  RotateSecret + resync → Secret, p99 / max", fmt.Sprintf("%.0f / %.0f ms", r.ForcedRotationToSecretP99Ms, r.ForcedRotationToSecretMaxMs), "none missed", verdict(r.ForcedRotationToSecretMissed == 0, true))
		measured := r.TargetReadsPerResyncByOp != nil
		row("  reads / secret / resync with a target", fmt.Sprintf("%.3f", r.TargetReadsPerResync), "≤ 2", verdict(r.TargetReadsPerResync <= 2, measured))
		for _, k := range sortedFloatKeys(r.TargetReadsPerResyncByOp) {
			row("    "+k, fmt.Sprintf("%.3f", r.TargetReadsPerResyncByOp[k]), "", "")
		}
		row("  CSMS writes / Secret rewrites in resyncs", fmt.Sprintf("%d / %d", r.TargetSteadyWrites, r.TargetSteadyRewrites), "0 / 0", verdict(r.TargetSteadyWrites == 0 && r.TargetSteadyRewrites == 0, measured))
	}
	row("manager peak RSS (VmHWM), rate-limited run", fmt.Sprintf("%.1f MiB", r.PeakRSSMiB), "≤ 100 MiB @ N=10k", rssVerdict(r))
	if r.GoSysMiB > 0 {
		row("  Go heap in use / memory from the OS", fmt.Sprintf("%.1f / %.1f MiB", r.HeapInuseMiB, r.GoSysMiB), "", "")
	}
	if r.FileRSSMiB > 0 {
		row("  file-backed (the binary's pages), at the end", fmt.Sprintf("%.1f MiB", r.FileRSSMiB), "", "")
	}
	row("manager CPU (user+sys), rate-limited run", fmt.Sprintf("%.2f s", r.CPUS), "", "")
	if r.GCCPUS > 0 {
		row("  of which the garbage collector", fmt.Sprintf("%.2f s", r.GCCPUS), "", "")
	}
	row("  of which until all Ready", fmt.Sprintf("%.2f s", r.CPUConvergeS), "", "")
	if r.ConvergeUnlimitedS > 0 {
		row("manager peak RSS / CPU, unlimited run", fmt.Sprintf("%.1f MiB / %.2f s", r.PeakRSSUnlimitedMiB, r.CPUUnlimitedS), "", "")
	}
	row("wall time of the benchmark", fmt.Sprintf("%.0f s", r.WallS), "", "")
	for _, n := range r.Notes {
		fmt.Fprintf(&w, "note: %s\n", n)
	}
	w.WriteString("\n")
}

func sortedFloatKeys(m map[string]float64) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func rssVerdict(r *Result) string {
	if r.N < 10000 {
		if r.PeakRSSMiB <= 100 {
			return "(N < 10k: indicative)"
		}
		return "MISSED (already at N < 10k)"
	}
	return verdict(r.PeakRSSMiB <= 100, true)
}
