package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddyauth/gateway/test/harness"
)

// withAMR is a mockoidc user whose ID token carries amr (and acr when
// given). mockoidc has no amr/acr of its own; its User.Claims hook adds
// them (claimsUser).
func withAMR(sub, email string, amr []string, acr string) claimsUser {
	extra := map[string]any{}
	if amr != nil {
		extra["amr"] = amr
	}
	if acr != "" {
		extra["acr"] = acr
	}
	return claimsUser{idpUser(sub, email, true), extra}
}

// sessionMFA is the signed-in client's session MFA method ("" without),
// as the upstream sees it: the site copies the {http.auth.user.mfa}
// placeholder into X-Test-Mfa.
func sessionMFA(t *testing.T, c *harness.Client) string {
	t.Helper()
	r := c.Get("/app/mfa", api...)
	expectStatus(t, r, http.StatusOK)
	return strings.Join(r.Echo().Values("X-Test-Mfa")["X-Test-Mfa"], ",")
}

// expectStepUp fails unless a require-mfa path refuses the session: 403
// MFA_REQUIRED for an API client, a redirect to the challenge for a
// browser.
func expectStepUp(t *testing.T, c *harness.Client, path string) {
	t.Helper()
	expectError(t, c.Get(path, api...), http.StatusForbidden, "MFA_REQUIRED")
	r := c.Get(path, browser...)
	if want := "/auth/mfa/challenge?rd=" + url.QueryEscape(path); r.StatusCode != http.StatusFound || r.Header.Get("Location") != want {
		t.Fatalf("browser on %s: want 302 to %s, got %s", path, want, r)
	}
}

// TestOIDCMFA: how an OIDC sign-in meets the local MFA policy, through the
// built binary against mockoidc, with a site-wide protect and a stacked
// `protect /strict* { require mfa }`.
//   - By default the IdP's word counts for nothing: a user with TOTP gets
//     the challenge stage (even when the ID token says amr ["mfa"]) and
//     passes it with an oathtool code; a user without local MFA gets a
//     session that require-mfa paths send to step up.
//   - With `trust_idp_mfa`, an ID token whose amr names a second factor
//     (or whose acr is one of acr_values) yields a full MFA session (mfa
//     "idp") that require-mfa paths admit, without a local challenge; a
//     token without such a claim is a password-level session again.
func TestOIDCMFA(t *testing.T) {
	t.Parallel()
	m := startMockOIDC(t)
	const acrMFA, acrPwd = "urn:example:loa:mfa", "urn:example:loa:pwd"
	g := oauthGatewayWith(t, func(c *harness.GatewayConfig) {
		c.SiteExtra = []string{"protect /strict* {\n\t\trequire mfa\n\t}", "request_header X-Test-Mfa {http.auth.user.mfa}"}
	}, []string{
		mockProvider("corp", m, "allowed_domains example.org"),
		mockProvider("trusted", m, "allowed_domains example.org", "trust_idp_mfa", "acr_values "+acrMFA),
	}, "CORP_OIDC_SECRET="+m.ClientSecret)
	pw := newPassword()
	g.addUser("alice@example.org", "Alice", pw)

	// Alice enrols an authenticator after a password login.
	a := g.client()
	a.Login("alice@example.org", pw)
	secret, enrolAt, _ := enrolTOTP(t, a)

	t.Run("untrusted provider: a user with TOTP gets the challenge stage (JSON)", func(t *testing.T) {
		c := g.client()
		// The IdP claims MFA; without trust_idp_mfa that counts for nothing.
		m.QueueUser(withAMR("sub-alice", "alice@example.org", []string{"pwd", "mfa"}, ""))
		cb := idpAuthorize(t, c, oauthStart(t, c, "corp", "?rd=/app/a"))
		r := c.Get(cb, api...)
		expectStatus(t, r, http.StatusOK)
		ans := r.JSON()
		if ans["mfa_required"] != true || ans["next"] != "/auth/mfa/challenge" || ans["redirect"] != "/app/a" ||
			!contains(stringsOf(ans["methods"]), "totp") || ans["authenticated"] != nil {
			t.Fatalf("OIDC callback for a user with TOTP: %s", r)
		}
		checkSessionCookie(t, r)
		for _, p := range []string{"/app/a", "/strict/x"} {
			expectError(t, c.Get(p, api...), http.StatusUnauthorized, "MFA_REQUIRED")
		}
		if r := c.Get("/app/a", browser...); r.StatusCode != http.StatusFound || !strings.HasPrefix(r.Header.Get("Location"), "/auth/mfa/challenge?rd=") {
			t.Fatalf("browser with a challenge stage: %s", r)
		}
		expectStatus(t, c.Get("/auth/session", api...), http.StatusUnauthorized)
	})

	t.Run("untrusted provider: the browser is sent to the challenge and passes it with an oathtool code", func(t *testing.T) {
		c := g.client()
		m.QueueUser(withAMR("sub-alice", "alice@example.org", []string{"pwd", "mfa"}, ""))
		r := oidcLogin(t, c, "corp", "/strict/b")
		expectStatus(t, r, http.StatusSeeOther)
		if loc := r.Header.Get("Location"); loc != "/auth/mfa/challenge?rd=%2Fstrict%2Fb" {
			t.Fatalf("callback Location = %q, want the challenge", loc)
		}
		page := c.Get(r.Header.Get("Location"), browser...)
		expectStatus(t, page, http.StatusOK)
		if !strings.Contains(string(page.Body), `name="code"`) {
			t.Fatalf("challenge page:\n%s", page.Body)
		}
		expectError(t, c.Get("/strict/b", api...), http.StatusUnauthorized, "MFA_REQUIRED")
		stage := c.Cookie(cookieName)
		form := url.Values{"method": {"totp"}, "code": {oathtool(t, secret, enrolAt.Add(30*time.Second))}, "rd": {"/strict/b"}}
		r = c.PostForm("/auth/mfa/challenge", form, browser...)
		expectStatus(t, r, http.StatusSeeOther)
		if loc := r.Header.Get("Location"); loc != "/strict/b" {
			t.Fatalf("after the challenge Location = %q", loc)
		}
		if c.Cookie(cookieName) == stage {
			t.Fatal("the challenge did not rotate the session")
		}
		if got := sessionMFA(t, c); got != "totp" {
			t.Errorf("session mfa = %q, want totp", got)
		}
		e := c.Get("/strict/b", api...).Echo()
		if e == nil || strings.Join(e.Values("Remote-Email")["Remote-Email"], ",") != "alice@example.org" {
			t.Fatalf("require-mfa path after the challenge: %v", e)
		}
	})

	t.Run("untrusted provider: a user without local MFA is sent to step up on require-mfa paths", func(t *testing.T) {
		c := g.client()
		m.QueueUser(withAMR("sub-carol", "carol@example.org", []string{"pwd", "mfa"}, ""))
		expectLoggedIn(t, c, oidcLogin(t, c, "corp", "/app/c"), "/app/c", "carol@example.org", "-")
		if got := sessionMFA(t, c); got != "" {
			t.Errorf("session mfa = %q, want none", got)
		}
		expectStepUp(t, c, "/strict/c")
	})

	t.Run("trusted provider, amr mfa: full session without a local challenge", func(t *testing.T) {
		// Carol has no local factor; alice has TOTP and is not asked for it.
		for _, who := range []struct {
			sub, email string
			amr        []string
		}{{"t-carol", "carol@example.org", []string{"pwd", "otp"}}, {"t-alice", "alice@example.org", []string{"pwd", "mfa"}}} {
			c := g.client()
			m.QueueUser(withAMR(who.sub, who.email, who.amr, ""))
			expectLoggedIn(t, c, oidcLogin(t, c, "trusted", "/strict/t"), "/strict/t", who.email, "-")
			if got := sessionMFA(t, c); got != "idp" {
				t.Errorf("%s: session mfa = %q, want idp", who.email, got)
			}
			e := c.Get("/strict/t", api...).Echo()
			if e == nil || strings.Join(e.Values("Remote-Email")["Remote-Email"], ",") != who.email {
				t.Fatalf("%s: require-mfa path with a trusted IdP MFA: %v", who.email, e)
			}
		}
	})

	t.Run("trusted provider, acr among acr_values: full session", func(t *testing.T) {
		c := g.client()
		if got := oauthStart(t, c, "trusted", "").Query().Get("acr_values"); got != acrMFA {
			t.Errorf("acr_values sent = %q, want %q", got, acrMFA)
		}
		m.QueueUser(withAMR("t-carol", "carol@example.org", nil, acrMFA))
		expectLoggedIn(t, c, oidcLogin(t, c, "trusted", "/strict/acr"), "/strict/acr", "carol@example.org", "-")
		if got := sessionMFA(t, c); got != "idp" {
			t.Errorf("session mfa = %q, want idp", got)
		}
		expectStatus(t, c.Get("/strict/acr", api...), http.StatusOK)
	})

	t.Run("trusted provider without an MFA claim: require-mfa paths step up", func(t *testing.T) {
		for name, u := range map[string]claimsUser{
			"amr pwd":                     withAMR("t-carol", "carol@example.org", []string{"pwd"}, ""),
			"no amr":                      withAMR("t-carol", "carol@example.org", nil, ""),
			"acr not listed":              withAMR("t-carol", "carol@example.org", []string{"pwd"}, acrPwd),
			"amr without a second factor": withAMR("t-carol", "carol@example.org", []string{"pwd", "kba"}, ""),
		} {
			c := g.client()
			m.QueueUser(u)
			expectLoggedIn(t, c, oidcLogin(t, c, "trusted", "/app/n"), "/app/n", "carol@example.org", "-")
			if got := sessionMFA(t, c); got != "" {
				t.Errorf("%s: session mfa = %q, want none", name, got)
			}
			expectStepUp(t, c, "/strict/n")
		}
	})

	t.Run("trusted provider without an MFA claim: a user with TOTP gets the challenge", func(t *testing.T) {
		c := g.client()
		m.QueueUser(withAMR("t-alice", "alice@example.org", []string{"pwd"}, ""))
		cb := idpAuthorize(t, c, oauthStart(t, c, "trusted", "?rd=/app/a"))
		r := c.Get(cb, api...)
		expectStatus(t, r, http.StatusOK)
		if r.JSON()["mfa_required"] != true {
			t.Fatalf("trusted provider, no MFA claim, user with TOTP: %s", r)
		}
		expectError(t, c.Get("/strict/x", api...), http.StatusUnauthorized, "MFA_REQUIRED")
	})
}
