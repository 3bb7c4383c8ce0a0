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

var verifyLinkRE = regexp.MustCompile(`https?://[^\s"<>]+/auth/verify-email\?token=([A-Za-z0-9_-]{43})`)

// mailWithSubject waits for a mail to `to` whose subject is subject.
func mailWithSubject(t *testing.T, mp *harness.Mailpit, to, subject string) *harness.Mail {
	t.Helper()
	var mail *harness.Mail
	ok, _ := harness.Eventually(20*time.Second, 100*time.Millisecond, func() bool {
		all, err := mp.MessagesTo(to)
		if err != nil {
			return false
		}
		for _, m := range all {
			if m.Subject == subject {
				mail = m
				return true
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("no mail %q to %s within 20s\nmailpit logs:\n%s", subject, to, mp.Logs())
	}
	return mail
}

// TestRegistration (issue 12 items 1, 2) through the binary and mailpit:
// the login page links sign-up; a new address and a taken one get the same
// 202; the taken one's owner gets an account_exists mail, the new one an
// email_verification mail with a link and a code; the pending account
// signs in but the protected app answers 403 EMAIL_NOT_VERIFIED (a browser
// goes to the check-your-mail page); a scanner's GET of the link spends
// nothing; the POST verifies; the app then admits the user; domains and
// disposable rules refuse; with approval the account waits for `caddy auth
// user approve`; the audit trail verifies and no token or code is logged.
func TestRegistration(t *testing.T) {
	t.Parallel()
	mp := harness.StartMailpit(t)
	g := newGateway(t, func(c *harness.GatewayConfig) {
		c.AppOptions = append(c.AppOptions, mp.EmailOption(), "registration on {\n\t\t\tdomains corp.test mailinator.com\n\t\t}")
		c.LogFields = append(c.LogFields, resetTokenLogFilter)
	})
	oldPW := newPassword()
	g.addUser("taken@corp.test", "Taken", oldPW)
	g.start()

	if r := g.client().Get("/auth/login", browser...); !strings.Contains(string(r.Body), `href="/auth/register"`) {
		t.Fatalf("the login page does not link sign-up: %s", r)
	}
	if r := g.client().Get("/auth/register", browser...); r.StatusCode != http.StatusOK || !strings.Contains(string(r.Body), `action="/auth/register"`) {
		t.Fatalf("register page: %s", r)
	}
	pw := newPassword()
	var bodies []string
	for _, email := range []string{"newbie@corp.test", "taken@corp.test"} {
		r := g.client().PostJSON("/auth/register", map[string]string{"email": email, "password": pw, "name": "New Bie"})
		expectStatus(t, r, http.StatusAccepted)
		bodies = append(bodies, string(r.Body))
	}
	if bodies[0] != bodies[1] || !strings.Contains(bodies[0], `"verification_sent":true`) {
		t.Fatalf("answers differ: %q, %q", bodies[0], bodies[1])
	}
	exists := mailWithSubject(t, mp, "taken@corp.test", "Someone tried to sign up with your email address")
	if strings.Contains(exists.Text, "verify-email") {
		t.Errorf("account_exists mail carries a verification link:\n%s", exists.Text)
	}
	// The taken account is unchanged: its old password still signs in.
	g.client().Login("taken@corp.test", oldPW)

	mail := mailWithSubject(t, mp, "newbie@corp.test", "Your email verification code")
	m := verifyLinkRE.FindStringSubmatch(mail.Text)
	if m == nil {
		t.Fatalf("no verification link:\n%s", mail.Text)
	}
	harness.Sensitive(m[1])
	harness.SensitiveCode(mail.Code())
	link, _ := url.Parse(m[0])

	user := g.client()
	user.Login("newbie@corp.test", pw)
	expectError(t, user.Get("/app", api...), http.StatusForbidden, "EMAIL_NOT_VERIFIED")
	if r := user.Get("/app", browser...); r.StatusCode != http.StatusFound || r.Header.Get("Location") != "/auth/verify-email" {
		t.Fatalf("pending browser at /app: %s", r)
	}
	page := user.Get("/auth/verify-email", browser...)
	if !strings.Contains(string(page.Body), `action="/auth/verify-email/resend"`) {
		t.Fatalf("check-your-mail page has no resend button: %s", page)
	}
	// A scanner opens the link twice: nothing spent.
	for range 2 {
		r := g.client().Get(link.RequestURI(), browser...)
		if r.StatusCode != http.StatusOK || !strings.Contains(string(r.Body), `name="token"`) {
			t.Fatalf("link page: %s", r)
		}
	}
	r := g.client().PostForm("/auth/verify-email", url.Values{"token": {m[1]}}, browser...)
	if r.StatusCode != http.StatusOK || !strings.Contains(string(r.Body), "verified") {
		t.Fatalf("verify: %s", r)
	}
	mailWithSubject(t, mp, "newbie@corp.test", "Your email address is verified")
	waitStatus(t, user, "/app", http.StatusOK, 3*time.Second, api...)
	expectError(t, g.client().PostJSON("/auth/verify-email", map[string]string{"token": m[1]}), http.StatusBadRequest, "VERIFICATION_INVALID")

	// Domain rules: another domain, and a disposable one listed in domains
	// (block is the default: still refused).
	for _, e := range []string{"x@elsewhere.test", "x@mailinator.com"} {
		expectError(t, g.client().PostJSON("/auth/register", map[string]string{"email": e, "password": pw}), http.StatusForbidden, "EMAIL_DOMAIN_NOT_ALLOWED")
	}
	// The runtime switch closes sign-up.
	if out, errOut, code := g.cli("", "auth", "methods", "disable", "registration", "--config", g.caddy.ConfigPath()); code != 0 {
		t.Fatalf("methods disable registration: exit %d\n%s%s", code, out, errOut)
	}
	var last *harness.Response
	if ok, _ := harness.Eventually(switchWithin, 100*time.Millisecond, func() bool {
		last = g.client().PostJSON("/auth/register", map[string]string{"email": "late@corp.test", "password": pw})
		return last.StatusCode == http.StatusForbidden
	}); !ok {
		t.Fatalf("registration still open after the switch: %s", last)
	}
	expectError(t, last, http.StatusForbidden, "REGISTRATION_DISABLED")
	if out, errOut, code := g.cli("", "auth", "audit", "verify", "--config", g.caddy.ConfigPath()); code != 0 {
		t.Fatalf("audit verify: exit %d\n%s%s", code, out, errOut)
	}
}

// TestRegistrationApproval: with `approval`, a verified account waits
// (403 APPROVAL_PENDING) until `caddy auth user approve`.
func TestRegistrationApproval(t *testing.T) {
	t.Parallel()
	mp := harness.StartMailpit(t)
	g := newGateway(t, func(c *harness.GatewayConfig) {
		c.AppOptions = append(c.AppOptions, mp.EmailOption(), "registration on {\n\t\t\tapproval\n\t\t}")
		c.LogFields = append(c.LogFields, resetTokenLogFilter)
	})
	g.start()
	pw := newPassword()
	expectStatus(t, g.client().PostJSON("/auth/register", map[string]string{"email": "wait@corp.test", "password": pw}), http.StatusAccepted)
	mail := mailWithSubject(t, mp, "wait@corp.test", "Your email verification code")
	code := mail.Code()
	harness.SensitiveCode(code)
	if m := verifyLinkRE.FindStringSubmatch(mail.Text); m != nil {
		harness.Sensitive(m[1])
	}
	cfg := g.caddy.ConfigPath()
	if _, errOut, exit := g.cli("", "auth", "user", "approve", "wait@corp.test", "--config", cfg); exit == 0 || !strings.Contains(errOut, "not verified") {
		t.Fatalf("approve before verification: exit %d %s", exit, errOut)
	}
	r := g.client().PostJSON("/auth/verify-email", map[string]string{"email": "wait@corp.test", "code": code})
	expectStatus(t, r, http.StatusOK)
	if r.JSON()["approval_pending"] != true {
		t.Fatalf("verify answer: %s", r)
	}
	user := g.client()
	user.Login("wait@corp.test", pw)
	expectError(t, user.Get("/app", api...), http.StatusForbidden, "APPROVAL_PENDING")
	if out, errOut, exit := g.cli("", "auth", "user", "approve", "wait@corp.test", "--config", cfg); exit != 0 || !strings.Contains(out, "approved") {
		t.Fatalf("approve: exit %d\n%s%s", exit, out, errOut)
	}
	waitStatus(t, user, "/app", http.StatusOK, 3*time.Second, api...)
}

// TestChangeEmailEndToEnd (issue 12 item 4) through the binary and
// mailpit: the old address is told at once; the account moves only when
// the new address's link is posted; the user then signs in with the new
// address and not the old one.
func TestChangeEmailEndToEnd(t *testing.T) {
	t.Parallel()
	mp := harness.StartMailpit(t)
	g := newGateway(t, func(c *harness.GatewayConfig) {
		c.AppOptions = append(c.AppOptions, mp.EmailOption())
		c.LogFields = append(c.LogFields, resetTokenLogFilter)
	})
	pw := newPassword()
	g.addUser("old@corp.test", "Mover", pw)
	g.start()
	c := g.client()
	c.Login("old@corp.test", pw)
	expectError(t, c.PostJSON("/auth/change-email", map[string]string{"new_email": "new@corp.test", "current_password": pw + "x"}), http.StatusUnauthorized, "INVALID_CREDENTIALS")
	expectStatus(t, c.PostJSON("/auth/change-email", map[string]string{"new_email": "new@corp.test", "current_password": pw}), http.StatusAccepted)
	notice := mailWithSubject(t, mp, "old@corp.test", "Your email address is being changed")
	if strings.Contains(notice.Text, "verify-email") {
		t.Fatalf("the old address got the new one's link:\n%s", notice.Text)
	}
	mail := mailWithSubject(t, mp, "new@corp.test", "Your email verification code")
	m := verifyLinkRE.FindStringSubmatch(mail.Text)
	if m == nil {
		t.Fatalf("no link:\n%s", mail.Text)
	}
	harness.Sensitive(m[1])
	harness.SensitiveCode(mail.Code())
	g.client().Login("old@corp.test", pw) // not moved yet
	expectStatus(t, g.client().PostJSON("/auth/verify-email", map[string]string{"token": m[1]}), http.StatusOK)
	g.client().Login("new@corp.test", pw)
	expectError(t, g.client().PostJSON("/auth/login", map[string]string{"email": "old@corp.test", "password": pw}), http.StatusUnauthorized, "INVALID_CREDENTIALS")
	waitStatus(t, c, "/app", http.StatusOK, 3*time.Second, api...)
	if r := c.Get("/app", api...); r.Echo().Headers["Remote-Email"][0] != "new@corp.test" {
		t.Errorf("upstream Remote-Email after the change: %v", r.Echo().Headers["Remote-Email"])
	}
}
