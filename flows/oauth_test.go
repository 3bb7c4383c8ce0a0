package flows

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/oauth"
	"github.com/caddyauth/gateway/internal/password"
	"github.com/caddyauth/gateway/internal/session"
	"github.com/caddyauth/gateway/store"
	"github.com/caddyauth/gateway/store/memory"
)

type switchboard struct {
	mu  sync.Mutex
	off map[string]bool
	err error
}

func (s *switchboard) Enabled(_ context.Context, m string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.off[m], s.err
}

func (s *switchboard) set(m string, off bool, err error) {
	s.mu.Lock()
	s.off[m] = off
	s.err = err
	s.mu.Unlock()
}

// recorder (admin_test.go) collects audit events.
func (r *recorder) has(typ, reason, method string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if e.Type == typ && e.Reason == reason && e.Detail["method"] == method {
			return true
		}
	}
	return false
}

func oauthService(t *testing.T, cfg Config, provs ...oauth.Config) (http.Handler, *switchboard, *recorder) {
	h, sw, rec, _, _ := oauthServiceFull(t, cfg, provs...)
	return h, sw, rec
}

func oauthServiceFull(t *testing.T, cfg Config, provs ...oauth.Config) (http.Handler, *switchboard, *recorder, *Service, *memory.Store) {
	t.Helper()
	mem := memory.New()
	mgr, err := session.New(mem, mem, session.Config{CacheTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, pc := range provs {
		p, err := oauth.New(pc)
		if err != nil {
			t.Fatal(err)
		}
		cfg.OAuth = append(cfg.OAuth, p)
	}
	cfg.OAuthStateKeys = [][]byte{bytes.Repeat([]byte{7}, 32)}
	sw := &switchboard{off: map[string]bool{}}
	rec := &recorder{}
	svc, err := New(cfg, Deps{Users: mem, Tokens: mem, Sessions: mgr, Hasher: password.New(fastHash, 2), Methods: sw, Audit: rec, Identities: mem})
	if err != nil {
		t.Fatal(err)
	}
	return svc.Portal("/auth"), sw, rec, svc, mem
}

func githubCfg() oauth.Config {
	return oauth.Config{
		Name: "github", Kind: oauth.KindGitHub, ClientID: "id", ClientSecret: "secret",
		AuthURL: "https://idp.invalid/authorize", TokenURL: "https://idp.invalid/token", UserinfoURL: "https://idp.invalid/user",
	}
}

func get(h http.Handler, path string, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "https://portal.example"+path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// TestOAuthMethodSwitch: a provider switched off at runtime loses its
// button and its start and callback refuse with a stable code; an
// unreadable switch counts as off (its button goes; start and callback
// answer 503 STORE_UNAVAILABLE, an outage rather than "turned off").
func TestOAuthMethodSwitch(t *testing.T) {
	h, sw, _ := oauthService(t, Config{}, githubCfg())
	html := []string{"Accept", "text/html"}
	if w := get(h, "/auth/login", html...); !strings.Contains(w.Body.String(), `/auth/oauth/github/start`) {
		t.Fatalf("no github button:\n%s", w.Body)
	}
	if w := get(h, "/auth/oauth/github/start"); w.Code != http.StatusFound || !strings.HasPrefix(w.Header().Get("Location"), "https://idp.invalid/authorize?") {
		t.Fatalf("start: %d %s", w.Code, w.Header().Get("Location"))
	}
	for _, tc := range []struct {
		name string
		off  bool
		err  error
	}{{"switched off", true, nil}, {"switch unreadable", false, errors.New("redis down")}} {
		t.Run(tc.name, func(t *testing.T) {
			sw.set("oauth:github", tc.off, tc.err)
			defer sw.set("oauth:github", false, nil)
			if w := get(h, "/auth/login", html...); strings.Contains(w.Body.String(), `/auth/oauth/github/start`) {
				t.Error("button still shown")
			}
			for _, path := range []string{"/auth/oauth/github/start", "/auth/oauth/github/callback?code=x&state=y"} {
				w := get(h, path, "Accept", "application/json")
				status, code := http.StatusForbidden, CodeOAuthProviderDisabled
				if tc.err != nil {
					status, code = http.StatusServiceUnavailable, CodeStoreUnavailable
				}
				if w.Code != status || !strings.Contains(w.Body.String(), code) {
					t.Errorf("%s: %d %s", path, w.Code, w.Body)
				}
			}
			// A sign-in in flight dies with the switch: the refused
			// callback uses up its state cookie, so it cannot complete
			// once the provider is switched back on.
			w := get(h, "/auth/oauth/github/callback?code=x&state=y", "Accept", "application/json", "Cookie", "__Host-caddyauth_oauth_github=sealed")
			if sc := w.Header().Get("Set-Cookie"); !strings.HasPrefix(sc, "__Host-caddyauth_oauth_github=;") || !strings.Contains(sc, "Max-Age=0") {
				t.Errorf("refused callback left the state cookie: Set-Cookie %q", sc)
			}
		})
	}
}

// TestOAuthCallbackFailuresAudited: failures are refused with their code
// and recorded as login failures of the method.
func TestOAuthCallbackFailuresAudited(t *testing.T) {
	h, _, rec := oauthService(t, Config{}, githubCfg())
	w := get(h, "/auth/oauth/github/callback?code=x&state=y", "Accept", "application/json")
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), CodeOAuthStateInvalid) {
		t.Fatalf("no cookie: %d %s", w.Code, w.Body)
	}
	if !rec.has(audit.LoginFailed, "state_invalid", "oauth:github") {
		t.Errorf("not audited: %+v", rec.events)
	}
	w = get(h, "/auth/oauth/github/callback?error=access_denied&error_description=%3Cb%3Ehi", "Accept", "text/html")
	if w.Code != http.StatusBadRequest || strings.Contains(w.Body.String(), "<b>hi") || !strings.Contains(w.Body.String(), "cancelled or refused") {
		t.Fatalf("provider error page: %d %s", w.Code, w.Body)
	}
	if !rec.has(audit.LoginFailed, "provider_error", "oauth:github") {
		t.Errorf("not audited: %+v", rec.events)
	}
	w = get(h, "/auth/oauth/github/callback?state=a&state=b", "Accept", "application/json")
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), CodeInvalidInput) {
		t.Fatalf("repeated parameter: %d %s", w.Code, w.Body)
	}
	// The state cookie is cleared whatever the outcome.
	if sc := w.Header().Get("Set-Cookie"); !strings.Contains(sc, "__Host-caddyauth_oauth_github=;") || !strings.Contains(sc, "Max-Age=0") {
		t.Errorf("state cookie not cleared: %q", sc)
	}
}

// TestAppleNeedsSecureCookies: Apple's cross-site POST only carries a
// SameSite=None cookie, which must be Secure.
func TestAppleNeedsSecureCookies(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	p, err := oauth.New(oauth.Config{
		Name: "apple", Kind: oauth.KindApple, ClientID: "c", TeamID: "t", KeyID: "k",
		PrivateKey: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
	})
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.New()
	mgr, _ := session.New(mem, mem, session.Config{CacheTTL: -1})
	_, err = New(Config{Cookie: CookieConfig{Insecure: true}, OAuth: []*oauth.Provider{p}, OAuthStateKeys: [][]byte{make([]byte, 32)}},
		Deps{Users: mem, Tokens: mem, Sessions: mgr, Hasher: password.New(fastHash, 1), Identities: mem})
	if err == nil || !strings.Contains(err.Error(), "secure cookies") {
		t.Fatalf("err = %v", err)
	}
}

func FuzzCallbackParams(f *testing.F) {
	f.Add("code=a&state=b", "")
	f.Add("", "code=a&state=b&user=%7B%7D")
	f.Add("a=1&a=2", "%zz")
	f.Fuzz(func(t *testing.T, query, body string) {
		method := http.MethodGet
		if body != "" {
			method = http.MethodPost
		}
		req := httptest.NewRequest(method, "https://p.example/cb", strings.NewReader(body))
		req.URL.RawQuery = query
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		vals, e := callbackParams(req)
		if e != nil {
			return
		}
		for k, v := range vals {
			if len(v) != 1 || len(v[0]) > maxCallbackParam {
				t.Fatalf("accepted %s = %q", k, v)
			}
		}
	})
}

// TestResolveOAuthUser pins the account rules of a first login.
func TestResolveOAuthUser(t *testing.T) {
	cfg := githubCfg()
	cfg.AllowedDomains = []string{"corp.example"}
	cfg.ClaimGroups = "groups"
	_, sw, rec, svc, mem := oauthServiceFull(t, Config{}, cfg)
	p := &portal{s: svc, base: "/auth"}
	prov := svc.oauth.providers["github"]
	ctx := context.Background()
	bob := &store.User{ID: "bob", Email: "bob@example.com", Status: store.StatusActive, Groups: []string{"staff"}}
	off := &store.User{ID: "off", Email: "off@example.com", Status: store.StatusDisabled}
	for _, u := range []*store.User{bob, off} {
		if err := mem.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, tc := range []struct {
		name     string
		id       oauth.Identity
		registr  bool // registration switched off
		wantUser string
		wantErr  *APIError
	}{
		{"unverified email of an existing account", oauth.Identity{Subject: "1", Email: "bob@example.com"}, false, "", errEmailUnverified},
		{"verified email links", oauth.Identity{Subject: "2", Email: "bob@example.com", EmailVerified: true, Groups: []string{"eng"}}, false, "bob", nil},
		{"linked identity signs in whatever its email", oauth.Identity{Subject: "2", Email: "changed@else.example", Groups: []string{"eng"}}, false, "bob", nil},
		{"disabled account", oauth.Identity{Subject: "3", Email: "off@example.com", EmailVerified: true}, false, "", errAccountDisabled},
		{"unknown, domain not allowed", oauth.Identity{Subject: "4", Email: "x@else.example", EmailVerified: true}, false, "", errSignupDisabled},
		{"unknown, allowed domain, registration switched off", oauth.Identity{Subject: "5", Email: "y@corp.example", EmailVerified: true}, true, "", errSignupDisabled},
		{"unknown, allowed domain: created", oauth.Identity{Subject: "6", Email: "z@corp.example", EmailVerified: true, Name: "Zed"}, false, "new", nil},
		{"no email", oauth.Identity{Subject: "7"}, false, "", errEmailUnverified},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sw.set("registration", tc.registr, nil)
			id := tc.id
			u, e, err := p.resolveOAuthUser(req, prov, &id)
			if err != nil {
				t.Fatal(err)
			}
			if e != tc.wantErr {
				t.Fatalf("error = %v, want %v", e, tc.wantErr)
			}
			if tc.wantErr != nil {
				return
			}
			switch tc.wantUser {
			case "new":
				if u.ID == "bob" || u.Email != id.Email || u.Name != "Zed" || u.PasswordHash != "" {
					t.Errorf("created %+v", u)
				}
			default:
				if u.ID != tc.wantUser {
					t.Errorf("user %s, want %s", u.ID, tc.wantUser)
				}
			}
		})
	}
	if got, _ := mem.UserByID(ctx, "bob"); strings.Join(got.Groups, ",") != "eng" {
		t.Errorf("bob's groups = %v, want the IdP's", got.Groups)
	}
	if !rec.has(audit.OAuthLinked, "", "") {
		t.Errorf("no oauth.linked event: %+v", rec.events)
	}
}
