package e2e

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"

	"github.com/caddyauth/gateway/test/harness"
)

// TestLoginRateLimit: through the binary, one client address walking many
// usernames is limited even when each attempt claims another address in
// X-Forwarded-For: this peer is not a trusted proxy, so Caddy's client IP
// ignores the header.
func TestLoginRateLimit(t *testing.T) {
	t.Parallel()
	g := newGateway(t, func(c *harness.GatewayConfig) {
		c.Limits = true
		c.AppOptions = append(c.AppOptions, "rate_limit {", "\tlogin_ip 3/1m", "\tlogin_identifier off", "}", "lockout off")
	})
	pw := newPassword()
	g.addUser("alice@example.test", "Alice", pw)
	g.start()
	c := g.client()
	for i := 0; i < 3; i++ {
		r := c.PostJSON("/auth/login", map[string]string{"email": fmt.Sprintf("user%d@example.test", i), "password": "wrong password here"},
			"X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i+1))
		expectError(t, r, http.StatusUnauthorized, "INVALID_CREDENTIALS")
	}
	r := c.PostJSON("/auth/login", map[string]string{"email": "alice@example.test", "password": pw},
		"X-Forwarded-For", "198.51.100.77")
	expectError(t, r, http.StatusTooManyRequests, "RATE_LIMITED")
	if n, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || n < 1 || n > 20 {
		t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
	}
	if len(r.Cookies()) != 0 {
		t.Fatal("a rate-limited login set a cookie")
	}
}

// TestLoginLockout: failures for one identifier from one address lock that
// pair; the right password is refused while locked.
func TestLoginLockout(t *testing.T) {
	t.Parallel()
	g := newGateway(t, func(c *harness.GatewayConfig) {
		c.Limits = true
		c.AppOptions = append(c.AppOptions, "rate_limit off", "lockout 3 15m 15m")
	})
	pw := newPassword()
	g.addUser("alice@example.test", "Alice", pw)
	g.start()
	c := g.client()
	for i := 0; i < 3; i++ {
		expectError(t, c.PostJSON("/auth/login", map[string]string{"email": "alice@example.test", "password": "wrong password here"}),
			http.StatusUnauthorized, "INVALID_CREDENTIALS")
	}
	r := c.PostJSON("/auth/login", map[string]string{"email": "alice@example.test", "password": pw})
	expectError(t, r, http.StatusTooManyRequests, "ACCOUNT_LOCKED")
	if r.Header.Get("Retry-After") != "900" {
		t.Fatalf("Retry-After %q, want 900", r.Header.Get("Retry-After"))
	}
	// The startup report names the controls in force.
	e := g.caddy.WaitLog("caddyauth ready", 0)
	if e["lockout_after"] != float64(3) || e["login_rate_identifier"] != "off" {
		t.Fatalf("startup report: %v", e)
	}
}
