// Package memlimit gives the Go runtime a soft memory limit below the container's, so that
// the garbage collector works harder as the heap nears the container's limit instead of the
// kernel killing the process.
//
// Without it the runtime lets the heap grow to about twice its live size (GOGC=100) and
// knows nothing of the container: with the Deployment's 256Mi limit the manager would be
// killed at well under half the ManagedSecrets it can actually hold (docs/performance.md).
package memlimit

import (
	"bytes"
	"os"
	"runtime/debug"
	"strconv"
)

// Fraction of the container's memory limit given to the Go runtime: the rest covers what the
// runtime does not count (the binary's mapped code, for one).
const Fraction = 0.9

// cgroupFiles hold the memory limit of the process's cgroup as seen from inside a
// container: cgroup v2, then v1.
var cgroupFiles = []string{
	"/sys/fs/cgroup/memory.max",
	"/sys/fs/cgroup/memory/memory.limit_in_bytes",
}

// unlimited is where cgroup v1 values stop meaning a limit (it reports "no limit" as a
// page-rounded MaxInt64).
const unlimited = int64(1) << 60

// FromCgroup sets the runtime's memory limit to Fraction of the cgroup's, unless the
// GOMEMLIMIT environment variable is set (it wins) or no limit is found. It returns the
// limit it set (0 for none) and the file it came from.
func FromCgroup() (int64, string) {
	return fromCgroup(os.ReadFile)
}

func fromCgroup(read func(string) ([]byte, error)) (int64, string) {
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		return 0, ""
	}
	limit, file := find(read)
	if limit <= 0 {
		return 0, ""
	}
	soft := int64(float64(limit) * Fraction)
	debug.SetMemoryLimit(soft)
	return soft, file
}

// find returns the first memory limit found in cgroupFiles.
func find(read func(string) ([]byte, error)) (int64, string) {
	for _, f := range cgroupFiles {
		b, err := read(f)
		if err != nil {
			continue
		}
		if v, ok := parse(b); ok {
			return v, f
		}
		return 0, "" // the file is there and says "no limit"
	}
	return 0, ""
}

// parse reads a cgroup memory limit: a byte count, or "max" (v2) or a huge number (v1) for
// none.
func parse(b []byte) (int64, bool) {
	s := string(bytes.TrimSpace(b))
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v <= 0 || v >= unlimited {
		return 0, false
	}
	return v, true
}
