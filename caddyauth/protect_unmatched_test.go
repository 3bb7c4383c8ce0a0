package caddyauth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/internal/password"
	"github.com/caddyauth/gateway/store"
	sqlstore "github.com/caddyauth/gateway/store/sql"
)

// TestProtectGlueCredentialsAndConnection runs the glue in a real Caddy
// (in this process) in front of reverse_proxy to an echo upstream, for
// each way of writing protect with a matcher (issue 9, items 1 and 2):
//
//   - outside the matcher the upstream gets neither the session cookie nor
//     the trusted-device cookie nor the trust header (the app's cookies
//     pass), and the client's identity headers are stripped;
//   - a site-wide protect written after `protect /admin*` still finds the
//     session on the paths the first one does not cover;
//   - `Connection: Remote-User, Remote-Groups` does not make
//     reverse_proxy drop the identity headers, on a matched path, outside
//     a stricter protect's matcher (the site-wide one's headers), and with
//     either order of stacked protects.
func TestProtectGlueCredentialsAndConnection(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Echo", "1")
		_ = json.NewEncoder(w).Encode(r.Header)
	}))
	defer up.Close()
	upstream := strings.TrimPrefix(up.URL, "http://")

	dir := t.TempDir()
	dbPath := filepath.Join(dir, "users.db")
	db, err := sqlstore.Open(context.Background(), "sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	const pw = "a long enough passphrase"
	hash, _ := password.New(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 1).Hash(context.Background(), pw)
	u := &store.User{ID: keys.NewID(), Email: "root@example.test", Name: "Root", Groups: []string{"admins", "staff"}, Status: store.StatusActive, PasswordHash: hash}
	if err := db.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	secret := keys.NewToken()

	for _, tc := range []struct {
		name string
		site string
		// paths reached with the user's identity / anonymously (the
		// upstream answers both).
		signedIn, open []string
	}{
		{"protect /admin* alone", "protect /admin* {\n\t\tallow group admins\n\t}", []string{"/admin/x"}, []string{"/app", "/"}},
		{"protect /admin* then site-wide", "protect /admin* {\n\t\tallow group admins\n\t}\n\tprotect {\n\t\tpublic /health\n\t}", []string{"/admin/x", "/app"}, []string{"/health"}},
		{"site-wide then protect /admin*", "protect {\n\t\tpublic /health\n\t}\n\tprotect /admin* {\n\t\tallow group admins\n\t\theader X-Strict-User {http.auth.user.email}\n\t}", []string{"/admin/x", "/app"}, []string{"/health"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, client := startSite(t, dir, secret, dbPath, tc.site+"\n\treverse_proxy "+upstream)
			session := signIn(t, client, base, "root@example.test", pw)
			get := func(path string, signedIn bool) (http.Header, int) {
				t.Helper()
				req, _ := http.NewRequest("GET", base+path, nil)
				req.Header.Set("Accept", "application/json")
				cookie := "theme=dark; caddyauth_trust=trust-t0ken"
				if signedIn {
					cookie = session.Name + "=" + session.Value + "; " + cookie
				}
				req.Header.Set("Cookie", cookie)
				req.Header.Set("Nest-Auth-Device-Trust", "trust-t0ken")
				req.Header.Set("Remote_User", "spoofed")
				req.Header.Set("Connection", "keep-alive, Remote-User, remote_groups, X-Strict-User")
				res, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				var got http.Header
				if res.Header.Get("X-Echo") != "1" || json.NewDecoder(res.Body).Decode(&got) != nil {
					return nil, res.StatusCode
				}
				return got, res.StatusCode
			}
			check := func(path string, got http.Header, identity bool) {
				t.Helper()
				if c := got.Get("Cookie"); c != "theme=dark" {
					t.Errorf("%s: upstream Cookie %q, want only the app's theme=dark", path, c)
				}
				for k, v := range got {
					if s := strings.Join(v, ","); strings.Contains(s, "t0ken") || strings.Contains(s, "spoofed") || strings.Contains(s, session.Value) {
						t.Errorf("%s: upstream got %s: %s", path, k, s)
					}
				}
				if identity && (got.Get("Remote-User") != u.ID || got.Get("Remote-Groups") != "admins,staff") {
					t.Errorf("%s: upstream Remote-User %q, Remote-Groups %q: identity headers dropped", path, got.Get("Remote-User"), got.Get("Remote-Groups"))
				}
				if !identity && (got.Get("Remote-User") != "" || got.Get("Remote-Groups") != "") {
					t.Errorf("%s: anonymous request reached the upstream with an identity: %v", path, got)
				}
			}
			for _, p := range tc.signedIn {
				got, code := get(p, true)
				if got == nil {
					t.Errorf("signed-in GET %s: %d, not from the upstream", p, code)
					continue
				}
				check(p, got, true)
				if strings.Contains(tc.site, "X-Strict-User") && strings.HasPrefix(p, "/admin") && got.Get("X-Strict-User") != u.Email {
					t.Errorf("%s: X-Strict-User %q", p, got.Get("X-Strict-User"))
				}
			}
			for _, p := range tc.open {
				for _, signedIn := range []bool{true, false} {
					got, code := get(p, signedIn)
					if got == nil {
						t.Errorf("GET %s (signed in %v): %d, not from the upstream", p, signedIn, code)
						continue
					}
					check(p, got, false)
				}
			}
		})
	}
}
