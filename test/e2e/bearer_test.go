package e2e

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyauth/gateway/docs/examples/assertion"
	"github.com/caddyauth/gateway/test/harness"
)

// tokens is a bearer-mode answer (login, MFA finish, refresh).
type tokens struct {
	Access, Refresh string
	ExpiresIn       float64
}

func readTokens(t *testing.T, r *harness.Response) tokens {
	t.Helper()
	if r.StatusCode != http.StatusOK {
		t.Fatalf("want tokens, got %s", r)
	}
	m := r.JSON()
	tk := tokens{}
	tk.Access, _ = m["access_token"].(string)
	tk.Refresh, _ = m["refresh_token"].(string)
	tk.ExpiresIn, _ = m["expires_in"].(float64)
	if tk.Access == "" || tk.Refresh == "" || m["token_type"] != "Bearer" {
		t.Fatalf("not a token answer: %s", r)
	}
	harness.Sensitive(tk.Access, tk.Refresh)
	return tk
}

// bearerLogin signs in with X-Access-Token-Type: header.
func bearerLogin(t *testing.T, c *harness.Client, email, pw string) tokens {
	t.Helper()
	harness.Sensitive(pw)
	r := c.PostJSON("/auth/login", map[string]string{"email": email, "password": pw}, "X-Access-Token-Type", "header")
	if sc := r.Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Fatalf("bearer login set cookies: %v", sc)
	}
	return readTokens(t, r)
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

func refresh(c *harness.Client, tok string) *harness.Response {
	return c.PostJSON("/auth/refresh", map[string]string{"refresh_token": tok})
}

// kidOf is the kid in a JWT's header.
func kidOf(t *testing.T, jwt string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(jwt, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Kid string }
	_ = json.Unmarshal(b, &h)
	return h.Kid
}

func jwksKids(t *testing.T, c *harness.Client) []string {
	t.Helper()
	r := c.Get("/auth/.well-known/jwks.json")
	expectStatus(t, r, http.StatusOK)
	var set struct {
		Keys []struct{ Kid, Kty, Crv, Alg string }
	}
	if err := json.Unmarshal(r.Body, &set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		if k.Kty != "OKP" || k.Crv != "Ed25519" || k.Alg != "EdDSA" {
			t.Fatalf("jwks key %+v", k)
		}
		kids = append(kids, k.Kid)
	}
	return kids
}

// TestBearerMode: a bearer login, the token through protect and the portal,
// refresh rotation, and reuse detection ending the whole session (issue 13
// item 2).
func TestBearerMode(t *testing.T) {
	t.Parallel()
	g := newGateway(t, nil)
	pw := newPassword()
	id := g.addUser("alice@example.test", "Alice", pw)
	g.start()
	c := g.client()
	first := bearerLogin(t, c, "alice@example.test", pw)
	if first.ExpiresIn != 900 {
		t.Errorf("expires_in = %v, want 900", first.ExpiresIn)
	}

	r := c.Get("/app", hdr(api, bearer(first.Access), []string{"Remote-User", "admin"})...)
	expectStatus(t, r, http.StatusOK)
	echo := r.Echo()
	if got := echo.Values("Remote-User"); len(got) != 1 || got["Remote-User"][0] != id {
		t.Fatalf("upstream Remote-User = %v", got)
	}
	if got := echo.Values("Authorization"); len(got) != 0 {
		t.Fatalf("the access token reached the upstream: %v", got)
	}
	expectStatus(t, c.Get("/auth/session", hdr(api, bearer(first.Access))...), http.StatusOK)

	second := readTokens(t, refresh(c, first.Refresh))
	third := readTokens(t, refresh(c, second.Refresh))
	expectStatus(t, c.Get("/app", hdr(api, bearer(third.Access))...), http.StatusOK)
	// The thief replays a spent refresh token: refused, and the session
	// ends, so the victim's newest tokens are refused too.
	expectError(t, refresh(c, second.Refresh), http.StatusUnauthorized, "REFRESH_TOKEN_INVALID")
	expectError(t, refresh(c, third.Refresh), http.StatusUnauthorized, "REFRESH_TOKEN_INVALID")
	expectError(t, c.Get("/app", hdr(api, bearer(third.Access))...), http.StatusUnauthorized, "SESSION_EXPIRED")

	// Bad tokens are a 401 with a stable code, never a 500 or a pass.
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt"}`)) + "." + strings.Split(first.Access, ".")[1] + "."
	for name, tok := range map[string]string{
		"alg none":  none,
		"truncated": first.Access[:len(first.Access)-7],
		"malformed": "a.b.c",
	} {
		r := c.Get("/app", hdr(api, bearer(tok))...)
		if r.StatusCode != http.StatusUnauthorized || r.Code() != "TOKEN_INVALID" {
			t.Errorf("%s: %s", name, r)
		}
	}
	expectError(t, refresh(c, "rt.forged"), http.StatusUnauthorized, "REFRESH_TOKEN_INVALID")
	if logs := g.caddy.Logs(); strings.Contains(logs, first.Refresh) || strings.Contains(logs, first.Access) {
		t.Fatal("a token in the log")
	}
}

// TestBearerRevocationOnSecondGateway: a logout, logout-all or CLI revoke
// on one instance is felt by access tokens on another within a second,
// with the default 5 s session cache (the sid goes through the cookie's
// cache and Redis revocation path).
func TestBearerRevocationOnSecondGateway(t *testing.T) {
	t.Parallel()
	a := newGateway(t, func(c *harness.GatewayConfig) { c.SessionCache = "" })
	pw := newPassword()
	a.addUser("alice@example.test", "Alice", pw)
	a.start()
	bcfg := a.cfg
	bcfg.Port, bcfg.AdminPort = 0, 0
	b := harness.StartCaddy(t, a.bin, bcfg.Caddyfile(t))
	onA, onB := a.client(), harness.NewClient(t, b.URL)

	// A token signed by A works on B: both derive the key from the secret.
	tk := bearerLogin(t, onA, "alice@example.test", pw)
	expectStatus(t, onB.Get("/app", hdr(api, bearer(tk.Access))...), http.StatusOK) // cached on B
	expectStatus(t, onA.PostJSON("/auth/logout", map[string]string{}, bearer(tk.Access)...), http.StatusOK)
	_, took := waitStatus(t, onB, "/app", http.StatusUnauthorized, time.Second, hdr(api, bearer(tk.Access))...)
	t.Logf("B refused the access token %s after logout on A", took.Round(time.Millisecond))

	// logout-all on B ends the tokens cached on A.
	tk = bearerLogin(t, onA, "alice@example.test", pw)
	expectStatus(t, onA.Get("/app", hdr(api, bearer(tk.Access))...), http.StatusOK)
	tb := bearerLogin(t, onB, "alice@example.test", pw)
	expectStatus(t, onB.PostJSON("/auth/logout-all", map[string]string{}, bearer(tb.Access)...), http.StatusOK)
	_, took = waitStatus(t, onA, "/app", http.StatusUnauthorized, time.Second, hdr(api, bearer(tk.Access))...)
	t.Logf("A refused the access token %s after logout-all on B", took.Round(time.Millisecond))
	expectError(t, refresh(onA, tk.Refresh), http.StatusUnauthorized, "REFRESH_TOKEN_INVALID")

	// An operator's revoke (the CLI) too.
	tk = bearerLogin(t, onA, "alice@example.test", pw)
	expectStatus(t, onB.Get("/app", hdr(api, bearer(tk.Access))...), http.StatusOK)
	if out, errOut, code := a.cli("", "auth", "sessions", "revoke", "--user", "alice@example.test", "--config", a.cfgPath); code != 0 {
		t.Fatalf("sessions revoke: %d %s %s", code, out, errOut)
	}
	_, took = waitStatus(t, onB, "/app", http.StatusUnauthorized, time.Second, hdr(api, bearer(tk.Access))...)
	t.Logf("B refused the access token %s after the CLI revoke", took.Round(time.Millisecond))

	// Disabling the account, too.
	tk = bearerLogin(t, onA, "alice@example.test", pw)
	expectStatus(t, onB.Get("/app", hdr(api, bearer(tk.Access))...), http.StatusOK)
	if out, errOut, code := a.cli("", "auth", "user", "disable", "alice@example.test", "--config", a.cfgPath); code != 0 {
		t.Fatalf("user disable: %d %s %s", code, out, errOut)
	}
	_, took = waitStatus(t, onB, "/app", http.StatusUnauthorized, time.Second, hdr(api, bearer(tk.Access))...)
	t.Logf("B refused the access token %s after the account was disabled", took.Round(time.Millisecond))
	expectError(t, refresh(onB, tk.Refresh), http.StatusUnauthorized, "REFRESH_TOKEN_INVALID")
}

// TestDrillKeyRotation follows the runbook "Rotate the master secret"
// (docs/runbooks.md): with previous_secret set, access tokens, refresh
// tokens and assertions made under the old secret keep working, new ones
// carry the new kid, and nobody is signed out; dropping previous_secret
// later ends only what the old key signed.
func TestDrillKeyRotation(t *testing.T) {
	t.Parallel()
	g := newGateway(t, func(c *harness.GatewayConfig) { c.ProtectOptions = append(c.ProtectOptions, "assertion") })
	pw := newPassword()
	g.addUser("alice@example.test", "Alice", pw)
	g.start()
	c := g.client()
	before := bearerLogin(t, c, "alice@example.test", pw)
	oldKids := jwksKids(t, c)
	oldAssertion := c.Get("/app", hdr(api, bearer(before.Access))...).Echo().Headers["Remote-Assertion"][0]
	harness.Sensitive(oldAssertion)

	// 1-2. A new secret; the old one becomes previous_secret. 3. Restart.
	old := g.cfg.Secret
	g.caddy.Stop()
	g.cfg.Secret = harness.RandomSecret()
	g.cfg.AppOptions = []string{"previous_secret " + old}
	harness.Sensitive(g.cfg.Secret, old)
	g.caddy = harness.StartCaddy(t, g.bin, g.cfg.Caddyfile(t))

	// Nobody is out: the old access token passes, its refresh token works.
	expectStatus(t, c.Get("/app", hdr(api, bearer(before.Access))...), http.StatusOK)
	after := readTokens(t, refresh(c, before.Refresh))
	if kidOf(t, after.Access) == kidOf(t, before.Access) {
		t.Fatal("the new access token carries the old kid")
	}
	kids := jwksKids(t, c)
	if len(kids) != 4 || !slices.Contains(kids, oldKids[0]) || !slices.Contains(kids, oldKids[1]) {
		t.Fatalf("jwks after rotation = %v, want the new and the old %v", kids, oldKids)
	}
	// The upstream's verifier still accepts the old assertion until its
	// exp, and the new one, by the keys the JWKS lists.
	v := &assertion.Verifier{JWKSURL: g.url() + "/auth/.well-known/jwks.json", Issuer: "caddyauth", Site: "localhost", Client: c.Client}
	if _, err := v.Verify(t.Context(), oldAssertion); err != nil {
		t.Fatalf("assertion signed before the rotation: %v", err)
	}
	newAssertion := c.Get("/app", hdr(api, bearer(after.Access))...).Echo().Headers["Remote-Assertion"][0]
	if _, err := v.Verify(t.Context(), newAssertion); err != nil || kidOf(t, newAssertion) == kidOf(t, oldAssertion) {
		t.Fatalf("assertion after the rotation: %v (kid %s)", err, kidOf(t, newAssertion))
	}

	// 4. Once the old tokens have expired, drop previous_secret: what the
	// old key signed is refused, the rotated tokens keep working.
	g.caddy.Stop()
	g.cfg.AppOptions = nil
	g.caddy = harness.StartCaddy(t, g.bin, g.cfg.Caddyfile(t))
	expectError(t, c.Get("/app", hdr(api, bearer(before.Access))...), http.StatusUnauthorized, "TOKEN_INVALID")
	expectStatus(t, c.Get("/app", hdr(api, bearer(after.Access))...), http.StatusOK)
	readTokens(t, refresh(c, after.Refresh))
	if kids := jwksKids(t, c); len(kids) != 2 {
		t.Fatalf("jwks without previous_secret = %v", kids)
	}
}

// TestAssertionVerifiedUpstream runs docs/examples/assertion, the upstream
// side the docs show, behind `protect { assertion }`: it fetches the JWKS
// from the gateway and admits only requests whose assertion verifies.
func TestAssertionVerifiedUpstream(t *testing.T) {
	t.Parallel()
	v := &assertion.Verifier{Issuer: "caddyauth", Site: "localhost"}
	app := httptest.NewServer(v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := assertion.ClaimsFrom(r.Context())
		w.Header().Set("X-Echo-Upstream", "1")
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"sub": c.Subject, "email": c.Email, "groups": c.Groups, "amr": c.AMR,
			"aud": c.Audience, "raw": r.Header.Get(assertion.Header),
		})
	})))
	t.Cleanup(app.Close)
	g := newGateway(t, func(c *harness.GatewayConfig) {
		c.Upstream = harness.UpstreamAddr(app)
		c.ProtectOptions = append(c.ProtectOptions, "assertion")
	})
	pw := newPassword()
	id := g.addUser("alice@example.test", "Alice", pw, "finance")
	g.start()
	v.JWKSURL, v.Client = g.url()+"/auth/.well-known/jwks.json", g.client().Client

	c := g.client()
	c.Login("alice@example.test", pw)
	r := c.Get("/app", hdr(api, []string{"Remote-Assertion", "forged"})...)
	expectStatus(t, r, http.StatusOK)
	m := r.JSON()
	if m["sub"] != id || m["email"] != "alice@example.test" || mustJSONString(m["groups"]) != `["finance"]` || mustJSONString(m["aud"]) != `["`+strings.TrimPrefix(g.url(), "https://")+`","localhost"]` {
		t.Fatalf("verified claims = %v", m)
	}
	// A bearer client gets the same.
	tk := bearerLogin(t, g.client(), "alice@example.test", pw)
	expectStatus(t, g.client().Get("/app", hdr(api, bearer(tk.Access))...), http.StatusOK)
	// The verifier itself refuses what is not the gateway's assertion for
	// this site.
	if _, err := v.Verify(t.Context(), tk.Access); err == nil {
		t.Fatal("the verifier accepted an access token as an assertion")
	}
	raw, _ := m["raw"].(string)
	harness.Sensitive(raw)
	other := &assertion.Verifier{JWKSURL: v.JWKSURL, Client: v.Client, Issuer: "caddyauth", Site: "other.example.com"}
	if _, err := other.Verify(t.Context(), raw); err == nil {
		t.Fatal("an assertion for localhost verified at another site")
	}
	if _, err := v.Verify(t.Context(), raw); err != nil {
		t.Fatalf("the assertion itself: %v", err)
	}
	// Without the gateway in front, the app refuses.
	direct := harness.NewClient(t, app.URL)
	if r := direct.Get("/app", "Remote-Assertion", "forged"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("app without the gateway: %s", r)
	}
}

func mustJSONString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestBearerMFA: in bearer mode a user with an authenticator gets an
// mfa_token, which opens nothing but the challenge; the challenge answers
// the tokens, and they open a `require mfa` path. No cookie at any step.
func TestBearerMFA(t *testing.T) {
	t.Parallel()
	g := newGateway(t, func(c *harness.GatewayConfig) {
		c.SiteExtra = []string{"protect /strict* {\n\t\trequire mfa\n\t}"}
	})
	pw := newPassword()
	g.addUser("alice@example.test", "Alice", pw)
	g.start()
	c := g.client()
	c.Login("alice@example.test", pw)
	r := c.PostJSON("/auth/mfa/totp/setup", map[string]string{"name": "phone"})
	expectStatus(t, r, http.StatusOK)
	secret, _ := r.JSON()["secret"].(string)
	harness.Sensitive(secret)
	enrolAt := time.Now()
	expectStatus(t, c.PostJSON("/auth/mfa/totp/verify", map[string]string{"code": oathtool(t, secret, enrolAt)}), http.StatusOK)

	app := g.client()
	r = app.PostJSON("/auth/login", map[string]string{"email": "alice@example.test", "password": pw}, "X-Access-Token-Type", "header")
	expectStatus(t, r, http.StatusOK)
	if sc := r.Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Fatalf("bearer MFA stage set cookies: %v", sc)
	}
	ans := r.JSON()
	mt, _ := ans["mfa_token"].(string)
	harness.Sensitive(mt)
	if ans["mfa_required"] != true || mt == "" || ans["access_token"] != nil {
		t.Fatalf("bearer login with MFA: %s", r)
	}
	for _, p := range []string{"/app", "/strict/x", "/auth/session"} {
		expectError(t, app.Get(p, hdr(api, bearer(mt))...), http.StatusUnauthorized, "MFA_REQUIRED")
	}
	expectError(t, refresh(app, mt), http.StatusUnauthorized, "REFRESH_TOKEN_INVALID")

	r = app.PostJSON("/auth/mfa/challenge", map[string]any{"method": "totp", "code": oathtool(t, secret, enrolAt.Add(30*time.Second))}, bearer(mt)...)
	if sc := r.Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Fatalf("bearer challenge set cookies: %v", sc)
	}
	tk := readTokens(t, r)
	expectStatus(t, app.Get("/strict/x", hdr(api, bearer(tk.Access))...), http.StatusOK)
	// The stage ended with the challenge: its token is dead.
	expectError(t, app.Get("/auth/mfa/challenge", hdr(api, bearer(mt))...), http.StatusUnauthorized, "UNAUTHENTICATED")
	// The refreshed token keeps the second factor.
	tk = readTokens(t, refresh(app, tk.Refresh))
	expectStatus(t, app.Get("/strict/x", hdr(api, bearer(tk.Access))...), http.StatusOK)
}
