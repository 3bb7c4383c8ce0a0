package e2e

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/caddyauth/gateway/test/harness"
)

// TestPostgresRestartedUnderTraffic (issue 14 item 5): two gateways on a
// private PostgreSQL server that is killed (immediate shutdown) and
// started again under traffic. While it is down every protected request
// and login on both is 503 STORE_UNAVAILABLE (never the app, never a 500);
// once it is back both serve again by themselves, with no gateway
// restart, and LISTEN/NOTIFY is back: a logout on A is felt on B, which
// caches again, within a second.
func TestPostgresRestartedUnderTraffic(t *testing.T) {
	t.Parallel()
	pg := harness.StartPostgres(t)
	u, err := url.Parse(pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	pw := "pg-" + harness.RandomSecret()[:20] // never checked (trust), never logged
	harness.Sensitive(pw)
	u.User = url.UserPassword("postgres", pw)
	harness.Setenv(t, "CADDYAUTH_E2E_PG_PRIVATE_DSN", u.String())
	a := newGateway(t, func(c *harness.GatewayConfig) {
		c.Sessions = "database"
		c.SessionCache = "" // the default 5s: a stale cache would show
		c.AppOptions = append(c.AppOptions, "database postgres {env.CADDYAUTH_E2E_PG_PRIVATE_DSN}")
	})
	alicePW := newPassword()
	a.addUser("alice@example.test", "Alice", alicePW)
	a.start()
	b := a.startSecond()
	onA, onB := a.client(), harness.NewClient(t, b.URL)
	onA.Login("alice@example.test", alicePW)
	tok := onA.Cookie(cookieName)
	for _, c := range []*harness.Client{onA, onB} {
		expectStatus(t, c.Get("/app", hdr(api, withCookie(tok))...), http.StatusOK)
	}

	pg.Stop()
	stopped := time.Now()
	// Both instances answer 503 at once: the lost LISTEN connection puts
	// the cache in "verify every request" mode, so even the session they
	// hold cached is not served. Allow the scheduling slack of a loaded
	// machine, never the 5 s cache TTL.
	for _, c := range []*harness.Client{onA, onB} {
		r, took := waitStatus(t, c, "/app", http.StatusServiceUnavailable, 2*time.Second, hdr(api, withCookie(tok))...)
		if r.Code() != "STORE_UNAVAILABLE" {
			t.Fatalf("with PostgreSQL down: %s, want 503 STORE_UNAVAILABLE", r)
		}
		t.Logf("PostgreSQL down: 503 after %s", took.Round(time.Millisecond))
	}
	// For a while: every request on both is 503, a login too.
	for time.Since(stopped) < 3*time.Second {
		for _, c := range []*harness.Client{onA, onB} {
			r := c.Get("/app", hdr(api, withCookie(tok))...)
			if r.StatusCode != http.StatusServiceUnavailable || r.Code() != "STORE_UNAVAILABLE" || r.FromUpstream() {
				t.Fatalf("%s into the outage: %s, want 503 STORE_UNAVAILABLE", time.Since(stopped).Round(time.Millisecond), r)
			}
			r = c.PostJSON("/auth/login", map[string]string{"email": "alice@example.test", "password": alicePW})
			if r.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("login with PostgreSQL down: %s, want 503", r)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}

	pg.Start()
	restarted := time.Now()
	for _, c := range []*harness.Client{onA, onB} {
		_, took := waitStatus(t, c, "/app", http.StatusOK, 30*time.Second, hdr(api, withCookie(tok))...)
		t.Logf("PostgreSQL back: the session served again %s after the restart", took.Round(time.Millisecond))
	}
	if a.caddy.Exited() || b.Exited() {
		t.Fatal("a gateway exited during the outage")
	}
	fresh := a.client()
	fresh.Login("alice@example.test", alicePW)
	_ = restarted

	// B listens again: it trusts its cache (a session deleted behind its
	// back is served from it) and a logout on A still reaches it in a
	// second. Until its listener is back it verifies every request, so
	// this retries with a new session each time.
	cached, _ := harness.Eventually(20*time.Second, 200*time.Millisecond, func() bool {
		cp := a.client()
		cp.Login("alice@example.test", alicePW)
		probe := cp.Cookie(cookieName)
		expectStatus(t, onB.Get("/app", hdr(api, withCookie(probe))...), http.StatusOK)
		if !quietDelete(t, pg.DSN(), probe) {
			t.Fatal("probe session not in the database")
		}
		return onB.Get("/app", hdr(api, withCookie(probe))...).StatusCode == http.StatusOK
	})
	if !cached {
		t.Fatal("B never caches again after the restart (its listener never came back?)")
	}
	ftok := fresh.Cookie(cookieName)
	expectStatus(t, onB.Get("/app", hdr(api, withCookie(ftok))...), http.StatusOK)
	expectStatus(t, fresh.PostJSON("/auth/logout", map[string]string{}), http.StatusOK)
	_, took := waitStatus(t, onB, "/app", http.StatusUnauthorized, time.Second, hdr(api, withCookie(ftok))...)
	t.Logf("after the restart, LISTEN/NOTIFY: B refused the session %s after logout on A", took.Round(time.Millisecond))
}
