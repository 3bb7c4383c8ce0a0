package e2e

import (
	"net/http"
	"testing"
)

// TestOIDCEmailUnicodeSpace: a provider-verified email with a Unicode
// space around it ("kate@example.org\u00A0") is not kate's address. The
// gateway trimmed it with strings.TrimSpace, which removes Unicode spaces,
// before the ASCII check, so it signed in to kate's account (found in the
// review of issue 9, item 12). It is refused like any non-ASCII address,
// on the login form too, and kate's own address still links.
func TestOIDCEmailUnicodeSpace(t *testing.T) {
	t.Parallel()
	m := startMockOIDC(t)
	g := oauthGateway(t, []string{mockProvider("corp", m, "allowed_domains example.org")}, "CORP_OIDC_SECRET="+m.ClientSecret)
	pw := newPassword()
	kateID := g.addUser("kate@example.org", "Kate", pw)
	for i, email := range []string{"kate@example.org\u00A0", "\u00A0kate@example.org", "kate@example.org\u0085", "\u3000KATE@example.org", "kate@example.org\u2003"} {
		c := g.client()
		m.QueueUser(idpUser("sub-space-"+string(rune('a'+i)), email, true))
		expectRefused(t, oidcLogin(t, c, "corp", ""), http.StatusForbidden, "OAUTH_EMAIL_UNSUPPORTED")
		expectStatus(t, c.Get("/auth/session", api...), http.StatusUnauthorized)
	}
	// The login form reads the address the same way: not kate's.
	for _, email := range []string{"kate@example.org\u00A0", "\u3000kate@example.org"} {
		c := g.client()
		expectError(t, c.PostJSON("/auth/login", map[string]string{"email": email, "password": pw}, api...), http.StatusBadRequest, "INVALID_INPUT")
		expectStatus(t, c.Get("/auth/session", api...), http.StatusUnauthorized)
	}
	c := g.client()
	m.QueueUser(idpUser("sub-kate", " kate@example.org\t", true))
	expectStatus(t, oidcLogin(t, c, "corp", ""), http.StatusSeeOther)
	e := c.Get("/app/", api...).Echo()
	if e == nil {
		t.Fatal("app not reached after kate's own sign-in")
	}
	if got := e.Values("Remote-User")["Remote-User"]; len(got) != 1 || got[0] != kateID {
		t.Fatalf("Remote-User = %v, want kate %s", got, kateID)
	}
}
