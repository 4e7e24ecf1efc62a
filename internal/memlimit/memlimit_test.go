package memlimit

import (
	"errors"
	"io/fs"
	"os"
	"runtime/debug"
	"testing"
)

func TestFind(t *testing.T) {
	v2, v1 := cgroupFiles[0], cgroupFiles[1]
	tests := []struct {
		name     string
		files    map[string]string
		want     int64
		wantFile string
	}{
		{name: "v2 limit", files: map[string]string{v2: "268435456\n"}, want: 268435456, wantFile: v2},
		{name: "v2 no limit", files: map[string]string{v2: "max\n", v1: "1000"}, want: 0},
		{name: "v1 limit", files: map[string]string{v1: "536870912\n"}, want: 536870912, wantFile: v1},
		{name: "v1 no limit", files: map[string]string{v1: "9223372036854771712\n"}, want: 0},
		{name: "no cgroup files", files: map[string]string{}, want: 0},
		{name: "garbage", files: map[string]string{v2: "lots"}, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			read := func(f string) ([]byte, error) {
				if s, ok := tt.files[f]; ok {
					return []byte(s), nil
				}
				return nil, &fs.PathError{Op: "open", Path: f, Err: fs.ErrNotExist}
			}
			got, file := find(read)
			if got != tt.want || file != tt.wantFile {
				t.Errorf("find() = %d, %q; want %d, %q", got, file, tt.want, tt.wantFile)
			}
		})
	}
}

// TestFromCgroupSetsTheRuntimeLimit: 90 % of a 256 MiB container limit goes to the
// runtime, unless GOMEMLIMIT is set. The test process's own limit is restored after.
func TestFromCgroupSetsTheRuntimeLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	read := func(f string) ([]byte, error) {
		if f == cgroupFiles[0] {
			return []byte("268435456\n"), nil
		}
		return nil, fs.ErrNotExist
	}

	t.Setenv("GOMEMLIMIT", "100MiB")
	if got, _ := fromCgroup(read); got != 0 || debug.SetMemoryLimit(-1) != prev {
		t.Errorf("fromCgroup() set %d although GOMEMLIMIT is set", got)
	}

	if err := os.Unsetenv("GOMEMLIMIT"); err != nil { // t.Setenv restores it afterwards
		t.Fatal(err)
	}
	limit := int64(268435456)
	want := int64(float64(limit) * Fraction)
	got, file := fromCgroup(read)
	if got != want || file != cgroupFiles[0] {
		t.Errorf("fromCgroup() = %d, %q; want %d from %s", got, file, want, cgroupFiles[0])
	}
	if cur := debug.SetMemoryLimit(-1); cur != want {
		t.Errorf("runtime memory limit %d, want %d", cur, want)
	}
}

func TestUnreadableFileIsSkipped(t *testing.T) {
	read := func(f string) ([]byte, error) {
		if f == cgroupFiles[0] {
			return nil, errors.New("permission denied")
		}
		return []byte("1048576"), nil
	}
	if got, file := find(read); got != 1048576 || file != cgroupFiles[1] {
		t.Errorf("find() = %d, %q; want the v1 limit", got, file)
	}
}
