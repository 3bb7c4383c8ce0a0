package flows

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/oauth"
)

// TestOAuthSignupThroughAccounts: an OAuth sign-up is created by the
// account service, audited with the provider as actor, and a name the
// account rules refuse is dropped rather than stored.
func TestOAuthSignupThroughAccounts(t *testing.T) {
	cfg := githubCfg()
	cfg.AllowedDomains = []string{"corp.example"}
	_, _, rec, svc, _ := oauthServiceFull(t, Config{}, cfg)
	p := &portal{s: svc, base: "/auth"}
	prov := svc.oauth.providers["github"]
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	id := oauth.Identity{Subject: "9", Email: "n@corp.example", EmailVerified: true, Name: "Eve\r\nX-Injected: 1"}
	u, e, err := p.resolveOAuthUser(req, prov, &id)
	if err != nil || e != nil {
		t.Fatal(err, e)
	}
	if u.Name != "" {
		t.Errorf("name with control characters stored: %q", u.Name)
	}
	if u.EmailVerifiedAt.IsZero() {
		t.Error("a provider-verified email did not count as verified")
	}
	ev := rec.find(audit.UserCreated, u.ID)
	if ev == nil || ev.Actor != "oauth:github" || ev.Detail["via"] != "oauth:github" {
		t.Errorf("user.created = %+v", ev)
	}
}
