package browser

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestFirstRunSetup: on a fresh install the operator opens the one-time
// link from Caddy's log, fills in the form (a mistake first), and ends
// signed in as the first administrator; the link then shows the not-found
// page.
func TestFirstRunSetup(t *testing.T) {
	t.Parallel()
	s := newSite(t).start()
	link := s.setupPath()
	b := newBrowser(t)

	resp := b.open(s.url(link))
	p := b.page()
	if resp.Status != http.StatusOK {
		t.Fatalf("setup link: status %d, want 200", resp.Status)
	}
	assertPortalPage(t, "setup page", resp, p)
	if p.H1 != "Create the first administrator" {
		t.Errorf("setup page h1 %q", p.H1)
	}
	assertSetupForm(t, p)

	// The browser itself refuses a password under 15 characters
	// (minlength): no request is sent, the page stays.
	b.typeInto("#email", "admin@example.test")
	b.typeInto("#password", "too short")
	b.typeInto("#confirm", "too short")
	b.clickInPlace("button[type=submit]")
	if ok := eval[bool](b, `document.querySelector('#password').validity.tooShort && !document.forms[0].checkValidity()`); !ok {
		t.Errorf("a 9-character password is not flagged tooShort by the browser")
	}
	time.Sleep(300 * time.Millisecond) // a submission would have navigated by now
	if loc := b.location(); loc != s.url(link) {
		t.Errorf("the browser submitted a too-short password: now at %s", loc)
	}

	// Two different passwords: the server says so, keeps email and name,
	// and the link still works.
	pw := newPassword()
	b.clear("#password")
	b.clear("#confirm")
	b.typeInto("#name", "Ada Admin")
	b.typeInto("#password", pw)
	b.typeInto("#confirm", pw+" typo")
	resp = b.click("button[type=submit]")
	p = b.page()
	if resp.Status != http.StatusBadRequest || p.Alert != "The two passwords differ." {
		t.Errorf("different passwords: status %d, role=alert %q", resp.Status, p.Alert)
	}
	assertPortalPage(t, "setup error", resp, p)
	if em, nm := p.input("email"), p.input("name"); em == nil || em.Value != "admin@example.test" || nm == nil || nm.Value != "Ada Admin" {
		t.Errorf("setup error: email/name not kept: %+v", p.Inputs)
	}
	if pwf := p.input("password"); pwf == nil || pwf.Value != "" {
		t.Errorf("setup error: the password field was refilled")
	}

	// The real thing.
	b.typeInto("#password", pw)
	b.typeInto("#confirm", pw)
	resp = b.click("button[type=submit]")
	p = b.page()
	if resp.Status != http.StatusOK || p.URL != s.url("/auth/login") || p.H1 != "Signed in" {
		t.Fatalf("after setup: status %d at %s, h1 %q; want the signed-in page at /auth/login", resp.Status, p.URL, p.H1)
	}
	assertPortalPage(t, "signed-in page", resp, p)
	if !strings.Contains(p.Text, "You are signed in as Ada Admin (admin@example.test).") {
		t.Errorf("signed-in page text %q", p.Text)
	}
	if b.cookies(s.url("/"))[cookieName] == nil {
		t.Errorf("no session cookie after setup")
	}

	// The new administrator reaches the app.
	b.open(s.url("/dashboard"))
	echo := b.echoSeen()
	if got := headerOf(echo, "Remote-Email"); got != "admin@example.test" {
		t.Errorf("upstream Remote-Email = %q", got)
	}
	if got := headerOf(echo, "Remote-Groups"); got != "admin" {
		t.Errorf("upstream Remote-Groups = %q, want admin", got)
	}

	// The link is spent: the not-found page, for this browser too.
	resp = b.open(s.url(link))
	p = b.page()
	if resp.Status != http.StatusNotFound {
		t.Errorf("setup link after use: status %d, want 404", resp.Status)
	}
	assertPortalPage(t, "not-found page", resp, p)
	if p.H1 != "Not Found" || p.Alert != "There is nothing here." || p.input("password") != nil {
		t.Errorf("setup link after use: h1 %q, alert %q, inputs %+v; want the not-found page", p.H1, p.Alert, p.Inputs)
	}
	b.assertCleanConsole()
}

// assertSetupForm checks the setup fields: labelled, with the types and
// autocomplete tokens that make a password manager offer a new password.
func assertSetupForm(t *testing.T, p *pageFacts) {
	t.Helper()
	want := []struct{ name, typ, autocomplete string }{
		{"email", "email", "username"},
		{"name", "text", "name"},
		{"password", "password", "new-password"},
		{"confirm", "password", "new-password"},
	}
	for _, w := range want {
		in := p.input(w.name)
		if in == nil {
			t.Errorf("setup form lacks %s", w.name)
			continue
		}
		if in.ID != w.name || in.Type != w.typ || in.Autocomplete != w.autocomplete || len(in.Labels) != 1 {
			t.Errorf("setup field %s = %+v, want id %s, type %s, autocomplete %s, one label", w.name, *in, w.name, w.typ, w.autocomplete)
		}
		if (w.typ == "password") != (in.MinLength == 15) {
			t.Errorf("setup field %s minlength %d", w.name, in.MinLength)
		}
	}
	if tok := p.input("token"); tok == nil || tok.Type != "hidden" || len(tok.Value) != 43 {
		t.Errorf("setup form token field = %+v", tok)
	}
	if btn := p.button("Create account and sign in"); btn == nil || btn.Type != "submit" || btn.Background != accentRGB {
		t.Errorf("setup submit button = %+v, want background %s", btn, accentRGB)
	}
}
