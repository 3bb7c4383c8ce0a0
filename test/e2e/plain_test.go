package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/caddyauth/gateway/test/harness"
)

// TestPlainHTTP: a plain-http development site with `cookie { insecure }`
// gets a cookie without Secure or a prefix, no HSTS, and a loud warning.
func TestPlainHTTP(t *testing.T) {
	t.Parallel()
	g := newGateway(t, func(c *harness.GatewayConfig) { c.Plain = true })
	pw := newPassword()
	g.addUser("alice@example.test", "Alice", pw)
	g.start()
	if !strings.Contains(g.caddy.Logs(), "DEVELOPMENT ONLY: cookie insecure") {
		t.Errorf("no development warning for cookie insecure")
	}
	c := g.client()
	r := c.Get("/app?x=1", browser...)
	expectStatus(t, r, http.StatusFound)
	if h := r.Header.Get("Strict-Transport-Security"); h != "" {
		t.Errorf("HSTS over plain http: %q", h)
	}
	r = c.PostForm("/auth/login", url.Values{"email": {"alice@example.test"}, "password": {pw}, "rd": {"/app?x=1"}}, browser...)
	expectStatus(t, r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/app?x=1" {
		t.Errorf("Location %q", loc)
	}
	raw := r.SetCookie("caddyauth")
	if raw == "" {
		t.Fatalf("no caddyauth cookie: %q", r.Header.Values("Set-Cookie"))
	}
	low := strings.ToLower(raw)
	if strings.Contains(low, "; secure") || !strings.Contains(low, "; httponly") || !strings.Contains(low, "samesite=lax") {
		t.Errorf("insecure cookie attributes: %s", redactCookie(raw))
	}
	if h := r.Header.Get("Strict-Transport-Security"); h != "" {
		t.Errorf("HSTS over plain http: %q", h)
	}
	expectStatus(t, c.Get("/app", api...), http.StatusOK)
	expectStatus(t, c.PostJSON("/auth/logout", map[string]string{}), http.StatusOK)
	expectError(t, c.Get("/app", api...), http.StatusUnauthorized, "UNAUTHENTICATED")
}

// TestExampleCaddyfileAdapts: the shipped Caddyfile.example is valid.
func TestExampleCaddyfileAdapts(t *testing.T) {
	t.Parallel()
	bin := harness.BuildBinary(t)
	path := harness.ModuleRoot(t) + "/Caddyfile.example"
	out, errOut, code := harness.RunCLI(t, bin, "", "adapt", "--config", path, "--adapter", "caddyfile")
	if code != 0 {
		t.Fatalf("adapt Caddyfile.example: exit %d\n%s", code, errOut)
	}
	var cfg struct {
		Apps map[string]json.RawMessage `json:"apps"`
	}
	if err := json.Unmarshal([]byte(out), &cfg); err != nil {
		t.Fatalf("adapt output: %v", err)
	}
	if _, ok := cfg.Apps["caddyauth"]; !ok {
		t.Errorf("adapted example has no caddyauth app")
	}
}
