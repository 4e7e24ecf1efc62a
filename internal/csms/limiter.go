package csms

import (
	"sync"

	"golang.org/x/time/rate"
)

// limiters holds one token bucket per credential (access key + region + endpoint) for the
// whole process, so clients rebuilt for the same credentials (a changed ProviderConfig, or
// two configs sharing a Secret) together stay under the account's quota.
var limiters = struct {
	sync.Mutex
	m map[string]*rate.Limiter
}{m: map[string]*rate.Limiter{}}

// sharedLimiter returns the limiter for key, creating it or adjusting it to the latest
// qps/burst (the most recent config wins).
func sharedLimiter(key string, qps float64, burst int) *rate.Limiter {
	limiters.Lock()
	defer limiters.Unlock()
	l, ok := limiters.m[key]
	if !ok {
		l = rate.NewLimiter(rate.Limit(qps), burst)
		limiters.m[key] = l
		return l
	}
	if l.Limit() != rate.Limit(qps) {
		l.SetLimit(rate.Limit(qps))
	}
	if l.Burst() != burst {
		l.SetBurst(burst)
	}
	return l
}
