package e2e

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/caddyauth/gateway/test/harness"
)

// switchWithin is how long a method switch may take to reach a running
// instance: the 2s switch cache plus slack on a loaded CI machine.
const switchWithin = 2*time.Second + 1500*time.Millisecond

// twoGateways starts two gateway processes that share one database (the
// test's SQLite file) and one Redis, with the lockout on (3 failures lock
// an (email, IP) pair for an hour) and the rate limits off.
// The first is returned unstarted (add users, then start); startSecond
// runs the other on the same config.
func twoGateways(t *testing.T) *gateway {
	t.Helper()
	return newGateway(t, func(c *harness.GatewayConfig) {
		c.Limits = true
		c.AppOptions = append(c.AppOptions, "rate_limit off", "lockout 3 1h 1h")
	})
}

func (g *gateway) startSecond() *harness.Caddy {
	g.t.Helper()
	bcfg := g.cfg
	bcfg.Port, bcfg.AdminPort = 0, 0
	return harness.StartCaddy(g.t, g.bin, bcfg.Caddyfile(g.t))
}

// TestMethodSwitchAcrossGateways: `caddy auth methods disable password`
// reaches two running gateways within seconds (they share the database),
// their login pages stop offering the form, and `enable` restores both.
func TestMethodSwitchAcrossGateways(t *testing.T) {
	t.Parallel()
	a := twoGateways(t)
	pw := newPassword()
	a.addUser("alice@example.test", "Alice", pw)
	a.start()
	b := a.startSecond()
	cfg := a.caddy.ConfigPath()
	onA, onB := a.client(), harness.NewClient(t, b.URL)
	creds := map[string]string{"email": "alice@example.test", "password": pw}
	for _, c := range []*harness.Client{onA, onB} {
		expectStatus(t, c.PostJSON("/auth/login", creds), http.StatusOK)
	}

	out, errOut, code := a.cli("", "auth", "methods", "disable", "password", "--config", cfg)
	if code != 0 || !strings.Contains(out, "password disabled") {
		t.Fatalf("methods disable: exit %d\n%s%s", code, out, errOut)
	}
	disabled := time.Now()
	for name, c := range map[string]*harness.Client{"A": onA, "B": onB} {
		var last *harness.Response
		ok, _ := harness.Eventually(switchWithin, 100*time.Millisecond, func() bool {
			last = c.PostJSON("/auth/login", creds)
			return last.StatusCode == http.StatusForbidden
		})
		if !ok {
			t.Fatalf("gateway %s still accepts password logins %s after the switch: %s", name, time.Since(disabled), last)
		}
		expectError(t, last, http.StatusForbidden, "METHOD_DISABLED")
		t.Logf("gateway %s refuses password logins %s after the switch", name, time.Since(disabled).Round(time.Millisecond))
		page := harness.NewClient(t, c.Base).Get("/auth/login", browser...) // anonymous
		if page.StatusCode != http.StatusOK || strings.Contains(string(page.Body), `name="password"`) || !strings.Contains(string(page.Body), "turned off") {
			t.Errorf("gateway %s login page with password off: %s", name, page)
		}
	}
	out, _, _ = a.cli("", "auth", "methods", "list", "--config", cfg)
	if !regexp.MustCompile(`password\s+disabled`).MatchString(out) || !regexp.MustCompile(`registration\s+enabled`).MatchString(out) {
		t.Errorf("methods list:\n%s", out)
	}
	_, errOut, code = a.cli("", "auth", "methods", "disable", "telepathy", "--config", cfg)
	if code == 0 || !strings.Contains(errOut, "unknown auth method") {
		t.Errorf("disable an unknown method: exit %d %s", code, errOut)
	}

	out, errOut, code = a.cli("", "auth", "methods", "enable", "password", "--config", cfg)
	if code != 0 {
		t.Fatalf("methods enable: exit %d\n%s%s", code, out, errOut)
	}
	for name, c := range map[string]*harness.Client{"A": onA, "B": onB} {
		if ok, _ := harness.Eventually(switchWithin, 100*time.Millisecond, func() bool {
			return c.PostJSON("/auth/login", creds).StatusCode == http.StatusOK
		}); !ok {
			t.Fatalf("gateway %s does not accept password logins again", name)
		}
	}
}

// TestLockoutSharedAndUnlock: a lockout earned on one gateway holds on the
// other (the state is in the shared database), and `caddy auth user
// unlock` lifts it on both at once.
func TestLockoutSharedAndUnlock(t *testing.T) {
	t.Parallel()
	a := twoGateways(t)
	pw := newPassword()
	a.addUser("alice@example.test", "Alice", pw)
	a.start()
	b := a.startSecond()
	cfg := a.caddy.ConfigPath()
	onA, onB := a.client(), harness.NewClient(t, b.URL)
	wrong := map[string]string{"email": "alice@example.test", "password": "wrong password here"}
	right := map[string]string{"email": "alice@example.test", "password": pw}
	for i, c := range []*harness.Client{onA, onB, onA} {
		if r := c.PostJSON("/auth/login", wrong); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: %s", i+1, r)
		}
	}
	expectError(t, onB.PostJSON("/auth/login", right), http.StatusTooManyRequests, "ACCOUNT_LOCKED")
	expectError(t, onA.PostJSON("/auth/login", right), http.StatusTooManyRequests, "ACCOUNT_LOCKED")
	// The lock notice was queued for the owner (delivery is the outbox's
	// job; without one the refusal is logged, never the address's secrets).
	a.caddy.WaitLog("login locked out", 5*time.Second)
	// No outbox is configured here, so the default queue refuses and says
	// which message it could not queue.
	if e := a.caddy.WaitLog("message not queued", 5*time.Second); e["kind"] != "account_locked" || e["channel"] != "email" {
		t.Errorf("lock notice: %v", e)
	}

	out, errOut, code := a.cli("", "auth", "user", "unlock", "ALICE@example.test", "--config", cfg)
	if code != 0 || !strings.Contains(out, "1 locked address(es) cleared") {
		t.Fatalf("user unlock: exit %d\n%s%s", code, out, errOut)
	}
	expectStatus(t, onB.PostJSON("/auth/login", right), http.StatusOK)
	expectStatus(t, onA.PostJSON("/auth/login", right), http.StatusOK)
}

// TestAdminUserCLI: user show, logout-all, reset-mfa and delete against a
// running gateway.
func TestAdminUserCLI(t *testing.T) {
	t.Parallel()
	g := newGateway(t, nil)
	pw, bobPW := newPassword(), newPassword()
	aliceID := g.addUser("alice@example.test", "Alice Liddell", pw, "admin")
	g.addUser("bob@example.test", "Bob", bobPW)
	g.start()
	cfg := g.caddy.ConfigPath()

	c1, c2 := g.client(), g.client()
	c1.Login("alice@example.test", pw)
	c2.Login("alice@example.test", pw)
	out, errOut, code := g.cli("", "auth", "user", "show", "alice@example.test", "--config", cfg)
	if code != 0 {
		t.Fatalf("user show: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{aliceID, "alice@example.test", "Alice Liddell", "admin", "active", "2 session(s)", "password"} {
		if !strings.Contains(out, want) {
			t.Errorf("user show lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "argon2") {
		t.Errorf("user show prints the password hash:\n%s", out)
	}

	for _, step := range [][]string{{"logout-all"}, {"reset-mfa"}} {
		for _, c := range []*harness.Client{c1, c2} {
			c.Login("alice@example.test", pw)
			expectStatus(t, c.Get("/app", api...), http.StatusOK)
		}
		args := append([]string{"auth", "user"}, step...)
		out, errOut, code := g.cli("", append(args, "alice@example.test", "--config", cfg)...)
		if code != 0 {
			t.Fatalf("user %s: exit %d\n%s%s", step[0], code, out, errOut)
		}
		for _, c := range []*harness.Client{c1, c2} {
			_, took := waitStatus(t, c, "/app", http.StatusUnauthorized, revokeWithin, api...)
			t.Logf("session refused %s after user %s", took, step[0])
		}
	}

	bob := g.client()
	bob.Login("bob@example.test", bobPW)
	_, errOut, code = g.cli("no\n", "auth", "user", "delete", "bob@example.test", "--config", cfg)
	if code == 0 || !strings.Contains(errOut, "not confirmed") {
		t.Fatalf("delete without confirmation: exit %d %s", code, errOut)
	}
	expectStatus(t, bob.Get("/app", api...), http.StatusOK)
	out, errOut, code = g.cli("", "auth", "user", "delete", "bob@example.test", "--yes", "--config", cfg)
	if code != 0 || !strings.Contains(out, "deleted user bob@example.test; 1 session(s) revoked") {
		t.Fatalf("user delete --yes: exit %d\n%s%s", code, out, errOut)
	}
	waitStatus(t, bob, "/app", http.StatusUnauthorized, revokeWithin, api...)
	expectError(t, bob.PostJSON("/auth/login", map[string]string{"email": "bob@example.test", "password": bobPW}), http.StatusUnauthorized, "INVALID_CREDENTIALS")
	out, _, _ = g.cli("", "auth", "user", "list", "--config", cfg)
	if strings.Contains(out, "bob@") {
		t.Errorf("bob still listed:\n%s", out)
	}
	_, errOut, code = g.cli("", "auth", "user", "show", "bob@example.test", "--config", cfg)
	if code == 0 || !strings.Contains(errOut, "no user") {
		t.Errorf("show a deleted user: exit %d %s", code, errOut)
	}
}
