package bench

import (
	"os"
	"testing"
	"time"
)

func TestParseStatus(t *testing.T) {
	in := []byte("Name:\tmanager\nVmPeak:\t 1000 kB\nVmHWM:\t   51200 kB\nVmRSS:\t   40960 kB\nThreads:\t9\n")
	hwm, rss, err := parseStatus(in)
	if err != nil {
		t.Fatal(err)
	}
	if hwm != 51200 || rss != 40960 {
		t.Fatalf("hwm=%d rss=%d, want 51200 40960", hwm, rss)
	}
	if _, _, err := parseStatus([]byte("Name:\tkthreadd\nState:\tS\n")); err == nil {
		t.Fatal("want an error for a status without VmHWM")
	}
}

func TestStatusField(t *testing.T) {
	in := []byte("VmRSS:\t   40960 kB\nRssAnon:\t   30000 kB\nRssFile:\t   10800 kB\n")
	if got := statusField(in, "RssFile"); got != 10800 {
		t.Fatalf("RssFile = %d, want 10800", got)
	}
	if got := statusField(in, "RssShmem"); got != 0 {
		t.Fatalf("an absent field = %d, want 0", got)
	}
}

func TestParseStatCPU(t *testing.T) {
	// A command name with spaces and a ')' inside must not shift the fields.
	in := []byte("4242 (my (odd) cmd) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 9 0 100 0 0\n")
	got, err := parseStatCPU(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := 3250 * time.Millisecond; got != want {
		t.Fatalf("cpu = %s, want %s (325 ticks)", got, want)
	}
	if _, err := parseStatCPU([]byte("1 (x) S 1 2")); err == nil {
		t.Fatal("want an error for a short stat line")
	}
}

// TestReadProcSelf reads our own process: the peak RSS is at least the current RSS and
// CPU time grows when we burn some.
func TestReadProcSelf(t *testing.T) {
	before, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if before.PeakRSSKiB <= 0 || before.PeakRSSKiB < before.RSSKiB {
		t.Fatalf("implausible sample %+v", before)
	}
	deadline := time.Now().Add(10 * time.Second)
	x := 0
	for {
		for i := 0; i < 1e7; i++ {
			x ^= i
		}
		after, err := ReadProc(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if after.CPU > before.CPU {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cpu did not grow from %s in 10s of spinning (x=%d)", before.CPU, x)
		}
	}
}
