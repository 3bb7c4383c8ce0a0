package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/test/harness"
)

// Issue 9, items 11-13: what an OIDC provider's claims may do to an
// account, through the built binary against mockoidc.

// groupsUser is an IdP user whose ID token carries groups exactly as
// given (a string or an array) and amr ["mfa"] for trusted providers.
func groupsUser(sub, email string, groups any) claimsUser {
	return claimsUser{idpUser(sub, email, true), map[string]any{"groups": groups, "amr": []string{"pwd", "mfa"}}}
}

// TestOIDCGroupsClaimString: a groups claim sent as one string is one
// group name, never split: "helpdesk admin" grants neither helpdesk nor
// admin (it is not a valid name), so `allow group admin` and the admin API
// refuse the user; the array form still grants both.
func TestOIDCGroupsClaimString(t *testing.T) {
	t.Parallel()
	m := startMockOIDC(t)
	g := oauthGatewayWith(t, func(c *harness.GatewayConfig) {
		c.SiteExtra = []string{"protect /admin-app* {\n\t\tallow group admin\n\t}", "request_header X-Test-Mfa {http.auth.user.mfa}"}
	}, []string{
		mockProvider("corp", m, "claim_groups groups", "allowed_domains example.org", "trust_idp_mfa"),
	}, "CORP_OIDC_SECRET="+m.ClientSecret)

	signIn := func(t *testing.T, sub string, groups any) *harness.Client {
		t.Helper()
		c := g.client()
		m.QueueUser(groupsUser(sub, sub+"@example.org", groups))
		expectStatus(t, oidcLogin(t, c, "corp", "/app/x"), http.StatusSeeOther)
		if got := sessionMFA(t, c); got != "idp" {
			t.Fatalf("session mfa = %q: want an MFA-level (idp) session, or the admin API check proves nothing", got)
		}
		return c
	}
	for _, tc := range []struct {
		name   string
		claim  any
		groups string // Remote-Groups
		admin  bool
	}{
		{"string with a space", "helpdesk admin", "", false},
		{"string with a comma", "helpdesk,admin", "", false},
		{"string with a tab", "helpdesk\tadmin", "", false},
		{"string padded with spaces", " admin ", "", false},
		{"one valid name as a string", "helpdesk", "helpdesk", false},
		{"array", []string{"helpdesk", "admin"}, "helpdesk,admin", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := signIn(t, "u"+strings.NewReplacer(" ", "-").Replace(tc.name), tc.claim)
			e := c.Get("/app/whoami", api...).Echo()
			if e == nil {
				t.Fatal("protected app not reached")
			}
			if got := strings.Join(e.Values("Remote-Groups")["Remote-Groups"], ","); got != tc.groups {
				t.Errorf("Remote-Groups = %q, want %q", got, tc.groups)
			}
			app := c.Get("/admin-app/x", api...)
			adminAPI := c.Get("/auth/admin/users", api...)
			if tc.admin {
				expectStatus(t, app, http.StatusOK)
				expectStatus(t, adminAPI, http.StatusOK)
				return
			}
			expectError(t, app, http.StatusForbidden, "FORBIDDEN")
			if adminAPI.StatusCode != http.StatusForbidden {
				t.Errorf("admin API: %s, want 403", adminAPI)
			}
		})
	}
}

// TestOIDCUnicodeEmail: only ASCII case folds. A provider-verified
// "\u212Aate@example.org" (Kelvin sign, which strings.ToLower turns into
// k) does not sign in to kate@example.org nor create a look-alike account:
// 403 OAUTH_EMAIL_UNSUPPORTED, audited. The login form and the CLI refuse
// it too; ASCII case still folds.
func TestOIDCUnicodeEmail(t *testing.T) {
	t.Parallel()
	m := startMockOIDC(t)
	g := oauthGateway(t, []string{mockProvider("corp", m, "allowed_domains example.org")}, "CORP_OIDC_SECRET="+m.ClientSecret)
	pw := newPassword()
	kateID := g.addUser("kate@example.org", "Kate", pw)
	cfg := g.caddy.ConfigPath()
	kelvin := "\u212Aate@example.org"

	t.Run("provider", func(t *testing.T) {
		for i, email := range []string{kelvin, "\u212AATE@EXAMPLE.ORG", "kate@\u212Axample.org", "\uFF4Bate@example.org", "kat\u0435@example.org"} {
			m.QueueUser(idpUser("sub-kelvin-"+string(rune('a'+i)), email, true))
			expectRefused(t, oidcLogin(t, g.client(), "corp", ""), http.StatusForbidden, "OAUTH_EMAIL_UNSUPPORTED")
		}
		// The same provider with kate's real address links her account.
		c := g.client()
		m.QueueUser(idpUser("sub-kate", "KATE@example.org", true))
		expectStatus(t, oidcLogin(t, c, "corp", ""), http.StatusSeeOther)
		e := c.Get("/app/", api...).Echo()
		if got := e.Values("Remote-User")["Remote-User"]; len(got) != 1 || got[0] != kateID {
			t.Fatalf("Remote-User = %v, want kate %s", got, kateID)
		}
	})

	t.Run("login form", func(t *testing.T) {
		for _, email := range []string{kelvin, "\u212AATE@example.org"} {
			c := g.client()
			r := c.PostJSON("/auth/login", map[string]string{"email": email, "password": pw}, api...)
			expectError(t, r, http.StatusBadRequest, "INVALID_INPUT")
			expectStatus(t, c.Get("/auth/session", api...), http.StatusUnauthorized)
		}
		g.client().Login("KATE@Example.ORG", pw)
	})

	t.Run("CLI", func(t *testing.T) {
		out, errOut, code := g.cli(newPassword(), "auth", "user", "add", "--config", cfg, "--email", kelvin, "--password-stdin")
		if code == 0 || !strings.Contains(errOut+out, "not an email address") {
			t.Fatalf("user add %s: exit %d\n%s%s", kelvin, code, out, errOut)
		}
		out, _, _ = g.cli("", "auth", "user", "list", "--config", cfg)
		if strings.Contains(out, "\u212A") || strings.Count(out, "@example.org") != 1 {
			t.Errorf("users after the refusals:\n%s", out)
		}
	})

	t.Run("audited", func(t *testing.T) {
		recs := auditRecords(t, g, cfg)
		n := 0
		for _, r := range recs {
			if r.Type == "login.failed" && r.Reason == "email_not_ascii" && r.Detail["method"] == "oauth:corp" {
				n++
			}
		}
		if n != 5 {
			t.Errorf("%d login.failed email_not_ascii records, want 5", n)
		}
		verifyAudit(t, g, cfg)
	})
}

// TestOIDCGroupChangesAudited: every change a provider's groups claim
// makes (sign-up with groups, admin granted, admin removed) is an audit
// record user.groups_changed with before, after and source oidc:corp; a
// login that changes nothing adds none; the chain still verifies.
func TestOIDCGroupChangesAudited(t *testing.T) {
	t.Parallel()
	m := startMockOIDC(t)
	g := oauthGateway(t, []string{mockProvider("corp", m, "claim_groups groups", "allowed_domains example.org")}, "CORP_OIDC_SECRET="+m.ClientSecret)
	cfg := g.caddy.ConfigPath()
	for _, groups := range [][]string{{"eng"}, {"eng", "admin"}, {"eng", "admin"}, {"eng"}, {}} {
		c := g.client()
		m.QueueUser(groupsUser("sub-gary", "gary@example.org", groups))
		expectLoggedIn(t, c, oidcLogin(t, c, "corp", "/app/g"), "/app/g", "gary@example.org", strings.Join(groups, ","))
	}
	var got []string
	for _, r := range auditRecords(t, g, cfg) {
		if r.Type != "user.groups_changed" {
			continue
		}
		if r.Email != "gary@example.org" || r.UserID == "" || r.Actor != "oidc:corp" || r.Detail["source"] != "oidc:corp" {
			t.Errorf("record %+v", r)
		}
		got = append(got, r.Detail["before"]+" -> "+r.Detail["after"]+" +"+r.Detail["added"]+" -"+r.Detail["removed"]+" admin:"+r.Detail["admin"])
	}
	if want := []string{" -> eng +eng - admin:", "eng -> eng,admin +admin - admin:granted", "eng,admin -> eng + -admin admin:removed", "eng ->  + -eng admin:"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("group changes %q, want %q", got, want)
	}
	out, _, _ := g.cli("", "auth", "audit", "tail", "--config", cfg, "--user", "gary@example.org", "-n", "50")
	if !strings.Contains(out, "user.groups_changed") || !strings.Contains(out, "actor=oidc:corp") {
		t.Errorf("audit tail --user lacks the group changes:\n%s", out)
	}
	verifyAudit(t, g, cfg)
}

// auditRecords reads the whole chain with `caddy auth audit tail --json`.
func auditRecords(t *testing.T, g *gateway, cfg string) []audit.JSONRecord {
	t.Helper()
	out, errOut, code := g.cli("", "auth", "audit", "tail", "--config", cfg, "-n", "1000", "--json")
	if code != 0 {
		t.Fatalf("audit tail: exit %d\n%s%s", code, out, errOut)
	}
	var recs []audit.JSONRecord
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var r audit.JSONRecord
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("audit tail --json: %v\n%s", err, out)
		}
		recs = append(recs, r)
	}
	return recs
}

func verifyAudit(t *testing.T, g *gateway, cfg string) {
	t.Helper()
	if out, errOut, code := g.cli("", "auth", "audit", "verify", "--config", cfg); code != 0 || !strings.HasPrefix(out, "ok: ") {
		t.Fatalf("audit verify: exit %d\n%s%s", code, out, errOut)
	}
}
