package browser

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/totp"
	"github.com/caddyauth/gateway/test/harness"
)

// TestMFAJourney: in a real browser, a signed-in user sets up an
// authenticator from the pages (the QR code renders under the strict CSP),
// confirms it, sees the recovery codes once, signs out, and at the next
// sign-in is taken through the challenge page and on to the URL first asked
// for; a wrong code shows an accessible error.
func TestMFAJourney(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	pw := newPassword()
	s.addUser("dana@example.test", "Dana Scully", pw)
	s.start()
	b := newBrowser(t)

	signIn := func(path string) {
		t.Helper()
		b.open(s.url(path))
		b.typeInto("#email", "dana@example.test")
		b.typeInto("#password", pw)
		b.click("button[type=submit]")
	}
	signIn("/reports")
	if loc := b.location(); loc != s.url("/reports") {
		t.Fatalf("first sign-in (no MFA yet) ended at %s", loc)
	}

	// Set up an authenticator from the pages.
	resp := b.open(s.url("/auth/mfa/setup"))
	p := b.page()
	assertPortalPage(t, "mfa setup", resp, p)
	if p.H1 != "Set up an authenticator app" || p.input("name") == nil {
		t.Fatalf("setup page: h1 %q, inputs %+v", p.H1, p.Inputs)
	}
	b.typeInto("#name", "laptop")
	resp = b.click("button[type=submit]")
	p = b.page()
	assertPortalPage(t, "mfa setup with QR", resp, p)
	if w := eval[int](b, `(document.querySelector('img') || {}).naturalWidth || 0`); w != 240 {
		t.Errorf("QR code image not rendered (naturalWidth %d): blocked by the CSP?", w)
	}
	secret := eval[string](b, `document.querySelector('p .code').textContent`)
	harness.Sensitive(secret)
	if len(secret) != 32 {
		t.Fatalf("secret shown on the page: %d characters", len(secret))
	}
	if c := p.input("code"); c == nil || c.Autocomplete != "one-time-code" || !c.Required {
		t.Errorf("verify field = %+v", c)
	}
	code := func(at time.Time) string {
		c, err := totp.Code(secret, at)
		if err != nil {
			t.Fatal(err)
		}
		harness.SensitiveCode(c)
		return c
	}
	enrolled := time.Now()
	b.typeInto("#code", code(enrolled))
	resp = b.click("button[type=submit]")
	p = b.page()
	assertPortalPage(t, "recovery codes", resp, p)
	codes := eval[[]string](b, `Array.from(document.querySelectorAll('li.code')).map(e => e.textContent)`)
	harness.Sensitive(codes...)
	if p.H1 != "Save your recovery codes" || len(codes) != 10 {
		t.Fatalf("after confirming: h1 %q, %d recovery codes", p.H1, len(codes))
	}

	// Sign out, then sign in again: the password leads to the challenge.
	b.open(s.url("/auth/login"))
	b.click("form[action='/auth/logout'] button")
	signIn("/reports?q=2")
	if loc := b.location(); loc != s.url("/auth/mfa/challenge?rd=%2Freports%3Fq%3D2") {
		t.Fatalf("sign-in with MFA ended at %s, want the challenge page", loc)
	}
	p = b.page()
	if p.H1 != "Verify it's you" || p.input("code") == nil || p.input("trust_device") == nil {
		t.Fatalf("challenge page: h1 %q, inputs %+v", p.H1, p.Inputs)
	}
	if f := b.focused(); f != "code" {
		t.Errorf("challenge page: focus on %q, want the code field", f)
	}
	b.screenshot("mfa-challenge.png")
	// The app is still closed to this stage.
	b.typeInto("#code", "000000")
	resp = b.click("form[action='/auth/mfa/challenge'] button")
	p = b.page()
	if resp.Status != http.StatusUnauthorized || p.Alert != "That code is not valid." {
		t.Errorf("wrong code: status %d, alert %q", resp.Status, p.Alert)
	}
	if d := eval[string](b, `document.querySelector("form[action='/auth/mfa/challenge']").getAttribute('aria-describedby') || ''`); d != "form-error" {
		t.Errorf("wrong code: form aria-describedby = %q", d)
	}
	b.typeInto("#code", code(enrolled.Add(30*time.Second)))
	b.click("form[action='/auth/mfa/challenge'] button")
	if loc := b.location(); loc != s.url("/reports?q=2") {
		t.Fatalf("after the challenge: at %s, want /reports?q=2", loc)
	}
	if e := b.echoSeen(); headerOf(e, "Remote-Email") != "dana@example.test" {
		t.Errorf("upstream identity after MFA: %q", headerOf(e, "Remote-Email"))
	}
	// The settings page lists the authenticator.
	resp = b.open(s.url("/auth/mfa"))
	p = b.page()
	assertPortalPage(t, "mfa settings", resp, p)
	if !strings.Contains(p.Text, "laptop") || !strings.Contains(p.Text, "10 recovery codes left") {
		t.Errorf("settings page text: %q", p.Text)
	}
	b.assertCleanConsole()
}
