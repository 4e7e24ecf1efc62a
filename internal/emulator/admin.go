package emulator

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// stats counts requests per operation and HTTP status.
type stats struct {
	mu sync.Mutex
	m  map[string]map[string]int
}

func newStats() *stats { return &stats{m: map[string]map[string]int{}} }

func (st *stats) add(op string, status int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	byStatus, ok := st.m[op]
	if !ok {
		byStatus = map[string]int{}
		st.m[op] = byStatus
	}
	key := strconv.Itoa(status)
	if status == 0 {
		key = "dropped"
	}
	byStatus[key]++
}

// Snapshot copies the counters: operation → status ("200", "404", "dropped") → count.
func (st *stats) snapshot() map[string]map[string]int {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make(map[string]map[string]int, len(st.m))
	for op, byStatus := range st.m {
		c := make(map[string]int, len(byStatus))
		for k, v := range byStatus {
			c[k] = v
		}
		out[op] = c
	}
	return out
}

func (st *stats) reset() {
	st.mu.Lock()
	st.m = map[string]map[string]int{}
	st.mu.Unlock()
}

// Fault is one POST /admin/faults rule. Operation "" or "*" matches every operation.
// Count 0 means unlimited; Probability 0 means always.
type Fault struct {
	Operation   string  `json:"operation"`
	Status      int     `json:"status"`
	ErrorCode   string  `json:"error_code"`
	ErrorMsg    string  `json:"error_msg"`
	Latency     string  `json:"latency"`
	Drop        bool    `json:"drop"`
	Count       int     `json:"count"`
	Probability float64 `json:"probability"`
	After       bool    `json:"after"`
}

type fault struct {
	Fault
	latency   time.Duration
	remaining int // -1 = unlimited
}

// active reports whether the fault changes the response (not only adds latency).
func (f *fault) active() bool { return f.Status != 0 || f.Drop }

type faultSet struct {
	mu     sync.Mutex
	faults []*fault
}

func (fs *faultSet) add(f Fault) error {
	nf := &fault{Fault: f, remaining: -1}
	if f.Latency != "" {
		d, err := time.ParseDuration(f.Latency)
		if err != nil || d < 0 {
			return fmt.Errorf("bad latency %q", f.Latency)
		}
		nf.latency = d
	}
	if f.Count < 0 || f.Probability < 0 || f.Probability > 1 {
		return fmt.Errorf("count must be >= 0 and probability in [0,1]")
	}
	if f.Status != 0 && (f.Status < 100 || f.Status > 599) {
		return fmt.Errorf("bad status %d", f.Status)
	}
	if f.Status == 0 && !f.Drop && nf.latency == 0 {
		return fmt.Errorf("a fault needs a status, drop or latency")
	}
	if f.Count > 0 {
		nf.remaining = f.Count
	}
	fs.mu.Lock()
	fs.faults = append(fs.faults, nf)
	fs.mu.Unlock()
	return nil
}

func (fs *faultSet) clear() {
	fs.mu.Lock()
	fs.faults = nil
	fs.mu.Unlock()
}

// pick returns the first fault that fires for op, consuming one of its count.
func (fs *faultSet) pick(op string) *fault {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for i, f := range fs.faults {
		if f.Operation != "" && f.Operation != "*" && f.Operation != op {
			continue
		}
		if f.Probability > 0 && rand.Float64() >= f.Probability {
			continue
		}
		if f.remaining > 0 {
			f.remaining--
			if f.remaining == 0 {
				fs.faults = append(fs.faults[:i:i], fs.faults[i+1:]...)
			}
		}
		return f
	}
	return nil
}

func (fs *faultSet) list() []Fault {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	out := []Fault{}
	for _, f := range fs.faults {
		g := f.Fault
		if f.remaining > 0 {
			g.Count = f.remaining
		}
		out = append(out, g)
	}
	return out
}

// SetClockOffset moves emulator time (purges, rotation, replication); Go API of
// POST /admin/clock.
func (s *Server) SetClockOffset(d time.Duration) {
	s.clockOffset.Store(int64(d))
	s.sweepOnce()
}

// ClockOffset is the current emulator clock offset.
func (s *Server) ClockOffset() time.Duration { return time.Duration(s.clockOffset.Load()) }

// Stats returns operation → status → count.
func (s *Server) Stats() map[string]map[string]int { return s.stats.snapshot() }

// ResetStats zeroes the counters.
func (s *Server) ResetStats() { s.stats.reset() }

// InjectFault adds a fault rule (Go API of POST /admin/faults).
func (s *Server) InjectFault(f Fault) error { return s.faults.add(f) }

// ClearFaults removes every fault rule.
func (s *Server) ClearFaults() { s.faults.clear() }

func (s *Server) adminHandler() http.Handler {
	mux := http.NewServeMux()
	writeJSON := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	bad := func(w http.ResponseWriter, err error) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /admin/stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Stats())
	})
	mux.HandleFunc("POST /admin/stats/reset", func(w http.ResponseWriter, r *http.Request) {
		s.ResetStats()
		writeJSON(w, http.StatusOK, map[string]string{})
	})
	mux.HandleFunc("GET /admin/faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.faults.list())
	})
	mux.HandleFunc("POST /admin/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Fault
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			bad(w, fmt.Errorf("decode fault: %w", err))
			return
		}
		if err := s.InjectFault(f); err != nil {
			bad(w, err)
			return
		}
		writeJSON(w, http.StatusOK, f)
	})
	mux.HandleFunc("DELETE /admin/faults", func(w http.ResponseWriter, r *http.Request) {
		s.ClearFaults()
		writeJSON(w, http.StatusOK, map[string]string{})
	})
	clock := func(w http.ResponseWriter) {
		off := s.ClockOffset()
		writeJSON(w, http.StatusOK, map[string]any{"offset": off.String(), "now": s.now().UnixMilli()})
	}
	mux.HandleFunc("GET /admin/clock", func(w http.ResponseWriter, r *http.Request) { clock(w) })
	mux.HandleFunc("POST /admin/clock", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Offset string `json:"offset"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil {
			bad(w, fmt.Errorf("decode clock: %w", err))
			return
		}
		d, err := time.ParseDuration(body.Offset)
		if err != nil {
			bad(w, fmt.Errorf("bad offset: %w", err))
			return
		}
		s.SetClockOffset(d)
		clock(w)
	})
	return mux
}
