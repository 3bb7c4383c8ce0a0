package caddyauth

import (
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/ratelimit"
)

// TestRateLimitRefreshAndVerify: the refresh and verify buckets of
// `rate_limit` reach the flows: a rate, `off` (which must not read as
// "unset, use the default"), and `rate_limit off` for all of them.
func TestRateLimitRefreshAndVerify(t *testing.T) {
	a := &App{RateLimit: &RateLimitConfig{RefreshClient: "off", RefreshSession: "5/1m", Verify: "2/1m"}}
	l, err := a.limits()
	if err != nil {
		t.Fatal(err)
	}
	if l.Verify != (ratelimit.Rate{N: 2, Per: time.Minute}) {
		t.Errorf("verify = %v", l.Verify)
	}
	tc := a.tokenConfig()
	if !tc.RefreshClient.Off() || tc.RefreshClient.Per == 0 {
		t.Errorf("refresh_client off = %+v: must be off and set", tc.RefreshClient)
	}
	if tc.RefreshSession != (ratelimit.Rate{N: 5, Per: time.Minute}) {
		t.Errorf("refresh_session = %v", tc.RefreshSession)
	}

	a = &App{RateLimit: &RateLimitConfig{Off: true}}
	l, _ = a.limits()
	tc = a.tokenConfig()
	if !l.Verify.Off() || !tc.RefreshClient.Off() || !tc.RefreshSession.Off() || tc.RefreshClient.Per == 0 {
		t.Errorf("rate_limit off: verify %v, refresh %+v %+v", l.Verify, tc.RefreshClient, tc.RefreshSession)
	}
	found := false
	for _, w := range limitWarnings(l) {
		found = found || w == "SECURITY: rate_limit verify is off: GET /auth/verify answers any number of guessed cookies and tokens per client"
	}
	if !found {
		t.Error("no start-up warning for verify off")
	}

	// Unset: the defaults (flows fills the refresh ones in).
	a = &App{}
	l, _ = a.limits()
	tc = a.tokenConfig()
	if l.Verify != (ratelimit.Rate{N: 600, Per: time.Minute}) || tc.RefreshClient != (ratelimit.Rate{}) {
		t.Errorf("defaults: verify %v, refresh %+v", l.Verify, tc.RefreshClient)
	}
	if err := checkRate("verify", "0/1m"); err == nil {
		t.Error("verify 0/1m accepted")
	}
}
