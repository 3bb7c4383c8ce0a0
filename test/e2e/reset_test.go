package e2e

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/caddyauth/gateway/test/harness"
)

// resetTokenLogFilter is the access-log filter docs/configuration.md
// documents: the reset link carries its token in the query.
const resetTokenLogFilter = "request>uri query {\n\t\t\t\t\tdelete token\n\t\t\t\t}"

var resetLinkRE = regexp.MustCompile(`https?://[^\s"<>]+/auth/reset-password\?token=([A-Za-z0-9_-]{43})`)

// resetMail waits for the n-th "Reset your password" mail to email and
// returns its link (path and query) and code, registered with the leak
// scan.
func resetMail(t *testing.T, mp *harness.Mailpit, email string, n int) (path, code string) {
	t.Helper()
	var mail *harness.Mail
	ok, _ := harness.Eventually(20*time.Second, 100*time.Millisecond, func() bool {
		all, err := mp.MessagesTo(email)
		if err != nil {
			return false
		}
		var resets []*harness.Mail
		for _, m := range all {
			if m.Subject == "Reset your password" {
				resets = append(resets, m)
			}
		}
		if len(resets) < n {
			return false
		}
		mail = resets[0] // newest first
		return true
	})
	if !ok {
		t.Fatalf("no reset mail %d to %s within 20s\nmailpit logs:\n%s", n, email, mp.Logs())
	}
	m := resetLinkRE.FindStringSubmatch(mail.Text)
	if m == nil || !strings.Contains(mail.HTML, m[1]) {
		t.Fatalf("no reset link in the mail:\n%s", mail.Text)
	}
	harness.Sensitive(m[1])
	code = mail.Code()
	if len(code) != 6 {
		t.Fatalf("no 6-digit code in the mail:\n%s", mail.Text)
	}
	harness.SensitiveCode(code)
	u, err := url.Parse(m[0])
	if err != nil {
		t.Fatal(err)
	}
	return u.RequestURI(), code
}

// TestPasswordReset (issue 11 item 1) through the binary, mailpit and
// Redis: forgot-password answers the same for a known and an unknown
// address; the mail's link opened by a scanner (GET, twice) stays usable;
// the form post with it sets the password; the other browser's session is
// refused within a second; the old password fails, the new one meets the
// TOTP challenge; the used link is refused; the audit trail has the
// request and the reset; no token or code reaches the log.
func TestPasswordReset(t *testing.T) {
	t.Parallel()
	mp := harness.StartMailpit(t)
	g := newGateway(t, func(c *harness.GatewayConfig) {
		c.SessionCache = "" // the default 5s: only pub/sub makes the revocation felt at once
		c.AppOptions = append(c.AppOptions, mp.EmailOption())
		// The documented access-log filter: the link's token is in the URL.
		c.LogFields = append(c.LogFields, resetTokenLogFilter)
	})
	const email = "rita@example.test"
	oldPW, newPW := newPassword(), newPassword()
	g.addUser(email, "Rita Reset", oldPW)
	g.start()

	a, other := g.client(), g.client()
	a.Login(email, oldPW)
	r := a.PostJSON("/auth/mfa/totp/setup", map[string]string{"name": "phone"})
	expectStatus(t, r, http.StatusOK)
	secret, _ := r.JSON()["secret"].(string)
	harness.Sensitive(secret)
	enrolAt := time.Now()
	r = a.PostJSON("/auth/mfa/totp/verify", map[string]string{"code": oathtool(t, secret, enrolAt)})
	expectStatus(t, r, http.StatusOK)
	recovery := stringsOf(r.JSON()["recovery_codes"])
	harness.Sensitive(recovery...)
	other.Login(email, oldPW)
	otherTok := other.Cookie(cookieName)
	harness.Sensitive(otherTok)
	// A recovery code here keeps the next TOTP step for after the reset.
	expectStatus(t, other.PostJSON("/auth/mfa/challenge", map[string]any{"method": "recovery", "code": recovery[0]}), http.StatusOK)
	expectStatus(t, other.Get("/app", api...), http.StatusOK) // now cached

	// The login page links the reset page, which works without scripts.
	if r := g.client().Get("/auth/login", browser...); !strings.Contains(string(r.Body), `href="/auth/forgot-password"`) {
		t.Fatalf("the login page does not link forgot-password: %s", r)
	}
	if r := g.client().Get("/auth/forgot-password", browser...); r.StatusCode != http.StatusOK || !strings.Contains(string(r.Body), `action="/auth/forgot-password"`) {
		t.Fatalf("forgot page: %s", r)
	}

	var bodies []string
	for _, e := range []string{"nobody@example.test", email} {
		r := g.client().PostJSON("/auth/forgot-password", map[string]string{"email": e})
		expectStatus(t, r, http.StatusAccepted)
		bodies = append(bodies, string(r.Body))
	}
	if bodies[0] != bodies[1] || !strings.Contains(bodies[0], `"sent":true`) {
		t.Fatalf("answers differ: %q vs %q", bodies[0], bodies[1])
	}
	link, _ := resetMail(t, mp, email, 1)

	t.Run("a scanner's GET consumes nothing", func(t *testing.T) {
		for range 2 {
			r := g.client().Get(link, browser...)
			if r.StatusCode != http.StatusOK || !strings.Contains(string(r.Body), `name="new_password"`) {
				t.Fatalf("reset page: %s", r)
			}
		}
	})

	tok := strings.TrimPrefix(link, "/auth/reset-password?token=")
	c := g.client()
	r = c.PostForm("/auth/reset-password", url.Values{"token": {tok}, "new_password": {newPW}, "confirm": {newPW}}, browser...)
	if r.StatusCode != http.StatusOK || !strings.Contains(string(r.Body), "Password changed") {
		t.Fatalf("reset: %s", r)
	}
	if c.Cookie(cookieName) != "" {
		t.Error("the reset signed the browser in")
	}

	t.Run("the other browser's session is refused at once", func(t *testing.T) {
		_, took := waitStatus(t, other, "/app", http.StatusUnauthorized, time.Second, api...)
		t.Logf("refused %s after the reset (session cache 5s)", took.Round(time.Millisecond))
	})
	t.Run("the used link is refused", func(t *testing.T) {
		expectError(t, g.client().PostJSON("/auth/reset-password", map[string]string{"token": tok, "new_password": newPassword()}),
			http.StatusBadRequest, "RESET_TOKEN_INVALID")
	})
	t.Run("the old password fails, the new one meets the TOTP challenge", func(t *testing.T) {
		expectError(t, g.client().PostJSON("/auth/login", map[string]string{"email": email, "password": oldPW}),
			http.StatusUnauthorized, "INVALID_CREDENTIALS")
		n := g.client()
		ans := n.Login(email, newPW).JSON()
		if ans["mfa_required"] != true {
			t.Fatalf("login after reset skipped the challenge: %v", ans)
		}
		expectError(t, n.Get("/app", api...), http.StatusUnauthorized, "MFA_REQUIRED")
		code := oathtool(t, secret, enrolAt.Add(30*time.Second))
		expectStatus(t, n.PostJSON("/auth/mfa/challenge", map[string]any{"method": "totp", "code": code}), http.StatusOK)
		expectStatus(t, n.Get("/app", api...), http.StatusOK)
	})
	t.Run("five wrong codes end the second request's grant, link included", func(t *testing.T) {
		expectStatus(t, g.client().PostJSON("/auth/forgot-password", map[string]string{"email": email}), http.StatusAccepted)
		link2, code := resetMail(t, mp, email, 2)
		wrong := "000000"
		if code == wrong {
			wrong = "111111"
		}
		for range 5 {
			expectError(t, g.client().PostJSON("/auth/reset-password", map[string]string{"email": email, "code": wrong, "new_password": newPassword()}),
				http.StatusBadRequest, "RESET_TOKEN_INVALID")
		}
		// The right code now: refused, as dead (400) or by the identifier's
		// bucket (5 checks a minute, 429), whichever the bucket's clock
		// says; either way the grant is gone: its link, sent with the
		// code, is dead.
		r := g.client().PostJSON("/auth/reset-password", map[string]string{"email": email, "code": code, "new_password": newPassword()})
		if c := r.Code(); r.StatusCode == http.StatusOK || c != "RESET_TOKEN_INVALID" && c != "RATE_LIMITED" {
			t.Fatalf("right code after five wrong ones: %s", r)
		}
		tok2 := strings.TrimPrefix(link2, "/auth/reset-password?token=")
		expectError(t, g.client().PostJSON("/auth/reset-password", map[string]string{"token": tok2, "new_password": newPassword()}),
			http.StatusBadRequest, "RESET_TOKEN_INVALID")
	})
	t.Run("the audit trail has the request and the reset", func(t *testing.T) {
		out, errOut, code := g.cli("", "auth", "audit", "tail", "--user", email, "-n", "50", "--config", g.cfgPath)
		if code != 0 {
			t.Fatalf("audit tail: exit %d\n%s%s", code, out, errOut)
		}
		for _, ev := range []string{"password.reset_requested", "password.reset", "password.reset_failed"} {
			if !strings.Contains(out, " "+ev+" ") {
				t.Errorf("no %s in:\n%s", ev, out)
			}
		}
		harness.AssertNoLeaks(t, "audit tail", out)
	})
	harness.AssertNoLeaks(t, "gateway log", g.caddy.Logs())
}
