package main

import (
	"strings"
	"testing"
	"time"
)

func TestValidateLeaderElection(t *testing.T) {
	s := time.Second
	for _, tc := range []struct {
		name                string
		enabled             bool
		lease, renew, retry time.Duration
		want                string // substring of the error; "" = valid
	}{
		{"controller-runtime defaults", true, 15 * s, 10 * s, 2 * s, ""},
		{"short", true, 4 * s, 3 * s, 1 * s, ""},
		{"off: not checked", false, 0, 0, 0, ""},
		{"lease not above renew", true, 10 * s, 10 * s, 2 * s, "--leader-elect-lease-duration (10s) must be more than --leader-elect-renew-deadline (10s)"},
		{"renew within retry jitter", true, 15 * s, 2400 * time.Millisecond, 2 * s, "--leader-elect-renew-deadline (2.4s) must be more than 1.2 × --leader-elect-retry-period (2s)"},
		{"zero retry", true, 15 * s, 10 * s, 0, "--leader-elect-retry-period must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := validateLeaderElection(tc.enabled, tc.lease, tc.renew, tc.retry)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
