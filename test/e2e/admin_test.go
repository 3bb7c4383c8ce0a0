package e2e

import (
	"bytes"
	"encoding/json"
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
	// Only what this configuration has: no provider, so no registration;
	// passwordless is not built.
	if !regexp.MustCompile(`password\s+disabled`).MatchString(out) || strings.Contains(out, "registration") || strings.Contains(out, "passwordless") {
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
	// The scheme is shown (argon2id), never the hash.
	if strings.Contains(out, "$argon2") || !regexp.MustCompile(`password hash\s+argon2id`).MatchString(out) {
		t.Errorf("user show prints the password hash, or not its scheme:\n%s", out)
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

// enrolTOTP enrols an authenticator for c's signed-in user through
// /auth/mfa/totp/setup and /verify (codes from oathtool); the verify
// upgrades c's session to MFA level. Secret and recovery codes are
// registered for the leak scan. It returns the secret, the time of the
// code used (later codes must be for later time steps: no replay) and the
// recovery codes.
func enrolTOTP(t *testing.T, c *harness.Client) (string, time.Time, []string) {
	t.Helper()
	r := c.PostJSON("/auth/mfa/totp/setup", map[string]string{"name": "phone"})
	expectStatus(t, r, http.StatusOK)
	secret, _ := r.JSON()["secret"].(string)
	harness.Sensitive(secret)
	if len(secret) < 32 {
		t.Fatalf("totp setup: %s", r)
	}
	at := time.Now()
	r = c.PostJSON("/auth/mfa/totp/verify", map[string]string{"code": oathtool(t, secret, at)})
	expectStatus(t, r, http.StatusOK)
	codes := stringsOf(r.JSON()["recovery_codes"])
	harness.Sensitive(codes...)
	if len(codes) == 0 {
		t.Fatalf("totp verify gave no recovery codes: %s", r)
	}
	return secret, at, codes
}

// adminCall sends an admin API request as JSON (v nil: no body).
func adminCall(t *testing.T, c *harness.Client, method, path string, v any) *harness.Response {
	t.Helper()
	var body bytes.Buffer
	if v != nil {
		if err := json.NewEncoder(&body).Encode(v); err != nil {
			t.Fatal(err)
		}
	}
	return c.Do(c.NewRequest(method, path, &body, "Content-Type", "application/json", "Accept", "application/json"))
}

// mfaRequired reports whether a password login of email answers with a
// challenge stage instead of a full session.
func mfaRequired(t *testing.T, c *harness.Client, email, pw string) bool {
	t.Helper()
	ans := c.Login(email, pw).JSON()
	if ans["mfa_required"] == true {
		return true
	}
	if ans["authenticated"] != true {
		t.Fatalf("login as %s: %v", email, ans)
	}
	return false
}

// TestAdminAPIEndToEnd drives /auth/admin through the built binary with a
// real second factor: an admin created by the CLI enrols TOTP (codes from
// oathtool), which upgrades the session; a non-admin gets FORBIDDEN and a
// password-only admin MFA_REQUIRED. The MFA admin lists, disables (the
// live session dies), enables, resets another user's MFA (their next
// login has no challenge), unlocks, deletes, and switches the password
// method off and on. Afterwards `audit verify` passes and `audit tail`
// shows each action with the admin as actor.
func TestAdminAPIEndToEnd(t *testing.T) {
	t.Parallel()
	g := newGateway(t, func(c *harness.GatewayConfig) {
		c.Limits = true // the lockout is needed for unlock
		c.AppOptions = append(c.AppOptions, "rate_limit off", "lockout 3 1h 1h")
	})
	pw := map[string]string{}
	ids := map[string]string{}
	for _, u := range []struct{ email, group string }{
		{"root@example.test", "admin"}, // enrols MFA: the acting admin
		{"ops@example.test", "admin"},  // admin without MFA
		{"alice@example.test", ""},     // not an admin; disabled, enabled
		{"carol@example.test", ""},     // has TOTP; reset by the admin
		{"dave@example.test", ""},      // locked out; unlocked
		{"erin@example.test", ""},      // deleted
	} {
		pw[u.email] = newPassword()
		var groups []string
		if u.group != "" {
			groups = append(groups, u.group)
		}
		ids[u.email] = g.addUser(u.email, "", pw[u.email], groups...)
	}
	g.start()
	cfg := g.caddy.ConfigPath()
	login := func(email string) *harness.Client {
		t.Helper()
		c := g.client()
		c.Login(email, pw[email])
		harness.Sensitive(c.Cookie(cookieName))
		return c
	}
	user := func(email string) string { return "/auth/admin/users/" + ids[email] }

	// Who may call it.
	alice := login("alice@example.test")
	expectError(t, alice.Get("/auth/admin/users", api...), http.StatusForbidden, "FORBIDDEN")
	expectError(t, adminCall(t, alice, http.MethodPost, user("erin@example.test")+"/disable", nil), http.StatusForbidden, "FORBIDDEN")
	ops := login("ops@example.test")
	expectError(t, ops.Get("/auth/admin/users", api...), http.StatusForbidden, "MFA_REQUIRED")
	expectError(t, adminCall(t, ops, http.MethodDelete, user("erin@example.test"), nil), http.StatusForbidden, "MFA_REQUIRED")
	expectError(t, g.client().Get("/auth/admin/users", api...), http.StatusUnauthorized, "UNAUTHENTICATED")

	root := login("root@example.test")
	expectError(t, root.Get("/auth/admin/users", api...), http.StatusForbidden, "MFA_REQUIRED")
	enrolTOTP(t, root)
	r := root.Get("/auth/admin/users", api...)
	expectStatus(t, r, http.StatusOK)
	listed := map[string]bool{}
	for _, u := range r.JSON()["users"].([]any) {
		listed[u.(map[string]any)["email"].(string)] = true
	}
	for email := range ids {
		if !listed[email] {
			t.Errorf("admin list lacks %s: %s", email, r)
		}
	}
	if strings.Contains(string(r.Body), "argon2") {
		t.Errorf("admin list shows password hashes")
	}
	// State changes need JSON (a cross-site form cannot send it).
	expectError(t, root.PostForm(user("alice@example.test")+"/disable", nil, api...), http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE")
	expectError(t, adminCall(t, root, http.MethodPost, user("root@example.test")+"/disable", nil), http.StatusConflict, "CONFLICT")

	// Disable: alice's live session dies, her password stops working.
	expectStatus(t, alice.Get("/app", api...), http.StatusOK)
	r = adminCall(t, root, http.MethodPost, user("alice@example.test")+"/disable", map[string]any{})
	expectStatus(t, r, http.StatusOK)
	if r.JSON()["sessions_ended"] != float64(1) {
		t.Errorf("disable: %s", r)
	}
	_, took := waitStatus(t, alice, "/app", http.StatusUnauthorized, revokeWithin, api...)
	t.Logf("disabled user's session refused after %s", took)
	expectError(t, g.client().PostJSON("/auth/login", map[string]string{"email": "alice@example.test", "password": pw["alice@example.test"]}),
		http.StatusUnauthorized, "INVALID_CREDENTIALS")
	r = root.Get(user("alice@example.test"), api...)
	if st, _ := r.JSON()["user"].(map[string]any); st == nil || st["status"] != "disabled" {
		t.Errorf("user after disable: %s", r)
	}
	// Enable: she signs in again.
	expectStatus(t, adminCall(t, root, http.MethodPost, user("alice@example.test")+"/enable", nil), http.StatusOK)
	expectStatus(t, login("alice@example.test").Get("/app", api...), http.StatusOK)

	// Reset MFA of carol: her MFA session ends and her factors are gone.
	carol := login("carol@example.test")
	enrolTOTP(t, carol)
	if !mfaRequired(t, g.client(), "carol@example.test", pw["carol@example.test"]) {
		t.Fatal("carol enrolled TOTP but her login asks no second factor")
	}
	expectStatus(t, adminCall(t, root, http.MethodPost, user("carol@example.test")+"/reset-mfa", nil), http.StatusOK)
	waitStatus(t, carol, "/app", http.StatusUnauthorized, revokeWithin, api...)
	if mfaRequired(t, g.client(), "carol@example.test", pw["carol@example.test"]) {
		t.Fatal("after reset-mfa carol's login still asks for a second factor")
	}

	// Unlock dave after three failures locked him out.
	dave := g.client()
	wrong := map[string]string{"email": "dave@example.test", "password": "wrong " + pw["alice@example.test"]}
	for range 3 {
		expectStatus(t, dave.PostJSON("/auth/login", wrong), http.StatusUnauthorized)
	}
	daveCreds := map[string]string{"email": "dave@example.test", "password": pw["dave@example.test"]}
	expectError(t, dave.PostJSON("/auth/login", daveCreds), http.StatusTooManyRequests, "ACCOUNT_LOCKED")
	r = adminCall(t, root, http.MethodPost, user("dave@example.test")+"/unlock", nil)
	expectStatus(t, r, http.StatusOK)
	if n, _ := r.JSON()["unlocked"].(float64); n < 1 {
		t.Errorf("unlock: %s", r)
	}
	expectStatus(t, dave.PostJSON("/auth/login", daveCreds), http.StatusOK)

	// Delete erin: her session dies, the account is gone.
	erin := login("erin@example.test")
	r = adminCall(t, root, http.MethodDelete, user("erin@example.test"), nil)
	expectStatus(t, r, http.StatusOK)
	if r.JSON()["deleted"] != true || r.JSON()["sessions_ended"] != float64(1) {
		t.Errorf("delete: %s", r)
	}
	waitStatus(t, erin, "/app", http.StatusUnauthorized, revokeWithin, api...)
	expectError(t, root.Get(user("erin@example.test"), api...), http.StatusNotFound, "NOT_FOUND")
	expectError(t, g.client().PostJSON("/auth/login", map[string]string{"email": "erin@example.test", "password": pw["erin@example.test"]}),
		http.StatusUnauthorized, "INVALID_CREDENTIALS")

	// Switch the password method off: logins are refused, sessions stay.
	creds := map[string]string{"email": "alice@example.test", "password": pw["alice@example.test"]}
	expectStatus(t, adminCall(t, root, http.MethodPut, "/auth/admin/methods/password", map[string]bool{"enabled": false}), http.StatusOK)
	var last *harness.Response
	if ok, _ := harness.Eventually(switchWithin, 100*time.Millisecond, func() bool {
		last = g.client().PostJSON("/auth/login", creds)
		return last.StatusCode == http.StatusForbidden
	}); !ok {
		t.Fatalf("password logins still accepted after the admin switched them off: %s", last)
	}
	expectError(t, last, http.StatusForbidden, "METHOD_DISABLED")
	r = root.Get("/auth/admin/methods", api...)
	if !regexp.MustCompile(`\{"method":"password","enabled":false\}`).Match(r.Body) {
		t.Errorf("methods while password is off: %s", r)
	}
	expectStatus(t, root.Get("/app", api...), http.StatusOK) // signed-in users stay signed in
	expectStatus(t, adminCall(t, root, http.MethodPut, "/auth/admin/methods/password", map[string]bool{"enabled": true}), http.StatusOK)
	if ok, _ := harness.Eventually(switchWithin, 100*time.Millisecond, func() bool {
		return g.client().PostJSON("/auth/login", creds).StatusCode == http.StatusOK
	}); !ok {
		t.Fatal("password logins still refused after the admin switched them on")
	}

	// The trail: intact, and every action names the admin as actor.
	out, errOut, code := g.cli("", "auth", "audit", "verify", "--config", cfg)
	if code != 0 || !strings.HasPrefix(out, "ok: ") {
		t.Fatalf("audit verify: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = g.cli("", "auth", "audit", "tail", "-n", "200", "--config", cfg)
	if code != 0 {
		t.Fatalf("audit tail: exit %d\n%s%s", code, out, errOut)
	}
	actor := "actor=" + ids["root@example.test"]
	var byAdmin []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, actor) {
			f := strings.Fields(l)
			byAdmin = append(byAdmin, f[2]+" "+strings.TrimPrefix(fieldOf(l, "email"), "email="))
		}
	}
	want := []string{
		"user.disabled alice@example.test", "user.enabled alice@example.test",
		"mfa.reset carol@example.test", "unlocked dave@example.test", "user.deleted erin@example.test",
		"auth_method.disabled ", "auth_method.enabled ",
	}
	if strings.Join(byAdmin, "\n") != strings.Join(want, "\n") {
		t.Errorf("records with %s:\n%s\nwant:\n%s\nfull tail:\n%s", actor, strings.Join(byAdmin, "\n"), strings.Join(want, "\n"), out)
	}
	if strings.Contains(out, "actor="+ids["ops@example.test"]) || strings.Contains(out, "actor="+ids["alice@example.test"]) {
		t.Errorf("refused admin calls were recorded as actions:\n%s", out)
	}
	// --user of the admin selects what they did as well as what happened
	// to their own account.
	out, _, _ = g.cli("", "auth", "audit", "tail", "--user", "root@example.test", "-n", "200", "--config", cfg)
	for _, w := range []string{"user.deleted email=erin@example.test", "auth_method.disabled " + actor, "mfa.enabled email=root@example.test"} {
		if !strings.Contains(out, w) {
			t.Errorf("tail --user root@example.test lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "login.succeeded email=alice@") {
		t.Errorf("tail --user root@example.test shows alice's own logins:\n%s", out)
	}
}

// fieldOf returns the key=value field of a tail line ("" if absent).
func fieldOf(line, key string) string {
	for _, f := range strings.Fields(line) {
		if strings.HasPrefix(f, key+"=") {
			return f
		}
	}
	return ""
}
