package e2e

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/caddyauth/gateway/test/harness"
)

// mockProvider is an `oidc <name>` block for mockoidc m (client secret from
// $CORP_OIDC_SECRET) with extra option lines.
func mockProvider(name string, m *mockoidc.MockOIDC, extra ...string) string {
	var b strings.Builder
	b.WriteString("oidc " + name + " {\n")
	for _, l := range append([]string{"issuer " + m.Issuer(), "client_id " + m.ClientID, "client_secret {env.CORP_OIDC_SECRET}"}, extra...) {
		b.WriteString("\t\t\t" + l + "\n")
	}
	b.WriteString("\t\t}")
	return b.String()
}

// TestOAuthMethodSwitch: `caddy auth methods disable oauth:<name>` on a
// running gateway removes the provider's button, refuses its start and
// the callback of a sign-in that was already at the provider, all within
// seconds; `enable` brings the provider back.
func TestOAuthMethodSwitch(t *testing.T) {
	t.Parallel()
	m := startMockOIDC(t)
	g := oauthGateway(t, []string{
		mockProvider("corp", m, "allowed_domains example.org", `display_name "Corp SSO"`),
		mockProvider("other", m, "allowed_domains example.org"),
	}, "CORP_OIDC_SECRET="+m.ClientSecret)
	cfg := g.caddy.ConfigPath()
	const button = `href="/auth/oauth/corp/start`
	loginPage := func() string {
		t.Helper()
		r := g.client().Get("/auth/login", browser...)
		expectStatus(t, r, http.StatusOK)
		return string(r.Body)
	}
	if page := loginPage(); !strings.Contains(page, button) || !strings.Contains(page, "Sign in with Corp SSO") {
		t.Fatalf("login page before the switch lacks the corp button:\n%s", page)
	}

	// The operator sees the configured providers before switching any.
	if out, _, _ := g.cli("", "auth", "methods", "list", "--config", cfg); !regexp.MustCompile(`oauth:corp\s+enabled`).MatchString(out) ||
		!regexp.MustCompile(`oauth:other\s+enabled`).MatchString(out) {
		t.Errorf("methods list before the switch:\n%s", out)
	}

	// Erin signed in with corp before the switch.
	erin := g.client()
	m.QueueUser(idpUser("sub-erin", "erin@example.org", true))
	expectLoggedIn(t, erin, oidcLogin(t, erin, "corp", "/app/e"), "/app/e", "erin@example.org", "-")

	// A sign-in in flight: the browser is at the provider (which already
	// approved) when the switch is thrown.
	inflight := g.client()
	m.QueueUser(idpUser("sub-erin", "erin@example.org", true))
	pending := idpAuthorize(t, inflight, oauthStart(t, inflight, "corp", "?rd=/app/p"))

	out, errOut, code := g.cli("", "auth", "methods", "disable", "oauth:corp", "--config", cfg)
	if code != 0 || !strings.Contains(out, "oauth:corp disabled") {
		t.Fatalf("methods disable: exit %d\n%s%s", code, out, errOut)
	}
	disabled := time.Now()
	anon := g.client()
	var last *harness.Response
	if ok, _ := harness.Eventually(switchWithin, 100*time.Millisecond, func() bool {
		last = anon.Get("/auth/oauth/corp/start?rd=/app/x", api...)
		return last.StatusCode == http.StatusForbidden
	}); !ok {
		t.Fatalf("start still answers %s after the switch: %s", time.Since(disabled), last)
	}
	expectError(t, last, http.StatusForbidden, "OAUTH_PROVIDER_DISABLED")
	t.Logf("start refused %s after the switch", time.Since(disabled).Round(time.Millisecond))

	t.Run("a browser gets an error page, not a trip to the provider", func(t *testing.T) {
		r := g.client().Get("/auth/oauth/corp/start?rd=/app/x", browser...)
		expectStatus(t, r, http.StatusForbidden)
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") || r.Header.Get("Location") != "" {
			t.Errorf("browser start with the provider off: %s", r)
		}
		if r.SetCookie("__Host-caddyauth_oauth_corp") != "" {
			t.Errorf("a refused start set a state cookie")
		}
	})

	t.Run("the button is gone, the other provider's stays", func(t *testing.T) {
		page := loginPage()
		if strings.Contains(page, button) || strings.Contains(page, "Corp SSO") {
			t.Errorf("login page still offers corp:\n%s", page)
		}
		if !strings.Contains(page, `href="/auth/oauth/other/start`) {
			t.Errorf("login page lost the other provider:\n%s", page)
		}
		m.QueueUser(idpUser("sub-erin-other", "erin@example.org", true))
		c := g.client()
		expectLoggedIn(t, c, oidcLogin(t, c, "other", "/app/o"), "/app/o", "erin@example.org", "-")
	})

	t.Run("the callback of a sign-in started before the switch is refused", func(t *testing.T) {
		r := inflight.Get(pending, api...)
		expectRefused(t, r, http.StatusForbidden, "OAUTH_PROVIDER_DISABLED")
		if sc := r.SetCookie("__Host-caddyauth_oauth_corp"); !strings.Contains(sc, "Max-Age=0") {
			t.Errorf("the refused callback did not use up the state cookie: %q", redactCookie(sc))
		}
		expectError(t, inflight.Get("/app/p", api...), http.StatusUnauthorized, "UNAUTHENTICATED")
	})

	t.Run("sessions signed in before the switch go on", func(t *testing.T) {
		expectStatus(t, erin.Get("/app/e", api...), http.StatusOK)
	})

	t.Run("methods list shows the provider off", func(t *testing.T) {
		out, _, _ := g.cli("", "auth", "methods", "list", "--config", cfg)
		if !regexp.MustCompile(`oauth:corp\s+disabled`).MatchString(out) {
			t.Errorf("methods list:\n%s", out)
		}
	})

	out, errOut, code = g.cli("", "auth", "methods", "enable", "oauth:corp", "--config", cfg)
	if code != 0 || !strings.Contains(out, "oauth:corp enabled") {
		t.Fatalf("methods enable: exit %d\n%s%s", code, out, errOut)
	}
	enabled := time.Now()
	if ok, _ := harness.Eventually(switchWithin, 100*time.Millisecond, func() bool {
		last = anon.Get("/auth/oauth/corp/start", api...)
		return last.StatusCode == http.StatusFound
	}); !ok {
		t.Fatalf("start still refused %s after enable: %s", time.Since(enabled), last)
	}
	t.Logf("start works again %s after enable", time.Since(enabled).Round(time.Millisecond))
	if page := loginPage(); !strings.Contains(page, button) {
		t.Errorf("login page after enable lacks the corp button:\n%s", page)
	}
	c := g.client()
	m.QueueUser(idpUser("sub-erin", "erin@example.org", true))
	expectLoggedIn(t, c, oidcLogin(t, c, "corp", "/app/back"), "/app/back", "erin@example.org", "-")
	// The sign-in that was in flight at the switch stays dead: its refused
	// callback used up the state cookie.
	expectRefused(t, inflight.Get(pending, api...), http.StatusBadRequest, "OAUTH_STATE_INVALID")
}
