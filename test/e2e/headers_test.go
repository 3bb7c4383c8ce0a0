package e2e

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	sqlstore "github.com/caddyauth/gateway/store/sql"
	"github.com/caddyauth/gateway/test/harness"
)

// spoofed are client-sent identity headers in every spelling a backend
// might read: case variants and '_' for '-' (CGI/PHP map both to
// REMOTE_USER).
var spoofed = []string{
	"Remote-User", "spoofed-user",
	"remote-user", "spoofed-user",
	"REMOTE-USER", "spoofed-user",
	"REMOTE_USER", "spoofed-user",
	"Remote_User", "spoofed-user",
	"remote_user", "spoofed-user",
	"Remote-Email", "spoofed@evil.test",
	"remote_email", "spoofed@evil.test",
	"REMOTE_EMAIL", "spoofed@evil.test",
	"Remote-Name", "Spoofed Name",
	"remote-name", "Spoofed Name",
	"Remote_Name", "Spoofed Name",
	"Remote-Groups", "spoofed-admins",
	"remote_groups", "spoofed-admins",
	"REMOTE-GROUPS", "spoofed-admins",
}

var identityHeaders = []string{"Remote-User", "Remote-Email", "Remote-Name", "Remote-Groups"}

// checkNoSpoof fails if any spoofed value reached the upstream, under any
// header name.
func checkNoSpoof(t *testing.T, e *harness.Echo) {
	t.Helper()
	for name, vals := range e.Headers {
		for _, v := range vals {
			if strings.Contains(v, "spoofed") || strings.Contains(v, "Spoofed") {
				t.Errorf("client-sent identity reached the upstream: %s: %s", name, v)
			}
		}
	}
}

// TestIdentityHeaders (c): the upstream gets the identity headers from the
// session, and never a client-sent copy in any spelling: not when signed
// in, not on a public path, not on portal routes.
func TestIdentityHeaders(t *testing.T) {
	t.Parallel()
	g := newGateway(t, nil)
	pw := newPassword()
	id := g.addUser("alice@example.test", "Alice Liddell", pw, "dev", "ops")
	g.start()
	want := map[string]string{
		"Remote-User":   id,
		"Remote-Email":  "alice@example.test",
		"Remote-Name":   "Alice Liddell",
		"Remote-Groups": "dev,ops",
	}

	for _, tc := range []struct {
		name string
		opts []harness.ClientOption
	}{{"HTTP/1.1", nil}, {"HTTP/2", []harness.ClientOption{harness.HTTP2()}}} {
		t.Run("authenticated "+tc.name, func(t *testing.T) {
			c := g.client(tc.opts...)
			c.Login("alice@example.test", pw)
			r := c.Get("/app", hdr(browser, spoofed)...)
			expectStatus(t, r, http.StatusOK)
			e := r.Echo()
			checkNoSpoof(t, e)
			for _, h := range identityHeaders {
				got := e.Values(h)
				if len(got) != 1 || len(got[h]) != 1 || got[h][0] != want[h] {
					t.Errorf("upstream %s = %v, want exactly {%s: [%s]}", h, got, h, want[h])
				}
			}
			// Spoofed copies on a POST with a body are stripped too.
			r = c.Do(c.NewRequest(http.MethodPost, "/app/form", strings.NewReader("a=1"),
				hdr([]string{"Content-Type", "application/x-www-form-urlencoded"}, spoofed)...))
			expectStatus(t, r, http.StatusOK)
			checkNoSpoof(t, r.Echo())
		})
	}

	t.Run("anonymous public path", func(t *testing.T) {
		c := g.client()
		r := c.Get("/health", spoofed...)
		expectStatus(t, r, http.StatusOK)
		e := r.Echo()
		checkNoSpoof(t, e)
		for _, h := range identityHeaders {
			if got := e.Values(h); len(got) != 0 {
				t.Errorf("anonymous public request: upstream got %s = %v", h, got)
			}
		}
	})

	t.Run("signed-in public path carries no identity", func(t *testing.T) {
		c := g.client()
		c.Login("alice@example.test", pw)
		r := c.Get("/health", spoofed...)
		expectStatus(t, r, http.StatusOK)
		e := r.Echo()
		checkNoSpoof(t, e)
	})

	t.Run("public path matching is exact", func(t *testing.T) {
		c := g.client()
		for _, p := range []string{"/health/../app", "/healthz", "/health/x", "//health", "/Health"} {
			r := c.Get(p, hdr(api, spoofed)...)
			if r.FromUpstream() {
				t.Errorf("anonymous %s reached the upstream: %s", p, r)
			}
		}
	})

	t.Run("anonymous protected path with spoofed identity", func(t *testing.T) {
		c := g.client()
		expectError(t, c.Get("/app", hdr(api, spoofed)...), http.StatusUnauthorized, "UNAUTHENTICATED")
		r := c.Get("/app", hdr(browser, spoofed)...)
		expectStatus(t, r, http.StatusFound)
	})

	t.Run("portal routes ignore spoofed identity", func(t *testing.T) {
		c := g.client()
		expectError(t, c.Get("/auth/session", spoofed...), http.StatusUnauthorized, "UNAUTHENTICATED")
		expectError(t, c.PostJSON("/auth/logout-all", map[string]string{}, spoofed...), http.StatusUnauthorized, "UNAUTHENTICATED")
		r := c.Get("/auth/login", hdr(browser, spoofed)...)
		expectStatus(t, r, http.StatusOK)
		if r.FromUpstream() || bytes.Contains(r.Body, []byte("Signed in")) || bytes.Contains(r.Body, []byte("spoofed")) {
			t.Errorf("login page trusted a spoofed identity:\n%s", r.Body)
		}
		// Signed in: the portal reports the session's user, not the spoof.
		c.Login("alice@example.test", pw)
		r = c.Get("/auth/session", spoofed...)
		expectStatus(t, r, http.StatusOK)
		if u, _ := r.JSON()["user"].(map[string]any); u["id"] != id {
			t.Errorf("/auth/session user = %v", u)
		}
	})
}

// TestCustomIdentityHeaders: `header` overrides rename, template and drop
// identity headers; every configured name is stripped from client requests,
// and a user's name cannot smuggle a header.
func TestCustomIdentityHeaders(t *testing.T) {
	t.Parallel()
	g := newGateway(t, func(c *harness.GatewayConfig) {
		c.ProtectOptions = append(c.ProtectOptions,
			"header X-Auth-Email {http.auth.user.email}",
			"header Remote-User user:{http.auth.user.email}",
			"header Remote-Name",
		)
	})
	pw := newPassword()
	g.addUser("alice@example.test", "Alice", pw)
	malloryPW := newPassword()
	// The CLI refuses a name with a line break...
	if _, _, code := g.cli(malloryPW, "auth", "user", "add", "--config", g.cfgPath, "--email", "mallory@example.test", "--name", "Mallory\r\nX-Injected: yes", "--password-stdin"); code == 0 {
		t.Fatal("auth user add accepted a name with CR/LF")
	}
	// ...but names will also come from identity providers, so put one in
	// the database directly and check the header path neutralises it.
	g.addUser("mallory@example.test", "Mallory", malloryPW)
	setUserName(t, "mallory@example.test", "Mallory\r\nX-Injected: yes")
	g.start()

	spoof := append([]string{"X-Auth-Email", "spoofed@evil.test", "x_auth_email", "spoofed@evil.test", "X_AUTH_EMAIL", "spoofed@evil.test"}, spoofed...)
	c := g.client()
	c.Login("alice@example.test", pw)
	r := c.Get("/app", hdr(api, spoof)...)
	expectStatus(t, r, http.StatusOK)
	e := r.Echo()
	checkNoSpoof(t, e)
	for name, want := range map[string]string{
		"X-Auth-Email":  "alice@example.test",
		"Remote-User":   "user:alice@example.test",
		"Remote-Email":  "alice@example.test",
		"Remote-Groups": "",
	} {
		if got := e.Values(name); len(got) != 1 || len(got[name]) != 1 || got[name][0] != want {
			t.Errorf("upstream %s = %v, want %q", name, got, want)
		}
	}
	if got := e.Values("Remote-Name"); len(got) != 0 {
		t.Errorf("dropped header Remote-Name reached the upstream: %v", got)
	}
	// The public path strips the custom names too.
	e = g.client().Get("/health", spoof...).Echo()
	checkNoSpoof(t, e)

	m := g.client()
	m.Login("mallory@example.test", malloryPW)
	e = m.Get("/app", api...).Echo()
	if got := e.Values("X-Injected"); len(got) != 0 {
		t.Errorf("a user name smuggled a header: %v", got)
	}
	if got := e.Values("Remote-User")["Remote-User"]; len(got) != 1 || got[0] != "user:mallory@example.test" {
		t.Errorf("Remote-User = %v", got)
	}
}

// setUserName rewrites a user's name in the test's default SQLite database,
// bypassing the CLI's checks.
func setUserName(t *testing.T, email, name string) {
	t.Helper()
	path := filepath.Join(harness.Home(t), ".local", "share", "caddy", "caddyauth", "caddyauth.db")
	db, err := sqlstore.Open(context.Background(), "sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	u, err := db.UserByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	u.Name = name
	if err := db.UpdateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
}
