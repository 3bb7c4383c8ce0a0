package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyauth/gateway/test/harness"
)

// redisFromEnv is a newGateway edit: the Redis URL comes from the
// environment, `sessions redis {env.CADDYAUTH_E2E_REDIS_URL}`, as the
// runbooks tell operators to write it. The server and every CLI call of the
// test get the variable.
func redisFromEnv(t *testing.T) func(*harness.GatewayConfig) {
	return func(c *harness.GatewayConfig) {
		url, ok := strings.CutPrefix(c.Sessions, "redis ")
		if !ok {
			t.Fatalf("redisFromEnv: sessions %q is not redis", c.Sessions)
		}
		harness.Setenv(t, "CADDYAUTH_E2E_REDIS_URL", url)
		c.Sessions = "redis {env.CADDYAUTH_E2E_REDIS_URL}"
	}
}

// redisFromFile is the same with `sessions redis {file.<path>}`.
func redisFromFile(t *testing.T) func(*harness.GatewayConfig) {
	return func(c *harness.GatewayConfig) {
		url, ok := strings.CutPrefix(c.Sessions, "redis ")
		if !ok {
			t.Fatalf("redisFromFile: sessions %q is not redis", c.Sessions)
		}
		p := filepath.Join(t.TempDir(), "redis-url")
		if err := os.WriteFile(p, []byte(url+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		c.Sessions = "redis {file." + p + "}"
	}
}

// revokedWithin is how soon a session ended by the CLI must be refused:
// the CLI tells running instances through Redis at once; the session cache
// (5s here) would take longer.
const revokedWithin = time.Second

// TestCLIRedisPlaceholderEnv: with `sessions redis {env.X}`, the
// compromised-account commands (`user passwd`, `user logout-all`, `sessions
// revoke --user`, `user delete`) open the server's session store and end a
// session made by logging in through the running gateway within a second;
// `user passwd` also forgets the trusted devices.
func TestCLIRedisPlaceholderEnv(t *testing.T) {
	t.Parallel()
	cliRevokesThroughRedis(t, redisFromEnv(t))
}

// TestCLIRedisPlaceholderFile is the same with `sessions redis {file.X}`.
func TestCLIRedisPlaceholderFile(t *testing.T) {
	t.Parallel()
	cliRevokesThroughRedis(t, redisFromFile(t))
}

func cliRevokesThroughRedis(t *testing.T, edit func(*harness.GatewayConfig)) {
	g := newGateway(t, func(c *harness.GatewayConfig) {
		edit(c)
		c.SessionCache = "5s" // longer than revokedWithin: only the CLI's broadcast can be fast enough
	})
	pw := newPassword()
	g.addUser("alice@example.test", "Alice", pw)
	g.start()
	cfg := g.caddy.ConfigPath()
	if !strings.Contains(readFile(t, cfg), "sessions redis {") {
		t.Fatalf("the config does not use a placeholder:\n%s", readFile(t, cfg))
	}

	// signedIn logs alice in through the gateway and checks the
	// session works (and is cached by the gateway).
	signedIn := func(password string) *harness.Client {
		t.Helper()
		c := g.client()
		if ans := c.Login("alice@example.test", password).JSON(); ans["authenticated"] != true {
			t.Fatalf("login: %v", ans)
		}
		expectStatus(t, c.Get("/app", api...), http.StatusOK)
		return c
	}
	// run runs a CLI command and checks that c's session is
	// refused within revokedWithin of its end.
	run := func(c *harness.Client, stdin, want string, args ...string) {
		t.Helper()
		out, errOut, code := g.cli(stdin, append(args, "--config", cfg)...)
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("%s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
		_, took := waitStatus(t, c, "/app", http.StatusUnauthorized, revokedWithin, api...)
		t.Logf("%s: session refused %s after the command", strings.Join(args[1:3], " "), took.Round(time.Millisecond))
	}

	// user passwd: sessions end and the trusted device is forgotten.
	c := signedIn(pw)
	_, _, codes := enrolTOTP(t, c)
	trusted := g.client()
	if !mfaRequired(t, trusted, "alice@example.test", pw) {
		t.Fatal("no challenge after enrolment")
	}
	r := trusted.PostJSON("/auth/mfa/challenge", map[string]any{"method": "recovery", "code": codes[0], "trust_device": true})
	expectStatus(t, r, http.StatusOK)
	if trusted.Cookie(trustCookie) == "" {
		t.Fatal("no trusted-device cookie")
	}
	newPW := newPassword()
	run(trusted, newPW, "trusted devices forgotten", "auth", "user", "passwd", "alice@example.test", "--password-stdin")
	expectError(t, c.Get("/app", api...), http.StatusUnauthorized, "SESSION_EXPIRED")
	trusted.ClearCookiesExcept(trustCookie)
	if !mfaRequired(t, trusted, "alice@example.test", newPW) {
		t.Fatal("after `user passwd` the trusted device still skips the second factor")
	}

	// The other three, each on a fresh session (MFA reset first, so
	// a login is one step).
	if _, errOut, code := g.cli("", "auth", "user", "reset-mfa", "alice@example.test", "--config", cfg); code != 0 {
		t.Fatalf("reset-mfa: exit %d %s", code, errOut)
	}
	run(signedIn(newPW), "", "1 session(s) of alice@example.test revoked", "auth", "user", "logout-all", "alice@example.test")
	run(signedIn(newPW), "", "1 session(s) of alice@example.test revoked", "auth", "sessions", "revoke", "--user", "alice@example.test")
	run(signedIn(newPW), "", "deleted user alice@example.test; 1 session(s) revoked", "auth", "user", "delete", "alice@example.test", "--yes")
}
