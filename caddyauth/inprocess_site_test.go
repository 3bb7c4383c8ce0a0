package caddyauth

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// startSite loads, in this process, a Caddy with the caddyauth app on the
// SQLite database dbPath (plain-http cookies) and one http://127.0.0.1
// site whose body is site; Caddy stops when t ends. It returns the site's
// base URL and a client that does not follow redirects.
func startSite(t *testing.T, dir, secret, dbPath, site string) (string, *http.Client) {
	t.Helper()
	port, admin := freePort(t), freePort(t)
	caddyfile := fmt.Sprintf(`{
	admin 127.0.0.1:%d
	storage file_system %s
	caddyauth {
		secret %s
		database sqlite %s
		cookie {
			insecure
		}
	}
}
http://127.0.0.1:%d {
	%s
}
`, admin, filepath.Join(dir, "caddy"), secret, dbPath, port, site)
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		t.Fatal(err)
	}
	if err := caddy.Load(cfg, true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = caddy.Stop() })
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return fmt.Sprintf("http://127.0.0.1:%d", port), client
}

// signIn logs email in through the JSON login and returns the session
// cookie.
func signIn(t *testing.T, client *http.Client, base, email, pw string) *http.Cookie {
	t.Helper()
	res, err := client.Post(base+"/auth/login", "application/json", strings.NewReader(`{"email":"`+email+`","password":"`+pw+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || len(res.Cookies()) == 0 {
		t.Fatalf("login: %d", res.StatusCode)
	}
	return res.Cookies()[0]
}
