package browser

import (
	"net/http"
	"strings"
	"testing"
)

// TestLoginJourney: a user made with the CLI opens a protected URL, lands on
// the login page, mistypes the password, sees the error with the email
// kept, signs in, reaches the app at the URL first asked for with the
// identity headers, signs out with the signed-in page's button, and is
// sent back to the login page by the protected URL.
func TestLoginJourney(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	pw := newPassword()
	id := s.addUser("alice@example.test", "Alice Liddell", pw, "dev", "ops")
	s.start()
	b := newBrowser(t)

	// An anonymous browser asking for the app is sent to the login page,
	// which remembers where it was going.
	resp := b.open(s.url("/reports?q=1"))
	if loc := b.location(); loc != s.loginURLFor("/reports?q=1") || resp.Status != http.StatusOK {
		t.Fatalf("anonymous /reports?q=1 ended at %s (status %d), want %s", loc, resp.Status, s.loginURLFor("/reports?q=1"))
	}
	p := b.page()
	assertPortalPage(t, "login page", resp, p)
	if p.Title != "Sign in" || p.H1 != "Sign in" || p.Alert != "" {
		t.Errorf("login page: title %q, h1 %q, alert %q", p.Title, p.H1, p.Alert)
	}
	assertLoginForm(t, p, "")
	if f := b.focused(); f != "email" {
		t.Errorf("login page: focus on %q, want the email field", f)
	}
	if rd := p.input("rd"); rd == nil || rd.Type != "hidden" || rd.Value != "/reports?q=1" {
		t.Errorf("login page: rd field = %+v, want hidden /reports?q=1", rd)
	}
	if f := p.Forms; len(f) != 1 || f[0].Action != "/auth/login" || f[0].Method != "post" {
		t.Errorf("login page forms = %+v, want one POST to /auth/login", f)
	}
	if btn := p.button("Sign in"); btn == nil || btn.Type != "submit" || btn.Background != accentRGB {
		t.Errorf("login page: submit button = %+v, want a submit button with background %s", btn, accentRGB)
	}

	// A wrong password: the error, announced to screen readers, with the
	// email and the return URL kept and the password field emptied.
	b.typeInto("#email", "alice@example.test")
	b.typeInto("#password", "not the right password")
	resp = b.click("button[type=submit]")
	p = b.page()
	if resp.Status != http.StatusUnauthorized || p.URL != s.url("/auth/login") {
		t.Fatalf("wrong password: status %d at %s, want 401 at /auth/login", resp.Status, p.URL)
	}
	assertPortalPage(t, "login error", resp, p)
	if p.Alert != "The email or password is incorrect." {
		t.Errorf("wrong password: role=alert text %q", p.Alert)
	}
	assertLoginForm(t, p, "alice@example.test")
	if rd := p.input("rd"); rd == nil || rd.Value != "/reports?q=1" {
		t.Errorf("wrong password: rd field = %+v, want /reports?q=1 kept", rd)
	}
	if pwField := p.input("password"); pwField != nil && pwField.Value != "" {
		t.Errorf("wrong password: the password field was refilled")
	}
	if f := b.focused(); f != "password" {
		t.Errorf("wrong password: focus on %q, want the password field (the email is kept)", f)
	}
	if d := eval[string](b, `document.forms[0].getAttribute('aria-describedby') || ''`); d != "form-error" {
		t.Errorf("wrong password: form aria-describedby = %q, want form-error", d)
	}

	// The right password: straight to the URL first asked for, served by
	// the app with the identity the gateway vouches for.
	b.typeInto("#password", pw)
	resp = b.click("button[type=submit]")
	if loc := b.location(); loc != s.url("/reports?q=1") || resp.Status != http.StatusOK {
		t.Fatalf("after login: at %s (status %d), want %s", loc, resp.Status, s.url("/reports?q=1"))
	}
	echo := b.echoSeen()
	if echo.URI != "/reports?q=1" || echo.Method != http.MethodGet {
		t.Errorf("upstream saw %s %s, want GET /reports?q=1", echo.Method, echo.URI)
	}
	for name, want := range map[string]string{
		"Remote-User":   id,
		"Remote-Email":  "alice@example.test",
		"Remote-Name":   "Alice Liddell",
		"Remote-Groups": "dev,ops",
	} {
		if got := headerOf(echo, name); got != want {
			t.Errorf("upstream %s = %q, want %q", name, got, want)
		}
	}
	ck := b.cookies(s.url("/"))[cookieName]
	if ck == nil {
		t.Fatalf("no %s cookie in the browser after login; cookies: %v", cookieName, b.cookies(s.url("/")))
	}
	if !ck.HTTPOnly || ck.SameSite != "Lax" || ck.Path != "/" || ck.Secure {
		t.Errorf("session cookie: HttpOnly=%v SameSite=%q Path=%q Secure=%v, want HttpOnly, Lax, /, not Secure (insecure dev mode)",
			ck.HTTPOnly, ck.SameSite, ck.Path, ck.Secure)
	}
	if js := eval[string](b, `document.cookie`); strings.Contains(js, cookieName) {
		t.Errorf("page script can read the session cookie: %q", js)
	}

	// The signed-in page and its Sign out button.
	resp = b.open(s.url("/auth/login"))
	p = b.page()
	assertPortalPage(t, "signed-in page", resp, p)
	if p.H1 != "Signed in" || !strings.Contains(p.Text, "You are signed in as Alice Liddell (alice@example.test).") {
		t.Errorf("signed-in page: h1 %q, text %q", p.H1, p.Text)
	}
	if btn := p.button("Sign out"); btn == nil || btn.Background != secondaryRGB {
		t.Errorf("signed-in page: Sign out button = %+v, want background %s", btn, secondaryRGB)
	}
	resp = b.click("form[action='/auth/logout'] button")
	p = b.page()
	if p.URL != s.url("/auth/login") || resp.Status != http.StatusOK || p.H1 != "Sign in" {
		t.Errorf("after sign-out: at %s (status %d) h1 %q, want the login form", p.URL, resp.Status, p.H1)
	}
	if ck := b.cookies(s.url("/"))[cookieName]; ck != nil {
		t.Errorf("session cookie still in the browser after sign-out")
	}

	// Signed out for real: the app is behind the login page again.
	b.open(s.url("/reports?q=1"))
	if loc := b.location(); loc != s.loginURLFor("/reports?q=1") {
		t.Errorf("after sign-out /reports?q=1 ended at %s, want the login page", loc)
	}
	b.assertCleanConsole()
}

// assertLoginForm checks the login fields: labelled, the right types and
// autocomplete tokens for password managers, email prefilled with email.
func assertLoginForm(t *testing.T, p *pageFacts, email string) {
	t.Helper()
	em, pw := p.input("email"), p.input("password")
	if em == nil || pw == nil {
		t.Fatalf("login form lacks email or password: %+v", p.Inputs)
	}
	if em.ID != "email" || em.Type != "email" || em.Autocomplete != "username" || !em.Required || strings.Join(em.Labels, "") != "Email" {
		t.Errorf("email field = %+v, want id email, type email, autocomplete username, required, label Email", *em)
	}
	if pw.ID != "password" || pw.Type != "password" || pw.Autocomplete != "current-password" || !pw.Required || strings.Join(pw.Labels, "") != "Password" {
		t.Errorf("password field = %+v, want id password, type password, autocomplete current-password, required, label Password", *pw)
	}
	if em.Value != email {
		t.Errorf("email field value %q, want %q", em.Value, email)
	}
}
