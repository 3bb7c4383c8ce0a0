package e2e

import (
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/caddyauth/gateway/test/harness"
)

// gateway is one test's deployment: the binary, a private Redis, the echo
// upstream and (after start) a Caddy process protecting it.
type gateway struct {
	t       *testing.T
	bin     string
	redis   *harness.Redis
	up      *httptest.Server
	cfg     harness.GatewayConfig
	cfgPath string
	caddy   *harness.Caddy
}

// newGateway prepares the standard e2e deployment (TLS site, sessions in a
// private Redis, session_cache 1s, `public /health`, echo upstream); edit
// tweaks the config before it is rendered. Users can be added before
// start.
func newGateway(t *testing.T, edit func(*harness.GatewayConfig)) *gateway {
	t.Helper()
	g := &gateway{t: t, bin: harness.BuildBinary(t)}
	g.redis = harness.StartRedis(t)
	g.up = harness.Upstream(t)
	g.cfg = harness.GatewayConfig{
		Sessions:       "redis " + g.redis.URL(),
		SessionCache:   "1s",
		Upstream:       harness.UpstreamAddr(g.up),
		ProtectOptions: []string{"public /health"},
	}
	if edit != nil {
		edit(&g.cfg)
	}
	g.cfgPath = harness.WriteCaddyfile(t, g.cfg.Caddyfile(t))
	return g
}

// start runs Caddy on the rendered config.
func (g *gateway) start() *gateway {
	g.t.Helper()
	// Registered first, so it runs after StartCaddy's cleanup stopped the
	// process: the master secret never appears in the server's output.
	g.t.Cleanup(func() {
		if g.caddy != nil && strings.Contains(g.caddy.Logs(), g.cfg.Secret) {
			g.t.Errorf("the master secret appears in the caddy log")
		}
	})
	g.caddy = harness.StartCaddy(g.t, g.bin, g.cfg.Caddyfile(g.t))
	return g
}

// url is the site URL.
func (g *gateway) url() string { return g.cfg.SiteURL() }

// client is a new cookie-jar client for the site.
func (g *gateway) client(opts ...harness.ClientOption) *harness.Client {
	return harness.NewClient(g.t, g.url(), opts...)
}

// addUser creates a user with the CLI and returns its id.
func (g *gateway) addUser(email, name, password string, groups ...string) string {
	g.t.Helper()
	return harness.AddUser(g.t, g.bin, g.cfgPath, email, name, password, groups...)
}

// cli runs `caddy <args...>` in the test's home.
func (g *gateway) cli(stdin string, args ...string) (string, string, int) {
	g.t.Helper()
	return harness.RunCLI(g.t, g.bin, stdin, args...)
}

// newPassword is a fresh >= 15 character password, registered for the
// leak scan.
func newPassword() string {
	pw := "pw " + harness.RandomSecret()[:24] + " horse"
	harness.Sensitive(pw)
	return pw
}

const cookieName = "__Host-caddyauth"

// Accept headers of a browser navigation and of an API client.
var (
	browser = []string{"Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
	api     = []string{"Accept", "application/json"}
)

func hdr(groups ...[]string) []string {
	var out []string
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

// withCookie is the header pair replaying a session token by hand (for
// a client whose jar has dropped it, or another instance).
func withCookie(token string) []string { return []string{"Cookie", cookieName + "=" + token} }

// expectStatus fails unless r has status want.
func expectStatus(t *testing.T, r *harness.Response, want int) {
	t.Helper()
	if r.StatusCode != want {
		t.Fatalf("want status %d, got %s", want, r)
	}
}

// expectError fails unless r is a JSON error with status and code.
func expectError(t *testing.T, r *harness.Response, status int, code string) {
	t.Helper()
	if r.StatusCode != status || r.Code() != code {
		t.Fatalf("want %d %s, got %s", status, code, r)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error body is %q, want application/json: %s", ct, r)
	}
	if r.FromUpstream() {
		t.Fatalf("error response came from the upstream: %s", r)
	}
}

// waitStatus polls GET path until it answers status, within timeout, and
// returns how long that took.
func waitStatus(t *testing.T, c *harness.Client, path string, status int, timeout time.Duration, headers ...string) (*harness.Response, time.Duration) {
	t.Helper()
	var last *harness.Response
	ok, took := harness.Eventually(timeout, 50*time.Millisecond, func() bool {
		last = c.Get(path, headers...)
		return last.StatusCode == status
	})
	if !ok {
		t.Fatalf("GET %s did not answer %d within %s; last: %s", path, status, timeout, last)
	}
	return last, took
}

// revokeWithin is the time a revocation may take to be felt by a running
// instance: session_cache 1s, plus scheduling slack on a loaded 2-core CI
// machine.
const revokeWithin = 1500*time.Millisecond + 500*time.Millisecond

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
