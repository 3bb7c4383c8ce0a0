package redirect

import (
	"strconv"
	"testing"
)

// TestOrigins: a return URL names an origin (scheme, host, port), not just a
// host. Another port or scheme on the same host is another origin and is
// refused unless configured (issue 9 item 5: rd=http://<host>:9999/phish).
func TestOrigins(t *testing.T) {
	c, err := New([]string{
		"portal.example.com", "*.apps.example.com", ".corp.example",
		"admin.example.com:8443", "*.tools.example.com:9443", ".lab.example:7443",
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := New([]string{"other.test", "ported.test:8081"}, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		c              *Checker
		rd             string
		reqHost, reqSc string
		want           bool
	}{
		// The current origin, with and without the default port spelled.
		{c, "https://app.example.com/x", "app.example.com", "https", true},
		{c, "https://app.example.com:443/x", "app.example.com", "https", true},
		{c, "https://app.example.com/x", "app.example.com:443", "https", true},
		{c, "https://app.example.com:8443/x", "app.example.com:8443", "https", true},
		{c, "https://APP.example.com:08443/x", "app.example.com:8443", "https", true},
		{c, "https://app.example.com:/x", "app.example.com", "https", true},
		// Another port of the current host.
		{c, "https://app.example.com:9999/phish", "app.example.com", "https", false},
		{c, "https://app.example.com:8443/x", "app.example.com", "https", false},
		{c, "https://app.example.com/x", "app.example.com:8443", "https", true}, // the host's default https origin
		{c, "https://app.example.com:444/x", "app.example.com:8443", "https", false},
		{dev, "http://localhost:9999/phish", "localhost:8080", "http", false},
		{dev, "http://localhost:8080/x", "localhost:8080", "http", true},
		{dev, "http://localhost:80/x", "localhost:8080", "http", true}, // default http port, plain http allowed
		{c, "http://localhost:9999/phish", "localhost:8080", "http", false},
		{c, "https://localhost:8080/x", "localhost:8080", "http", false}, // https on the http port: another origin
		{c, "https://localhost/x", "localhost:8080", "http", true},       // upgrade to the default https origin
		// Ports out of range or odd spellings.
		{c, "https://app.example.com:0/x", "app.example.com", "https", false},
		{c, "https://app.example.com:65536/x", "app.example.com", "https", false},
		{c, "https://app.example.com:4294967739/x", "app.example.com", "https", false}, // 443 + 2^32
		{c, "https://app.example.com:+443/x", "app.example.com", "https", false},
		{c, "https://app.example.com:-443/x", "app.example.com", "https", false},
		{c, "https://app.example.com:44３/x", "app.example.com", "https", false},
		{c, "https://app.example.com:443:443/x", "app.example.com", "https", false},
		// Configured hosts without a port: the default port, or the
		// port of the current request (the portal's own listener).
		{c, "https://portal.example.com/", "app.example.com", "https", true},
		{c, "https://portal.example.com:443/", "app.example.com", "https", true},
		{c, "https://portal.example.com:9999/", "app.example.com", "https", false},
		{c, "https://portal.example.com:8443/", "app.example.com:8443", "https", true},
		{c, "https://portal.example.com:8443/", "app.example.com:8444", "https", false},
		{c, "https://a.apps.example.com:9999/", "app.example.com", "https", false},
		{c, "https://deep.corp.example:9999/", "app.example.com", "https", false},
		{c, "https://corp.example:9999/", "app.example.com", "https", false},
		{dev, "http://other.test/", "localhost:8080", "http", true},
		{dev, "http://other.test:8080/", "localhost:8080", "http", true},
		{dev, "http://other.test:9999/", "localhost:8080", "http", false},
		{dev, "https://other.test:8080/", "localhost:8080", "http", false},
		// Configured hosts with a port: that port only.
		{c, "https://admin.example.com:8443/", "app.example.com", "https", true},
		{c, "https://admin.example.com/", "app.example.com", "https", false},
		{c, "https://admin.example.com:8444/", "app.example.com", "https", false},
		{c, "https://x.tools.example.com:9443/", "app.example.com", "https", true},
		{c, "https://tools.example.com:9443/", "app.example.com", "https", false},
		{c, "https://x.tools.example.com/", "app.example.com", "https", false},
		{c, "https://lab.example:7443/", "app.example.com", "https", true},
		{c, "https://a.lab.example:7443/", "app.example.com", "https", true},
		{c, "https://a.lab.example/", "app.example.com", "https", false},
		{c, "http://admin.example.com:8443/", "app.example.com", "https", false}, // http needs plain http allowed
		{dev, "http://ported.test:8081/", "localhost:8080", "http", true},
		{dev, "http://ported.test/", "localhost:8080", "http", false},
		// IPv6 literals, and the scheme in capitals.
		{dev, "http://[::1]:8080/x", "[::1]:8080", "http", true},
		{dev, "http://[::1]:9999/x", "[::1]:8080", "http", false},
		{c, "HTTPS://APP.EXAMPLE.COM:8443/x", "app.example.com:8443", "https", true},
		{c, "HTTPS://APP.EXAMPLE.COM:9999/x", "app.example.com:8443", "https", false},
		// A broken Host header matches nothing.
		{c, "https://app.example.com/x", "app.example.com:99999", "https", false},
		{c, "https://app.example.com:99999/x", "app.example.com:99999", "https", false},
	} {
		got, ok := tc.c.Check(tc.rd, tc.reqHost, tc.reqSc)
		if ok != tc.want {
			t.Errorf("Check(%q) on %s://%s = %q,%v; want %v", tc.rd, tc.reqSc, tc.reqHost, got, ok, tc.want)
		}
	}
}

func TestHostsWithPorts(t *testing.T) {
	for _, h := range []string{"app.test:8443", "*.app.test:1", ".app.test:65535", "APP.test:443"} {
		if _, err := New([]string{h}, false); err != nil {
			t.Errorf("host %q refused: %v", h, err)
		}
	}
	for _, p := range []string{"", "0", "65536", "+80", "-1", "08a", "80:80", " 80", strconv.Itoa(1 << 32)} {
		h := "app.test:" + p
		if _, err := New([]string{h}, false); err == nil {
			t.Errorf("host %q accepted", h)
		}
	}
	for _, h := range []string{":8443", "[::1]:8443", "::1", "*:8443", ".:8443"} {
		if _, err := New([]string{h}, false); err == nil {
			t.Errorf("host %q accepted", h)
		}
	}
}
