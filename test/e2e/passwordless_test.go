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

var magicLinkRE = regexp.MustCompile(`https?://[^\s"<>]+/auth/passwordless/verify\?token=([A-Za-z0-9_-]{43})`)

// magicMail waits for the n-th sign-in mail to email and returns the
// link's token and the code, registered with the leak scan.
func magicMail(t *testing.T, mp *harness.Mailpit, email string, n int) (token, code string) {
	t.Helper()
	var mail *harness.Mail
	ok, _ := harness.Eventually(20*time.Second, 100*time.Millisecond, func() bool {
		all, err := mp.MessagesTo(email)
		if err != nil {
			return false
		}
		var got []*harness.Mail
		for _, m := range all {
			if strings.HasPrefix(m.Subject, "Your sign-in") {
				got = append(got, m)
			}
		}
		if len(got) < n {
			return false
		}
		mail = got[0]
		return true
	})
	if !ok {
		t.Fatalf("no sign-in mail %d to %s", n, email)
	}
	m := magicLinkRE.FindStringSubmatch(mail.Text)
	if m == nil {
		t.Fatalf("no magic link in:\n%s", mail.Text)
	}
	harness.Sensitive(m[1])
	code = mail.Code()
	harness.SensitiveCode(code)
	return m[1], code
}

// TestPasswordless (issue 11 item 3) through the binary, mailpit and
// Redis: the login page offers the link; send answers the same for a
// known and an unknown address; a scanner's GET of the link leaves it
// usable; the button's post signs in and opens the app; the link works
// once; the code signs in too, and a user with TOTP meets the challenge.
func TestPasswordless(t *testing.T) {
	t.Parallel()
	mp := harness.StartMailpit(t)
	g := newGateway(t, func(c *harness.GatewayConfig) {
		c.AppOptions = append(c.AppOptions, mp.EmailOption(), "passwordless email")
		c.LogFields = append(c.LogFields, resetTokenLogFilter)
	})
	const email = "pia@example.test"
	pw := newPassword()
	g.addUser(email, "Pia", pw)
	g.start()

	if r := g.client().Get("/auth/login", browser...); !strings.Contains(string(r.Body), "Email me a sign-in link") {
		t.Fatalf("login page: %s", r)
	}
	var bodies []string
	for _, e := range []string{"nobody@example.test", email} {
		r := g.client().PostJSON("/auth/passwordless/send", map[string]string{"email": e})
		expectStatus(t, r, http.StatusAccepted)
		bodies = append(bodies, string(r.Body))
	}
	if bodies[0] != bodies[1] {
		t.Fatalf("answers differ: %q vs %q", bodies[0], bodies[1])
	}
	tok, _ := magicMail(t, mp, email, 1)
	for range 2 {
		if r := g.client().Get("/auth/passwordless/verify?token="+tok, browser...); r.StatusCode != http.StatusOK || !strings.Contains(string(r.Body), `value="`+tok+`"`) {
			t.Fatalf("scanner GET: %s", r)
		}
	}
	c := g.client()
	r := c.PostForm("/auth/passwordless/verify", url.Values{"token": {tok}}, browser...)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("verify: %s", r)
	}
	expectStatus(t, c.Get("/app", api...), http.StatusOK)
	expectError(t, g.client().PostJSON("/auth/passwordless/verify", map[string]string{"token": tok}), http.StatusUnauthorized, "INVALID_CREDENTIALS")

	// Enrol TOTP; the code path now leads to the challenge.
	setup := c.PostJSON("/auth/mfa/totp/setup", map[string]string{"name": "phone"})
	expectStatus(t, setup, http.StatusOK)
	secret, _ := setup.JSON()["secret"].(string)
	harness.Sensitive(secret)
	at := time.Now()
	expectStatus(t, c.PostJSON("/auth/mfa/totp/verify", map[string]string{"code": oathtool(t, secret, at)}), http.StatusOK)
	expectStatus(t, g.client().PostJSON("/auth/passwordless/send", map[string]string{"email": email}), http.StatusAccepted)
	_, code := magicMail(t, mp, email, 2)
	n := g.client()
	ans := n.PostJSON("/auth/passwordless/verify", map[string]string{"email": email, "code": code})
	expectStatus(t, ans, http.StatusOK)
	if ans.JSON()["mfa_required"] != true {
		t.Fatalf("passwordless skipped the second factor: %s", ans)
	}
	expectError(t, n.Get("/app", api...), http.StatusUnauthorized, "MFA_REQUIRED")
	expectStatus(t, n.PostJSON("/auth/mfa/challenge", map[string]any{"method": "totp", "code": oathtool(t, secret, at.Add(30*time.Second))}), http.StatusOK)
	expectStatus(t, n.Get("/app", api...), http.StatusOK)

	out, errOut, rc := g.cli("", "auth", "audit", "tail", "--user", email, "-n", "50", "--config", g.cfgPath)
	if rc != 0 || !strings.Contains(out, "passwordless.requested") || !strings.Contains(out, "method=passwordless") {
		t.Errorf("audit tail (exit %d):\n%s%s", rc, out, errOut)
	}
	harness.AssertNoLeaks(t, "audit tail", out)
	harness.AssertNoLeaks(t, "gateway log", g.caddy.Logs())
}
