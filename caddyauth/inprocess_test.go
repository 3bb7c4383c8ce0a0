package caddyauth

import (
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/internal/password"
	"github.com/caddyauth/gateway/store"
	sqlstore "github.com/caddyauth/gateway/store/sql"
)

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestInProcessCaddy runs the glue inside a real Caddy (in this process):
// placeholders reach `respond`, and `protect <matcher>` still strips
// identity headers from requests it does not protect and still serves the
// portal under its base path.
func TestInProcessCaddy(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "users.db")
	db, err := sqlstore.Open(context.Background(), "sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := password.New(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 1).Hash(context.Background(), "a long enough passphrase")
	u := &store.User{ID: keys.NewID(), Email: "eve@example.test", Name: "Eve", Groups: []string{"a", "b"}, Status: store.StatusActive, PasswordHash: hash}
	if err := db.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()

	base, client := startSite(t, dir, keys.NewToken(), dbPath, `protect /private* {
		base /login-area
	}
	respond "id={http.auth.user.id} email={http.auth.user.email} groups={http.auth.user.groups} spoof={http.request.header.Remote-User}{http.request.header.Remote_User}"`)
	get := func(path string, hdr map[string]string) (int, string) {
		req, _ := http.NewRequest("GET", base+path, nil)
		for k, v := range hdr {
			req.Header[k] = []string{v}
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}

	// Unprotected path: passes, but a spoofed identity never gets through.
	code, body := get("/public", map[string]string{"Remote-User": "admin", "Remote_User": "admin"})
	if code != 200 || strings.Contains(body, "admin") {
		t.Fatalf("unprotected path: %d %q", code, body)
	}
	// Protected path: anonymous API call refused.
	if code, _ := get("/private/x", map[string]string{"Accept": "application/json"}); code != 401 {
		t.Fatalf("protected anonymous: %d", code)
	}
	// The portal lives at the configured base although the matcher does
	// not cover it.
	res, err := client.Post(base+"/login-area/login", "application/json", strings.NewReader(`{"email":"eve@example.test","password":"a long enough passphrase"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || len(res.Cookies()) == 0 {
		t.Fatalf("login: %d", res.StatusCode)
	}
	cookie := res.Cookies()[0]
	code, body = get("/private/x", map[string]string{"Cookie": cookie.Name + "=" + cookie.Value, "Remote-User": "admin"})
	want := "id=" + u.ID + " email=eve@example.test groups=a,b spoof=" + u.ID
	if code != 200 || body != want {
		t.Fatalf("protected: %d %q, want %q", code, body, want)
	}
}
