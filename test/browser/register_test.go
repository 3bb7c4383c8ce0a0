package browser

import (
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/caddyauth/gateway/test/harness"
)

var verifyLinkRE = regexp.MustCompile(`https?://[^\s"<>]+/auth/verify-email\?token=[A-Za-z0-9_-]{43}`)

// TestRegisterJourney (issue 12): in a real browser under the strict CSP
// and without JavaScript, a newcomer follows "Create an account" from the
// login page, signs up, is told to check their mail, signs in and is sent
// to the check-your-mail page by the protected app, opens the link from
// the mail (mailpit), confirms, and reaches the app.
func TestRegisterJourney(t *testing.T) {
	t.Parallel()
	mp := harness.StartMailpit(t)
	s := newSite(t)
	s.cfg.AppOptions = append(s.cfg.AppOptions, mp.EmailOption(), "registration on")
	s.cfg.LogFields = append(s.cfg.LogFields, "request>uri query {\n\t\t\t\t\tdelete token\n\t\t\t\t}")
	s.start()
	b := newBrowser(t)
	const email = "ada@example.test"
	pw := newPassword()

	b.open(s.url("/auth/login"))
	resp := b.click("a[href='/auth/register']")
	p := b.page()
	assertPortalPage(t, "register page", resp, p)
	if p.H1 != "Create an account" || p.input("email") == nil || p.input("password") == nil || len(p.Forms) != 1 || p.Forms[0].Action != "/auth/register" {
		t.Fatalf("register page: h1 %q inputs %+v forms %+v", p.H1, p.Inputs, p.Forms)
	}
	b.screenshot("register.png")
	b.typeInto("#email", email)
	b.typeInto("#name", "Ada Lovelace")
	b.typeInto("#password", pw)
	resp = b.click("button[type=submit]")
	p = b.page()
	assertPortalPage(t, "registered page", resp, p)
	if p.H1 != "Check your mail" || resp.Status != 202 {
		t.Fatalf("after sign-up: h1 %q status %d", p.H1, resp.Status)
	}

	// Signed in but unverified: the app sends the browser to check its mail.
	b.open(s.url("/auth/login"))
	b.typeInto("#email", email)
	b.typeInto("#password", pw)
	b.click("button[type=submit]")
	b.open(s.url("/app"))
	p = b.page()
	if p.H1 != "Check your mail" || p.button("Send a new link") == nil {
		t.Fatalf("unverified at /app: h1 %q at %s", p.H1, p.URL)
	}
	b.screenshot("verify-email.png")

	var link string
	ok, _ := harness.Eventually(20*time.Second, 100*time.Millisecond, func() bool {
		all, err := mp.MessagesTo(email)
		if err != nil || len(all) == 0 {
			return false
		}
		link = verifyLinkRE.FindString(all[len(all)-1].Text)
		return link != ""
	})
	if !ok {
		t.Fatal("no verification mail")
	}
	u, _ := url.Parse(link)
	harness.Sensitive(u.Query().Get("token"))
	resp = b.open(s.url(u.RequestURI()))
	p = b.page()
	assertPortalPage(t, "verify link page", resp, p)
	if p.H1 != "Verify your email address" || p.button("Verify my email address") == nil {
		t.Fatalf("link page: h1 %q", p.H1)
	}
	resp = b.click("button[type=submit]")
	p = b.page()
	assertPortalPage(t, "verified page", resp, p)
	if p.H1 != "Email address verified" {
		t.Fatalf("after verifying: h1 %q text %q", p.H1, p.Text)
	}
	ok, _ = harness.Eventually(5*time.Second, 200*time.Millisecond, func() bool {
		b.open(s.url("/app"))
		return b.location() == s.url("/app") && b.page().H1 != "Check your mail"
	})
	if !ok {
		t.Fatalf("verified user at /app: at %s, h1 %q", b.location(), b.page().H1)
	}
	b.assertCleanConsole()
}
