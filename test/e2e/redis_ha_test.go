package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddyauth/gateway/test/harness"
)

// sessionsBlock renders `sessions redis { ... }` for GatewayConfig.Sessions.
func sessionsBlock(lines ...string) string {
	return "redis {\n\t\t\t" + strings.Join(lines, "\n\t\t\t") + "\n\t\t}"
}

// TestRedisSentinelFailover: a gateway on `sessions redis { sentinel ... }`
// keeps its sessions and its login budget when the master is killed with
// SIGKILL and a replica promoted: requests in between fail closed (503),
// never pass and never look logged out, and the same process serves from
// the new master without a restart. With no master left at all, 503.
func TestRedisSentinelFailover(t *testing.T) {
	t.Parallel()
	sn := harness.StartSentinel(t)
	g := newGateway(t, func(c *harness.GatewayConfig) {
		c.Sessions = sessionsBlock("sentinel " + harness.SentinelMaster + " " + strings.Join(sn.Addrs(), " "))
		c.Limits = true
		c.AppOptions = append(c.AppOptions, "rate_limit {", "\tlogin_ip off", "\tlogin_identifier 5/1h", "}", "lockout off")
	})
	pw := newPassword()
	g.addUser("alice@example.test", "Alice", pw)
	g.addUser("bob@example.test", "Bob", newPassword())
	g.start()
	// A second instance with the default (5s) session cache.
	bcfg := g.cfg
	bcfg.Port, bcfg.AdminPort, bcfg.SessionCache = 0, 0, ""
	b := harness.StartCaddy(t, g.bin, bcfg.Caddyfile(t))
	alice := g.client(harness.Timeout(20 * time.Second))
	alice.Login("alice@example.test", pw)
	expectStatus(t, alice.Get("/app", api...), http.StatusOK)

	// Three of bob's five attempts spent before the failover.
	attacker := g.client()
	wrong := map[string]string{"email": "bob@example.test", "password": "not bobs password"}
	for i := 1; i <= 3; i++ {
		expectError(t, attacker.PostJSON("/auth/login", wrong), http.StatusUnauthorized, "INVALID_CREDENTIALS")
	}
	sn.Sync() // what the master acknowledged is on the replica (see the docs)

	// Requests all through the failover: each is 200 from the session
	// (the 1s session cache, then the new master) or 503, never a 401 and
	// never the upstream without a session.
	sn.Master.Kill()
	killed := time.Now()
	var promoted time.Duration
	tally := map[int]int{}
	for {
		r := alice.Get("/app", api...)
		switch {
		case r.StatusCode == http.StatusOK && r.FromUpstream():
		case r.StatusCode == http.StatusServiceUnavailable && r.Code() == "STORE_UNAVAILABLE" && !r.FromUpstream():
		default:
			t.Fatalf("%s into the failover: %s, want 200 from the session or 503", time.Since(killed).Round(time.Millisecond), r)
		}
		tally[r.StatusCode]++
		if promoted == 0 && sn.MasterAddr() == sn.Replica.Addr() {
			promoted = time.Since(killed)
		}
		if promoted > 0 && r.StatusCode == http.StatusOK && tally[http.StatusServiceUnavailable] > 0 {
			break
		}
		if time.Since(killed) > 30*time.Second {
			t.Fatalf("no promotion or no recovery within 30s (promoted after %s; statuses %v)", promoted, tally)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("kill -9 of the master: sentinels promoted the replica after %s; the session was served again %s after the kill; statuses meanwhile %v",
		promoted.Round(time.Millisecond), time.Since(killed).Round(time.Millisecond), tally)

	// The budget continues: two attempts left, then 429, even with the
	// right password.
	for i := 4; i <= 5; i++ {
		r := attacker.PostJSON("/auth/login", wrong)
		if r.StatusCode != http.StatusUnauthorized {
			t.Errorf("attempt %d after the failover: %s, want 401 (budget 5, 3 spent before)", i, r)
		}
	}
	expectError(t, attacker.PostJSON("/auth/login", wrong), http.StatusTooManyRequests, "RATE_LIMITED")
	t.Log("after the failover the login budget went on from 3 of 5 spent: attempts 4 and 5 were answered, the 6th got 429")

	// New logins and logouts work on the new master, and the revocation
	// channel followed it: B, with the default 5s session cache, refuses
	// a session logged out on A within a second, which only the pub/sub
	// message can do.
	c2 := g.client()
	c2.Login("alice@example.test", pw)
	tok := c2.Cookie(cookieName)
	onB := harness.NewClient(t, b.URL)
	expectStatus(t, c2.Get("/app", api...), http.StatusOK)
	expectStatus(t, onB.Get("/app", hdr(api, withCookie(tok))...), http.StatusOK) // cached on B
	expectStatus(t, c2.PostJSON("/auth/logout", map[string]string{}), http.StatusOK)
	_, took := waitStatus(t, onB, "/app", http.StatusUnauthorized, time.Second, hdr(api, withCookie(tok))...)
	t.Logf("after the failover, B (5s cache) refused a session logged out on A %s later", took.Round(time.Millisecond))

	// No master left (the sentinels still answer): fail closed.
	sn.Replica.Kill()
	redisGone(t, alice, pw)
}

// TestRedisClusterGateway: a gateway on `sessions redis { cluster ... }`
// logs in, passes protect, logs out; with the cluster down, 503.
func TestRedisClusterGateway(t *testing.T) {
	t.Parallel()
	cl := harness.StartCluster(t)
	g := newGateway(t, func(c *harness.GatewayConfig) {
		c.Sessions = sessionsBlock("cluster " + strings.Join(cl.Addrs(), " "))
	})
	pw := newPassword()
	id := g.addUser("alice@example.test", "Alice", pw)
	g.start()
	// Several sessions of one user (one client each: a login rotates the
	// client's old session away); their keys hash to several nodes.
	var toks []string
	var c *harness.Client
	for i := 0; i < 3; i++ {
		c = g.client(harness.Timeout(20 * time.Second))
		c.Login("alice@example.test", pw)
		toks = append(toks, c.Cookie(cookieName))
	}
	// B, a second instance with the default 5s session cache, honours
	// them, and refuses them within a second of a logout-all on A: the
	// revocation travels by pub/sub through the cluster.
	bcfg := g.cfg
	bcfg.Port, bcfg.AdminPort, bcfg.SessionCache = 0, 0, ""
	onB := harness.NewClient(t, harness.StartCaddy(t, g.bin, bcfg.Caddyfile(t)).URL)
	for i, tok := range toks {
		r := onB.Get("/app", hdr(api, withCookie(tok))...)
		expectStatus(t, r, http.StatusOK)
		if got := r.Echo().Values("Remote-User")["Remote-User"]; len(got) != 1 || got[0] != id {
			t.Errorf("session %d: Remote-User = %v, want %s", i, got, id)
		}
	}
	expectStatus(t, c.PostJSON("/auth/logout-all", map[string]string{}), http.StatusOK)
	for i, tok := range toks {
		_, took := waitStatus(t, onB, fmt.Sprintf("/app?s=%d", i), http.StatusUnauthorized, time.Second, hdr(api, withCookie(tok))...)
		t.Logf("B refused session %d %s after logout-all on A", i, took.Round(time.Millisecond))
	}
	c.Login("alice@example.test", pw)
	expectStatus(t, c.Get("/app", api...), http.StatusOK)

	cl.Kill()
	redisGone(t, c, pw)
}

// redisGone: with the session store unreachable, a logged-in client gets
// 503 STORE_UNAVAILABLE (after at most the 1s session cache), for browser
// and API requests and logins alike, never the upstream.
func redisGone(t *testing.T, c *harness.Client, pw string) {
	t.Helper()
	killed := time.Now()
	ok, _ := harness.Eventually(10*time.Second, 100*time.Millisecond, func() bool {
		r := c.Get("/app", api...)
		if r.StatusCode == http.StatusOK && r.FromUpstream() {
			return false // the 1s session cache
		}
		if r.StatusCode != http.StatusServiceUnavailable || r.Code() != "STORE_UNAVAILABLE" || r.FromUpstream() {
			t.Fatalf("with Redis down: %s, want 503 STORE_UNAVAILABLE", r)
		}
		return true
	})
	if !ok {
		t.Fatalf("requests still pass %s after Redis went down", time.Since(killed))
	}
	t.Logf("first refused request %s after Redis went down", time.Since(killed).Round(time.Millisecond))
	for name, do := range map[string]func() *harness.Response{
		"browser": func() *harness.Response { return c.Get("/app", browser...) },
		"login": func() *harness.Response {
			return c.PostJSON("/auth/login", map[string]string{"email": "alice@example.test", "password": pw})
		},
	} {
		start := time.Now()
		r := do()
		if r.StatusCode != http.StatusServiceUnavailable || r.FromUpstream() || r.Header.Get("Location") != "" {
			t.Errorf("%s with Redis down: %s, want 503", name, r)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("%s with Redis down took %s", name, took)
		}
	}
}
