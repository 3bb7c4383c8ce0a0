package e2e

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/caddyauth/gateway/test/harness"
)

// TestCLI (h): `caddy auth user list|disable|enable|passwd`, `auth sessions
// revoke` and `auth secret generate`, against a running server.
func TestCLI(t *testing.T) {
	t.Parallel()
	g := newGateway(t, nil)
	alicePW, bobPW := newPassword(), newPassword()
	aliceID := g.addUser("alice@example.test", "Alice Liddell", alicePW, "dev", "ops")
	bobID := g.addUser("bob@example.test", "", bobPW)
	g.start()
	cfg := g.caddy.ConfigPath()
	bobCurrent := bobPW // changed by the passwd step

	t.Run("user add refuses bad input", func(t *testing.T) {
		out, errOut, code := g.cli(alicePW, "auth", "user", "add", "--config", cfg, "--email", "ALICE@example.test", "--password-stdin")
		if code == 0 || !strings.Contains(out+errOut, "already exists") {
			t.Errorf("duplicate user add: exit %d\n%s%s", code, out, errOut)
		}
		short := "short-pw-12345" // 14 characters
		harness.Sensitive(short)
		out, errOut, code = g.cli(short, "auth", "user", "add", "--config", cfg, "--email", "carol@example.test", "--password-stdin")
		if code == 0 || !strings.Contains(out+errOut, "at least 15") {
			t.Errorf("short password: exit %d\n%s%s", code, out, errOut)
		}
		// The policy's context: the name given with --name.
		named := "Carol Danvers 123456"
		harness.Sensitive(named)
		out, errOut, code = g.cli(named, "auth", "user", "add", "--config", cfg, "--email", "carol@example.test", "--name", "Carol Danvers", "--password-stdin")
		if code == 0 || !strings.Contains(out+errOut, "built from the account's email address or name") {
			t.Errorf("password built from the name: exit %d\n%s%s", code, out, errOut)
		}
		out, errOut, code = g.cli("", "auth", "user", "add", "--config", cfg, "--email", "carol@example.test")
		if code == 0 || !strings.Contains(out+errOut, "--password-stdin") {
			t.Errorf("no --password-stdin: exit %d\n%s%s", code, out, errOut)
		}
		out, errOut, code = g.cli(alicePW, "auth", "user", "add", "--config", cfg, "--email", "not-an-email", "--password-stdin")
		if code == 0 || !strings.Contains(out+errOut, "not an email") {
			t.Errorf("bad email: exit %d\n%s%s", code, out, errOut)
		}
	})

	t.Run("user list", func(t *testing.T) {
		out, errOut, code := g.cli("", "auth", "user", "list", "--config", cfg)
		if code != 0 {
			t.Fatalf("user list: exit %d\n%s%s", code, out, errOut)
		}
		for _, want := range []string{"EMAIL", "alice@example.test", "Alice Liddell", "dev,ops", aliceID, "bob@example.test", bobID, "active"} {
			if !strings.Contains(out, want) {
				t.Errorf("user list lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "carol@") {
			t.Errorf("a refused user add created carol:\n%s", out)
		}
	})

	t.Run("user disable ends the sessions on the running server", func(t *testing.T) {
		c := g.client()
		c.Login("alice@example.test", alicePW)
		expectStatus(t, c.Get("/app", api...), http.StatusOK)
		out, errOut, code := g.cli("", "auth", "user", "disable", "alice@example.test", "--config", cfg)
		if code != 0 || !strings.Contains(out, "disabled") {
			t.Fatalf("user disable: exit %d\n%s%s", code, out, errOut)
		}
		_, took := waitStatus(t, c, "/app", http.StatusUnauthorized, revokeWithin, api...)
		t.Logf("disabled user's session refused after %s", took)
		expectError(t, c.PostJSON("/auth/login", map[string]string{"email": "alice@example.test", "password": alicePW}), http.StatusUnauthorized, "INVALID_CREDENTIALS")
		out, _, _ = g.cli("", "auth", "user", "list", "--config", cfg)
		if !regexp.MustCompile(`alice@example\.test.*disabled`).MatchString(out) {
			t.Errorf("user list does not show alice disabled:\n%s", out)
		}
		out, errOut, code = g.cli("", "auth", "user", "enable", "alice@example.test", "--config", cfg)
		if code != 0 {
			t.Fatalf("user enable: exit %d\n%s%s", code, out, errOut)
		}
		c.Login("alice@example.test", alicePW)
		expectStatus(t, c.Get("/app", api...), http.StatusOK)

		_, errOut, code = g.cli("", "auth", "user", "disable", "nobody@example.test", "--config", cfg)
		if code == 0 || !strings.Contains(errOut, "no user") {
			t.Errorf("disable unknown user: exit %d %s", code, errOut)
		}
	})

	t.Run("user passwd sets the password and ends the sessions", func(t *testing.T) {
		c := g.client()
		c.Login("bob@example.test", bobPW)
		expectStatus(t, c.Get("/app", api...), http.StatusOK)
		// A common password is refused, with the reason, and changes nothing.
		weak := "passwordpassword"
		harness.Sensitive(weak)
		out, errOut, code := g.cli(weak+"\n", "auth", "user", "passwd", "bob@example.test", "--password-stdin", "--config", cfg)
		if code == 0 || !strings.Contains(out+errOut, "too common") || strings.Contains(out, "password changed") {
			t.Fatalf("user passwd with a common password: exit %d\n%s%s", code, out, errOut)
		}
		expectStatus(t, c.Get("/app", api...), http.StatusOK)
		newPW := newPassword()
		out, errOut, code = g.cli(newPW+"\n", "auth", "user", "passwd", "bob@example.test", "--password-stdin", "--config", cfg)
		if code != 0 || !strings.Contains(out, "password changed") {
			t.Fatalf("user passwd: exit %d\n%s%s", code, out, errOut)
		}
		_, took := waitStatus(t, c, "/app", http.StatusUnauthorized, revokeWithin, api...)
		t.Logf("session refused %s after passwd", took)
		expectError(t, c.PostJSON("/auth/login", map[string]string{"email": "bob@example.test", "password": bobPW}), http.StatusUnauthorized, "INVALID_CREDENTIALS")
		c.Login("bob@example.test", newPW) // the trailing newline was dropped
		bobCurrent = newPW
		expectStatus(t, c.Get("/app", api...), http.StatusOK)
	})

	t.Run("sessions revoke is felt by the running server within the cache TTL", func(t *testing.T) {
		c1, c2 := g.client(), g.client()
		c1.Login("alice@example.test", alicePW)
		c2.Login("alice@example.test", alicePW)
		bob := g.client()
		bob.Login("bob@example.test", bobCurrent)
		for _, c := range []*harness.Client{c1, c2, bob} {
			expectStatus(t, c.Get("/app", api...), http.StatusOK) // now cached
		}
		out, errOut, code := g.cli("", "auth", "sessions", "revoke", "--user", "alice@example.test", "--config", cfg)
		if code != 0 || !regexp.MustCompile(`\b[2-9]\d* session\(s\) of alice@example\.test revoked`).MatchString(out) {
			t.Fatalf("sessions revoke: exit %d\n%s%s", code, out, errOut)
		}
		for _, c := range []*harness.Client{c1, c2} {
			_, took := waitStatus(t, c, "/app", http.StatusUnauthorized, revokeWithin, api...)
			t.Logf("session refused %s after sessions revoke", took)
		}
		expectStatus(t, bob.Get("/app", api...), http.StatusOK)
	})

	t.Run("secret generate", func(t *testing.T) {
		re := regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)
		seen := map[string]bool{}
		for range 2 {
			out, errOut, code := g.cli("", "auth", "secret", "generate")
			s := strings.TrimSpace(out)
			if code != 0 || !re.MatchString(s) {
				t.Fatalf("secret generate: exit %d %q %s", code, out, errOut)
			}
			if seen[s] {
				t.Fatalf("secret generate repeated itself")
			}
			seen[s] = true
		}
	})
}

// TestCLIContextWords: `context_words` in the Caddyfile reaches the CLI,
// which reads the same config: user add and user passwd refuse a password
// built from the company name.
func TestCLIContextWords(t *testing.T) {
	t.Parallel()
	g := newGateway(t, func(c *harness.GatewayConfig) { c.AppOptions = append(c.AppOptions, "context_words globex") })
	bad := "GlobexGlobex2026pw"
	harness.Sensitive(bad)
	_, errOut, code := g.cli(bad, "auth", "user", "add", "--config", g.cfgPath, "--email", "hank@example.test", "--password-stdin")
	if code == 0 || !strings.Contains(errOut, "built from") {
		t.Fatalf("user add with a company-name password: exit %d: %s", code, errOut)
	}
	g.addUser("hank@example.test", "Hank Scorpio", newPassword())
	_, errOut, code = g.cli(bad, "auth", "user", "passwd", "--config", g.cfgPath, "hank@example.test", "--password-stdin")
	if code == 0 || !strings.Contains(errOut, "built from") {
		t.Fatalf("user passwd with a company-name password: exit %d: %s", code, errOut)
	}
}
