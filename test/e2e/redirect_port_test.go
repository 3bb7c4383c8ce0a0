package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/caddyauth/gateway/test/harness"
)

// TestReturnURLPorts: issue 9 item 5 through the binary. A return URL to
// another port of the gateway's own host is another origin and is refused
// (the browser lands on the login fallback); the same origin, its default
// https origin and a port configured in redirect_hosts are honoured.
func TestReturnURLPorts(t *testing.T) {
	t.Parallel()
	other := harness.FreePort(t)
	g := newGateway(t, func(c *harness.GatewayConfig) {
		c.AppOptions = append(c.AppOptions, fmt.Sprintf("redirect_hosts localhost:%d", other))
	})
	pw := newPassword()
	g.addUser("port@example.test", "Port", pw)
	g.start()
	site := g.url() // https://localhost:<port>
	self := strings.TrimPrefix(site, "https://")
	phish := 9999
	if strings.HasSuffix(self, fmt.Sprintf(":%d", phish)) || other == phish {
		phish = 9998
	}
	for _, tc := range []struct {
		rd   string
		want bool
	}{
		{site + "/ok", true},
		{"https://localhost/ok", true}, // the host's default https origin
		{fmt.Sprintf("https://localhost:%d/ok", other), true},
		{fmt.Sprintf("https://LOCALHOST:0%d/ok", other), true},
		{fmt.Sprintf("https://localhost:%d/phish", phish), false},
		{fmt.Sprintf("http://localhost:%d/phish", phish), false},
		{fmt.Sprintf("https://localhost:%d/phish", other+65536), false},
		{"http://" + self + "/downgrade", false},
		{fmt.Sprintf("http://localhost:%d/ok", other), false}, // configured port, but not plain http
	} {
		t.Run(tc.rd, func(t *testing.T) {
			c := g.client()
			r := c.PostForm("/auth/login", url.Values{"email": {"port@example.test"}, "password": {pw}, "rd": {tc.rd}}, browser...)
			expectStatus(t, r, http.StatusSeeOther)
			loc := r.Header.Get("Location")
			if tc.want && loc == "/auth/login" || !tc.want && loc != "/auth/login" {
				t.Fatalf("rd %q: Location %q (want honoured: %v)", tc.rd, loc, tc.want)
			}
			j := c.PostJSON("/auth/login", map[string]string{"email": "port@example.test", "password": pw, "rd": tc.rd})
			expectStatus(t, j, http.StatusOK)
			if red, _ := j.JSON()["redirect"].(string); (red != "") != tc.want {
				t.Fatalf("rd %q: JSON redirect %q (want honoured: %v)", tc.rd, red, tc.want)
			}
		})
	}
}
