package e2e

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/caddyauth/gateway/test/harness"
)

// twistedUser is a mockoidc user whose ID-token claims a test can corrupt
// (nonce, audience, expiry...).
type twistedUser struct {
	*mockoidc.MockUser
	twist func(*mockoidc.IDTokenClaims)
}

func (u twistedUser) Claims(scope []string, c *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	if u.twist != nil {
		u.twist(c)
	}
	return u.MockUser.Claims(scope, c)
}

// claimsUser adds claims to a mockoidc user's ID token (Google's hd...).
type claimsUser struct {
	*mockoidc.MockUser
	extra map[string]any
}

func (u claimsUser) Claims(scope []string, c *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	base, err := u.MockUser.Claims(scope, c)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(base)
	if err != nil {
		return nil, err
	}
	var m jwt.MapClaims
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, v := range u.extra {
		m[k] = v
	}
	return m, nil
}

func idpUser(sub, email string, verified bool, groups ...string) *mockoidc.MockUser {
	return &mockoidc.MockUser{Subject: sub, Email: email, EmailVerified: verified, PreferredUsername: strings.Split(email, "@")[0], Groups: groups}
}

// startMockOIDC runs mockoidc in the test process on a loopback port. The
// client secret and every token it issues (access, refresh, ID token) are
// registered with the leak scan.
func startMockOIDC(t *testing.T) *mockoidc.MockOIDC {
	t.Helper()
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatalf("mockoidc: %v", err)
	}
	harness.Sensitive(m.ClientSecret)
	if err := m.AddMiddleware(registerIssuedTokens); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ln, nil); err != nil {
		t.Fatalf("mockoidc: %v", err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	return m
}

// registerIssuedTokens registers the tokens of every token-endpoint answer
// as sensitive before passing it on.
func registerIssuedTokens(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != mockoidc.TokenEndpoint {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		var tok struct {
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
			IDToken      string `json:"id_token"`
		}
		if json.Unmarshal(rec.Body.Bytes(), &tok) == nil {
			harness.Sensitive(tok.AccessToken, tok.RefreshToken, tok.IDToken)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

// oauthCodeLogFilter is the access-log filter docs/configuration.md asks
// for: the provider sends the one-time authorization code in the
// callback's query string, and Caddy's access log records the URI.
const oauthCodeLogFilter = "request>uri query {\n\t\t\t\t\tdelete code\n\t\t\t\t}"

// oauthGateway is the standard gateway with identity providers; env is
// passed to Caddy (secrets as placeholders).
func oauthGateway(t *testing.T, appOptions []string, env ...string) *gateway {
	t.Helper()
	return oauthGatewayWith(t, nil, appOptions, env...)
}

// oauthGatewayWith is oauthGateway with edit applied to the config first
// (stacked protect blocks, log filters...).
func oauthGatewayWith(t *testing.T, edit func(*harness.GatewayConfig), appOptions []string, env ...string) *gateway {
	t.Helper()
	g := newGateway(t, func(c *harness.GatewayConfig) {
		if edit != nil {
			edit(c)
		}
		c.AppOptions = append(c.AppOptions, appOptions...)
		c.LogFields = append(c.LogFields, oauthCodeLogFilter)
		c.Debug = true
	})
	g.t.Cleanup(func() {
		if g.caddy != nil && strings.Contains(g.caddy.Logs(), g.cfg.Secret) {
			g.t.Errorf("the master secret appears in the caddy log")
		}
	})
	g.caddy = harness.StartCaddy(g.t, g.bin, g.cfg.Caddyfile(g.t), env...)
	return g
}

// oauthStart asks the gateway to start a sign-in and returns the
// provider URL it redirected to.
func oauthStart(t *testing.T, c *harness.Client, provider, query string) *url.URL {
	t.Helper()
	r := c.Get("/auth/oauth/"+provider+"/start"+query, browser...)
	expectStatus(t, r, http.StatusFound)
	u, err := url.Parse(r.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// idpAuthorize follows the provider's (auto-approving) authorization
// endpoint and returns the callback URL it sends the browser to.
func idpAuthorize(t *testing.T, c *harness.Client, authURL *url.URL) string {
	t.Helper()
	r := c.Get(authURL.String())
	if r.StatusCode != http.StatusFound {
		t.Fatalf("IdP authorize: %s", r)
	}
	cb := r.Header.Get("Location")
	// The one-time authorization code must reach no log.
	if u, err := url.Parse(cb); err == nil {
		harness.Sensitive(u.Query().Get("code"))
	}
	return cb
}

// oidcLogin runs a whole sign-in and returns the callback's response.
func oidcLogin(t *testing.T, c *harness.Client, provider, rd string) *harness.Response {
	t.Helper()
	q := ""
	if rd != "" {
		q = "?rd=" + url.QueryEscape(rd)
	}
	cb := idpAuthorize(t, c, oauthStart(t, c, provider, q))
	return c.Get(cb, browser...)
}

func expectLoggedIn(t *testing.T, c *harness.Client, r *harness.Response, rd, email, groups string) {
	t.Helper()
	expectStatus(t, r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != rd {
		t.Fatalf("callback Location = %q, want %q", loc, rd)
	}
	checkSessionCookie(t, r)
	e := c.Get("/app/whoami", api...).Echo()
	if got := strings.Join(e.Values("Remote-Email")["Remote-Email"], ","); got != email {
		t.Errorf("Remote-Email = %q, want %q", got, email)
	}
	if groups != "-" {
		if got := strings.Join(e.Values("Remote-Groups")["Remote-Groups"], ","); got != groups {
			t.Errorf("Remote-Groups = %q, want %q", got, groups)
		}
	}
}

// expectRefused fails unless r is the JSON error code and set no session.
func expectRefused(t *testing.T, r *harness.Response, status int, code string) {
	t.Helper()
	if r.StatusCode != status || !strings.Contains(string(r.Body), code) {
		t.Fatalf("want %d %s, got %s", status, code, r)
	}
	if r.SetCookie(cookieName) != "" && !strings.Contains(r.SetCookie(cookieName), "Max-Age=0") {
		t.Fatalf("a refused callback set a session cookie: %s", r.SetCookie(cookieName))
	}
}

// TestOIDCMock drives the generic `oidc` provider through the built binary
// against mockoidc: discovery, state/PKCE/nonce, ID-token checks, account
// rules, groups, link and unlink.
func TestOIDCMock(t *testing.T) {
	t.Parallel()
	m := startMockOIDC(t)
	// A discovery document that names another issuer (ASVS 10.5.3).
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"issuer": "https://evil.example", "authorization_endpoint": "https://evil.example/a",
			"token_endpoint": "https://evil.example/t", "jwks_uri": "https://evil.example/k",
		})
	}))
	t.Cleanup(evil.Close)
	g := oauthGateway(t, []string{
		"oidc corp {\n" +
			"\t\t\tissuer " + m.Issuer() + "\n" +
			"\t\t\tclient_id " + m.ClientID + "\n" +
			"\t\t\tclient_secret {env.CORP_OIDC_SECRET}\n" +
			"\t\t\tscopes openid email profile groups\n" +
			"\t\t\tclaim_groups groups\n" +
			"\t\t\tallowed_domains example.org\n" +
			"\t\t\tdisplay_name \"Corp SSO\"\n" +
			"\t\t}",
		"oidc evil {\n\t\t\tissuer " + evil.URL + "\n\t\t\tclient_id x\n\t\t\tclient_secret y\n\t\t}",
		// The google preset pointed at the mock (issuer override), for hd.
		"oauth google {\n\t\t\tissuer " + m.Issuer() + "\n\t\t\tclient_id " + m.ClientID + "\n" +
			"\t\t\tclient_secret {env.CORP_OIDC_SECRET}\n\t\t\thosted_domain example.net\n\t\t\tsignup on\n\t\t}",
	}, "CORP_OIDC_SECRET="+m.ClientSecret)
	pw := newPassword()
	bobID := g.addUser("bob@example.com", "Bob", pw, "staff")
	g.addUser("carol@example.com", "Carol", newPassword())

	t.Run("login page has a button per provider", func(t *testing.T) {
		r := g.client().Get("/auth/login?rd=/app/x", browser...)
		expectStatus(t, r, http.StatusOK)
		for _, want := range []string{`href="/auth/oauth/corp/start?rd=%2Fapp%2Fx"`, "Sign in with Corp SSO", `href="/auth/oauth/evil/start`} {
			if !strings.Contains(string(r.Body), want) {
				t.Errorf("login page lacks %q:\n%s", want, r.Body)
			}
		}
	})

	t.Run("start sends code flow with state, PKCE S256 and nonce", func(t *testing.T) {
		c := g.client()
		r := c.Get("/auth/oauth/corp/start?rd=/app/x", browser...)
		expectStatus(t, r, http.StatusFound)
		u, _ := url.Parse(r.Header.Get("Location"))
		q := u.Query()
		if !strings.HasPrefix(u.String(), m.AuthorizationEndpoint()) {
			t.Errorf("start went to %s, want the discovered %s", u, m.AuthorizationEndpoint())
		}
		checks := map[string]string{
			"response_type": "code", "code_challenge_method": "S256", "client_id": m.ClientID,
			"redirect_uri": g.url() + "/auth/oauth/corp/callback", "scope": "openid email profile groups",
		}
		for k, want := range checks {
			if got := q.Get(k); got != want {
				t.Errorf("%s = %q, want %q", k, got, want)
			}
		}
		for _, k := range []string{"state", "nonce", "code_challenge"} {
			if len(q.Get(k)) < 43 { // >= 256 bits base64url
				t.Errorf("%s = %q: too short", k, q.Get(k))
			}
		}
		sc := r.SetCookie("__Host-caddyauth_oauth_corp")
		for _, want := range []string{"HttpOnly", "Secure", "SameSite=Lax", "Max-Age=600", "Path=/"} {
			if !strings.Contains(sc, want) {
				t.Errorf("state cookie %q lacks %s", redactCookie(sc), want)
			}
		}
		if strings.Contains(sc, q.Get("state")) {
			t.Error("the state cookie carries the state in clear")
		}
	})

	t.Run("first login with an allowed domain creates the account with IdP groups", func(t *testing.T) {
		c := g.client()
		m.QueueUser(idpUser("sub-alice", "Alice@Example.org", true, "eng", "ops"))
		expectLoggedIn(t, c, oidcLogin(t, c, "corp", "/app/x"), "/app/x", "alice@example.org", "eng,ops")
		sess := c.Get("/auth/session", api...).JSON()
		if u, _ := sess["user"].(map[string]any); u["email"] != "alice@example.org" {
			t.Errorf("session: %v", sess)
		}
	})

	t.Run("groups are refreshed at each login", func(t *testing.T) {
		c := g.client()
		m.QueueUser(idpUser("sub-alice", "alice@example.org", true, "eng"))
		expectLoggedIn(t, c, oidcLogin(t, c, "corp", "/app/y"), "/app/y", "alice@example.org", "eng")
	})

	t.Run("verified email links the existing account", func(t *testing.T) {
		c := g.client()
		m.QueueUser(idpUser("sub-bob", "bob@example.com", true))
		r := oidcLogin(t, c, "corp", "")
		expectStatus(t, r, http.StatusSeeOther)
		e := c.Get("/app/", api...).Echo()
		if got := e.Values("Remote-User")["Remote-User"]; len(got) != 1 || got[0] != bobID {
			t.Fatalf("Remote-User = %v, want bob %s", got, bobID)
		}
		ids := c.Get("/auth/oauth/identities", api...)
		if !strings.Contains(string(ids.Body), `"provider":"corp"`) {
			t.Errorf("identities: %s", ids)
		}
	})

	t.Run("another subject with a linked user's email does not reach that account", func(t *testing.T) {
		m.QueueUser(idpUser("sub-bob-2", "bob@example.com", true))
		expectRefused(t, oidcLogin(t, g.client(), "corp", ""), http.StatusConflict, "OAUTH_IDENTITY_TAKEN")
	})

	t.Run("unverified email does not link", func(t *testing.T) {
		m.QueueUser(idpUser("sub-carol", "carol@example.com", false))
		expectRefused(t, oidcLogin(t, g.client(), "corp", ""), http.StatusForbidden, "OAUTH_EMAIL_UNVERIFIED")
	})

	t.Run("unknown user with sign-up off is refused", func(t *testing.T) {
		m.QueueUser(idpUser("sub-dave", "dave@elsewhere.test", true))
		expectRefused(t, oidcLogin(t, g.client(), "corp", ""), http.StatusForbidden, "SIGNUP_DISABLED")
	})

	t.Run("bad state is refused", func(t *testing.T) {
		c := g.client()
		m.QueueUser(idpUser("sub-alice", "alice@example.org", true))
		cb, _ := url.Parse(idpAuthorize(t, c, oauthStart(t, c, "corp", "")))
		q := cb.Query()
		q.Set("state", q.Get("state")+"x")
		cb.RawQuery = q.Encode()
		expectRefused(t, c.Get(cb.String(), api...), http.StatusBadRequest, "OAUTH_STATE_INVALID")
	})

	t.Run("callback in another browser is refused", func(t *testing.T) {
		a, b := g.client(), g.client()
		m.QueueUser(idpUser("sub-alice", "alice@example.org", true))
		cb := idpAuthorize(t, a, oauthStart(t, a, "corp", ""))
		expectRefused(t, b.Get(cb, api...), http.StatusBadRequest, "OAUTH_STATE_INVALID")
	})

	t.Run("a replayed callback is refused", func(t *testing.T) {
		c := g.client()
		m.QueueUser(idpUser("sub-alice", "alice@example.org", true))
		start := oauthStart(t, c, "corp", "")
		stateCookie := c.Cookie("__Host-caddyauth_oauth_corp")
		cb := idpAuthorize(t, c, start)
		expectStatus(t, c.Get(cb, browser...), http.StatusSeeOther)
		// Same browser: the state cookie was used up.
		expectRefused(t, c.Get(cb, api...), http.StatusBadRequest, "OAUTH_STATE_INVALID")
		// A thief with the cookie too: the code was used up at the IdP.
		thief := g.client()
		expectRefused(t, thief.Get(cb, hdr(api, []string{"Cookie", "__Host-caddyauth_oauth_corp=" + stateCookie})...), http.StatusBadRequest, "OAUTH_PROVIDER_ERROR")
	})

	t.Run("ID token with a bad nonce is refused", func(t *testing.T) {
		m.QueueUser(twistedUser{idpUser("sub-alice", "alice@example.org", true), func(c *mockoidc.IDTokenClaims) { c.Nonce = "replayed-" + c.Nonce }})
		expectRefused(t, oidcLogin(t, g.client(), "corp", ""), http.StatusUnauthorized, "OAUTH_TOKEN_INVALID")
	})

	t.Run("ID token for another audience is refused", func(t *testing.T) {
		m.QueueUser(twistedUser{idpUser("sub-alice", "alice@example.org", true), func(c *mockoidc.IDTokenClaims) { c.Audience = jwt.ClaimStrings{"other-client"} }})
		expectRefused(t, oidcLogin(t, g.client(), "corp", ""), http.StatusUnauthorized, "OAUTH_TOKEN_INVALID")
	})

	t.Run("expired ID token is refused", func(t *testing.T) {
		m.QueueUser(twistedUser{idpUser("sub-alice", "alice@example.org", true), func(c *mockoidc.IDTokenClaims) {
			c.IssuedAt = jwt.NewNumericDate(time.Now().Add(-2 * time.Hour))
			c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Hour))
		}})
		expectRefused(t, oidcLogin(t, g.client(), "corp", ""), http.StatusUnauthorized, "OAUTH_TOKEN_INVALID")
	})

	t.Run("expired ID token by the IdP clock is refused", func(t *testing.T) {
		m.FastForward(-2 * time.Hour)
		defer m.FastForward(2 * time.Hour)
		m.QueueUser(idpUser("sub-alice", "alice@example.org", true))
		expectRefused(t, oidcLogin(t, g.client(), "corp", ""), http.StatusUnauthorized, "OAUTH_TOKEN_INVALID")
	})

	t.Run("JWKS rotation is picked up", func(t *testing.T) {
		kp, err := mockoidc.RandomKeypair(2048)
		if err != nil {
			t.Fatal(err)
		}
		m.Keypair = kp
		c := g.client()
		m.QueueUser(idpUser("sub-alice", "alice@example.org", true, "eng"))
		expectLoggedIn(t, c, oidcLogin(t, c, "corp", "/app/z"), "/app/z", "alice@example.org", "eng")
	})

	t.Run("provider error gives a clear page", func(t *testing.T) {
		c := g.client()
		start := oauthStart(t, c, "corp", "")
		r := c.Get("/auth/oauth/corp/callback?error=access_denied&state="+start.Query().Get("state"), browser...)
		expectStatus(t, r, http.StatusBadRequest)
		if !strings.Contains(string(r.Body), "cancelled or refused") || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
			t.Errorf("error page: %s", r)
		}
		expectRefused(t, c.Get("/auth/oauth/corp/callback?error=%3Cscript%3E", api...), http.StatusBadRequest, "OAUTH_PROVIDER_ERROR")
	})

	t.Run("discovery naming another issuer is refused", func(t *testing.T) {
		expectRefused(t, g.client().Get("/auth/oauth/evil/start", api...), http.StatusBadGateway, "OAUTH_PROVIDER_UNAVAILABLE")
	})

	t.Run("callback of another provider is refused (mix-up)", func(t *testing.T) {
		c := g.client()
		m.QueueUser(idpUser("sub-alice", "alice@example.org", true))
		cb := idpAuthorize(t, c, oauthStart(t, c, "corp", ""))
		expectRefused(t, c.Get(strings.Replace(cb, "/oauth/corp/", "/oauth/evil/", 1), api...), http.StatusBadRequest, "OAUTH_STATE_INVALID")
		expectRefused(t, c.Get("/auth/oauth/nope/callback", api...), http.StatusNotFound, "NOT_FOUND")
	})

	t.Run("google: hosted domain sent and required", func(t *testing.T) {
		c := g.client()
		if hd := oauthStart(t, c, "google", "").Query().Get("hd"); hd != "example.net" {
			t.Errorf("hd = %q", hd)
		}
		m.QueueUser(claimsUser{idpUser("g-1", "gina@example.net", true), map[string]any{"hd": "example.net"}})
		expectLoggedIn(t, c, oidcLogin(t, c, "google", "/app/g"), "/app/g", "gina@example.net", "-")
		m.QueueUser(claimsUser{idpUser("g-2", "gus@gmail.example", true), nil})
		expectRefused(t, oidcLogin(t, g.client(), "google", ""), http.StatusUnauthorized, "OAUTH_TOKEN_INVALID")
		m.QueueUser(claimsUser{idpUser("g-3", "gil@other.example", true), map[string]any{"hd": "other.example"}})
		expectRefused(t, oidcLogin(t, g.client(), "google", ""), http.StatusUnauthorized, "OAUTH_TOKEN_INVALID")
	})

	t.Run("the same subject at another provider is another account", func(t *testing.T) {
		// sub-alice at google is not alice's corp identity (ASVS 6.8.1).
		m.QueueUser(claimsUser{idpUser("sub-alice", "alice2@example.net", true), map[string]any{"hd": "example.net"}})
		c := g.client()
		expectLoggedIn(t, c, oidcLogin(t, c, "google", "/app/s"), "/app/s", "alice2@example.net", "-")
	})

	t.Run("link and unlink from the portal", func(t *testing.T) {
		// Alice has no password and one identity: it cannot go.
		c := g.client()
		m.QueueUser(idpUser("sub-alice", "alice@example.org", true))
		expectStatus(t, oidcLogin(t, c, "corp", ""), http.StatusSeeOther)
		expectRefused(t, c.PostJSON("/auth/oauth/corp/unlink", map[string]string{}), http.StatusConflict, "LAST_LOGIN_METHOD")

		// Bob (password) unlinks, then links again from the portal.
		b := g.client()
		b.Login("bob@example.com", pw)
		page := b.Get("/auth/login", browser...)
		if !strings.Contains(string(page.Body), `action="/auth/oauth/corp/unlink"`) {
			t.Fatalf("signed-in page has no unlink form:\n%s", page.Body)
		}
		r := b.PostJSON("/auth/oauth/corp/unlink", map[string]string{})
		expectStatus(t, r, http.StatusOK)
		if ids := b.Get("/auth/oauth/identities", api...); strings.Contains(string(ids.Body), "corp") {
			t.Fatalf("still linked: %s", ids)
		}
		// A cross-site page cannot start a link.
		expectRefused(t, b.Get("/auth/oauth/corp/start?link=1", "Accept", "application/json", "Sec-Fetch-Site", "cross-site"), http.StatusForbidden, "CROSS_ORIGIN_REQUEST")
		m.QueueUser(idpUser("sub-bob-3", "someone-else@example.net", false))
		r = b.Get("/auth/oauth/corp/start?link=1", "Accept", "text/html", "Sec-Fetch-Site", "same-origin")
		expectStatus(t, r, http.StatusFound)
		u, _ := url.Parse(r.Header.Get("Location"))
		cb := idpAuthorize(t, b, u)
		r = b.Get(cb, browser...)
		expectStatus(t, r, http.StatusSeeOther)
		if ids := b.Get("/auth/oauth/identities", api...); !strings.Contains(string(ids.Body), `"provider":"corp"`) {
			t.Fatalf("not linked: %s", ids)
		}
		// The linked identity now signs bob in, whatever its email.
		c2 := g.client()
		m.QueueUser(idpUser("sub-bob-3", "someone-else@example.net", false))
		expectLoggedIn(t, c2, oidcLogin(t, c2, "corp", "/app/b"), "/app/b", "bob@example.com", "-")
		// Anonymous unlink is refused.
		expectRefused(t, g.client().PostJSON("/auth/oauth/corp/unlink", map[string]string{}), http.StatusUnauthorized, "UNAUTHENTICATED")
	})
}

// TestOAuthConfigErrors: a provider without a usable secret refuses to
// start (ASVS 10.4.10).
func TestOAuthConfigErrors(t *testing.T) {
	t.Parallel()
	bin := harness.BuildBinary(t)
	for name, lines := range map[string][]string{
		"secret placeholder empty": {"oidc corp {\n\t\tissuer https://idp.example\n\t\tclient_id a\n\t\tclient_secret {env.CADDYAUTH_TEST_UNSET_SECRET}\n\t}"},
		"no secret":                {"oauth github {\n\t\tclient_id a\n\t}"},
		"unknown preset":           {"oauth myspace {\n\t\tclient_id a\n\t\tclient_secret b\n\t}"},
	} {
		t.Run(name, func(t *testing.T) {
			logs, _ := harness.RunCaddyExpectFailure(t, bin, badConfig(t, harness.RandomSecret(), lines, nil), 20*time.Second)
			if !strings.Contains(logs, "client_secret") && !strings.Contains(logs, "preset") {
				t.Errorf("error does not say what is wrong:\n%s", logs)
			}
		})
	}
}
