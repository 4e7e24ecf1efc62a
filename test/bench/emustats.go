package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Stats are the emulator's request counters: operation → HTTP status ("200", "429",
// "dropped") → count, as served by GET /admin/stats.
type Stats map[string]map[string]int

// readOps are the operations that change nothing in CSMS. Every other operation (create,
// update, delete, tag, rotate, restore, stage and version changes, replicas) is a write.
var readOps = map[string]bool{
	"ShowSecret": true, "ListSecrets": true, "ListSecretVersions": true, "ShowSecretVersion": true,
	"ShowSecretStage": true, "ListSecretTags": true, "ListProjectSecretsTags": true,
	"ListResourceInstances": true, "ListSecretEvents": true, "ShowSecretEvent": true,
	"DownloadSecretBlob": true,
}

// IsRead reports whether op only reads.
func IsRead(op string) bool { return readOps[op] }

// Sub returns s minus before, per operation and status, dropping zeros: the calls made
// between two snapshots.
func (s Stats) Sub(before Stats) Stats {
	out := Stats{}
	for op, byStatus := range s {
		for st, n := range byStatus {
			if d := n - before[op][st]; d != 0 {
				if out[op] == nil {
					out[op] = map[string]int{}
				}
				out[op][st] = d
			}
		}
	}
	return out
}

// Op is the number of calls of op, whatever their status.
func (s Stats) Op(op string) int {
	n := 0
	for _, c := range s[op] {
		n += c
	}
	return n
}

// OpStatus is the number of calls of op answered with status.
func (s Stats) OpStatus(op, status string) int { return s[op][status] }

// ByOp sums each operation over its statuses.
func (s Stats) ByOp() map[string]int {
	out := map[string]int{}
	for op := range s {
		out[op] = s.Op(op)
	}
	return out
}

// Total is the number of calls of all operations.
func (s Stats) Total() int {
	n := 0
	for op := range s {
		n += s.Op(op)
	}
	return n
}

// Reads and Writes split Total by IsRead.
func (s Stats) Reads() int { return s.sum(true) }

// Writes is the number of calls that change CSMS (see IsRead).
func (s Stats) Writes() int { return s.sum(false) }

func (s Stats) sum(read bool) int {
	n := 0
	for op := range s {
		if IsRead(op) == read {
			n += s.Op(op)
		}
	}
	return n
}

// Status sums one status over all operations (e.g. "429": throttled calls).
func (s Stats) Status(status string) int {
	n := 0
	for _, byStatus := range s {
		n += byStatus[status]
	}
	return n
}

// String renders the counters in a stable order, e.g. "CreateSecret=50 ShowSecret=100(404:50)".
func (s Stats) String() string {
	ops := make([]string, 0, len(s))
	for op := range s {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	var b strings.Builder
	for i, op := range ops {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", op, s.Op(op))
		var other []string
		for st, n := range s[op] {
			if st != "200" && st != "201" && st != "204" {
				other = append(other, fmt.Sprintf("%s:%d", st, n))
			}
		}
		if len(other) > 0 {
			sort.Strings(other)
			fmt.Fprintf(&b, "(%s)", strings.Join(other, ","))
		}
	}
	return b.String()
}

// Admin talks to the emulator's unsigned admin listener. It never counts against the
// API's rate limit, which is why the benchmark observes CSMS through it.
type Admin struct {
	URL string
	hc  *http.Client
}

// NewAdmin returns an admin client for the base URL (http://127.0.0.1:port).
func NewAdmin(url string) *Admin {
	return &Admin{URL: url, hc: &http.Client{Timeout: 10 * time.Second}}
}

// Stats fetches the counters.
func (a *Admin) Stats(ctx context.Context) (Stats, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.URL+"/admin/stats", nil)
	if err != nil {
		return nil, err
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching emulator stats: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("reading emulator stats: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("emulator stats: HTTP %d: %s", resp.StatusCode, body)
	}
	s := Stats{}
	if err := json.Unmarshal(body, &s); err != nil {
		return nil, fmt.Errorf("decoding emulator stats: %w", err)
	}
	return s, nil
}

// Reset zeroes the counters.
func (a *Admin) Reset(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.URL+"/admin/stats/reset", nil)
	if err != nil {
		return err
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return fmt.Errorf("resetting emulator stats: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("resetting emulator stats: HTTP %d", resp.StatusCode)
	}
	return nil
}

// WaitQuiet polls the counters until they have not changed for quiet, and returns the
// last snapshot. It gives up (with the last snapshot and an error) after timeout: a
// system that never goes quiet is itself a finding.
func (a *Admin) WaitQuiet(ctx context.Context, quiet, timeout time.Duration) (Stats, error) {
	deadline := time.Now().Add(timeout)
	last, err := a.Stats(ctx)
	if err != nil {
		return nil, err
	}
	lastTotal, since := last.Total(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		s, err := a.Stats(ctx)
		if err != nil {
			return last, err
		}
		if t := s.Total(); t != lastTotal {
			lastTotal, since = t, time.Now()
		}
		last = s
		if time.Since(since) >= quiet {
			return last, nil
		}
		if time.Now().After(deadline) {
			return last, fmt.Errorf("emulator counters still moving after %s (total %d)", timeout, lastTotal)
		}
	}
}

// SetClockOffset moves the emulator's clock (its rotations, purges and replication) by d
// from real time; 0 puts it back.
func (a *Admin) SetClockOffset(ctx context.Context, d time.Duration) error {
	body := strings.NewReader(fmt.Sprintf(`{"offset":%q}`, d.String()))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.URL+"/admin/clock", body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.hc.Do(req)
	if err != nil {
		return fmt.Errorf("setting the emulator clock: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("setting the emulator clock: HTTP %d: %s", resp.StatusCode, b)
	}
	return nil
}
