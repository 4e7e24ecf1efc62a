// Package emulator is a durable, signed, CSMS-compatible HTTP server: the backend of the
// demo and of every integration test. See docs/emulator.md.
package emulator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/csms-operator/csms-operator/internal/emulator/envelope"
)

// Server is one emulator process: a listener per served region, an admin listener and
// one store.
type Server struct {
	cfg     Config
	log     *slog.Logger
	store   *store
	keyring *envelope.Keyring

	creds   map[string]*Credential // by AK
	regions map[string]bool        // served regions

	mu       sync.Mutex       // serialises every mutation (and the keyring use inside it)
	dueMu    sync.Mutex       // guards due
	due      map[string]int64 // secret key → earliest ms at which settle has work
	limitMu  sync.Mutex
	limiters map[string]*rate.Limiter

	clockOffset atomic.Int64 // nanoseconds added to real time
	stats       *stats
	faults      *faultSet

	listeners map[string]net.Listener // region → listener
	adminLn   net.Listener
	servers   []*http.Server
	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// New opens the store and master key and binds every listener (port 0 picks a free
// port; see Addr). Call Start to serve and Close to stop.
func New(cfg Config) (*Server, error) {
	cfg.setDefaults()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	master, err := envelope.LoadOrCreateMasterKey(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	st, err := openStore(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg: cfg, log: cfg.Logger, store: st,
		keyring:   envelope.NewKeyring(master, keyStore{st.db}),
		creds:     map[string]*Credential{},
		regions:   map[string]bool{cfg.Region: true},
		due:       map[string]int64{},
		limiters:  map[string]*rate.Limiter{},
		stats:     newStats(),
		faults:    &faultSet{},
		listeners: map[string]net.Listener{},
		stop:      make(chan struct{}),
	}
	for i := range cfg.Credentials {
		c := cfg.Credentials[i]
		s.creds[c.AK] = &c
	}
	// fail undoes a half-done start; cleanup errors are joined to the cause so none is lost.
	fail := func(err error) (*Server, error) {
		errs := []error{err}
		for _, ln := range s.listeners {
			errs = append(errs, ln.Close())
		}
		if s.adminLn != nil {
			errs = append(errs, s.adminLn.Close())
		}
		errs = append(errs, st.close())
		return nil, errors.Join(errs...)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fail(fmt.Errorf("listen %s: %w", cfg.Listen, err))
	}
	s.listeners[cfg.Region] = ln
	for _, rl := range cfg.ReplicaRegions {
		if s.regions[rl.Region] {
			return fail(fmt.Errorf("region %s given twice", rl.Region))
		}
		ln, err := net.Listen("tcp", rl.Addr)
		if err != nil {
			return fail(fmt.Errorf("listen %s for %s: %w", rl.Addr, rl.Region, err))
		}
		s.listeners[rl.Region] = ln
		s.regions[rl.Region] = true
	}
	if cfg.AdminListen != "-" {
		if s.adminLn, err = net.Listen("tcp", cfg.AdminListen); err != nil {
			return fail(fmt.Errorf("listen admin %s: %w", cfg.AdminListen, err))
		}
		// The admin API is unsigned and can change time and inject faults: loopback only.
		if a, ok := s.adminLn.Addr().(*net.TCPAddr); !ok || !a.IP.IsLoopback() {
			return fail(fmt.Errorf("admin listener %s is not on loopback", cfg.AdminListen))
		}
	}
	if err := s.rebuildDue(); err != nil {
		return fail(err)
	}
	return s, nil
}

// Addr is the primary region's bound address (host:port).
func (s *Server) Addr() string { return s.listeners[s.cfg.Region].Addr().String() }

// RegionAddr is the bound address serving region, or "".
func (s *Server) RegionAddr(region string) string {
	if ln, ok := s.listeners[region]; ok {
		return ln.Addr().String()
	}
	return ""
}

// AdminAddr is the admin listener's bound address, or "" when disabled.
func (s *Server) AdminAddr() string {
	if s.adminLn == nil {
		return ""
	}
	return s.adminLn.Addr().String()
}

// Region is the primary region.
func (s *Server) Region() string { return s.cfg.Region }

// Start serves every listener and the background sweeper; it returns at once.
func (s *Server) Start() error {
	for region, ln := range s.listeners {
		srv := &http.Server{Handler: s.apiHandler(region), ReadHeaderTimeout: 10 * time.Second}
		s.serve(srv, ln)
	}
	if s.adminLn != nil {
		s.serve(&http.Server{Handler: s.adminHandler(), ReadHeaderTimeout: 10 * time.Second}, s.adminLn)
	}
	s.wg.Add(1)
	go s.sweepLoop()
	s.log.Info("CSMS emulator serving", "region", s.cfg.Region, "addr", s.Addr(), "admin", s.AdminAddr())
	return nil
}

func (s *Server) serve(srv *http.Server, ln net.Listener) {
	s.servers = append(s.servers, srv)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("Listener stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
}

// Close stops the listeners and the sweeper and closes the store.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.stop)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, srv := range s.servers {
			_ = srv.Shutdown(ctx)
		}
		var errs []error
		if len(s.servers) == 0 {
			// Never served: nothing else closes the listeners.
			for _, ln := range s.listeners {
				errs = append(errs, ln.Close())
			}
			if s.adminLn != nil {
				errs = append(errs, s.adminLn.Close())
			}
		}
		s.wg.Wait()
		s.mu.Lock()
		errs = append(errs, s.store.close())
		s.mu.Unlock()
		err = errors.Join(errs...)
	})
	return err
}

// now is emulator time: real time plus the admin clock offset.
func (s *Server) now() time.Time { return time.Now().Add(time.Duration(s.clockOffset.Load())) }

func (s *Server) nowMs() int64 { return s.now().UnixMilli() }

func (s *Server) limiter(project string) *rate.Limiter {
	s.limitMu.Lock()
	defer s.limitMu.Unlock()
	l, ok := s.limiters[project]
	if !ok {
		l = rate.NewLimiter(rate.Limit(s.cfg.QPS), s.cfg.QPS)
		s.limiters[project] = l
	}
	return l
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
