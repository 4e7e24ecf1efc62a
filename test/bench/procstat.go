package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of utime/stime in /proc/<pid>/stat. Linux exports USER_HZ = 100 to
// user space on every architecture Go supports, whatever the kernel's internal HZ.
const userHZ = 100

// ProcSample is what /proc says about one process at one moment.
type ProcSample struct {
	// PeakRSSKiB is VmHWM: the highest resident set size the process has had so far.
	PeakRSSKiB int64
	// RSSKiB is VmRSS, the resident set size now.
	RSSKiB int64
	// FileRSSKiB is RssFile, the part of RSSKiB that is file-backed pages: mostly the
	// binary's code and read-only data, which the kernel maps in as they are touched.
	FileRSSKiB int64
	// CPU is user + system CPU time used so far.
	CPU time.Duration
}

// PeakRSSMiB is PeakRSSKiB in MiB.
func (s ProcSample) PeakRSSMiB() float64 { return float64(s.PeakRSSKiB) / 1024 }

// ReadProc samples /proc/<pid>/status and /proc/<pid>/stat.
func ReadProc(pid int) (ProcSample, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ProcSample{}, fmt.Errorf("reading status of pid %d: %w", pid, err)
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ProcSample{}, fmt.Errorf("reading stat of pid %d: %w", pid, err)
	}
	var s ProcSample
	if s.PeakRSSKiB, s.RSSKiB, err = parseStatus(status); err != nil {
		return ProcSample{}, fmt.Errorf("pid %d: %w", pid, err)
	}
	s.FileRSSKiB = statusField(status, "RssFile") // absent on old kernels: 0
	if s.CPU, err = parseStatCPU(stat); err != nil {
		return ProcSample{}, fmt.Errorf("pid %d: %w", pid, err)
	}
	return s, nil
}

// parseStatus returns VmHWM and VmRSS (kB) from the text of /proc/<pid>/status.
func parseStatus(b []byte) (hwm, rss int64, err error) {
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmHWM" && key != "VmRSS") {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("unexpected %s line %q", key, sc.Text())
		}
		v, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("parsing %s: %w", key, err)
		}
		if key == "VmHWM" {
			hwm = v
		} else {
			rss = v
		}
		found++
	}
	if found != 2 {
		return 0, 0, fmt.Errorf("status has no VmHWM/VmRSS (a kernel thread or a zombie?)")
	}
	return hwm, rss, nil
}

// statusField returns the kB value of one line of /proc/<pid>/status, 0 when absent.
func statusField(b []byte, key string) int64 {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != key {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 2 && f[1] == "kB" {
			if v, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				return v
			}
		}
		return 0
	}
	return 0
}

// parseStatCPU returns utime+stime from the text of /proc/<pid>/stat. The command name
// (field 2) is in parentheses and may contain spaces, so fields are counted after the last
// ')': there field 3 (state) has index 0, utime (14) index 11 and stime (15) index 12.
func parseStatCPU(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed stat %q", b)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("stat has %d fields after the command, want at least 13", len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parsing stat cpu field %q: %w", s, err)
		}
		ticks += v
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}
