package emulator

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"
)

// Config describes one emulator process. Zero values get the defaults of the
// command-line flags, except addresses: an empty Listen/AdminListen means "127.0.0.1:0".
type Config struct {
	Listen      string // primary region listener, e.g. 127.0.0.1:8787 (port 0 = pick one)
	AdminListen string // unsigned admin listener; "-" disables it
	Region      string // primary region, default cn-north-4
	// ReplicaRegions are more regions served by the same process and store, each on
	// its own listener.
	ReplicaRegions []RegionListener
	DataDir        string // bbolt store and master key; created if missing
	Credentials    []Credential
	QPS            int // per project; 0 = unlimited
	// ReplicationDelay is how long a replica stays IN_PROGRESS; default 2s.
	ReplicationDelay time.Duration
	// SweepInterval is how often due purges, rotations and replications are applied in
	// the background (requests also apply them on access); default 200ms.
	SweepInterval time.Duration
	Logger        *slog.Logger
}

// RegionListener is a --replica-region NAME=ADDR flag.
type RegionListener struct {
	Region string
	Addr   string
}

// Credential is one --credentials flag. Projects maps region → project ID.
type Credential struct {
	AK, SK        string
	SecurityToken string
	Projects      map[string]string
}

// DomainID is the account ID the emulator derives for an AK (shown as domain_id).
func (c Credential) DomainID() string {
	sum := sha256.Sum256([]byte("csms-emulator-domain:" + c.AK))
	return hex.EncodeToString(sum[:16])
}

var projectIDRe = regexp.MustCompile(`^[0-9a-zA-Z]{1,64}$`)

// ParseCredential parses AK:SK:PROJECT_ID, AK:SK:REGION=PID,REGION2=PID2, each with an
// optional fourth field SECURITY_TOKEN. A bare project ID belongs to primaryRegion.
func ParseCredential(s, primaryRegion string) (Credential, error) {
	parts := strings.SplitN(s, ":", 4)
	if len(parts) < 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return Credential{}, errors.New("credential must be AK:SK:PROJECT_ID or AK:SK:REGION=PID,REGION2=PID2, each with an optional :SECURITY_TOKEN")
	}
	c := Credential{AK: parts[0], SK: parts[1], Projects: map[string]string{}}
	if len(parts) == 4 {
		c.SecurityToken = parts[3]
	}
	for _, item := range strings.Split(parts[2], ",") {
		region, pid := primaryRegion, item
		if k, v, ok := strings.Cut(item, "="); ok {
			region, pid = k, v
		}
		if region == "" || !projectIDRe.MatchString(pid) {
			return Credential{}, fmt.Errorf("credential for AK %q: bad project entry %q", c.AK, item)
		}
		c.Projects[region] = pid
	}
	return c, nil
}

// ParseRegionListener parses NAME=ADDR.
func ParseRegionListener(s string) (RegionListener, error) {
	name, addr, ok := strings.Cut(s, "=")
	if !ok || name == "" || addr == "" {
		return RegionListener{}, fmt.Errorf("replica region must be NAME=ADDR, got %q", s)
	}
	return RegionListener{Region: name, Addr: addr}, nil
}

func (c *Config) setDefaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:0"
	}
	if c.AdminListen == "" {
		c.AdminListen = "127.0.0.1:0"
	}
	if c.Region == "" {
		c.Region = "cn-north-4"
	}
	if c.DataDir == "" {
		c.DataDir = "./csms-emulator-data"
	}
	if c.ReplicationDelay == 0 {
		c.ReplicationDelay = 2 * time.Second
	}
	if c.SweepInterval == 0 {
		c.SweepInterval = 200 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}
