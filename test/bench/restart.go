package bench

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// benchResync is the resyncInterval the benchmark gives its ManagedSecrets.
const benchResync = time.Hour

// restart measures what a manager restart costs. The manager is stopped (SIGTERM), a few
// source Secrets change while it is down, and it is started again. A resource whose status
// shows it in sync makes no CSMS call in its first pass: its drift check is spread over one
// resync interval. The changed ones are pushed at once. Reported: the CSMS calls of the
// first minute after the start, split into the pushes and the spread drift checks (about
// N × 1 min / resyncInterval of them), and the time from the start until every change was
// in CSMS.
func (r *runner) restart(ctx context.Context, ph *phase) error {
	k := min(r.cfg.RestartChanges, r.cfg.N)
	if k == 0 {
		return nil
	}
	c, err := ph.client()
	if err != nil {
		return err
	}
	if _, err := ph.admin.WaitQuiet(ctx, time.Second, time.Minute); err != nil {
		r.note("before the restart: %v", err)
	}
	if err := ph.mgr.Stop(30 * time.Second); err != nil {
		return fmt.Errorf("stopping the manager: %w", err)
	}
	// Items the source-change phase did not touch, spread like it.
	picks := pickSourceUpdates(r.cfg.N, min(r.cfg.N, k+r.cfg.SourceUpdates), len(r.shards), r.cfg.Namespaces)
	picks = picks[len(picks)-k:]
	changed := make([]Item, 0, k)
	for _, idx := range picks {
		r.items[idx].Value = randomValue()
		if err := setSourceValue(ctx, c, r.items[idx], r.items[idx].Value); err != nil {
			return err
		}
		changed = append(changed, r.items[idx])
	}
	before, err := ph.admin.Stats(ctx)
	if err != nil {
		return err
	}
	base := before.OpStatus("CreateSecretVersion", "200")
	t0 := time.Now()
	mgr, err := ph.env.StartManager(ctx, ph.mgrOpts)
	if err != nil {
		return fmt.Errorf("starting the manager again: %w", err)
	}
	ph.mgr = mgr
	ready := time.Since(t0)

	var arrivals []time.Duration
	var firstMinute Stats
	for time.Since(t0) < time.Minute || len(arrivals) < k {
		if time.Since(t0) > 5*time.Minute {
			r.note("restart: only %d of %d changes in CSMS after 5 min", len(arrivals), k)
			break
		}
		st, err := ph.admin.Stats(ctx)
		if err != nil {
			return err
		}
		for n := st.OpStatus("CreateSecretVersion", "200") - base; len(arrivals) < n && len(arrivals) < k; {
			arrivals = append(arrivals, time.Since(t0))
		}
		if firstMinute == nil && time.Since(t0) >= time.Minute {
			firstMinute = st.Sub(before)
		}
		sleepCtx(ctx, 20*time.Millisecond)
	}
	if firstMinute == nil {
		st, err := ph.admin.Stats(ctx)
		if err != nil {
			return err
		}
		firstMinute = st.Sub(before)
	}
	sort.Slice(arrivals, func(i, j int) bool { return arrivals[i] < arrivals[j] })
	r.res.RestartChanges = k
	r.res.RestartManagerReadyS = round(ready.Seconds(), 2)
	r.res.RestartFirstMinuteCalls = firstMinute.Total()
	r.res.RestartFirstMinuteByOp = firstMinute.ByOp()
	// A changed resource reads its secret once (ShowSecret) before it pushes; every other
	// ShowSecret is a spread drift check.
	r.res.RestartFirstMinuteDrift = max(0, firstMinute.Op("ShowSecret")-k)
	r.res.RestartDriftExpected = round(float64(r.cfg.N-k)*time.Minute.Seconds()/benchResync.Seconds(), 1)
	if len(arrivals) > 0 {
		r.res.RestartChangesInCSMSP50S = round(Percentile(arrivals, 50).Seconds(), 2)
		r.res.RestartChangesInCSMSMaxS = round(arrivals[len(arrivals)-1].Seconds(), 2)
	}
	r.logf("restart: manager ready after %.1fs; %d of %d changes made while it was down in CSMS, p50 %.2fs, last %.2fs after the start",
		ready.Seconds(), len(arrivals), k, r.res.RestartChangesInCSMSP50S, r.res.RestartChangesInCSMSMaxS)
	r.logf("restart: CSMS calls in the first minute: %d (%s): %d drift checks (expected about %.0f: N × 1 min / resync %v), %d provider credential checks",
		firstMinute.Total(), firstMinute, r.res.RestartFirstMinuteDrift, r.res.RestartDriftExpected, benchResync, firstMinute.Op("ListSecrets"))
	return r.verifyValues(ctx, ph, changed)
}
