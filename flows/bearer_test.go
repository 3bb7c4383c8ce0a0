package flows

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/internal/ratelimit"
	"github.com/caddyauth/gateway/internal/session"
	"github.com/caddyauth/gateway/internal/totp"
	"github.com/caddyauth/gateway/store/memory"
)

// bearerLogin signs alice in with X-Access-Token-Type: header and returns
// the token answer, checking that no cookie was set.
func (e *env) bearerLogin() tokenBody {
	e.t.Helper()
	r := jsonReq("POST", "/auth/login", `{"email":"alice@example.test","password":"`+alicePW+`"}`)
	r.Header.Set(TokenTypeHeader, "header")
	res := e.do(r)
	if res.StatusCode != 200 {
		e.t.Fatalf("bearer login: %d %v", res.StatusCode, body(e.t, res))
	}
	if len(res.Header.Values("Set-Cookie")) != 0 {
		e.t.Fatalf("bearer login set a cookie: %v", res.Header.Values("Set-Cookie"))
	}
	var tb tokenBody
	if err := json.NewDecoder(res.Body).Decode(&tb); err != nil {
		e.t.Fatal(err)
	}
	if tb.AccessToken == "" || !strings.HasPrefix(tb.RefreshToken, refreshPrefix) || tb.TokenType != "Bearer" || tb.ExpiresIn != 900 {
		e.t.Fatalf("token answer = %+v", tb)
	}
	return tb
}

func withBearer(r *http.Request, tok string) *http.Request {
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

func (e *env) refresh(tok string) *http.Response {
	return e.do(jsonReq("POST", "/auth/refresh", `{"refresh_token":"`+tok+`"}`))
}

func decodeTokens(t *testing.T, res *http.Response) tokenBody {
	t.Helper()
	if res.StatusCode != 200 {
		t.Fatalf("refresh: %d %v", res.StatusCode, body(t, res))
	}
	var tb tokenBody
	_ = json.NewDecoder(res.Body).Decode(&tb)
	return tb
}

func wantCode(t *testing.T, what string, res *http.Response, status int, code string) {
	t.Helper()
	if e := decodeErr(t, res); e.Status != status || e.Code != code {
		t.Errorf("%s: %d %s, want %d %s", what, e.Status, e.Code, status, code)
	}
}

func TestBearerLoginOpensTheSite(t *testing.T) {
	e := newEnv(t, Config{}, GuardConfig{})
	tb := e.bearerLogin()

	r := withBearer(jsonReq("GET", "/app", ""), tb.AccessToken)
	r.Header.Set("Remote-User", "admin") // spoofed: stripped
	res := e.do(r)
	if res.StatusCode != 200 {
		t.Fatalf("app with a bearer token: %d", res.StatusCode)
	}
	var up http.Header
	_ = json.NewDecoder(res.Body).Decode(&up)
	if up.Get("Remote-User") != e.alice.ID || up.Get("Remote-Email") != "alice@example.test" {
		t.Fatalf("upstream identity = %v", up)
	}
	if up.Get("Authorization") != "" {
		t.Fatal("the access token reached the upstream")
	}
	res = e.do(withBearer(jsonReq("GET", "/auth/session", ""), tb.AccessToken))
	if b := body(t, res); res.StatusCode != 200 || b["authenticated"] != true {
		t.Fatalf("/auth/session with a bearer token: %d %v", res.StatusCode, b)
	}

	// The claims: iss, aud, sub, sid, exp 15 minutes on, amr.
	var c accessClaims
	if _, _, err := jwt.NewParser().ParseUnverified(tb.AccessToken, &c); err != nil {
		t.Fatal(err)
	}
	sess, _ := e.svc.deps.Sessions.List(context.Background(), e.alice.ID)
	if c.Issuer != DefaultIssuer || len(c.Audience) != 1 || c.Audience[0] != DefaultIssuer || c.Subject != e.alice.ID ||
		len(sess) != 1 || c.SID != sess[0].ID || c.ExpiresAt.Sub(c.IssuedAt.Time) != 15*time.Minute ||
		strings.Join(c.AMR, ",") != "pwd" {
		t.Fatalf("claims = %+v", c)
	}
}

func TestBearerRefreshRotatesAndReuseEndsTheSession(t *testing.T) {
	e := newEnv(t, Config{}, GuardConfig{})
	first := e.bearerLogin()
	second := decodeTokens(t, e.refresh(first.RefreshToken))
	if second.RefreshToken == first.RefreshToken || second.AccessToken == "" {
		t.Fatalf("refresh did not rotate: %+v", second)
	}
	third := decodeTokens(t, e.refresh(second.RefreshToken))
	if res := e.do(withBearer(jsonReq("GET", "/app", ""), third.AccessToken)); res.StatusCode != 200 {
		t.Fatalf("refreshed access token: %d", res.StatusCode)
	}
	// A thief replays the second refresh token: refused, and the whole
	// session ends, so the victim's newest tokens die too.
	wantCode(t, "reused refresh token", e.refresh(second.RefreshToken), 401, CodeRefreshTokenInvalid)
	wantCode(t, "newest refresh token after reuse", e.refresh(third.RefreshToken), 401, CodeRefreshTokenInvalid)
	wantCode(t, "newest access token after reuse", e.do(withBearer(jsonReq("GET", "/app", ""), third.AccessToken)), 401, CodeSessionExpired)
	if n, _ := e.svc.deps.Sessions.List(context.Background(), e.alice.ID); len(n) != 0 {
		t.Fatalf("%d sessions left after reuse", len(n))
	}
}

func TestRefreshRefusesWhatIsNotARefreshToken(t *testing.T) {
	e := newEnv(t, Config{}, GuardConfig{})
	tb := e.bearerLogin()
	good := tb.RefreshToken
	flip := []byte(good)
	flip[len(flip)-3] ^= 1
	for name, tok := range map[string]string{
		"empty":          "",
		"access token":   tb.AccessToken,
		"garbage":        "rt.garbage",
		"truncated":      good[:len(good)-4],
		"flipped MAC":    string(flip),
		"no prefix":      strings.TrimPrefix(good, refreshPrefix),
		"other secret's": newEnv(t, Config{}, GuardConfig{}).bearerLogin().RefreshToken,
	} {
		wantCode(t, name, e.refresh(tok), 401, CodeRefreshTokenInvalid)
	}
	res := e.do(jsonReq("POST", "/auth/refresh", `{"refresh_token":"x","extra":1}`))
	wantCode(t, "unknown field", res, 400, CodeInvalidInput)
	// None of that ended the session: only a genuine, spent token does.
	decodeTokens(t, e.refresh(good))
	// A refresh token is no bearer credential.
	wantCode(t, "refresh token as bearer", e.do(withBearer(jsonReq("GET", "/app", ""), good)), 401, CodeUnauthenticated)
}

// Every malformed or foreign access token is a 401 with a stable code,
// never a pass and never a 500 (issue 13 item 6).
func TestBearerRefusals(t *testing.T) {
	clk := newClock()
	e := newEnv(t, Config{Now: clk.Now}, GuardConfig{})
	tb := e.bearerLogin()
	var c accessClaims
	_, _, _ = jwt.NewParser().ParseUnverified(tb.AccessToken, &c)
	sign := func(mut func(*accessClaims)) string {
		cc := c
		mut(&cc)
		s, err := e.svc.tokens.access.Sign(typAccess, &cc)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	otherRing, _ := keys.NewRing(keys.NewToken(), "")
	otherKey, _ := otherRing.Signer("access-token").Sign(typAccess, &c)
	assertionKey, _ := e.svc.tokens.assertion.Sign(typAccess, &c)
	wrongTyp, _ := e.svc.tokens.access.Sign(typAssertion, &c)
	parts := strings.Split(tb.AccessToken, ".")
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt"}`)) + "." + parts[1] + "."
	cases := []struct {
		name, tok, code string
	}{
		{"malformed", "abc.def.ghi", CodeTokenInvalid},
		{"truncated", tb.AccessToken[:len(tb.AccessToken)-5], CodeTokenInvalid},
		{"alg none", none, CodeTokenInvalid},
		{"empty bearer", "", CodeTokenInvalid},
		{"another secret's key (wrong kid)", otherKey, CodeTokenInvalid},
		{"the assertion key", assertionKey, CodeTokenInvalid},
		{"assertion typ", wrongTyp, CodeTokenInvalid},
		{"other audience", sign(func(c *accessClaims) { c.Audience = jwt.ClaimStrings{"other"} }), CodeTokenInvalid},
		{"other issuer", sign(func(c *accessClaims) { c.Issuer = "evil" }), CodeTokenInvalid},
		{"future-dated", sign(func(c *accessClaims) {
			c.IssuedAt = jwt.NewNumericDate(clk.Now().Add(time.Hour))
			c.ExpiresAt = jwt.NewNumericDate(clk.Now().Add(2 * time.Hour))
		}), CodeTokenInvalid},
		{"not before", sign(func(c *accessClaims) { c.NotBefore = jwt.NewNumericDate(clk.Now().Add(time.Hour)) }), CodeTokenInvalid},
		{"other user's sub", sign(func(c *accessClaims) { c.Subject = "someone-else" }), CodeTokenInvalid},
		{"no sid", sign(func(c *accessClaims) { c.SID = "" }), CodeTokenInvalid},
		{"unknown sid", sign(func(c *accessClaims) { c.SID = strings.Repeat("ab", 32) }), CodeSessionExpired},
		{"expired", sign(func(c *accessClaims) { c.ExpiresAt = jwt.NewNumericDate(clk.Now().Add(-time.Minute)) }), CodeTokenExpired},
	}
	for _, tc := range cases {
		for _, path := range []string{"/app", "/auth/session"} {
			wantCode(t, tc.name+" at "+path, e.do(withBearer(jsonReq("GET", path, ""), tc.tok)), 401, tc.code)
		}
	}
	// An API key's shape is not this strategy's: the key strategy judges
	// it on a protected site, and the portal takes no keys at all.
	apiKeyShape := "cak_0123456789abcdef_secretsecretsecret"
	wantCode(t, "api key shape at /app", e.do(withBearer(jsonReq("GET", "/app", ""), apiKeyShape)), 401, CodeTokenInvalid)
	wantCode(t, "api key shape at /auth/session", e.do(withBearer(jsonReq("GET", "/auth/session", ""), apiKeyShape)), 401, CodeUnauthenticated)
	// Time passes: the genuine token expires after 15 minutes.
	clk.Advance(16 * time.Minute)
	wantCode(t, "expired genuine token", e.do(withBearer(jsonReq("GET", "/app", ""), tb.AccessToken)), 401, CodeTokenExpired)
	// Its refresh token still gets a fresh one.
	fresh := decodeTokens(t, e.refresh(tb.RefreshToken))
	if res := e.do(withBearer(jsonReq("GET", "/app", ""), fresh.AccessToken)); res.StatusCode != 200 {
		t.Fatalf("refreshed token: %d", res.StatusCode)
	}
}

func TestBearerLogoutEndsTheTokens(t *testing.T) {
	e := newEnv(t, Config{}, GuardConfig{})
	tb := e.bearerLogin()
	res := e.do(withBearer(jsonReq("POST", "/auth/logout", ""), tb.AccessToken))
	if res.StatusCode != 200 {
		t.Fatalf("logout: %d", res.StatusCode)
	}
	wantCode(t, "access token after logout", e.do(withBearer(jsonReq("GET", "/app", ""), tb.AccessToken)), 401, CodeSessionExpired)
	wantCode(t, "refresh token after logout", e.refresh(tb.RefreshToken), 401, CodeRefreshTokenInvalid)

	// logout-all and an admin-style revoke go through the same path.
	tb = e.bearerLogin()
	if res := e.do(withBearer(jsonReq("POST", "/auth/logout-all", ""), tb.AccessToken)); res.StatusCode != 200 {
		t.Fatalf("logout-all: %d", res.StatusCode)
	}
	wantCode(t, "access token after logout-all", e.do(withBearer(jsonReq("GET", "/app", ""), tb.AccessToken)), 401, CodeSessionExpired)
	tb = e.bearerLogin()
	if _, err := e.svc.deps.Sessions.RevokeUser(context.Background(), e.alice.ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "access token after revoke", e.do(withBearer(jsonReq("GET", "/app", ""), tb.AccessToken)), 401, CodeSessionExpired)
}

func TestBearerStoreDownFailsClosed(t *testing.T) {
	e := newEnv(t, Config{}, GuardConfig{})
	tb := e.bearerLogin()
	e.ss.mu.Lock()
	e.ss.down = true
	e.ss.mu.Unlock()
	wantCode(t, "bearer with the store down", e.do(withBearer(jsonReq("GET", "/app", ""), tb.AccessToken)), 503, CodeStoreUnavailable)
	wantCode(t, "refresh with the store down", e.refresh(tb.RefreshToken), 503, CodeStoreUnavailable)
}

func TestRefreshRateLimitedPerSession(t *testing.T) {
	e := newEnv(t, Config{Tokens: TokenConfig{RefreshSession: ratelimit.Rate{N: 2, Per: time.Hour}}}, GuardConfig{})
	tb := e.bearerLogin()
	tb = decodeTokens(t, e.refresh(tb.RefreshToken))
	tb = decodeTokens(t, e.refresh(tb.RefreshToken))
	res := e.refresh(tb.RefreshToken)
	if res.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	wantCode(t, "third refresh in the hour", res, 429, CodeRateLimited)
	// Another session of the same client is not held back.
	other := e.bearerLogin()
	decodeTokens(t, e.refresh(other.RefreshToken))
}

func TestRefreshRateLimitedPerClient(t *testing.T) {
	e := newEnv(t, Config{Tokens: TokenConfig{RefreshClient: ratelimit.Rate{N: 3, Per: time.Hour}}}, GuardConfig{})
	for range 3 {
		wantCode(t, "bad refresh", e.refresh("rt.nothing"), 401, CodeRefreshTokenInvalid)
	}
	wantCode(t, "fourth refresh from the client", e.refresh("rt.nothing"), 429, CodeRateLimited)
}

func TestBearerMFAStage(t *testing.T) {
	m := newMFAEnv(t, MFAConfig{}, GuardConfig{})
	full := m.login(alicePW)
	secret, _, _ := m.enrol(full)

	r := jsonReq("POST", "/auth/login", `{"email":"alice@example.test","password":"`+alicePW+`"}`)
	r.Header.Set(TokenTypeHeader, "header")
	res := m.do(r)
	if len(res.Header.Values("Set-Cookie")) != 0 {
		t.Fatal("bearer MFA stage set a cookie")
	}
	b := body(t, res)
	mt, _ := b["mfa_token"].(string)
	if b["mfa_required"] != true || !strings.HasPrefix(mt, mfaTokenPrefix) || b["access_token"] != nil {
		t.Fatalf("stage answer = %v", b)
	}
	// The MFA token opens nothing but the challenge.
	for _, path := range []string{"/app", "/auth/session"} {
		wantCode(t, "mfa token at "+path, m.do(withBearer(jsonReq("GET", path, ""), mt)), 401, CodeMFARequired)
	}
	wantCode(t, "mfa token at refresh", m.refresh(mt), 401, CodeRefreshTokenInvalid)

	m.clk.Advance(30 * time.Second)
	code, _ := totp.Code(secret, m.clk.Now())
	res = m.do(withBearer(jsonReq("POST", "/auth/mfa/challenge", `{"method":"totp","code":"`+code+`"}`), mt))
	if len(res.Header.Values("Set-Cookie")) != 0 {
		t.Fatal("bearer challenge set a cookie")
	}
	b = body(t, res)
	at, _ := b["access_token"].(string)
	if res.StatusCode != 200 || at == "" || b["refresh_token"] == nil || b["mfa"] != "totp" {
		t.Fatalf("challenge answer %d = %v", res.StatusCode, b)
	}
	var c accessClaims
	_, _, _ = jwt.NewParser().ParseUnverified(at, &c)
	if strings.Join(c.AMR, ",") != "pwd,otp,mfa" {
		t.Fatalf("amr = %v", c.AMR)
	}
	if res := m.do(withBearer(jsonReq("GET", "/app", ""), at)); res.StatusCode != 200 {
		t.Fatalf("app after the bearer challenge: %d", res.StatusCode)
	}
	// The stage token died with the stage.
	res = m.do(withBearer(jsonReq("POST", "/auth/mfa/challenge", `{"method":"totp","code":"`+code+`"}`), mt))
	if res.StatusCode != 401 {
		t.Fatalf("stage token after the challenge: %d", res.StatusCode)
	}
}

// With previous_secret set, tokens signed before the rotation still work
// until they expire, new ones carry the new kid, and nobody is logged out
// (issue 13 item 5).
func TestBearerKeyRotation(t *testing.T) {
	const oldSecret = "aZWvfu3FphMY0K5UmMrLNf7wo59gAMFMtrCn2Mwn"
	const newSecret = "KkRIOFeAsBhXAjFyF_y9XJ5x-USkb4VaPtydAJ2a"
	mem := memory.New()
	mgr, _ := session.New(mem, mem, session.Config{CacheTTL: -1})
	build := func(cur, prev string) *env {
		ring, err := keys.NewRing(cur, prev)
		if err != nil {
			t.Fatal(err)
		}
		e := newEnvWith(t, Config{Keys: ring}, GuardConfig{}, func(d *Deps) { d.Users, d.Tokens, d.Sessions = mem, mem, mgr })
		return e
	}
	before := build(oldSecret, "")
	if err := mem.CreateUser(context.Background(), before.alice); err != nil {
		t.Fatal(err)
	}
	tb := before.bearerLogin()
	after := build(newSecret, oldSecret)
	if after.svc.tokens.access.KID() == before.svc.tokens.access.KID() {
		t.Fatal("the kid did not change")
	}
	if res := after.do(withBearer(jsonReq("GET", "/app", ""), tb.AccessToken)); res.StatusCode != 200 {
		t.Fatalf("old access token after rotation: %d", res.StatusCode)
	}
	fresh := decodeTokens(t, after.refresh(tb.RefreshToken))
	hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(fresh.AccessToken, ".")[0])
	if !strings.Contains(string(hdr), after.svc.tokens.access.KID()) {
		t.Fatalf("new token header %s lacks the new kid", hdr)
	}
	// The JWKS lists the current and the previous keys.
	res := after.do(jsonReq("GET", "/auth/.well-known/jwks.json", ""))
	var set struct{ Keys []keys.JWK }
	_ = json.NewDecoder(res.Body).Decode(&set)
	if len(set.Keys) != 4 || res.Header.Get("Cache-Control") != "public, max-age=300" {
		t.Fatalf("jwks = %+v (%s)", set, res.Header.Get("Cache-Control"))
	}
	// Dropping previous_secret (the leaked-secret runbook) ends them.
	dropped := build(newSecret, "")
	wantCode(t, "old token once previous_secret is gone", dropped.do(withBearer(jsonReq("GET", "/app", ""), tb.AccessToken)), 401, CodeTokenInvalid)
	if res := dropped.do(withBearer(jsonReq("GET", "/app", ""), fresh.AccessToken)); res.StatusCode != 200 {
		t.Fatalf("new token on the new secret alone: %d", res.StatusCode)
	}
}

func TestTokenConfigApplies(t *testing.T) {
	e := newEnv(t, Config{Tokens: TokenConfig{Issuer: "auth.example.com", AccessTTL: 5 * time.Minute, AssertionTTL: 20 * time.Second}},
		GuardConfig{Assertion: &AssertionConfig{}})
	r := jsonReq("POST", "/auth/login", `{"email":"alice@example.test","password":"`+alicePW+`"}`)
	r.Header.Set(TokenTypeHeader, "header")
	tb := decodeTokens(t, e.do(r))
	var c accessClaims
	_, _, _ = jwt.NewParser().ParseUnverified(tb.AccessToken, &c)
	if tb.ExpiresIn != 300 || c.Issuer != "auth.example.com" || c.Audience[0] != "auth.example.com" {
		t.Fatalf("expires_in %d, claims %+v", tb.ExpiresIn, c)
	}
	res := e.do(withBearer(jsonReq("GET", "/x", ""), tb.AccessToken))
	var up http.Header
	_ = json.NewDecoder(res.Body).Decode(&up)
	var a assertionClaims
	_, _, _ = jwt.NewParser().ParseUnverified(up.Get(DefaultAssertionHeader), &a)
	if a.Issuer != "auth.example.com" || a.ExpiresAt.Sub(a.IssuedAt.Time) != 20*time.Second {
		t.Fatalf("assertion claims %+v", a)
	}
	if _, err := New(Config{Tokens: TokenConfig{AccessTTL: -time.Second}}, e.svc.deps); err == nil {
		t.Fatal("a negative lifetime accepted")
	}
}

// A password change by a bearer caller ends its old session (also with
// logout_others false) and continues in a new one, answered as tokens.
func TestBearerChangePassword(t *testing.T) {
	e := newEnv(t, Config{}, GuardConfig{})
	tb := e.bearerLogin()
	const newPW = "a brand new password for alice"
	res := e.do(withBearer(jsonReq("POST", "/auth/change-password",
		`{"current_password":"`+alicePW+`","new_password":"`+newPW+`","logout_others":false}`), tb.AccessToken))
	if len(res.Header.Values("Set-Cookie")) != 0 {
		t.Fatalf("bearer change-password set a cookie: %v", res.Header.Values("Set-Cookie"))
	}
	b := body(t, res)
	at, _ := b["access_token"].(string)
	if res.StatusCode != 200 || b["password_changed"] != true || at == "" {
		t.Fatalf("change-password answer %d = %v", res.StatusCode, b)
	}
	wantCode(t, "old access token after the change", e.do(withBearer(jsonReq("GET", "/app", ""), tb.AccessToken)), 401, CodeSessionExpired)
	wantCode(t, "old refresh token after the change", e.refresh(tb.RefreshToken), 401, CodeRefreshTokenInvalid)
	if res := e.do(withBearer(jsonReq("GET", "/app", ""), at)); res.StatusCode != 200 {
		t.Fatalf("new access token: %d", res.StatusCode)
	}
}

// The mfa_token may come in the challenge's JSON body instead of the
// Authorization header.
func TestBearerMFATokenInBody(t *testing.T) {
	m := newMFAEnv(t, MFAConfig{}, GuardConfig{})
	secret, _, _ := m.enrol(m.login(alicePW))
	r := jsonReq("POST", "/auth/login", `{"email":"alice@example.test","password":"`+alicePW+`"}`)
	r.Header.Set(TokenTypeHeader, "header")
	mt, _ := body(t, m.do(r))["mfa_token"].(string)
	m.clk.Advance(30 * time.Second)
	code, _ := totp.Code(secret, m.clk.Now())
	// A wrong token in the body is no caller.
	res := m.do(jsonReq("POST", "/auth/mfa/challenge", `{"method":"totp","code":"`+code+`","mfa_token":"mfa.nope"}`))
	wantCode(t, "unknown mfa_token in the body", res, 401, CodeUnauthenticated)
	res = m.do(jsonReq("POST", "/auth/mfa/challenge", `{"method":"totp","code":"`+code+`","mfa_token":"`+mt+`"}`))
	b := body(t, res)
	if res.StatusCode != 200 || b["access_token"] == nil || len(res.Header.Values("Set-Cookie")) != 0 {
		t.Fatalf("challenge with the body's mfa_token: %d %v", res.StatusCode, b)
	}
	// The field is refused where it means nothing.
	res = m.do(jsonReq("POST", "/auth/login", `{"email":"alice@example.test","password":"x","mfa_token":"`+mt+`"}`))
	wantCode(t, "mfa_token at login", res, 400, CodeInvalidInput)
}

// A bearer session that adds an authenticator is rotated like a cookie
// one: the old session (found by id, there is no session token) ends, and
// the new one comes back as tokens.
func TestBearerEnrolmentRotates(t *testing.T) {
	m := newMFAEnv(t, MFAConfig{}, GuardConfig{})
	tb := m.bearerLogin()
	res := m.do(withBearer(jsonReq("POST", "/auth/mfa/totp/setup", `{"name":"phone"}`), tb.AccessToken))
	secret, _ := body(t, res)["secret"].(string)
	code, _ := totp.Code(secret, m.clk.Now())
	res = m.do(withBearer(jsonReq("POST", "/auth/mfa/totp/verify", `{"code":"`+code+`"}`), tb.AccessToken))
	if len(res.Header.Values("Set-Cookie")) != 0 {
		t.Fatal("bearer enrolment set a cookie")
	}
	b := body(t, res)
	at, _ := b["access_token"].(string)
	if res.StatusCode != 200 || at == "" || b["recovery_codes"] == nil {
		t.Fatalf("enrolment answer %d = %v", res.StatusCode, b)
	}
	wantCode(t, "the access token of the session before the enrolment", m.do(withBearer(jsonReq("GET", "/app", ""), tb.AccessToken)), 401, CodeSessionExpired)
	wantCode(t, "its refresh token", m.refresh(tb.RefreshToken), 401, CodeRefreshTokenInvalid)
	var c accessClaims
	_, _, _ = jwt.NewParser().ParseUnverified(at, &c)
	if strings.Join(c.AMR, ",") != "pwd,otp,mfa" {
		t.Fatalf("amr after enrolment = %v", c.AMR)
	}
	if res := m.do(withBearer(jsonReq("GET", "/app", ""), at)); res.StatusCode != 200 {
		t.Fatalf("new access token: %d", res.StatusCode)
	}
}

// Concurrent refreshes with one token: exactly one gets the next tokens;
// the others are reuses and end the session, the winner's new tokens with
// it (a token that two parties present at once has been copied).
func TestRefreshRaceOneWinner(t *testing.T) {
	e := newEnv(t, Config{}, GuardConfig{})
	tb := e.bearerLogin()
	const n = 8
	codes := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes <- e.refresh(tb.RefreshToken).StatusCode
		}()
	}
	wg.Wait()
	close(codes)
	won := 0
	for c := range codes {
		switch c {
		case 200:
			won++
		case 401:
		default:
			t.Errorf("refresh answered %d", c)
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d concurrent refreshes with one token won, want 1", won, n)
	}
	if list, _ := e.svc.deps.Sessions.List(context.Background(), e.alice.ID); len(list) != 0 {
		t.Fatalf("the session survived a raced refresh token: %d left", len(list))
	}
}
