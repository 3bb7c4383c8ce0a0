package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyauth/gateway/test/harness"
)

// recipe is the n-th (0-based) fenced block of language lang in
// docs/forward-auth.md, with the page's example names and ports replaced
// by the test's: the docs show exactly the configs the tests run.
func recipe(t *testing.T, lang string, n int, names ...string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(harness.ModuleRoot(t), "docs", "forward-auth.md"))
	if err != nil {
		t.Fatal(err)
	}
	fence := "```" + lang + "\n"
	rest := string(raw)
	for i := 0; ; i++ {
		start := strings.Index(rest, fence)
		if start < 0 {
			t.Fatalf("docs/forward-auth.md has no %s block #%d", lang, n)
		}
		rest = rest[start+len(fence):]
		end := strings.Index(rest, "```")
		if end < 0 {
			t.Fatalf("docs/forward-auth.md: unterminated %s block", lang)
		}
		if i == n {
			return strings.NewReplacer(names...).Replace(rest[:end])
		}
		rest = rest[end+3:]
	}
}

// gatewaySite is the recipe's gateway site block (the second half of the
// first caddyfile block), for a test's own global options.
func gatewaySite(t *testing.T, names ...string) string {
	t.Helper()
	block := recipe(t, "caddyfile", 0, names...)
	i := strings.Index(block, "\n}\n")
	if i < 0 {
		t.Fatal("gateway recipe: no global options block")
	}
	return strings.TrimSpace(block[i+3:])
}

// verifyGateway is a gateway (plain http on loopback, cookie domain
// example.test, 127.0.0.1 a trusted proxy of its listener only) with the
// recipe's auth_portal site, and two users: ada (staff) and root (admins).
type verifyGateway struct {
	port     int
	authHost string
	adaID    string
	rootID   string
	adaPW    string
	rootPW   string
	caddy    *harness.Caddy
}

// startVerifyGateway starts it with extra sites (a forward_auth app).
func startVerifyGateway(t *testing.T, appHost, adminHost string) *verifyGateway {
	t.Helper()
	return startVerifyGatewayWith(t, appHost, adminHost, nil)
}

// startVerifyGatewayWith adds the site extra renders for the gateway's
// port and portal host.
func startVerifyGatewayWith(t *testing.T, appHost, adminHost string, extra func(port int, authHost string) string) *verifyGateway {
	t.Helper()
	bin := harness.BuildBinary(t)
	g := &verifyGateway{port: harness.FreePort(t)}
	g.authHost = fmt.Sprintf("auth.example.test:%d", g.port)
	var extraSite string
	if extra != nil {
		extraSite = extra(g.port, g.authHost)
	}
	site := gatewaySite(t, "auth.example.com", "http://"+g.authHost, "app.example.com", appHost, "admin.example.com", adminHost)
	cfg := fmt.Sprintf(`{
	admin 127.0.0.1:%d
	servers :%d {
		trusted_proxies static 127.0.0.1/32
	}
	caddyauth {
		secret %s
		cookie {
			domain example.test
			insecure
		}
		rate_limit off
		lockout off
	}
}

http://127.0.0.1:%d {
	respond "ready"
}

%s
%s
`, harness.FreePort(t), g.port, harness.RandomSecret(), g.port, site, extraSite)
	cfgPath := harness.WriteCaddyfile(t, cfg)
	g.adaPW, g.rootPW = newPassword(), newPassword()
	g.adaID = harness.AddUser(t, bin, cfgPath, "ada@example.test", "Ada Lovelace", g.adaPW, "staff")
	g.rootID = harness.AddUser(t, bin, cfgPath, "root@example.test", "Root", g.rootPW, "admins")
	g.caddy = harness.StartCaddy(t, bin, cfg)
	return g
}

// login signs c in at the portal with rd and checks the way back.
func (g *verifyGateway) login(t *testing.T, c *harness.Client, email, pw, rd string) {
	t.Helper()
	r := c.PostForm("http://"+g.authHost+"/auth/login", map[string][]string{"email": {email}, "password": {pw}, "rd": {rd}},
		hdr(browser, []string{"Origin", "http://" + g.authHost})...)
	expectStatus(t, r, 303)
	if loc := r.Header.Get("Location"); loc != rd {
		t.Fatalf("after login Location = %q, want %q (a verify host is a return host)", loc, rd)
	}
}

func (g *verifyGateway) logout(t *testing.T, c *harness.Client) {
	t.Helper()
	r := c.PostForm("http://"+g.authHost+"/auth/logout", map[string][]string{}, hdr(browser, []string{"Origin", "http://" + g.authHost})...)
	if r.StatusCode >= 400 {
		t.Fatalf("logout: %s", r)
	}
}
