package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/caddyauth/gateway/test/harness"
)

// multi starts three gateway processes (the real binary) on one fresh
// PostgreSQL database and one Redis, in front of one echo upstream; edit
// tweaks the shared config. before runs once the configs exist and before
// any gateway starts (to add users with the CLI), if not nil.
func multi(t *testing.T, edit func(*harness.GatewayConfig), before func(*harness.Gateways)) *harness.Gateways {
	t.Helper()
	up := harness.Upstream(t)
	cfg := harness.GatewayConfig{
		Upstream:       harness.UpstreamAddr(up),
		ProtectOptions: []string{"public /health"},
	}
	if edit != nil {
		edit(&cfg)
	}
	c := harness.PrepareGateways(t, 3, cfg)
	if before != nil {
		before(c)
	}
	c.Start()
	return c
}

// TestMultiSessionShared: a login on A is a session on B and C, with the
// same identity headers; the session listing made on C shows it.
func TestMultiSessionShared(t *testing.T) {
	t.Parallel()
	pw := newPassword()
	var id string
	c := multi(t, nil, func(c *harness.Gateways) { id = c.AddUser("alice@example.test", "Alice", pw) })
	a := c.Client(0)
	a.Login("alice@example.test", pw)
	tok := a.Cookie(cookieName)
	if tok == "" {
		t.Fatal("no session cookie after login on A")
	}
	for i := 0; i < 3; i++ {
		r := c.Client(i).Get("/app", hdr(api, withCookie(tok))...)
		expectStatus(t, r, http.StatusOK)
		if got := r.Echo().Values("Remote-User")["Remote-User"]; len(got) != 1 || got[0] != id {
			t.Errorf("instance %d: Remote-User = %v, want %s", i, got, id)
		}
	}
	// A forged token is refused everywhere (the shared store decides, not luck).
	for i := 0; i < 3; i++ {
		expectError(t, c.Client(i).Get("/app", hdr(api, withCookie("x"+tok[1:]))...), http.StatusUnauthorized, "SESSION_EXPIRED")
	}
	_ = time.Second
}
