package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/caddyauth/gateway/test/harness"
)

// TestRedisDown (i): with Redis gone the gateway fails closed (503
// STORE_UNAVAILABLE, never the upstream, never a redirect to a login that
// cannot work) within a couple of seconds, and recovers when Redis is back.
// Standalone here; Sentinel (no master left) and Cluster (every node
// killed) end TestRedisSentinelFailover and TestRedisClusterGateway.
func TestRedisDown(t *testing.T) {
	t.Parallel()
	g := newGateway(t, nil)
	pw := newPassword()
	g.addUser("alice@example.test", "Alice", pw)
	g.start()
	c := g.client(harness.Timeout(20 * time.Second))
	c.Login("alice@example.test", pw)
	expectStatus(t, c.Get("/app", browser...), http.StatusOK)

	g.redis.Kill()
	killed := time.Now()
	var first *harness.Response
	ok, _ := harness.Eventually(10*time.Second, 100*time.Millisecond, func() bool {
		start := time.Now()
		r := c.Get("/app", browser...)
		t.Logf("%s after the kill: %d in %s", start.Sub(killed).Round(time.Millisecond), r.StatusCode, time.Since(start).Round(time.Millisecond))
		if r.StatusCode == http.StatusOK && r.FromUpstream() {
			return false // still served from the 1s session cache
		}
		first = r
		return true
	})
	if !ok {
		t.Fatalf("requests still pass %s after Redis was killed", time.Since(killed))
	}
	failedAfter := time.Since(killed)
	t.Logf("first refused request %s after Redis died", failedAfter.Round(time.Millisecond))
	if first.StatusCode != http.StatusServiceUnavailable || first.FromUpstream() {
		t.Fatalf("with Redis down a browser request got %s, want 503", first)
	}
	if failedAfter > 4*time.Second {
		t.Errorf("fail-closed took %s, want a couple of seconds (session_cache 1s)", failedAfter)
	}

	// Every kind of request fails closed, and fails fast.
	for _, tc := range []struct {
		name string
		do   func() *harness.Response
	}{
		{"API request", func() *harness.Response { return c.Get("/app", api...) }},
		{"POST", func() *harness.Response { return c.PostJSON("/app/items", map[string]int{"n": 1}) }},
		{"who am I", func() *harness.Response { return c.Get("/auth/session") }},
		{"login", func() *harness.Response {
			return c.PostJSON("/auth/login", map[string]string{"email": "alice@example.test", "password": pw})
		}},
	} {
		start := time.Now()
		r := tc.do()
		took := time.Since(start)
		if r.StatusCode != http.StatusServiceUnavailable || r.Code() != "STORE_UNAVAILABLE" || r.FromUpstream() {
			t.Errorf("%s with Redis down: got %s, want 503 STORE_UNAVAILABLE", tc.name, r)
		}
		t.Logf("%s with Redis down: %d in %s", tc.name, r.StatusCode, took.Round(time.Millisecond))
		if took > 5*time.Second {
			t.Errorf("%s with Redis down took %s", tc.name, took)
		}
	}
	r := c.Get("/app", browser...)
	if r.StatusCode != http.StatusServiceUnavailable || r.FromUpstream() || r.Header.Get("Location") != "" {
		t.Errorf("browser request with Redis down: %s", r)
	}
	// Requests that need no session store still behave.
	anon := g.client()
	if r := anon.Get("/app", browser...); r.StatusCode != http.StatusFound || r.FromUpstream() {
		t.Errorf("anonymous request with Redis down: %s", r)
	}
	expectStatus(t, anon.Get("/health"), http.StatusOK)

	g.redis.Restart()
	// Redis came back empty: the old session is gone, not an error.
	waitStatus(t, c, "/app", http.StatusUnauthorized, 10*time.Second, api...)
	expectError(t, c.Get("/app", api...), http.StatusUnauthorized, "SESSION_EXPIRED")
	c.Login("alice@example.test", pw)
	r = c.Get("/app", api...)
	expectStatus(t, r, http.StatusOK)
	r.Echo()
}

// TestTwoGatewaysShareRedis (j): two gateway processes on one Redis (and one
// user database) honour each other's sessions and logouts.
func TestTwoGatewaysShareRedis(t *testing.T) {
	t.Parallel()
	a := newGateway(t, nil)
	pw := newPassword()
	id := a.addUser("alice@example.test", "Alice", pw)
	a.start()
	bcfg := a.cfg
	bcfg.Port, bcfg.AdminPort = 0, 0
	b := harness.StartCaddy(t, a.bin, bcfg.Caddyfile(t))
	if b.URL == a.url() {
		t.Fatal("both gateways on one address")
	}
	onA, onB := harness.NewClient(t, a.url()), harness.NewClient(t, b.URL)

	// A session made on A works on B, and one made on B works on A.
	ca := a.client()
	ca.Login("alice@example.test", pw)
	tokA := ca.Cookie(cookieName)
	r := onB.Get("/app", hdr(api, withCookie(tokA))...)
	expectStatus(t, r, http.StatusOK)
	if got := r.Echo().Values("Remote-User")["Remote-User"]; len(got) != 1 || got[0] != id {
		t.Errorf("B: Remote-User = %v, want %s", got, id)
	}
	cb := harness.NewClient(t, b.URL)
	cb.Login("alice@example.test", pw)
	tokB := cb.Cookie(cookieName)
	expectStatus(t, onA.Get("/app", hdr(api, withCookie(tokB))...), http.StatusOK)

	// Logout on A: B (which has the session cached) refuses it within ~1.5s.
	expectStatus(t, onB.Get("/app", hdr(api, withCookie(tokA))...), http.StatusOK)
	expectStatus(t, ca.PostJSON("/auth/logout", map[string]string{}), http.StatusOK)
	_, took := waitStatus(t, onB, "/app", http.StatusUnauthorized, revokeWithin, hdr(api, withCookie(tokA))...)
	t.Logf("B refused the session %s after logout on A", took.Round(time.Millisecond))
	expectError(t, onB.Get("/app", hdr(api, withCookie(tokA))...), http.StatusUnauthorized, "SESSION_EXPIRED")
	expectStatus(t, onB.Get("/app", hdr(api, withCookie(tokB))...), http.StatusOK)

	// logout-all on B ends the sessions cached on A.
	c2 := a.client()
	c2.Login("alice@example.test", pw)
	tok2 := c2.Cookie(cookieName)
	for _, tok := range []string{tokB, tok2} {
		expectStatus(t, onA.Get("/app", hdr(api, withCookie(tok))...), http.StatusOK)
	}
	r = cb.PostJSON("/auth/logout-all", map[string]string{})
	expectStatus(t, r, http.StatusOK)
	for _, tok := range []string{tokB, tok2} {
		_, took := waitStatus(t, onA, "/app", http.StatusUnauthorized, revokeWithin, hdr(api, withCookie(tok))...)
		t.Logf("A refused a session %s after logout-all on B", took.Round(time.Millisecond))
	}
}

// TestCrossInstanceRevokeDefaultCache: even with the default session cache
// (5s, also the maximum) a logout on one instance is refused by another
// within a second, because the revocation travels by Redis pub/sub.
func TestCrossInstanceRevokeDefaultCache(t *testing.T) {
	t.Parallel()
	a := newGateway(t, func(c *harness.GatewayConfig) { c.SessionCache = "" })
	pw := newPassword()
	a.addUser("alice@example.test", "Alice", pw)
	a.start()
	bcfg := a.cfg
	bcfg.Port, bcfg.AdminPort = 0, 0
	b := harness.StartCaddy(t, a.bin, bcfg.Caddyfile(t))
	onB := harness.NewClient(t, b.URL)

	ca := a.client()
	ca.Login("alice@example.test", pw)
	tok := ca.Cookie(cookieName)
	expectStatus(t, onB.Get("/app", hdr(api, withCookie(tok))...), http.StatusOK) // cached on B
	expectStatus(t, ca.PostJSON("/auth/logout", map[string]string{}), http.StatusOK)
	// Redis pub/sub carries the revocation: B must not wait for its 5s
	// cache entry to expire (DESIGN: "felt everywhere within a second").
	_, took := waitStatus(t, onB, "/app", http.StatusUnauthorized, time.Second, hdr(api, withCookie(tok))...)
	t.Logf("with the default 5s session cache, B refused the session %s after logout on A", took.Round(time.Millisecond))
}
