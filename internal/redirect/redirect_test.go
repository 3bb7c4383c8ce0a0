package redirect

import (
	"net/url"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	c, err := New([]string{"portal.example.com", "*.apps.example.com", ".corp.example"}, false)
	if err != nil {
		t.Fatal(err)
	}
	const host, scheme = "app.example.com", "https"
	for _, tc := range []struct {
		rd   string
		want bool
	}{
		{"/dashboard?x=1#top", true},
		{"/", true},
		{"https://app.example.com/x", true},
		{"https://APP.example.com:443/x", true},
		{"https://APP.example.com:8443/x", false}, // another port is another origin (issue 9)
		{"https://portal.example.com/", true},
		{"https://a.apps.example.com/", true},
		{"https://apps.example.com/", false}, // *.x does not cover x itself
		{"https://corp.example/", true},
		{"https://deep.sub.corp.example/", true},
		{"http://app.example.com/x", false}, // downgrade on an https request
		{"http://portal.example.com/", false},
		{"", false},
		{"//evil.com", false},
		{"///evil.com", false},
		{"/\\evil.com", false},
		{"\\\\evil.com", false},
		{"https:evil.com", false},
		{"https:/evil.com", false},
		{"https://evil.com", false},
		{"https://good.example.com.evil.com/", false},
		{"https://evilcorp.example/", false},
		{"https://app.example.com@evil.com/", false},
		{"https://evil.com\\@app.example.com/", false},
		{"\t//evil.com", false},
		{"/\t/evil.com", false},
		{" https://app.example.com", false},
		{"javascript:alert(1)", false},
		{"JavaScript://app.example.com/%0aalert(1)", false},
		{"data:text/html,<script>", false},
		{"ftp://app.example.com/", false},
		{"https://app.example.com./", false},
		{"https://", false},
		{"app.example.com/x", false},
		{"/" + strings.Repeat("a", MaxLen), false},
	} {
		got, ok := c.Check(tc.rd, host, scheme)
		if ok != tc.want {
			t.Errorf("Check(%q) = %q,%v; want %v", tc.rd, got, ok, tc.want)
		}
	}
}

func TestPlainHTTP(t *testing.T) {
	c, _ := New(nil, false)
	if _, ok := c.Check("http://localhost:8080/x", "localhost:8080", "http"); !ok {
		t.Fatal("same-host http refused on an http request")
	}
	dev, _ := New([]string{"other.test"}, true)
	if _, ok := dev.Check("http://other.test/", "localhost", "http"); !ok {
		t.Fatal("allowHTTP did not allow an http target")
	}
}

func TestBadHosts(t *testing.T) {
	for _, h := range []string{"*", "", "a/b", "evil.com:0", "evil.com:", "*evil.com", "a.*.com"} {
		if _, err := New([]string{h}, false); err == nil {
			t.Errorf("host %q accepted", h)
		}
	}
}

// FuzzCheck: whatever rd is, an accepted value is either a path on the
// current origin or an absolute URL to an allowed origin (host and port),
// as a browser would resolve it.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"/x", "//evil", "/\\evil", "https:evil", "https://app.test/", "https://a.allowed.test/x", "%09//evil", "http://app.test@evil/", "https://app.test:9999/", "https://app.test:0443/", "https://x.ported.test:8443/", "https://x.ported.test/"} {
		f.Add(s)
	}
	c, _ := New([]string{"*.allowed.test", "*.ported.test:8443"}, false)
	base, _ := url.Parse("https://app.test/start")
	f.Fuzz(func(t *testing.T, rd string) {
		got, ok := c.Check(rd, "app.test", "https")
		if !ok {
			return
		}
		u, err := base.Parse(got)
		if err != nil {
			t.Fatalf("accepted %q that does not parse: %v", got, err)
		}
		h := strings.ToLower(u.Hostname())
		port := strings.TrimLeft(u.Port(), "0")
		if port == "" {
			port = "443"
		}
		switch {
		case (h == "app.test" || strings.HasSuffix(h, ".allowed.test")) && port == "443":
		case strings.HasSuffix(h, ".ported.test") && port == "8443":
		default:
			t.Fatalf("accepted %q resolving to origin %q port %q", rd, h, port)
		}
		if u.Scheme != "https" {
			t.Fatalf("accepted %q with scheme %q", rd, u.Scheme)
		}
		if u.User != nil {
			t.Fatalf("accepted %q with userinfo", rd)
		}
	})
}
