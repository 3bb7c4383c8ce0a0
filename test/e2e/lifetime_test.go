package e2e

import (
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/caddyauth/gateway/test/harness"
)

// TestSessionLifetimes: the idle timeout ends an unused session, use
// extends it, and the absolute lifetime ends even an active one.
func TestSessionLifetimes(t *testing.T) {
	t.Parallel()
	const lifetime, idle = 4 * time.Second, 2 * time.Second
	g := newGateway(t, func(c *harness.GatewayConfig) {
		c.AppOptions = append(c.AppOptions, "cookie {", "\tlifetime 4s", "\tidle 2s", "}")
	})
	pw := newPassword()
	g.addUser("alice@example.test", "Alice", pw)
	g.start()

	active, idler := g.client(), g.client()
	loginAt := time.Now()
	r := active.Login("alice@example.test", pw)
	m := regexp.MustCompile(`Max-Age=(\d+)`).FindStringSubmatch(r.SetCookie(cookieName))
	if m == nil {
		t.Fatalf("session cookie has no Max-Age: %s", redactCookie(r.SetCookie(cookieName)))
	}
	if n, _ := strconv.Atoi(m[1]); n < 1 || n > int(lifetime.Seconds()) {
		t.Errorf("cookie Max-Age %d, want about the 4s lifetime", n)
	}
	// The server's lifetime is under test, not the jar's: Max-Age is whole
	// seconds rounded down, so replay the token by hand.
	tok := active.Cookie(cookieName)
	active = g.client()
	idler.Login("alice@example.test", pw)
	idleTok := idler.Cookie(cookieName)
	idler = g.client()
	expectStatus(t, idler.Get("/app", hdr(api, withCookie(idleTok))...), http.StatusOK)
	idleSince := time.Now()

	// Active use for longer than the idle timeout keeps the session.
	for time.Since(loginAt) < lifetime-700*time.Millisecond {
		if r := active.Get("/app", hdr(api, withCookie(tok))...); r.StatusCode != http.StatusOK {
			t.Fatalf("%s after login (idle %s, lifetime %s): %s", time.Since(loginAt).Round(time.Millisecond), idle, lifetime, r)
		}
		time.Sleep(300 * time.Millisecond)
	}
	// The idle session is gone (idle 2s, plus the 1s cache at most).
	if wait := idle + 1200*time.Millisecond - time.Since(idleSince); wait > 0 {
		time.Sleep(wait)
	}
	expectError(t, idler.Get("/app", hdr(api, withCookie(idleTok))...), http.StatusUnauthorized, "SESSION_EXPIRED")

	// The absolute lifetime ends the active one.
	_, _ = waitStatus(t, active, "/app", http.StatusUnauthorized, lifetime+1500*time.Millisecond-time.Since(loginAt), hdr(api, withCookie(tok))...)
	expectError(t, active.Get("/app", hdr(api, withCookie(tok))...), http.StatusUnauthorized, "SESSION_EXPIRED")
	if took := time.Since(loginAt); took < lifetime-500*time.Millisecond {
		t.Errorf("active session ended after %s, before its %s lifetime", took, lifetime)
	}
}
