package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/caddyauth/gateway/test/harness"
)

// TestForcedPasswordChange (issue 11 item 5) through the binary: a user
// made with `user add --must-change-password` signs in and is sent to
// change-password by protect (browsers) or refused with 403
// PASSWORD_CHANGE_REQUIRED (API) until the change, which clears it;
// `user passwd --must-change-password` sets it again.
func TestForcedPasswordChange(t *testing.T) {
	t.Parallel()
	g := newGateway(t, nil)
	const email = "tess@example.test"
	tmpPW, newPW, again := newPassword(), newPassword(), newPassword()
	out, errOut, code := g.cli(tmpPW, "auth", "user", "add", "--config", g.cfgPath, "--email", email, "--must-change-password", "--password-stdin")
	if code != 0 {
		t.Fatalf("user add: exit %d\n%s%s", code, out, errOut)
	}
	g.start()

	c := g.client()
	c.Login(email, tmpPW)
	expectError(t, c.Get("/app", api...), http.StatusForbidden, "PASSWORD_CHANGE_REQUIRED")
	r := c.Get("/app/page", browser...)
	if r.StatusCode != http.StatusFound || r.Header.Get("Location") != "/auth/change-password" {
		t.Fatalf("browser: %s", r)
	}
	if r := c.Get("/auth/change-password", browser...); r.StatusCode != http.StatusOK {
		t.Fatalf("change-password page: %s", r)
	}
	expectStatus(t, c.PostJSON("/auth/change-password", map[string]any{"current_password": tmpPW, "new_password": newPW}), http.StatusOK)
	expectStatus(t, c.Get("/app", api...), http.StatusOK)

	out, errOut, code = g.cli(again, "auth", "user", "passwd", email, "--config", g.cfgPath, "--must-change-password", "--password-stdin")
	if code != 0 || !strings.Contains(out, "must choose a new password") {
		t.Fatalf("user passwd: exit %d\n%s%s", code, out, errOut)
	}
	n := g.client()
	n.Login(email, again)
	expectError(t, n.Get("/app", api...), http.StatusForbidden, "PASSWORD_CHANGE_REQUIRED")
	harness.AssertNoLeaks(t, "gateway log", g.caddy.Logs())
}
