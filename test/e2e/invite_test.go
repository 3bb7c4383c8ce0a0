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

var inviteLinkRE = regexp.MustCompile(`(https?://[^\s"<>]+)/auth/reset-password\?token=([A-Za-z0-9_-]{43})`)

// inviteMail waits for the n-th invitation to email and returns the
// link's site URL and token.
func inviteMail(t *testing.T, mp *harness.Mailpit, email string, n int) (site, token string) {
	t.Helper()
	var mail *harness.Mail
	ok, _ := harness.Eventually(20*time.Second, 100*time.Millisecond, func() bool {
		all, err := mp.MessagesTo(email)
		if err != nil {
			return false
		}
		var got []*harness.Mail
		for _, m := range all {
			if strings.HasPrefix(m.Subject, "You are invited") {
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
		t.Fatalf("no invitation %d to %s", n, email)
	}
	m := inviteLinkRE.FindStringSubmatch(mail.Text)
	if m == nil {
		t.Fatalf("no link in:\n%s", mail.Text)
	}
	harness.Sensitive(m[2])
	return m[1], m[2]
}

// TestInvitation (issue 11 item 4) through the binary: `user invite`
// creates an invited account that cannot sign in and mails a link to the
// portal the config serves; inviting again replaces the link; `user list`
// shows the account as invited; the link sets the password on the reset
// page (a scanner's GET first changes nothing) and the account signs in.
func TestInvitation(t *testing.T) {
	t.Parallel()
	mp := harness.StartMailpit(t)
	g := newGateway(t, func(c *harness.GatewayConfig) {
		c.AppOptions = append(c.AppOptions, mp.EmailOption())
		c.LogFields = append(c.LogFields, resetTokenLogFilter)
	})
	g.start()
	const email = "ivy@example.test"
	invite := func() string {
		out, errOut, code := g.cli("", "auth", "user", "invite", "--config", g.cfgPath, "--email", email, "--name", "Ivy", "--group", "staff")
		if code != 0 {
			t.Fatalf("user invite: exit %d\n%s%s", code, out, errOut)
		}
		return out
	}
	invite()
	site, first := inviteMail(t, mp, email, 1)
	if site != g.url() {
		t.Errorf("the link points at %s, want %s", site, g.url())
	}
	if out := invite(); !strings.Contains(out, "invited again") {
		t.Errorf("second invite: %q", out)
	}
	_, second := inviteMail(t, mp, email, 2)
	out, _, _ := g.cli("", "auth", "user", "list", "--config", g.cfgPath)
	if !regexp.MustCompile(`(?m)^ivy@example\.test\s+Ivy\s+staff\s+invited\s`).MatchString(out) {
		t.Errorf("user list:\n%s", out)
	}
	pw := newPassword()
	expectError(t, g.client().PostJSON("/auth/login", map[string]string{"email": email, "password": pw}), http.StatusUnauthorized, "INVALID_CREDENTIALS")
	expectError(t, g.client().PostJSON("/auth/reset-password", map[string]string{"token": first, "new_password": pw}), http.StatusBadRequest, "RESET_TOKEN_INVALID")
	if r := g.client().Get("/auth/reset-password?token="+second, browser...); r.StatusCode != http.StatusOK {
		t.Fatalf("reset page with the invitation: %s", r)
	}
	r := g.client().PostForm("/auth/reset-password", url.Values{"token": {second}, "new_password": {pw}, "confirm": {pw}}, browser...)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("accept: %s", r)
	}
	c := g.client()
	c.Login(email, pw)
	expectStatus(t, c.Get("/app", api...), http.StatusOK)
	harness.AssertNoLeaks(t, "gateway log", g.caddy.Logs())
}
