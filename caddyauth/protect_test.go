package caddyauth

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/internal/password"
	"github.com/caddyauth/gateway/store"
	sqlstore "github.com/caddyauth/gateway/store/sql"
)

// TestStackedProtectKeepsIdentityHeaders: with a site-wide protect and a
// stricter `protect /strict* {...}` after it, a request outside the
// stricter path still reaches the upstream with the identity headers the
// site-wide protect set (the stricter one used to strip them, so upstreams
// saw an anonymous request), while client copies of the stricter one's own
// header names are still stripped.
func TestStackedProtectKeepsIdentityHeaders(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "users.db")
	db, err := sqlstore.Open(context.Background(), "sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	const pw = "a long enough passphrase"
	hash, _ := password.New(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 1).Hash(context.Background(), pw)
	u := &store.User{ID: keys.NewID(), Email: "eve@example.test", Name: "Eve", Status: store.StatusActive, PasswordHash: hash}
	if err := db.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()

	base, client := startSite(t, dir, keys.NewToken(), dbPath, `protect {
		public /docs/*
	}
	protect /docs/admin* {
		header X-Strict-User {http.auth.user.email}
	}
	protect /strict* {
		require mfa
		header X-Strict-User {http.auth.user.email}
	}
	respond "user={http.request.header.Remote-User} email={http.request.header.Remote-Email} strict={http.request.header.X-Strict-User}"`)
	cookie := signIn(t, client, base, "eve@example.test", pw)
	get := func(path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Cookie", cookie.Name+"="+cookie.Value)
		req.Header.Set("Remote-User", "admin")
		req.Header.Set("X-Strict-User", "spoofed")
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	code, body := get("/app")
	if want := "user=" + u.ID + " email=eve@example.test strict="; code != 200 || body != want {
		t.Errorf("outside the stricter path: %d %q, want %q", code, body, want)
	}
	// The stricter path still applies its own rule (no MFA here).
	if code, body := get("/strict/x"); code != http.StatusForbidden || !strings.Contains(body, "MFA_REQUIRED") {
		t.Errorf("stricter path: %d %q", code, body)
	}
	// Public for the site-wide protect, protected by a stricter one: the
	// signed-in user passes it; other public paths carry no identity.
	if code, body := get("/docs/admin/x"); code != 200 || body != "user="+u.ID+" email=eve@example.test strict=eve@example.test" {
		t.Errorf("protected path under a public prefix: %d %q", code, body)
	}
	if code, body := get("/docs/page"); code != 200 || body != "user= email= strict=" {
		t.Errorf("public path: %d %q", code, body)
	}
	anon, _ := http.NewRequest("GET", base+"/docs/admin/x", nil)
	anon.Header.Set("Accept", "application/json")
	if res, err := client.Do(anon); err != nil || res.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous on the protected path under a public prefix: %v %v", res.StatusCode, err)
	}
}

func TestPortalURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://auth.example.com/auth", "https://auth.example.com/auth"},
		{"https://auth.example.com/auth/", "https://auth.example.com/auth"},
		{"https://auth.example.com", "https://auth.example.com/auth"},
		{"https://auth.example.com/", "https://auth.example.com/auth"},
		{"http://auth.localhost:8080/sso", "http://auth.localhost:8080/sso"},
		{"auth.example.com", ""},
		{"ftp://auth.example.com/auth", ""},
		{"https:///auth", ""},
		{"https://user:pw@auth.example.com/auth", ""},
		{"https://auth.example.com/auth?x=1", ""},
		{"https://auth.example.com/auth#f", ""},
		{"javascript:alert(1)", ""},
	} {
		got, err := portalURL(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("portalURL(%q) = %q, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("portalURL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
