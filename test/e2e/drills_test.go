package e2e

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/caddyauth/gateway/test/harness"
)

// The drills follow docs/runbooks.md step by step through the built binary
// and check each runbook's outcome on running gateways. Their config takes
// the Redis URL from the environment ({env.X}), as a deployment does: the
// CLI must open the stores as the server does.

// TestDrillLeakedSecret: new secret, no previous secret, restart, `auth
// sessions revoke --all`; every old session is dead, new logins work.
func TestDrillLeakedSecret(t *testing.T) {
	t.Parallel()
	g := newGateway(t, redisFromEnv(t))
	alicePW, bobPW := newPassword(), newPassword()
	g.addUser("alice@example.test", "Alice", alicePW)
	g.addUser("bob@example.test", "Bob", bobPW)
	leaked := g.cfg.Secret
	g.start()
	alice, bob := g.client(), g.client()
	alice.Login("alice@example.test", alicePW)
	bob.Login("bob@example.test", bobPW)
	for _, c := range []*harness.Client{alice, bob} {
		expectStatus(t, c.Get("/app", api...), http.StatusOK)
	}
	// Alice has an authenticator: it must survive the rotation.
	totpSecret, enrolledAt, _ := enrolTOTP(t, alice)

	// 1. Generate a new secret.
	out, errOut, code := g.cli("", "auth", "secret", "generate")
	if code != 0 {
		t.Fatalf("secret generate: exit %d %s", code, errOut)
	}
	// (Not registered for the leak scan: printing it is this command's
	// job. start() still checks that the server never logs it.)
	fresh := strings.TrimSpace(out)
	if len(fresh) != 43 || fresh == leaked {
		t.Fatalf("secret generate printed %d characters", len(fresh))
	}
	// 2. Replace it, the leaked one as previous_secret for the reseal only;
	// 3. restart.
	g.caddy.Stop()
	g.cfg.Secret = fresh
	g.cfg.AppOptions = []string{"previous_secret " + leaked}
	g.start()
	// 4. Re-encrypt the authenticator secrets under the new secret.
	out, errOut, code = g.cli("", "auth", "secret", "reseal", "--config", g.caddy.ConfigPath())
	if code != 0 || !strings.Contains(out, "1 authenticator secret(s) re-encrypted") {
		t.Fatalf("secret reseal: exit %d\n%s%s", code, out, errOut)
	}
	// 5. Drop previous_secret and restart.
	g.caddy.Stop()
	g.cfg.AppOptions = nil
	g.start()
	cfg := harness.WriteCaddyfile(t, g.cfg.Caddyfile(t))
	if strings.Contains(readFile(t, cfg), leaked) || strings.Contains(readFile(t, g.caddy.ConfigPath()), leaked) {
		t.Fatal("the leaked secret is still in the config")
	}
	if r := alice.Get("/app", api...); r.StatusCode == http.StatusOK {
		t.Logf("as documented: after rotating the secret alone, old sessions still work (tokens are random, not derived from the secret)")
	}
	// 6. End every session.
	out, errOut, code = g.cli("", "auth", "sessions", "revoke", "--all", "--config", g.caddy.ConfigPath())
	if code != 0 || !regexp.MustCompile(`\b2 session\(s\) revoked for every user`).MatchString(out) {
		t.Fatalf("sessions revoke --all: exit %d\n%s%s", code, out, errOut)
	}
	for _, c := range []*harness.Client{alice, bob} {
		_, took := waitStatus(t, c, "/app", http.StatusUnauthorized, revokeWithin, api...)
		t.Logf("old session refused %s after revoke --all", took)
	}
	// 7. Check.
	out, _, _ = g.cli("", "auth", "user", "show", "alice@example.test", "--config", g.caddy.ConfigPath())
	if !strings.Contains(out, "0 session(s)") {
		t.Errorf("user show after revoke --all:\n%s", out)
	}
	// New logins work under the new secret, and alice's authenticator,
	// resealed, still opens: a code from oathtool passes the challenge.
	fresh2 := g.client()
	if ans := fresh2.Login("alice@example.test", alicePW).JSON(); ans["mfa_required"] != true {
		t.Fatalf("alice's login after the rotation: %v", ans)
	}
	r := fresh2.PostJSON("/auth/mfa/challenge", map[string]any{"method": "totp", "code": oathtool(t, totpSecret, enrolledAt.Add(30*time.Second))})
	expectStatus(t, r, http.StatusOK)
	expectStatus(t, fresh2.Get("/app", api...), http.StatusOK)
	bob2 := g.client()
	bob2.Login("bob@example.test", bobPW)
	expectStatus(t, bob2.Get("/app", api...), http.StatusOK)
}

// TestDrillCompromisedAdmin follows the "Compromised admin account"
// runbook: the admin has TOTP; an attacker holding a session uses the
// admin API (disables a user). 1. logout-all, 2. reset-mfa (ends the
// session the attacker opened meanwhile, removes the factors), 3. disable;
// 4. `audit verify` and `audit tail --user` show the attacker's action
// with the admin as actor and the containment steps, and the damage is
// undone; 6. new password, enable: the next login has no challenge, and
// the admin API needs a fresh enrolment.
func TestDrillCompromisedAdmin(t *testing.T) {
	t.Parallel()
	g := newGateway(t, redisFromEnv(t))
	pw, bobPW := newPassword(), newPassword()
	rootID := g.addUser("root@example.test", "Root", pw, "admin")
	bobID := g.addUser("bob@example.test", "Bob", bobPW)
	g.start()
	cfg := g.caddy.ConfigPath()
	bob := g.client()
	bob.Login("bob@example.test", bobPW)

	// The admin's two sessions: one enrolled TOTP (and so passed MFA),
	// the other passed the challenge with a later code.
	s1 := g.client()
	s1.Login("root@example.test", pw)
	secret, at, recovery := enrolTOTP(t, s1)
	s2 := g.client()
	if !mfaRequired(t, s2, "root@example.test", pw) {
		t.Fatal("admin with TOTP got a session without a challenge")
	}
	at = at.Add(30 * time.Second)
	expectStatus(t, s2.PostJSON("/auth/mfa/challenge", map[string]any{"method": "totp", "code": oathtool(t, secret, at)}), http.StatusOK)
	tok := s1.Cookie(cookieName)
	harness.Sensitive(tok, s2.Cookie(cookieName))
	for _, c := range []*harness.Client{s1, s2} {
		expectStatus(t, c.Get("/auth/admin/users", api...), http.StatusOK)
	}
	// The attacker, holding s1, disables bob through the admin API and
	// makes an API key to come back with.
	expectStatus(t, adminCall(t, s1, http.MethodPost, "/auth/admin/users/"+bobID+"/disable", nil), http.StatusOK)
	waitStatus(t, bob, "/app", http.StatusUnauthorized, revokeWithin, api...)
	made := s1.PostJSON("/auth/api-keys", map[string]string{"name": "backdoor"})
	expectStatus(t, made, http.StatusCreated)
	backdoor, _ := made.JSON()["api_key"].(string)
	harness.Sensitive(backdoor)
	keyAuth := []string{"Authorization", "Bearer " + backdoor}
	expectStatus(t, g.client().Get("/app", hdr(api, keyAuth)...), http.StatusOK)

	// 1. End every session of the account.
	out, errOut, code := g.cli("", "auth", "user", "logout-all", "root@example.test", "--config", cfg)
	if code != 0 || !strings.Contains(out, "2 session(s) of root@example.test revoked") {
		t.Fatalf("logout-all: exit %d\n%s%s", code, out, errOut)
	}
	for _, c := range []*harness.Client{s1, s2} {
		waitStatus(t, c, "/app", http.StatusUnauthorized, revokeWithin, api...)
	}
	// The attacker (password and a recovery code) signs in again
	// meanwhile; 2. reset MFA ends that session too and removes the
	// factors.
	again := g.client()
	if !mfaRequired(t, again, "root@example.test", pw) {
		t.Fatal("admin with TOTP got a session without a challenge")
	}
	expectStatus(t, again.PostJSON("/auth/mfa/challenge", map[string]any{"method": "recovery", "code": recovery[0]}), http.StatusOK)
	expectStatus(t, again.Get("/auth/admin/users", api...), http.StatusOK)
	out, errOut, code = g.cli("", "auth", "user", "reset-mfa", "root@example.test", "--config", cfg)
	if code != 0 || !strings.Contains(out, "MFA reset") {
		t.Fatalf("reset-mfa: exit %d\n%s%s", code, out, errOut)
	}
	waitStatus(t, again, "/app", http.StatusUnauthorized, revokeWithin, api...)
	// Sessions and factors are gone; the key is not.
	expectStatus(t, g.client().Get("/app", hdr(api, keyAuth)...), http.StatusOK)
	// 3. Disable.
	out, errOut, code = g.cli("", "auth", "user", "disable", "root@example.test", "--config", cfg)
	if code != 0 || !strings.Contains(out, "disabled") {
		t.Fatalf("disable: exit %d\n%s%s", code, out, errOut)
	}
	expectError(t, g.client().PostJSON("/auth/login", map[string]string{"email": "root@example.test", "password": pw}),
		http.StatusUnauthorized, "INVALID_CREDENTIALS")
	replay := g.client()
	expectError(t, replay.Get("/auth/admin/users", hdr(api, withCookie(tok))...), http.StatusUnauthorized, "SESSION_EXPIRED")
	out, _, _ = g.cli("", "auth", "user", "show", "root@example.test", "--config", cfg)
	if !regexp.MustCompile(`status\s+disabled`).MatchString(out) || !strings.Contains(out, "0 session(s)") {
		t.Errorf("user show after containment:\n%s", out)
	}
	expectError(t, g.client().Get("/app", hdr(api, keyAuth)...), http.StatusUnauthorized, "TOKEN_INVALID")
	out, errOut, code = g.cli("", "auth", "apikey", "revoke", "--user", "root@example.test", "--all", "--config", cfg)
	if code != 0 || !strings.Contains(out, "revoked 1 API key(s) of root@example.test") {
		t.Fatalf("apikey revoke --all: exit %d\n%s%s", code, out, errOut)
	}

	// 4. Review: the chain is intact, and the account's trail shows what
	// was done with it and the containment.
	out, errOut, code = g.cli("", "auth", "audit", "verify", "--config", cfg)
	if code != 0 || !strings.HasPrefix(out, "ok: ") {
		t.Fatalf("audit verify: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = g.cli("", "auth", "audit", "tail", "--user", "root@example.test", "--config", cfg)
	if code != 0 {
		t.Fatalf("audit tail: exit %d\n%s%s", code, out, errOut)
	}
	t.Logf("audit tail --user root@example.test:\n%s", out)
	var steps []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(l)
		if len(f) < 3 {
			t.Fatalf("tail line %q", l)
		}
		if fieldOf(l, "actor") != "" {
			steps = append(steps, f[2]+" "+fieldOf(l, "email")+" "+fieldOf(l, "actor"))
		}
	}
	want := []string{
		"user.created email=root@example.test actor=cli",
		"user.disabled email=bob@example.test actor=" + rootID,    // what the attacker did
		"api_key.created email=root@example.test actor=" + rootID, // and the way back in
		"logout_all email=root@example.test actor=cli",            // 1.
		"mfa.reset email=root@example.test actor=cli",             // 2.
		"user.disabled email=root@example.test actor=cli",         // 3.
		"session.revoked email=root@example.test actor=cli",       // (3. ends sessions again: none left)
		"api_key.revoked email=root@example.test actor=cli",       // 3. the key
	}
	if got := strings.Join(steps, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("actions in the admin's trail:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	for _, w := range []string{"login.succeeded email=root@example.test", "mfa.recovery_code_used email=root@example.test", "login.failed email=root@example.test"} {
		if !strings.Contains(out, w) {
			t.Errorf("the admin's trail lacks %q:\n%s", w, out)
		}
	}
	// Undo what the attacker changed.
	out, errOut, code = g.cli("", "auth", "user", "enable", "bob@example.test", "--config", cfg)
	if code != 0 {
		t.Fatalf("enable bob: exit %d\n%s%s", code, out, errOut)
	}
	bob.Login("bob@example.test", bobPW)

	// 6. The owner is back: a new password, enable. The factors are gone:
	// no challenge at login, and the admin API wants a new enrolment.
	newPW := newPassword()
	out, errOut, code = g.cli(newPW, "auth", "user", "passwd", "root@example.test", "--password-stdin", "--config", cfg)
	if code != 0 {
		t.Fatalf("passwd: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = g.cli("", "auth", "user", "enable", "root@example.test", "--config", cfg)
	if code != 0 {
		t.Fatalf("enable: exit %d\n%s%s", code, out, errOut)
	}
	expectError(t, g.client().PostJSON("/auth/login", map[string]string{"email": "root@example.test", "password": pw}),
		http.StatusUnauthorized, "INVALID_CREDENTIALS")
	owner := g.client()
	if mfaRequired(t, owner, "root@example.test", newPW) {
		t.Fatal("after reset-mfa the admin's login still asks for the old second factor")
	}
	expectError(t, owner.Get("/auth/admin/users", api...), http.StatusForbidden, "MFA_REQUIRED")
	expectError(t, g.client().Get("/app", hdr(api, keyAuth)...), http.StatusUnauthorized, "TOKEN_INVALID")
	enrolTOTP(t, owner)
	expectStatus(t, owner.Get("/auth/admin/users", api...), http.StatusOK)
	out, errOut, code = g.cli("", "auth", "audit", "verify", "--config", cfg)
	if code != 0 || !strings.HasPrefix(out, "ok: ") {
		t.Fatalf("audit verify at the end: exit %d\n%s%s", code, out, errOut)
	}
}

// TestDrillDisableMethod: `auth methods disable password` on two gateways
// sharing one database and one Redis; both refuse within seconds, signed-in
// users stay signed in; `enable` restores.
func TestDrillDisableMethod(t *testing.T) {
	t.Parallel()
	a := newGateway(t, redisFromEnv(t))
	pw := newPassword()
	a.addUser("alice@example.test", "Alice", pw)
	a.start()
	b := a.startSecond()
	cfg := a.caddy.ConfigPath()
	signedIn := a.client()
	signedIn.Login("alice@example.test", pw)
	creds := map[string]string{"email": "alice@example.test", "password": pw}

	// 1. Switch it off.
	start := time.Now()
	out, errOut, code := a.cli("", "auth", "methods", "disable", "password", "--config", cfg)
	if code != 0 {
		t.Fatalf("methods disable: exit %d\n%s%s", code, out, errOut)
	}
	// 2. Check on every instance.
	for name, url := range map[string]string{"A": a.url(), "B": b.URL} {
		c := harness.NewClient(t, url)
		var last *harness.Response
		ok, _ := harness.Eventually(switchWithin, 100*time.Millisecond, func() bool {
			last = c.PostJSON("/auth/login", creds)
			return last.StatusCode == http.StatusForbidden
		})
		if !ok {
			t.Fatalf("gateway %s accepts password logins %s after disable: %s", name, time.Since(start), last)
		}
		expectError(t, last, http.StatusForbidden, "METHOD_DISABLED")
		t.Logf("gateway %s refuses password logins %s after the command started", name, time.Since(start).Round(time.Millisecond))
	}
	out, _, _ = a.cli("", "auth", "methods", "list", "--config", cfg)
	if !regexp.MustCompile(`password\s+disabled`).MatchString(out) {
		t.Errorf("methods list:\n%s", out)
	}
	expectStatus(t, signedIn.Get("/app", api...), http.StatusOK)
	// 3. Re-enable.
	if _, errOut, code := a.cli("", "auth", "methods", "enable", "password", "--config", cfg); code != 0 {
		t.Fatalf("methods enable: exit %d %s", code, errOut)
	}
	for name, url := range map[string]string{"A": a.url(), "B": b.URL} {
		c := harness.NewClient(t, url)
		if ok, _ := harness.Eventually(switchWithin, 100*time.Millisecond, func() bool {
			return c.PostJSON("/auth/login", creds).StatusCode == http.StatusOK
		}); !ok {
			t.Fatalf("gateway %s still refuses password logins after enable", name)
		}
	}
}
