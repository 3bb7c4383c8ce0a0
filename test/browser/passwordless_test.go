package browser

import (
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/caddyauth/gateway/test/harness"
)

var magicLinkRE = regexp.MustCompile(`https?://[^\s"<>]+/auth/passwordless/verify\?token=[A-Za-z0-9_-]{43}`)

// TestMagicLinkJourney (issue 11 item 3): in chromium without JavaScript,
// the login page's "Email me a sign-in link" sends a link; the link opens
// a page with one button (nothing is spent by opening it); the button
// signs the browser in.
func TestMagicLinkJourney(t *testing.T) {
	t.Parallel()
	mp := harness.StartMailpit(t)
	s := newSite(t)
	s.cfg.AppOptions = append(s.cfg.AppOptions, mp.EmailOption(), "passwordless email")
	s.cfg.LogFields = append(s.cfg.LogFields, "request>uri query {\n\t\t\t\t\tdelete token\n\t\t\t\t}")
	const email = "ada@example.test"
	s.addUser(email, "Ada Lovelace", newPassword())
	s.start()
	b := newBrowser(t)

	resp := b.open(s.url("/auth/login"))
	p := b.page()
	assertPortalPage(t, "login page", resp, p)
	if btn := p.button("Email me a sign-in link"); btn == nil || btn.Type != "submit" {
		t.Fatalf("login page buttons %+v", p.Buttons)
	}
	b.typeInto("#pl-email", email)
	resp = b.click("form.passwordless button[type=submit]")
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
		link = magicLinkRE.FindString(all[0].Text)
		return link != ""
	})
	if !ok {
		t.Fatal("no sign-in mail")
	}
	u, _ := url.Parse(link)
	harness.Sensitive(u.Query().Get("token"))
	resp = b.open(s.url(u.RequestURI()))
	p = b.page()
	assertPortalPage(t, "magic link page", resp, p)
	if p.H1 != "Sign in" || len(p.Forms) != 1 || p.Forms[0].Action != "/auth/passwordless/verify" {
		t.Fatalf("magic link page: h1 %q forms %+v", p.H1, p.Forms)
	}
	if c := b.cookies(s.url("/"))[cookieName]; c != nil {
		t.Fatal("opening the link signed in")
	}
	b.screenshot("magic-link.png")
	b.click("button[type=submit]")
	if c := b.cookies(s.url("/"))[cookieName]; c == nil {
		t.Fatal("the button did not sign in")
	}
	b.open(s.url("/auth/login"))
	if p := b.page(); p.H1 != "Signed in" {
		t.Fatalf("after the link: h1 %q", p.H1)
	}
	b.assertCleanConsole()
}
