package e2e

import (
	"net/http"
	"testing"

	"github.com/caddyauth/gateway/test/harness"
)

// TestClientAddressSpellingsShareOneLockout (issue 9 #15): behind a
// trusted proxy, ::ffff:10.1.1.1 is 10.1.1.1 (no fresh lockout), and an
// IPv6 client is keyed by its /64 (rotating through the prefix buys
// nothing), while another address or /64 is another client.
func TestClientAddressSpellingsShareOneLockout(t *testing.T) {
	t.Parallel()
	g := newGateway(t, func(c *harness.GatewayConfig) {
		c.Limits = true
		c.ServerOptions = append(c.ServerOptions, "trusted_proxies static 127.0.0.1/32")
		c.AppOptions = append(c.AppOptions, "rate_limit off", "lockout 2 15m 15m")
	})
	pw := newPassword()
	g.addUser("alice@example.test", "Alice", pw)
	g.start()
	c := g.client()
	wrong := map[string]string{"email": "alice@example.test", "password": "wrong password here"}
	right := map[string]string{"email": "alice@example.test", "password": pw}
	xff := func(ip string) []string { return []string{"X-Forwarded-For", ip} }
	for _, tc := range []struct{ fail1, fail2, locked, free string }{
		{"10.1.1.1", "::ffff:10.1.1.1", "::FFFF:10.1.1.1", "10.1.1.2"},
		{"2001:db8:1:2::1", "2001:db8:1:2:aaaa::2", "2001:DB8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:3::1"},
	} {
		expectError(t, c.PostJSON("/auth/login", wrong, xff(tc.fail1)...), http.StatusUnauthorized, "INVALID_CREDENTIALS")
		expectError(t, c.PostJSON("/auth/login", wrong, xff(tc.fail2)...), http.StatusUnauthorized, "INVALID_CREDENTIALS")
		expectError(t, c.PostJSON("/auth/login", right, xff(tc.locked)...), http.StatusTooManyRequests, "ACCOUNT_LOCKED")
		expectStatus(t, c.PostJSON("/auth/login", right, xff(tc.free)...), http.StatusOK)
	}
}
