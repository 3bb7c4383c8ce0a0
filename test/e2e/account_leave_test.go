package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddyauth/gateway/test/harness"
)

// TestAccountLeave: on three gateways sharing PostgreSQL and Redis, a user
// with an authenticator downloads their data on one instance and deletes
// their account on another; every session of theirs, each warm in every
// instance's cache, is refused on all three within the revocation bound,
// the password no longer signs in anywhere, another user is untouched,
// `caddy auth audit verify` still passes with the records about the
// deleted user kept, `caddy auth user show` finds no such user, and the
// owner gets the account_deleted notice by mail.
func TestAccountLeave(t *testing.T) {
	t.Parallel()
	pw, bobPW := newPassword(), newPassword()
	mp := harness.StartMailpit(t)
	c := multi(t, func(cfg *harness.GatewayConfig) {
		cfg.AppOptions = append(cfg.AppOptions, mp.EmailOption())
	}, func(c *harness.Gateways) {
		c.AddUser("alice@example.test", "Alice", pw)
		c.AddUser("bob@example.test", "Bob", bobPW)
	})
	// Two password sessions on B and C, then one on A that enrols TOTP.
	toks := make([]string, 3)
	var a *harness.Client
	for _, i := range []int{1, 2, 0} {
		a = c.Client(i)
		a.Login("alice@example.test", pw)
		toks[i] = a.Cookie(cookieName)
	}
	r := a.PostJSON("/auth/mfa/totp/setup", map[string]string{"name": "phone"})
	expectStatus(t, r, http.StatusOK)
	secret, _ := r.JSON()["secret"].(string)
	harness.Sensitive(secret)
	enrolAt := time.Now()
	r = a.PostJSON("/auth/mfa/totp/verify", map[string]string{"code": oathtool(t, secret, enrolAt)})
	expectStatus(t, r, http.StatusOK)
	harness.Sensitive(stringsOf(r.JSON()["recovery_codes"])...)
	toks[0] = a.Cookie(cookieName) // rotated at MFA level
	bob := c.Client(0)
	bob.Login("bob@example.test", bobPW)
	bobTok := bob.Cookie(cookieName)
	// Every session is warm in every instance's cache.
	for i := range 3 {
		for _, tok := range append([]string{bobTok}, toks...) {
			expectStatus(t, c.Client(i).Get("/app", hdr(api, withCookie(tok))...), http.StatusOK)
		}
	}

	// Export on B with A's session.
	r = c.Client(1).Get("/auth/account/export", hdr(api, withCookie(toks[0]))...)
	expectStatus(t, r, http.StatusOK)
	if cd := r.Header.Get("Content-Disposition"); cd != `attachment; filename="account.json"` {
		t.Errorf("export Content-Disposition = %q", cd)
	}
	var ex struct {
		Profile struct {
			Email       string `json:"email"`
			HasPassword bool   `json:"has_password"`
		} `json:"profile"`
		SecondFactors struct {
			TOTP              []map[string]any `json:"totp"`
			RecoveryCodesLeft int              `json:"recovery_codes_left"`
		} `json:"second_factors"`
		Sessions []map[string]any `json:"sessions"`
		Audit    []map[string]any `json:"audit"`
	}
	if err := json.Unmarshal(r.Body, &ex); err != nil {
		t.Fatalf("export: %v\n%s", err, r.Body)
	}
	if ex.Profile.Email != "alice@example.test" || !ex.Profile.HasPassword || len(ex.SecondFactors.TOTP) != 1 || ex.SecondFactors.RecoveryCodesLeft != 10 || len(ex.Sessions) != 3 || len(ex.Audit) < 4 {
		t.Errorf("export = %s", r.Body)
	}
	for name, v := range map[string]string{"password": pw, "totp secret": secret, "session token": toks[0], "hash": "$argon2id", "bob": "bob@example.test"} {
		if strings.Contains(string(r.Body), v) {
			t.Errorf("the export contains the %s", name)
		}
	}

	// Delete on C, with the password and a fresh code.
	del := c.Client(2)
	expectError(t, del.PostJSON("/auth/account/delete", map[string]string{"current_password": pw}, withCookie(toks[0])...), http.StatusUnauthorized, "MFA_REQUIRED")
	code := oathtool(t, secret, enrolAt.Add(30*time.Second))
	r = del.PostJSON("/auth/account/delete", map[string]string{"current_password": pw, "code": code}, withCookie(toks[0])...)
	expectStatus(t, r, http.StatusOK)
	if r.JSON()["deleted"] != true {
		t.Fatalf("delete: %s", r)
	}
	if sc := r.SetCookie(cookieName); !strings.Contains(sc, "Max-Age=0") {
		t.Errorf("delete did not clear the cookie: %q", sc)
	}
	for i := range 3 {
		for j, tok := range toks {
			_, took := waitStatus(t, c.Client(i), "/app", http.StatusUnauthorized, revokeWithin, hdr(api, withCookie(tok))...)
			t.Logf("session %d refused on instance %d %s after the delete", j, i, took.Round(time.Millisecond))
		}
		expectError(t, c.Client(i).PostJSON("/auth/login", map[string]string{"email": "alice@example.test", "password": pw}), http.StatusUnauthorized, "INVALID_CREDENTIALS")
		expectStatus(t, c.Client(i).Get("/app", hdr(api, withCookie(bobTok))...), http.StatusOK)
	}

	// The owner is told, though the user row (and its queued mail) is gone.
	ok, _ := harness.Eventually(15*time.Second, 100*time.Millisecond, func() bool {
		mails, _ := mp.MessagesTo("alice@example.test")
		for _, m := range mails {
			if m.Subject == "Your account was deleted" {
				return true
			}
		}
		return false
	})
	if !ok {
		t.Error("no account_deleted notice reached mailpit")
	}

	out, errOut, code2 := c.CLI("", "auth", "audit", "verify")
	if code2 != 0 || !strings.HasPrefix(out, "ok: ") {
		t.Fatalf("audit verify after the delete: exit %d\n%s%s", code2, out, errOut)
	}
	t.Logf("audit verify: %s", strings.TrimSpace(out))
	out, errOut, code2 = c.CLI("", "auth", "audit", "tail", "--user", "alice@example.test", "-n", "100")
	if code2 != 0 || !strings.Contains(out, "user.deleted") || !strings.Contains(out, "actor=self") || !strings.Contains(out, "login.succeeded") {
		t.Errorf("audit tail --user of the deleted user: exit %d\n%s%s", code2, out, errOut)
	}
	_, errOut, code2 = c.CLI("", "auth", "user", "show", "alice@example.test")
	if code2 == 0 || !strings.Contains(errOut, "no user") {
		t.Errorf("user show of the deleted user: exit %d %s", code2, errOut)
	}
}
