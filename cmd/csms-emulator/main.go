// Command csms-emulator runs the CSMS-compatible emulator (see docs/emulator.md).
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/csms-operator/csms-operator/internal/emulator"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "csms-emulator:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		cfg         emulator.Config
		creds, reps multiFlag
	)
	flag.StringVar(&cfg.Listen, "listen", "127.0.0.1:8787", "address of the primary region's API")
	flag.StringVar(&cfg.Region, "region", "cn-north-4", "primary region")
	flag.Var(&reps, "replica-region", "NAME=ADDR: another region served by this process (repeatable)")
	flag.StringVar(&cfg.DataDir, "data", "./csms-emulator-data", "directory of the durable store and master key")
	flag.Var(&creds, "credentials", "AK:SK:PROJECT_ID or AK:SK:REGION=PID,REGION2=PID2, optional :SECURITY_TOKEN (repeatable)")
	flag.IntVar(&cfg.QPS, "qps", 0, "requests per second per project (0 = unlimited)")
	flag.DurationVar(&cfg.ReplicationDelay, "replication-delay", 2*time.Second, "time a replica stays IN_PROGRESS")
	flag.StringVar(&cfg.AdminListen, "admin-listen", "127.0.0.1:8788", "unsigned admin listener (keep it on loopback; - disables)")
	flag.Parse()

	cfg.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	for _, r := range reps {
		rl, err := emulator.ParseRegionListener(r)
		if err != nil {
			return err
		}
		cfg.ReplicaRegions = append(cfg.ReplicaRegions, rl)
	}
	for _, c := range creds {
		cred, err := emulator.ParseCredential(c, cfg.Region)
		if err != nil {
			return err
		}
		cfg.Credentials = append(cfg.Credentials, cred)
	}
	if len(cfg.Credentials) == 0 {
		cfg.Logger.Warn("No --credentials given: every request will be refused")
	}
	srv, err := emulator.New(cfg)
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	// Machine-readable line for scripts and tests that start the binary with port 0.
	fmt.Printf("LISTEN %s ADMIN %s\n", srv.Addr(), srv.AdminAddr())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	return srv.Close()
}
