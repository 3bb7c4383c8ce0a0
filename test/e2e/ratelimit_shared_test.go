package e2e

import (
	"net/http"
	"testing"

	"github.com/caddyauth/gateway/test/harness"
)

// TestRateLimitSharedAcrossGateways: two gateway processes on one Redis
// spend one login budget per identifier.
func TestRateLimitSharedAcrossGateways(t *testing.T) {
	t.Parallel()
	a := newGateway(t, func(c *harness.GatewayConfig) {
		c.Limits = true
		c.AppOptions = append(c.AppOptions, "rate_limit {", "\tlogin_ip off", "\tlogin_identifier 4/1h", "}", "lockout off")
	})
	pw := newPassword()
	a.addUser("alice@example.test", "Alice", pw)
	a.start()
	bcfg := a.cfg
	bcfg.Port, bcfg.AdminPort = 0, 0
	b := harness.StartCaddy(t, a.bin, bcfg.Caddyfile(t))
	onA, onB := a.client(), harness.NewClient(t, b.URL)
	wrong := map[string]string{"email": "alice@example.test", "password": "wrong password here"}
	for i, c := range []*harness.Client{onA, onB, onA, onB} {
		r := c.PostJSON("/auth/login", wrong)
		if r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %s", i, r)
		}
	}
	// The fifth attempt is refused on both instances, whichever it hits.
	expectError(t, onA.PostJSON("/auth/login", wrong), http.StatusTooManyRequests, "RATE_LIMITED")
	expectError(t, onB.PostJSON("/auth/login", map[string]string{"email": "alice@example.test", "password": pw}), http.StatusTooManyRequests, "RATE_LIMITED")
}
