package localenv

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is a child program started by the environment: its own process group (so a stop
// reaches everything it forks) and its output in a log file. The environment's reaper
// kills the group if our process dies without stopping it.
type Process struct {
	Name    string
	LogPath string

	cmd     *exec.Cmd
	logFile *os.File
	done    chan struct{}
	waitErr error
	// onStop, when set, runs first in Stop: a container's engine client does not own the
	// container, which must be stopped through the engine.
	onStop func()
}

// startProcess starts bin with args, writing stdout and stderr to logPath.
func startProcess(name, logPath string, env []string, bin string, args ...string) (*Process, error) {
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, fmt.Errorf("creating log directory for %s: %w", name, err)
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening log file for %s: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Env = append(os.Environ(), env...)
	// A process group of its own: Ctrl-C in the terminal reaches only us, and we decide
	// the order of shutdown; Stop signals the whole group. No Pdeathsig: Linux ties it to
	// the creating OS thread, not the process, which in Go could stop a child at random.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("starting %s (%s): %w", name, bin, err)
	}
	p := &Process{Name: name, LogPath: logPath, cmd: cmd, logFile: logFile, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		_ = logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process ID, which is also its process group ID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended, and how.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.waitErr
	default:
		return false, nil
	}
}

// Stop sends SIGTERM to the process group, waits up to timeout, then SIGKILLs the group.
// It waits for the process itself to be reaped.
func (p *Process) Stop(timeout time.Duration) error {
	if p.onStop != nil {
		p.onStop()
	}
	if done, _ := p.Exited(); done {
		// The leader is gone, but a child it forked may remain in the group.
		_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
		return nil
	}
	_ = syscall.Kill(-p.Pid(), syscall.SIGTERM)
	select {
	case <-p.done:
		_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
		return nil
	case <-time.After(timeout):
	}
	_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
	<-p.done
	return fmt.Errorf("%s did not stop within %s after SIGTERM; killed", p.Name, timeout)
}

// LogTail returns the last n lines of the process log, for error messages.
func (p *Process) LogTail(n int) string { return tailFile(p.LogPath, n) }

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// reaper is a tiny shell process that kills every registered process group when our
// process ends without calling Stop (SIGKILL, a test binary's timeout panic, a crash).
// It blocks reading a pipe whose write end only we hold: the kernel closes it when we die
// in any way, so there is no polling and no PID-reuse guess. A normal Stop clears the
// list before closing the pipe, so the reaper then exits without killing anything.
type reaper struct {
	mu    sync.Mutex
	file  string
	pipeW *os.File
	cmd   *exec.Cmd
	pgids []int
}

const reaperScript = `trap '' INT TERM HUP
read -r _ || true
# dash: the signal must come first so that "-PGID" is not read as an option.
for g in $(cat "$1" 2>/dev/null); do kill -9 "-$g" 2>/dev/null; done
exit 0`

func startReaper(file string) (*reaper, error) {
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		return nil, fmt.Errorf("creating reaper list: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("creating reaper pipe: %w", err)
	}
	cmd := exec.Command("/bin/sh", "-c", reaperScript, "localenv-reaper", file)
	cmd.Stdin = r
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = r.Close()
		_ = w.Close()
		return nil, fmt.Errorf("starting reaper: %w", err)
	}
	_ = r.Close()
	return &reaper{file: file, pipeW: w, cmd: cmd}, nil
}

// add registers a process group; the list is rewritten atomically.
func (r *reaper) add(pgid int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pgids = append(r.pgids, pgid)
	return r.writeLocked()
}

func (r *reaper) writeLocked() error {
	var b bytes.Buffer
	for _, g := range r.pgids {
		b.WriteString(strconv.Itoa(g))
		b.WriteByte('\n')
	}
	tmp := r.file + ".tmp"
	if err := os.WriteFile(tmp, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing reaper list: %w", err)
	}
	if err := os.Rename(tmp, r.file); err != nil {
		return fmt.Errorf("writing reaper list: %w", err)
	}
	return nil
}

// release empties the list and lets the reaper exit without killing anything.
func (r *reaper) release() error {
	r.mu.Lock()
	r.pgids = nil
	err := r.writeLocked()
	r.mu.Unlock()
	_ = r.pipeW.Close()
	if werr := r.cmd.Wait(); werr != nil {
		err = errors.Join(err, fmt.Errorf("reaper: %w", werr))
	}
	return err
}

// killStale kills process groups left in a previous run's reaper list, but only those
// whose leader still runs with a command line that names dir: a PID that was reused by an
// unrelated program is left alone.
func killStale(file, dir string) []int {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	var killed []int
	for _, f := range strings.Fields(string(b)) {
		pgid, err := strconv.Atoi(f)
		if err != nil || pgid <= 1 {
			continue
		}
		if !cmdlineMentions(pgid, dir) {
			continue
		}
		if syscall.Kill(-pgid, syscall.SIGKILL) == nil {
			killed = append(killed, pgid)
		}
	}
	return killed
}

func cmdlineMentions(pid int, s string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	return strings.Contains(string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})), s)
}

// childrenMentioning lists our direct children whose command line names s: used to find
// the kube-apiserver and etcd that envtest started, which it does not expose.
func childrenMentioning(s string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// Fields after the parenthesised command name: state, ppid, ...
		rest := string(stat)
		if i := strings.LastIndexByte(rest, ')'); i >= 0 {
			rest = rest[i+1:]
		}
		fields := strings.Fields(rest)
		if len(fields) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(fields[1]); ppid != self {
			continue
		}
		if cmdlineMentions(pid, s) {
			pids = append(pids, pid)
		}
	}
	return pids
}
