package flows

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/caddyauth/gateway/store"
)

// fakeGitHubFor is a GitHub look-alike with one account (id, primary
// verified email).
func fakeGitHubFor(t *testing.T, id, email string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/token":
			_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "bearer"})
		case "/user":
			_, _ = w.Write([]byte(`{"id": ` + id + `, "login": "someone"}`))
		case "/user/emails":
			_ = json.NewEncoder(w).Encode([]map[string]any{{"email": email, "primary": true, "verified": true}})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// githubSignIn runs start and callback in a fresh browser; extra cookies
// (a session) go along to the callback.
func githubSignIn(t *testing.T, h http.Handler, startQuery string, extra ...*http.Cookie) *httptest.ResponseRecorder {
	t.Helper()
	return githubSignInSplit(t, h, startQuery, extra, extra)
}

// githubSignInSplit sends startCookies with the start and cbCookies with
// the callback.
func githubSignInSplit(t *testing.T, h http.Handler, startQuery string, startCookies, cbCookies []*http.Cookie) *httptest.ResponseRecorder {
	t.Helper()
	extra := startCookies
	sreq := httptest.NewRequest(http.MethodGet, "https://portal.example/auth/oauth/github/start"+startQuery, nil)
	for _, c := range extra {
		sreq.AddCookie(c)
	}
	sreq.Header.Set("Sec-Fetch-Site", "same-origin")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, sreq)
	if w.Code != http.StatusFound {
		t.Fatalf("start: %d %s", w.Code, w.Body)
	}
	loc, _ := url.Parse(w.Header().Get("Location"))
	req := httptest.NewRequest(http.MethodGet, "https://portal.example/auth/oauth/github/callback?code=c&state="+url.QueryEscape(loc.Query().Get("state")), nil)
	req.Header.Set("Accept", "application/json")
	for _, c := range w.Result().Cookies() {
		req.AddCookie(c)
	}
	for _, c := range cbCookies {
		req.AddCookie(c)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// TestOAuthUnlinkSticks: after a user unlinks a provider account, the
// verified-email rule does not link it back at its next sign-in, the
// sessions it opened end, and only the user's explicit link restores it.
func TestOAuthUnlinkSticks(t *testing.T) {
	idp := fakeGitHubFor(t, "4242", "bob@example.com")
	cfg := githubCfg()
	cfg.AuthURL, cfg.TokenURL, cfg.UserinfoURL = idp.URL+"/authorize", idp.URL+"/token", idp.URL+"/user"
	h, _, _, svc, mem := oauthServiceFull(t, Config{}, cfg)
	ctx := context.Background()
	bob := &store.User{ID: "bob", Email: "bob@example.com", Status: store.StatusActive, PasswordHash: "x"}
	if err := mem.CreateUser(ctx, bob); err != nil {
		t.Fatal(err)
	}
	w := githubSignIn(t, h, "")
	if w.Code != http.StatusOK {
		t.Fatalf("first sign-in: %d %s", w.Code, w.Body)
	}
	var viaGitHub *http.Cookie
	for _, c := range w.Result().Cookies() {
		if c.Name == svc.CookieName() {
			viaGitHub = c
		}
	}
	pw, err := svc.deps.Sessions.Create(ctx, bob, "192.0.2.1", "test")
	if err != nil {
		t.Fatal(err)
	}
	own := &http.Cookie{Name: svc.CookieName(), Value: pw.Token}
	req := httptest.NewRequest(http.MethodPost, "https://portal.example/auth/oauth/github/unlink", nil)
	req.Header.Set("Accept", "application/json")
	req.AddCookie(own)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("unlink: %d %s", rec.Code, rec.Body)
	}
	// The session GitHub opened is gone; the one used to unlink stays.
	if _, err := svc.deps.Sessions.Validate(ctx, viaGitHub.Value); err == nil {
		t.Error("session opened through the unlinked provider still valid")
	}
	if _, err := svc.deps.Sessions.Validate(ctx, pw.Token); err != nil {
		t.Errorf("the unlinking session: %v", err)
	}
	// The provider account holder signs in again: refused, not re-linked.
	w = githubSignIn(t, h, "")
	if e := decodeErr(t, w.Result()); e.Code != CodeOAuthUnlinked {
		t.Fatalf("sign-in after unlink: %v", e)
	}
	if ids, _ := mem.UserIdentities(ctx, "bob"); len(ids) != 0 {
		t.Fatalf("identity re-linked: %+v", ids)
	}
	// A link started by bob but finished in a browser without his session
	// (someone else at the provider in that tab) is refused.
	if e := decodeErr(t, githubSignInSplit(t, h, "?link=1", []*http.Cookie{own}, nil).Result()); e.Code != CodeOAuthStateInvalid {
		t.Errorf("link finished without the starting session: %v", e)
	}
	if ids, _ := mem.UserIdentities(ctx, "bob"); len(ids) != 0 {
		t.Fatalf("identity linked by another browser: %+v", ids)
	}
	if w := githubSignIn(t, h, "?link=1", own); !strings.Contains(w.Body.String(), `"linked"`) {
		t.Fatalf("bob's explicit link: %d %s", w.Code, w.Body)
	}
	if w := githubSignIn(t, h, ""); w.Code != http.StatusOK {
		t.Errorf("sign-in after the explicit link: %d %s", w.Code, w.Body)
	}
}
