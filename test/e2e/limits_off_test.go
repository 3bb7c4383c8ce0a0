package e2e

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/caddyauth/gateway/test/harness"
)

// TestLimitsOffWarnAndKeepAdminProtection (issue 9 #16): with
// `rate_limit off` and `lockout off` the gateway warns at start, naming
// each setting, and an account in the admin group still locks after 5
// failures (from any addresses), while other accounts are not limited.
func TestLimitsOffWarnAndKeepAdminProtection(t *testing.T) {
	t.Parallel()
	g := newGateway(t, func(c *harness.GatewayConfig) {
		c.Limits = true
		c.ServerOptions = append(c.ServerOptions, "trusted_proxies static 127.0.0.1/32")
		c.AppOptions = append(c.AppOptions, "rate_limit off", "lockout off")
	})
	adminPW, userPW := newPassword(), newPassword()
	g.addUser("root@example.test", "Root", adminPW, "admin")
	g.addUser("bob@example.test", "Bob", userPW)
	g.start()
	for _, msg := range []string{
		"SECURITY: rate_limit login_ip is off",
		"SECURITY: rate_limit login_identifier is off: any number of addresses may guess one account's password at full speed; accounts in the admin group keep",
		"SECURITY: rate_limit mfa is off",
		"SECURITY: rate_limit mfa_send is off",
		"SECURITY: lockout is off: repeated wrong passwords never lock an (account, address) pair; accounts in the admin group keep a lockout of 10",
	} {
		if e := g.caddy.WaitLog(msg, 0); e["level"] != "warn" {
			t.Errorf("%q logged at %v, want warn", msg, e["level"])
		}
	}
	c := g.client()
	for i := range 5 {
		expectError(t, c.PostJSON("/auth/login", map[string]string{"email": "root@example.test", "password": "wrong password here"},
			"X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i+1)), http.StatusUnauthorized, "INVALID_CREDENTIALS")
	}
	expectError(t, c.PostJSON("/auth/login", map[string]string{"email": "root@example.test", "password": adminPW},
		"X-Forwarded-For", "198.51.100.9"), http.StatusTooManyRequests, "ACCOUNT_LOCKED")
	for range 15 {
		expectError(t, c.PostJSON("/auth/login", map[string]string{"email": "bob@example.test", "password": "wrong password here"}),
			http.StatusUnauthorized, "INVALID_CREDENTIALS")
	}
	expectStatus(t, c.PostJSON("/auth/login", map[string]string{"email": "bob@example.test", "password": userPW}), http.StatusOK)
	// The operator lifts it as any lock.
	out, errOut, code := g.cli("", "auth", "user", "unlock", "root@example.test", "--config", g.caddy.ConfigPath())
	if code != 0 {
		t.Fatalf("unlock: exit %d\n%s%s", code, out, errOut)
	}
	expectStatus(t, c.PostJSON("/auth/login", map[string]string{"email": "root@example.test", "password": adminPW},
		"X-Forwarded-For", "198.51.100.9"), http.StatusOK)
}
