package browser

import (
	"net/http"
	"strings"
	"testing"
)

// TestChangePasswordJourney: in a real browser, a signed-in user follows
// the "Change password" link of the signed-in page, gets a labelled form
// under the strict CSP, mistypes the current password and sees an
// accessible error with the fields still usable, then changes the password
// and sees the confirmation with a new session cookie. After signing out,
// the old password is refused and the new one signs in.
func TestChangePasswordJourney(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	oldPW, newPW := newPassword(), newPassword()
	s.addUser("hedy@example.test", "Hedy Lamarr", oldPW)
	s.start()
	b := newBrowser(t)

	signIn := func(pw string) *pageFacts {
		t.Helper()
		b.open(s.url("/auth/login"))
		b.typeInto("#email", "hedy@example.test")
		b.typeInto("#password", pw)
		b.click("button[type=submit]")
		return b.page()
	}
	if p := signIn(oldPW); p.H1 != "Signed in" {
		t.Fatalf("sign-in: h1 %q at %s", p.H1, p.URL)
	}
	before := b.cookies(s.url("/"))[cookieName]
	if before == nil {
		t.Fatalf("no session cookie after sign-in")
	}

	// The signed-in page links to the change-password page.
	resp := b.click("a[href='/auth/change-password']")
	p := b.page()
	if p.URL != s.url("/auth/change-password") || resp.Status != http.StatusOK {
		t.Fatalf("Change password link: at %s (status %d)", p.URL, resp.Status)
	}
	assertPortalPage(t, "change-password page", resp, p)
	if p.Title != "Change your password" || p.H1 != "Change your password" || p.Alert != "" ||
		!strings.Contains(p.Text, "Signed in as hedy@example.test.") {
		t.Errorf("change-password page: title %q, h1 %q, alert %q, text %q", p.Title, p.H1, p.Alert, p.Text)
	}
	assertChangePasswordForm(t, p)
	if f := p.Forms; len(f) != 1 || f[0].Action != "/auth/change-password" || f[0].Method != "post" {
		t.Errorf("change-password page forms = %+v, want one POST to /auth/change-password", f)
	}
	if btn := p.button("Change password"); btn == nil || btn.Type != "submit" || btn.Background != accentRGB {
		t.Errorf("change-password page: submit button = %+v, want a submit button with background %s", btn, accentRGB)
	}
	if f := b.focused(); f != "current_password" {
		t.Errorf("change-password page: focus on %q, want the current password", f)
	}
	b.screenshot("change-password.png")

	// A wrong current password: the error, announced, the form usable.
	b.typeInto("#current_password", "not the right password at all")
	b.typeInto("#new_password", newPW)
	b.typeInto("#confirm", newPW)
	resp = b.click("form[action='/auth/change-password'] button[type=submit]")
	p = b.page()
	if resp.Status != http.StatusUnauthorized || p.URL != s.url("/auth/change-password") {
		t.Fatalf("wrong current password: status %d at %s, want 401 at /auth/change-password", resp.Status, p.URL)
	}
	assertPortalPage(t, "change-password error", resp, p)
	if p.Alert != "The current password is incorrect." {
		t.Errorf("wrong current password: role=alert text %q", p.Alert)
	}
	if d := eval[string](b, `document.forms[0].getAttribute('aria-describedby') || ''`); d != "form-error" {
		t.Errorf("wrong current password: form aria-describedby = %q, want form-error", d)
	}
	assertChangePasswordForm(t, p)
	for _, name := range []string{"current_password", "new_password", "confirm"} {
		if in := p.input(name); in != nil && in.Value != "" {
			t.Errorf("wrong current password: field %s was refilled", name)
		}
		if got := eval[string](b, `(() => { const e = document.getElementById('`+name+`'); e.focus(); return document.activeElement === e && !e.disabled && !e.readOnly ? e.id : ''; })()`); got != name {
			t.Errorf("wrong current password: field %s cannot take focus", name)
		}
	}
	if f := b.focused(); f == "" {
		t.Errorf("wrong current password: nothing has focus")
	}
	if ck := b.cookies(s.url("/"))[cookieName]; ck == nil || ck.Value != before.Value {
		t.Errorf("wrong current password: the session cookie changed or went away")
	}

	// The right one: the confirmation, and a new session.
	b.typeInto("#current_password", oldPW)
	b.typeInto("#new_password", newPW)
	b.typeInto("#confirm", newPW)
	resp = b.click("form[action='/auth/change-password'] button[type=submit]")
	p = b.page()
	if resp.Status != http.StatusOK {
		t.Fatalf("change: status %d at %s, alert %q", resp.Status, p.URL, p.Alert)
	}
	assertPortalPage(t, "password changed", resp, p)
	if p.Title != "Password changed" || p.H1 != "Password changed" || p.Alert != "" ||
		!strings.Contains(p.Text, "Your password was changed.") {
		t.Errorf("after the change: title %q, h1 %q, alert %q, text %q", p.Title, p.H1, p.Alert, p.Text)
	}
	if st := eval[string](b, `(document.querySelector('[role=status]') || {}).textContent || ''`); !strings.Contains(st, "Your password was changed.") {
		t.Errorf("after the change: role=status text %q", st)
	}
	after := b.cookies(s.url("/"))[cookieName]
	if after == nil || after.Value == before.Value {
		t.Errorf("after the change: the session cookie was not replaced")
	}

	// Continue leads to the signed-in page: the new session works.
	resp = b.click("a.button")
	if p = b.page(); p.H1 != "Signed in" || resp.Status != http.StatusOK {
		t.Fatalf("Continue: h1 %q status %d at %s", p.H1, resp.Status, p.URL)
	}
	b.click("form[action='/auth/logout'] button")
	if ck := b.cookies(s.url("/"))[cookieName]; ck != nil {
		t.Errorf("session cookie still in the browser after sign-out")
	}

	// Signed out: the old password is refused, the new one signs in.
	if p = signIn(oldPW); p.H1 != "Sign in" || p.Alert != "The email or password is incorrect." {
		t.Errorf("sign-in with the old password: h1 %q, alert %q", p.H1, p.Alert)
	}
	b.clear("#password")
	b.typeInto("#password", newPW)
	b.click("button[type=submit]")
	if p = b.page(); p.H1 != "Signed in" {
		t.Errorf("sign-in with the new password: h1 %q, alert %q at %s", p.H1, p.Alert, p.URL)
	}
	if v := cspViolations(b.consoleMessages()); len(v) != 0 {
		t.Errorf("CSP violations:\n%s", strings.Join(v, "\n"))
	}
	b.assertCleanConsole()
}

// assertChangePasswordForm checks the fields of the change-password form:
// labelled, the autocomplete tokens a password manager needs (with the
// account's username beside them), the policy's minimum length, and the
// "sign out other sessions" box checked by default.
func assertChangePasswordForm(t *testing.T, p *pageFacts) {
	t.Helper()
	for _, f := range []struct{ name, autocomplete, label string }{
		{"current_password", "current-password", "Current password"},
		{"new_password", "new-password", "New password"},
		{"confirm", "new-password", "Repeat the new password"},
	} {
		in := p.input(f.name)
		if in == nil {
			t.Errorf("change-password form lacks %s: %+v", f.name, p.Inputs)
			continue
		}
		if in.ID != f.name || in.Type != "password" || in.Autocomplete != f.autocomplete || !in.Required ||
			len(in.Labels) != 1 || !strings.HasPrefix(in.Labels[0], f.label) {
			t.Errorf("field %s = %+v, want type password, autocomplete %s, required, label %q", f.name, *in, f.autocomplete, f.label)
		}
		if f.name != "current_password" && in.MinLength != 15 {
			t.Errorf("field %s minlength %d, want 15", f.name, in.MinLength)
		}
	}
	if lo := p.input("logout_others"); lo == nil || lo.Type != "checkbox" || !lo.Checked || lo.Value != "on" || len(lo.Labels) != 1 {
		t.Errorf("logout_others = %+v, want a labelled checkbox, checked, value on", lo)
	}
	found := false
	for _, in := range p.Inputs {
		if in.Autocomplete == "username" && in.Value == "hedy@example.test" && in.Hidden {
			found = true
		}
	}
	if !found {
		t.Errorf("change-password form has no hidden username field for password managers: %+v", p.Inputs)
	}
}
