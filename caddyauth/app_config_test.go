package caddyauth

import (
	"testing"

	"github.com/caddyserver/caddy/v2"
)

func TestHSTSValue(t *testing.T) {
	no := false
	for _, tc := range []struct {
		h    *HSTSConfig
		want string
	}{
		{nil, "max-age=31536000; includeSubDomains"},
		{&HSTSConfig{Off: true}, ""},
		{&HSTSConfig{MaxAge: caddy.Duration(3600e9), IncludeSubdomains: &no, Preload: true}, "max-age=3600; preload"},
	} {
		if got := (&App{HSTS: tc.h}).hstsValue(); got != tc.want {
			t.Errorf("%+v: %q", tc.h, got)
		}
	}
}

func TestLimitsFromConfig(t *testing.T) {
	l, err := (&App{}).limits()
	if err != nil || l.LoginIdentifier.N != 5 || l.LoginIP.N != 20 || l.LockoutMax != 10 {
		t.Fatalf("defaults: %+v %v", l, err)
	}
	l, _ = (&App{RateLimit: &RateLimitConfig{LoginIP: "7/1h"}, Lockout: &LockoutConfig{Off: true}}).limits()
	if l.LoginIP.N != 7 || l.LoginIdentifier.N != 5 || l.LockoutMax != 0 {
		t.Fatalf("override: %+v", l)
	}
	l, _ = (&App{RateLimit: &RateLimitConfig{Off: true}}).limits()
	if !l.LoginIP.Off() || !l.LoginIdentifier.Off() || l.LockoutMax != 10 {
		t.Fatalf("off: %+v", l)
	}
	if _, err := (&App{RateLimit: &RateLimitConfig{LoginIP: "fast"}}).limits(); err == nil {
		t.Fatal("bad rate accepted")
	}
}
