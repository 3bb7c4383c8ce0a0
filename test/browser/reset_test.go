package browser

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/caddyauth/gateway/test/harness"
)

var resetLinkRE = regexp.MustCompile(`https?://[^\s"<>]+/auth/reset-password\?token=[A-Za-z0-9_-]{43}`)

// TestPasswordResetJourney (issue 11): in a real browser under the strict
// CSP and without JavaScript, a user follows "Forgot password?" from the
// login page, asks for a link, opens the link from the mail (mailpit),
// sets a new password and signs in with it; the old one is refused.
func TestPasswordResetJourney(t *testing.T) {
	t.Parallel()
	mp := harness.StartMailpit(t)
	s := newSite(t)
	s.cfg.AppOptions = append(s.cfg.AppOptions, mp.EmailOption())
	// The documented access-log filter: the link carries its token.
	s.cfg.LogFields = append(s.cfg.LogFields, "request>uri query {\n\t\t\t\t\tdelete token\n\t\t\t\t}")
	oldPW, newPW := newPassword(), newPassword()
	const email = "grace@example.test"
	s.addUser(email, "Grace Hopper", oldPW)
	s.start()
	b := newBrowser(t)

	b.open(s.url("/auth/login"))
	resp := b.click("a[href='/auth/forgot-password']")
	p := b.page()
	assertPortalPage(t, "forgot-password page", resp, p)
	if p.H1 != "Reset your password" || len(p.Forms) != 1 || p.Forms[0].Action != "/auth/forgot-password" {
		t.Fatalf("forgot page: h1 %q forms %+v", p.H1, p.Forms)
	}
	b.screenshot("forgot-password.png")
	b.typeInto("#email", email)
	resp = b.click("button[type=submit]")
	p = b.page()
	assertPortalPage(t, "sent page", resp, p)
	if p.H1 != "Check your messages" || resp.Status != 202 {
		t.Fatalf("after sending: h1 %q status %d", p.H1, resp.Status)
	}

	var link string
	ok, _ := harness.Eventually(20*time.Second, 100*time.Millisecond, func() bool {
		all, err := mp.MessagesTo(email)
		if err != nil || len(all) == 0 {
			return false
		}
		link = resetLinkRE.FindString(all[0].Text)
		return link != ""
	})
	if !ok {
		t.Fatal("no reset mail")
	}
	u, _ := url.Parse(link)
	harness.Sensitive(u.Query().Get("token"))
	resp = b.open(s.url(u.RequestURI()))
	p = b.page()
	assertPortalPage(t, "reset page", resp, p)
	if p.H1 != "Choose a new password" || p.input("new_password") == nil || p.input("confirm") == nil {
		t.Fatalf("reset page: h1 %q inputs %+v", p.H1, p.Inputs)
	}
	if f := b.focused(); f != "new_password" {
		t.Errorf("reset page: focus on %q, want the new password", f)
	}
	b.screenshot("reset-password.png")
	b.typeInto("#new_password", newPW)
	b.typeInto("#confirm", newPW)
	resp = b.click("button[type=submit]")
	p = b.page()
	assertPortalPage(t, "reset done page", resp, p)
	if p.H1 != "Password changed" || !strings.Contains(p.Text, "Sign in with the new password") {
		t.Fatalf("after the reset: h1 %q text %q", p.H1, p.Text)
	}
	if c := b.cookies(s.url("/"))[cookieName]; c != nil {
		t.Error("the reset signed the browser in")
	}

	b.click("a[href='/auth/login']")
	b.typeInto("#email", email)
	b.typeInto("#password", oldPW)
	b.click("button[type=submit]")
	if p := b.page(); p.H1 != "Sign in" || p.Alert == "" {
		t.Fatalf("old password: h1 %q alert %q", p.H1, p.Alert)
	}
	b.open(s.url("/auth/login"))
	b.typeInto("#email", email)
	b.typeInto("#password", newPW)
	b.click("button[type=submit]")
	if p := b.page(); p.H1 != "Signed in" {
		t.Fatalf("new password: h1 %q at %s", p.H1, p.URL)
	}
	b.assertCleanConsole()
}
