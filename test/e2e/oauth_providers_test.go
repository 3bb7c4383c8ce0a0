package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/caddyauth/gateway/test/harness"
)

// fakeProvider is an OAuth 2 authorization server that speaks one
// provider's documented endpoints. It checks, server side, what a real one
// checks: client credentials, single-use codes, the redirect URI and the
// PKCE S256 verifier.
type fakeProvider struct {
	t            *testing.T
	srv          *httptest.Server
	clientID     string
	clientSecret string // "" for Apple (checked as a JWT instead)
	checkSecret  func(string) error

	mu       sync.Mutex
	codes    map[string]*fakeGrant
	tokens   map[string]*fakeAccount
	next     []*fakeAccount
	verified int // exchanges whose PKCE verifier matched
	lastAuth url.Values
	problems []string
}

type fakeAccount struct {
	ID       int64
	Login    string
	Name     string
	Email    string // facebook, apple
	Verified bool   // apple
	Emails   []map[string]any
}

type fakeGrant struct {
	acct        *fakeAccount
	challenge   string
	redirectURI string
	nonce       string
	used        bool
}

func newFakeProvider(t *testing.T, clientID, clientSecret string) *fakeProvider {
	f := &fakeProvider{t: t, clientID: clientID, clientSecret: clientSecret, codes: map[string]*fakeGrant{}, tokens: map[string]*fakeAccount{}}
	harness.Sensitive(clientSecret)
	return f
}

func (f *fakeProvider) problem(format string) {
	f.mu.Lock()
	f.problems = append(f.problems, format)
	f.mu.Unlock()
}

func (f *fakeProvider) queue(a *fakeAccount) {
	f.mu.Lock()
	f.next = append(f.next, a)
	f.mu.Unlock()
}

// authorize records the grant and returns the code.
func (f *fakeProvider) authorize(w http.ResponseWriter, r *http.Request) (code string, q url.Values, ok bool) {
	q = r.URL.Query()
	if q.Get("client_id") != f.clientID || q.Get("response_type") != "code" || q.Get("state") == "" ||
		q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("redirect_uri") == "" {
		http.Error(w, "bad authorization request: "+q.Encode(), http.StatusBadRequest)
		f.problem("bad authorization request")
		return "", nil, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.next) == 0 {
		http.Error(w, "no account queued", http.StatusInternalServerError)
		return "", nil, false
	}
	acct := f.next[0]
	f.next = f.next[1:]
	code = randomHex(16)
	f.codes[code] = &fakeGrant{acct: acct, challenge: q.Get("code_challenge"), redirectURI: q.Get("redirect_uri"), nonce: q.Get("nonce")}
	f.lastAuth = q
	return code, q, true
}

// exchange checks a token request and returns its grant.
func (f *fakeProvider) exchange(w http.ResponseWriter, r *http.Request) (*fakeGrant, string, bool) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return nil, "", false
	}
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	var bad string
	switch {
	case id != f.clientID:
		bad = "invalid_client"
	case f.checkSecret != nil:
		if err := f.checkSecret(secret); err != nil {
			f.problem("client secret: " + err.Error())
			bad = "invalid_client"
		}
	case secret != f.clientSecret:
		bad = "invalid_client"
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.codes[r.PostForm.Get("code")]
	switch {
	case bad != "":
	case r.PostForm.Get("grant_type") != "authorization_code":
		bad = "unsupported_grant_type"
	case g == nil || g.used:
		bad = "invalid_grant"
	case r.PostForm.Get("redirect_uri") != g.redirectURI:
		bad = "invalid_grant"
	case s256(r.PostForm.Get("code_verifier")) != g.challenge:
		bad = "invalid_grant"
		f.problems = append(f.problems, "PKCE verifier mismatch")
	}
	if bad != "" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": bad})
		return nil, "", false
	}
	g.used = true
	f.verified++
	tok := randomHex(20)
	f.tokens[tok] = g.acct
	return g, tok, true
}

// bearer returns the account of the request's access token.
func (f *fakeProvider) bearer(w http.ResponseWriter, r *http.Request) *fakeAccount {
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	a := f.tokens[tok]
	f.mu.Unlock()
	if a == nil {
		http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
	}
	return a
}

func (f *fakeProvider) check(t *testing.T) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.problems {
		t.Errorf("%s: %s", f.clientID, p)
	}
	f.problems = nil
}

func s256(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func writeJSONResp(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// startGitHub: /login/oauth/authorize, /login/oauth/access_token, /user,
// /user/emails as documented by GitHub.
func startGitHub(t *testing.T) *fakeProvider {
	f := newFakeProvider(t, "gh-client", "gh-secret-"+randomHex(8))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login/oauth/authorize", func(w http.ResponseWriter, r *http.Request) {
		code, q, ok := f.authorize(w, r)
		if ok {
			http.Redirect(w, r, q.Get("redirect_uri")+"?code="+code+"&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
		}
	})
	mux.HandleFunc("POST /login/oauth/access_token", func(w http.ResponseWriter, r *http.Request) {
		if _, tok, ok := f.exchange(w, r); ok {
			writeJSONResp(w, map[string]string{"access_token": tok, "token_type": "bearer", "scope": "read:user,user:email"})
		}
	})
	mux.HandleFunc("GET /user", func(w http.ResponseWriter, r *http.Request) {
		if a := f.bearer(w, r); a != nil {
			writeJSONResp(w, map[string]any{"id": a.ID, "login": a.Login, "name": a.Name, "email": nil})
		}
	})
	mux.HandleFunc("GET /user/emails", func(w http.ResponseWriter, r *http.Request) {
		if a := f.bearer(w, r); a != nil {
			writeJSONResp(w, a.Emails)
		}
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// startFacebook: dialog/oauth, oauth/access_token and Graph /me.
func startFacebook(t *testing.T) *fakeProvider {
	f := newFakeProvider(t, "fb-client", "fb-secret-"+randomHex(8))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v23.0/dialog/oauth", func(w http.ResponseWriter, r *http.Request) {
		code, q, ok := f.authorize(w, r)
		if ok {
			http.Redirect(w, r, q.Get("redirect_uri")+"?code="+code+"&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
		}
	})
	mux.HandleFunc("POST /v23.0/oauth/access_token", func(w http.ResponseWriter, r *http.Request) {
		if _, tok, ok := f.exchange(w, r); ok {
			writeJSONResp(w, map[string]any{"access_token": tok, "token_type": "bearer", "expires_in": 5183944})
		}
	})
	mux.HandleFunc("GET /v23.0/me", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("fields") != "id,name,email" {
			f.problem("Graph /me asked for fields " + r.URL.Query().Get("fields"))
		}
		if a := f.bearer(w, r); a != nil {
			m := map[string]any{"id": json.Number(jsonInt(a.ID)), "name": a.Name}
			if a.Email != "" {
				m["email"] = a.Email
			}
			writeJSONResp(w, m)
		}
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func jsonInt(i int64) string { return big.NewInt(i).String() }

// fakeApple is Sign in with Apple: authorize (response_mode=form_post),
// token (client secret = ES256 JWT checked with the developer's public
// key), keys (JWKS) and RS256 ID tokens.
type fakeApple struct {
	*fakeProvider
	idKey    *rsa.PrivateKey
	devKey   *ecdsa.PrivateKey
	keyFile  string
	teamID   string
	keyID    string
	lastForm url.Values // what the browser would POST
}

func startApple(t *testing.T) *fakeApple {
	devKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	idKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(devKey)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "AuthKey_KEY1234567.p8")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	a := &fakeApple{fakeProvider: newFakeProvider(t, "com.example.web", ""), idKey: idKey, devKey: devKey, keyFile: keyFile, teamID: "TEAM123456", keyID: "KEY1234567"}
	a.checkSecret = func(s string) error {
		tok, err := jwt.Parse(s, func(tk *jwt.Token) (any, error) {
			if tk.Header["kid"] != a.keyID {
				return nil, jwt.ErrTokenUnverifiable
			}
			return &devKey.PublicKey, nil
		}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithIssuer(a.teamID), jwt.WithSubject(a.clientID),
			jwt.WithAudience("https://appleid.apple.com"), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
		if err != nil {
			return err
		}
		if exp, _ := tok.Claims.GetExpirationTime(); time.Until(exp.Time) > 180*24*time.Hour {
			return jwt.ErrTokenInvalidClaims
		}
		return nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /auth/authorize", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("response_mode") != "form_post" || r.URL.Query().Get("nonce") == "" {
			a.problem("authorize without response_mode=form_post or nonce")
		}
		code, q, ok := a.authorize(w, r)
		if !ok {
			return
		}
		// Apple answers with an auto-submitting form; the test's browser
		// posts it.
		form := url.Values{"code": {code}, "state": {q.Get("state")}}
		a.mu.Lock()
		if acct := a.codes[code].acct; acct.Name != "" {
			first, last, _ := strings.Cut(acct.Name, " ")
			u, _ := json.Marshal(map[string]any{"name": map[string]string{"firstName": first, "lastName": last}, "email": acct.Email})
			form.Set("user", string(u))
		}
		a.lastForm = form
		a.mu.Unlock()
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(`<form method="post" action="` + q.Get("redirect_uri") + `"></form>`))
	})
	mux.HandleFunc("POST /auth/token", func(w http.ResponseWriter, r *http.Request) {
		g, tok, ok := a.exchange(w, r)
		if !ok {
			return
		}
		now := time.Now()
		claims := jwt.MapClaims{
			"iss": "https://appleid.apple.com", "aud": a.clientID, "sub": jsonInt(g.acct.ID) + ".apple",
			"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(), "nonce": g.nonce, "email": g.acct.Email,
			"email_verified": map[bool]string{true: "true", false: "false"}[g.acct.Verified],
		}
		it := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
		it.Header["kid"] = "apple-1"
		idt, err := it.SignedString(idKey)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		writeJSONResp(w, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600, "id_token": idt})
	})
	mux.HandleFunc("GET /auth/keys", func(w http.ResponseWriter, r *http.Request) {
		pub := idKey.PublicKey
		writeJSONResp(w, map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "kid": "apple-1", "use": "sig", "alg": "RS256",
			"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		}}})
	})
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	return a
}

// presetLogin runs a GET-callback sign-in at a fake provider.
func presetLogin(t *testing.T, c *harness.Client, provider string) *harness.Response {
	t.Helper()
	cb := idpAuthorize(t, c, oauthStart(t, c, provider, "?rd=/app/"+provider))
	return c.Get(cb, browser...)
}

// appleLogin runs the Apple flow: the callback is a cross-site form POST.
func appleLogin(t *testing.T, c *harness.Client, a *fakeApple) *harness.Response {
	t.Helper()
	start := oauthStart(t, c, "apple", "?rd=/app/apple")
	r := c.Get(start.String())
	if r.StatusCode != http.StatusOK {
		t.Fatalf("apple authorize: %s", r)
	}
	a.mu.Lock()
	form := a.lastForm
	a.mu.Unlock()
	return c.PostForm(start.Query().Get("redirect_uri"), form, "Accept", "text/html", "Origin", "https://appleid.apple.com", "Sec-Fetch-Site", "cross-site")
}

// TestOAuthPresets drives the github, facebook and apple presets through
// the built binary against local servers speaking their endpoints.
func TestOAuthPresets(t *testing.T) {
	t.Parallel()
	gh, fb, ap := startGitHub(t), startFacebook(t), startApple(t)
	g := oauthGateway(t, []string{
		"oauth github {\n\t\t\tclient_id gh-client\n\t\t\tclient_secret {env.GH_SECRET}\n" +
			"\t\t\tauth_url " + gh.srv.URL + "/login/oauth/authorize\n\t\t\ttoken_url " + gh.srv.URL + "/login/oauth/access_token\n" +
			"\t\t\tuserinfo_url " + gh.srv.URL + "/user\n\t\t\tallowed_domains example.org\n\t\t}",
		"oauth facebook {\n\t\t\tclient_id fb-client\n\t\t\tclient_secret {env.FB_SECRET}\n" +
			"\t\t\tauth_url " + fb.srv.URL + "/v23.0/dialog/oauth\n\t\t\ttoken_url " + fb.srv.URL + "/v23.0/oauth/access_token\n" +
			"\t\t\tuserinfo_url " + fb.srv.URL + "/v23.0/me\n\t\t\tsignup on\n\t\t}",
		"oauth apple {\n\t\t\tclient_id com.example.web\n\t\t\tteam_id " + ap.teamID + "\n\t\t\tkey_id " + ap.keyID + "\n" +
			"\t\t\tprivate_key_file " + ap.keyFile + "\n\t\t\tauth_url " + ap.srv.URL + "/auth/authorize\n" +
			"\t\t\ttoken_url " + ap.srv.URL + "/auth/token\n\t\t\tkeys_url " + ap.srv.URL + "/auth/keys\n\t\t\tsignup on\n\t\t}",
	}, "GH_SECRET="+gh.clientSecret, "FB_SECRET="+fb.clientSecret)

	t.Run("github: numeric id, primary verified email", func(t *testing.T) {
		defer gh.check(t)
		c := g.client()
		gh.queue(&fakeAccount{ID: 583231, Login: "octocat", Name: "The Octocat", Emails: []map[string]any{
			{"email": "octo@elsewhere.test", "primary": false, "verified": true},
			{"email": "Octo@Example.org", "primary": true, "verified": true},
		}})
		expectLoggedIn(t, c, presetLogin(t, c, "github"), "/app/github", "octo@example.org", "-")
		first := c.Get("/app/", api...).Echo().Values("Remote-User")["Remote-User"]
		if gh.verified != 1 {
			t.Errorf("the server saw %d PKCE-verified exchanges, want 1", gh.verified)
		}
		// Renamed login, same id: same account.
		c2 := g.client()
		gh.queue(&fakeAccount{ID: 583231, Login: "octocat-renamed", Emails: []map[string]any{{"email": "octo@example.org", "primary": true, "verified": true}}})
		expectLoggedIn(t, c2, presetLogin(t, c2, "github"), "/app/github", "octo@example.org", "-")
		if again := c2.Get("/app/", api...).Echo().Values("Remote-User")["Remote-User"]; strings.Join(again, "") != strings.Join(first, "") {
			t.Errorf("renamed login reached user %v, want %v", again, first)
		}
	})

	t.Run("github: a verified but not primary email does not count", func(t *testing.T) {
		defer gh.check(t)
		gh.queue(&fakeAccount{ID: 1001, Login: "eve", Emails: []map[string]any{
			{"email": "eve@example.org", "primary": false, "verified": true},
			{"email": "eve2@example.org", "primary": true, "verified": false},
		}})
		expectRefused(t, presetLogin(t, g.client(), "github"), http.StatusForbidden, "OAUTH_EMAIL_UNVERIFIED")
	})

	t.Run("github: outside allowed_domains is refused", func(t *testing.T) {
		defer gh.check(t)
		gh.queue(&fakeAccount{ID: 1002, Login: "mallory", Emails: []map[string]any{{"email": "m@evil.test", "primary": true, "verified": true}}})
		expectRefused(t, presetLogin(t, g.client(), "github"), http.StatusForbidden, "SIGNUP_DISABLED")
	})

	t.Run("github: callback POST from another site is refused (only apple is exempt)", func(t *testing.T) {
		r := g.client().PostForm("/auth/oauth/github/callback", url.Values{"code": {"x"}, "state": {"y"}}, "Accept", "application/json", "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
		expectRefused(t, r, http.StatusForbidden, "CROSS_ORIGIN_REQUEST")
	})

	t.Run("facebook: Graph /me email", func(t *testing.T) {
		defer fb.check(t)
		c := g.client()
		fb.queue(&fakeAccount{ID: 10210, Name: "Fay Book", Email: "fay@example.net"})
		expectLoggedIn(t, c, presetLogin(t, c, "facebook"), "/app/facebook", "fay@example.net", "-")
		if got := c.Get("/app/", api...).Echo().Values("Remote-Name")["Remote-Name"]; strings.Join(got, "") != "Fay Book" {
			t.Errorf("Remote-Name = %v", got)
		}
	})

	t.Run("facebook: no email is refused", func(t *testing.T) {
		defer fb.check(t)
		fb.queue(&fakeAccount{ID: 10211, Name: "No Mail"})
		expectRefused(t, presetLogin(t, g.client(), "facebook"), http.StatusForbidden, "OAUTH_EMAIL_UNVERIFIED")
	})

	t.Run("apple: form POST callback, client-secret JWT, name on first login", func(t *testing.T) {
		defer ap.check(t)
		c := g.client()
		r := c.Get("/auth/oauth/apple/start", browser...)
		sc := r.SetCookie("__Host-caddyauth_oauth_apple")
		if !strings.Contains(sc, "SameSite=None") || !strings.Contains(sc, "Secure") || !strings.Contains(sc, "HttpOnly") {
			t.Errorf("apple state cookie %q: want SameSite=None; Secure; HttpOnly", redactCookie(sc))
		}
		ap.queue(&fakeAccount{ID: 77, Name: "Ann Lee", Email: "ann@privaterelay.example", Verified: true})
		expectLoggedIn(t, c, appleLogin(t, c, ap), "/app/apple", "ann@privaterelay.example", "-")
		if got := c.Get("/app/", api...).Echo().Values("Remote-Name")["Remote-Name"]; strings.Join(got, "") != "Ann Lee" {
			t.Errorf("Remote-Name = %v, want the name from the first login", got)
		}
		// Later logins carry no name; the account keeps it.
		c2 := g.client()
		ap.queue(&fakeAccount{ID: 77, Email: "ann@privaterelay.example", Verified: true})
		expectLoggedIn(t, c2, appleLogin(t, c2, ap), "/app/apple", "ann@privaterelay.example", "-")
		if got := c2.Get("/app/", api...).Echo().Values("Remote-Name")["Remote-Name"]; strings.Join(got, "") != "Ann Lee" {
			t.Errorf("Remote-Name = %v after a login without name", got)
		}
	})

	t.Run("apple: unverified email is refused", func(t *testing.T) {
		defer ap.check(t)
		ap.queue(&fakeAccount{ID: 78, Email: "bo@example.net", Verified: false})
		expectRefused(t, appleLogin(t, g.client(), ap), http.StatusForbidden, "OAUTH_EMAIL_UNVERIFIED")
	})
}
