package caddyauth

import (
	"strings"
	"testing"
)

// TestLimitWarnings (issue 9 #16): `rate_limit off` and `lockout off`
// warn, naming each setting, what it removes and what admins keep.
func TestLimitWarnings(t *testing.T) {
	for _, tc := range []struct {
		name string
		app  *App
		want []string
	}{
		{"defaults", &App{}, nil},
		{"rate_limit off", &App{RateLimit: &RateLimitConfig{Off: true}}, []string{
			"rate_limit login_ip is off", "rate_limit login_identifier is off: any number of addresses", "rate_limit mfa is off", "rate_limit mfa_send is off",
		}},
		{"one bucket off", &App{RateLimit: &RateLimitConfig{LoginIdentifier: "off"}}, []string{"admin group keep a budget of 5 failures per 1m0s"}},
		{"lockout off", &App{Lockout: &LockoutConfig{Off: true}}, []string{"lockout is off: repeated wrong passwords never lock", "admin group keep a lockout of 10 failures in 15m0s for 15m0s"}},
	} {
		l, err := tc.app.limits()
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Join(limitWarnings(l), "\n")
		if (got == "") != (tc.want == nil) {
			t.Errorf("%s: %q", tc.name, got)
		}
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q lacks %q", tc.name, got, w)
			}
		}
	}
}
