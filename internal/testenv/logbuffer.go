package testenv

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
)

// LogBuffer collects what a manager logs, for the suites to search (e.g. for a canary
// value); it is safe for the manager's concurrent writers.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Logger returns a logger writing into l at the given verbosity. funcr renders every
// key/value pair, so a search of l sees what a JSON log would carry.
func (l *LogBuffer) Logger(verbosity int) logr.Logger {
	return funcr.New(func(prefix, args string) {
		_, _ = fmt.Fprintf(l, "%s %s\n", prefix, args)
	}, funcr.Options{Verbosity: verbosity})
}
