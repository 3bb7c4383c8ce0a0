package caddyauth

import (
	"time"

	"github.com/caddyauth/gateway/internal/ratelimit"
)

// refreshRates are the refresh buckets of `rate_limit` (zero: flows'
// defaults). An "off" bucket is N 0 with a period, which flows reads as
// off rather than unset. Rates were judged by limitProblems already.
func refreshRates(rl *RateLimitConfig) (client, sess ratelimit.Rate) {
	if rl == nil {
		return
	}
	off := ratelimit.Rate{Per: time.Minute}
	if rl.Off {
		client, sess = off, off
	}
	for _, f := range []struct {
		v   string
		dst *ratelimit.Rate
	}{{rl.RefreshClient, &client}, {rl.RefreshSession, &sess}} {
		if f.v == "" {
			continue
		}
		r, _ := ratelimit.ParseRate(f.v)
		if r.Off() {
			r = off
		}
		*f.dst = r
	}
	return
}
