package e2e

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"

	"github.com/caddyauth/gateway/test/harness"
)

// startZitadelOP runs the example OpenID Provider of zitadel/oidc (a login
// form, strict redirect URIs, Basic client auth) with one web client per
// entry of clients (client id -> allowed redirect URI).
func startZitadelOP(t *testing.T, secret string, clients map[string]string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + l.Addr().String()
	cs := map[string]*storage.Client{}
	for id, redirect := range clients {
		cs[id] = storage.WebClient(id, secret, redirect)
	}
	st := storage.NewStorageWithClients(storage.NewUserStore(issuer), cs)
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: exampleop.SetupServer(issuer, st, nil, false)}}
	srv.Start()
	t.Cleanup(srv.Close)
	return issuer
}

var zitadelAuthRequestID = regexp.MustCompile(`name="id" value="([^"]+)"`)

// TestOIDCZitadel signs in through the zitadel example OP: discovery, its
// login form, the code flow with PKCE and nonce, email from userinfo (the
// OP keeps it out of the ID token), and its strict redirect-URI check.
func TestOIDCZitadel(t *testing.T) {
	t.Parallel()
	secret := "zit-" + harness.RandomSecret()
	harness.Sensitive(secret)
	port := harness.FreePort(t)
	callback := "https://localhost:" + strconv.Itoa(port) + "/auth/oauth/zit/callback"
	issuer := startZitadelOP(t, secret, map[string]string{
		"caddyauth-web": callback,
		"other-web":     "https://elsewhere.example/callback",
	})
	g := newGateway(t, func(c *harness.GatewayConfig) {
		c.Port = port
		c.AppOptions = append(c.AppOptions,
			"oidc zit {\n\t\t\tissuer "+issuer+"\n\t\t\tclient_id caddyauth-web\n\t\t\tclient_secret {env.ZIT_SECRET}\n\t\t\tallowed_domains zitadel.ch\n\t\t}",
			"oidc zitbad {\n\t\t\tissuer "+issuer+"\n\t\t\tclient_id other-web\n\t\t\tclient_secret {env.ZIT_SECRET}\n\t\t}")
	})
	g.caddy = harness.StartCaddy(t, g.bin, g.cfg.Caddyfile(t), "ZIT_SECRET="+secret)

	t.Run("login form, code flow, account created", func(t *testing.T) {
		c := g.client()
		start := oauthStart(t, c, "zit", "?rd=/app/zit")
		if !strings.HasPrefix(start.String(), issuer+"/auth?") {
			t.Fatalf("start went to %s", start)
		}
		r := c.Get(start.String())
		expectStatus(t, r, http.StatusFound)
		loginURL, _ := url.Parse(r.Header.Get("Location"))
		page := c.Get(loginURL.String())
		if loginURL.Host == "" {
			page = c.Get(issuer + loginURL.String())
		}
		m := zitadelAuthRequestID.FindSubmatch(page.Body)
		if m == nil {
			t.Fatalf("no login form: %s", page)
		}
		// A wrong password stays at the OP.
		r = c.PostForm(issuer+"/login/username", url.Values{"id": {string(m[1])}, "username": {"test-user2"}, "password": {"wrong"}})
		if r.StatusCode == http.StatusFound {
			t.Fatalf("wrong password accepted: %s", r)
		}
		r = c.PostForm(issuer+"/login/username", url.Values{"id": {string(m[1])}, "username": {"test-user2"}, "password": {"verysecure"}})
		expectStatus(t, r, http.StatusFound)
		next := r.Header.Get("Location")
		if !strings.HasPrefix(next, "http") {
			next = issuer + next
		}
		r = c.Get(next)
		expectStatus(t, r, http.StatusFound)
		cb := r.Header.Get("Location")
		if !strings.HasPrefix(cb, callback+"?") {
			t.Fatalf("OP sent the browser to %q", cb)
		}
		expectLoggedIn(t, c, c.Get(cb, browser...), "/app/zit", "test-user2@zitadel.ch", "-")
		if got := c.Get("/app/", api...).Echo().Values("Remote-Name")["Remote-Name"]; strings.Join(got, "") != "Test User2" {
			t.Errorf("Remote-Name = %v", got)
		}
	})

	t.Run("OP refuses a redirect URI it does not know", func(t *testing.T) {
		c := g.client()
		start := oauthStart(t, c, "zitbad", "")
		r := c.Get(start.String())
		t.Logf("OP answered %d %s", r.StatusCode, r.Header.Get("Location"))
		if loc := r.Header.Get("Location"); r.StatusCode == http.StatusFound || strings.Contains(loc, "localhost:"+strconv.Itoa(port)) {
			t.Fatalf("the OP redirected to an unregistered URI: %s", r)
		}
	})
}
