package flows

import (
	"fmt"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/internal/ratelimit"
)

// TestLimitsMaxKeysBoundsEveryLocalBucket: Limits.MaxKeys (the Caddyfile's
// limit_keys) reaches the in-process buckets, the verify bucket and the
// in-process lockout, so none grows past it under distinct clients.
func TestLimitsMaxKeysBoundsEveryLocalBucket(t *testing.T) {
	l := DefaultLimits()
	l.MaxKeys = 50
	lim := newLimiters(l, nil, nil)
	now := time.Now()
	for _, b := range []struct {
		name string
		l    ratelimit.Limiter
	}{{"login_ip", lim.loginIP}, {"login_identifier", lim.loginID}, {"verify", lim.verify}} {
		local, ok := b.l.(*ratelimit.Local)
		if !ok {
			t.Fatalf("%s is %T, want the in-process bucket", b.name, b.l)
		}
		for i := range 1000 {
			local.Take(fmt.Sprint("client-", i), now)
		}
		if n := local.Len(); n > 50 {
			t.Errorf("%s holds %d keys, limit_keys 50", b.name, n)
		}
	}
	ring, err := keys.NewRing("aZWvfu3FphMY0K5UmMrLNf7wo59gAMFMtrCn2Mwn", "")
	if err != nil {
		t.Fatal(err)
	}
	tk, err := newTokenKeys(TokenConfig{}, ring, nil, 50)
	if err != nil {
		t.Fatal(err)
	}
	rc := tk.refreshClient.(*ratelimit.Local)
	for i := range 1000 {
		rc.Take(fmt.Sprint("client-", i), now)
	}
	if n := rc.Len(); n > 50 {
		t.Errorf("refresh_client holds %d keys, limit_keys 50", n)
	}
}
