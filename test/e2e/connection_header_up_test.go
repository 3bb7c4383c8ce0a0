package e2e

import (
	"testing"

	"github.com/caddyauth/gateway/test/harness"
)

// TestConnectionAndHeaderUp: what docs/configuration.md says of headers
// built from {http.auth.user.*} outside the identity headers: one set by
// reverse_proxy's header_up arrives whatever Connection names (it is
// applied after Connection is read); one set by request_header is dropped
// when Connection names it, which is why the docs send such headers with
// header_up. The identity headers arrive in both cases (issue 9, item 2).
func TestConnectionAndHeaderUp(t *testing.T) {
	t.Parallel()
	g := newGateway(t, func(c *harness.GatewayConfig) {
		c.SiteExtra = []string{"request_header X-Via-Request-Header {http.auth.user.email}"}
		c.Upstream += " {\n\t\theader_up X-Via-Header-Up {http.auth.user.email}\n\t}"
	})
	pw := newPassword()
	g.addUser("root@example.test", "Root", pw)
	g.start()
	c := g.client()
	c.Login("root@example.test", pw)
	session := withCookie(c.Cookie(cookieName))
	conn := []string{"Connection", "X-Via-Header-Up, X-Via-Request-Header, Remote-Email"}
	r := rawGet(t, g, "/app", hdr(api, session, conn)...)
	if !r.fromUpstream() {
		t.Fatalf("GET /app: %d %s", r.StatusCode, r.body)
	}
	e := r.echo(t)
	for h, want := range map[string]int{"X-Via-Header-Up": 1, "Remote-Email": 1, "X-Via-Request-Header": 0} {
		if got := len(e.Values(h)[h]); got != want {
			t.Errorf("%s: %d values upstream (%v), want %d", h, got, e.Values(h), want)
		}
	}
	// Without Connection, request_header's header arrives too: the drop
	// above is Connection's doing.
	if e := rawGet(t, g, "/app", hdr(api, session)...).echo(t); len(e.Values("X-Via-Request-Header")["X-Via-Request-Header"]) != 1 {
		t.Errorf("request_header's header missing without Connection: %v", e.Values("X-Via-Request-Header"))
	}
}
