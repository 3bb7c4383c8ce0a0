package flows

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzForwardedTarget: whatever a proxy (or a client behind a careless
// one) puts in the forwarded headers, the parser never panics, and a
// target it accepts is one request: an http(s) scheme, a host that
// validHost admits and that has no path, user or second value in it, an
// absolute path, and a method of letters only.
func FuzzForwardedTarget(f *testing.F) {
	seeds := [][6]string{
		{"https://app.test/a?b", "GET", "", "", "", ""},
		{"http://[::1]:8080/", "post", "", "", "", ""},
		{"", "", "https", "app.test:8443", "/x/../y?z=%41", "DELETE"},
		{"", "", "HTTP", "a.test, b.test", "//evil", "G\x00ET"},
		{"https://u@a.test/#f", "", "ws", "[10.0.0.1]", "/%zz", ""},
		{"", "", "", "a.test:0", "/;x", ""},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5])
	}
	f.Fuzz(func(t *testing.T, origURL, origMethod, proto, host, uri, method string) {
		h := http.Header{}
		set := func(k, v string) {
			if v != "" {
				h[k] = []string{v}
			}
		}
		set(hdrOriginalURL, origURL)
		set(hdrOriginalMethod, origMethod)
		set(hdrFwdProto, proto)
		set(hdrFwdHost, host)
		set(hdrFwdURI, uri)
		set(hdrFwdMethod, method)
		tg, _, found, err := forwardedTarget(h)
		if err != nil || !found {
			return
		}
		if tg.Scheme != "http" && tg.Scheme != "https" {
			t.Fatalf("scheme %q", tg.Scheme)
		}
		if !validHost(tg.Host) || strings.ContainsAny(tg.Host, "/@,\\ ") || tg.Host != strings.ToLower(tg.Host) {
			t.Fatalf("host %q", tg.Host)
		}
		if tg.URL == nil || !strings.HasPrefix(tg.URL.Path, "/") || tg.URL.Host != "" || tg.URL.User != nil {
			t.Fatalf("url %+v", tg.URL)
		}
		if tg.Method == "" || strings.Trim(tg.Method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
			t.Fatalf("method %q", tg.Method)
		}
		// The target's own rendering reads back as the same target.
		back := http.Header{hdrOriginalURL: {tg.absoluteURI()}, hdrOriginalMethod: {tg.Method}}
		tg2, _, _, err := forwardedTarget(back)
		if err != nil || tg2.Host != tg.Host || tg2.URL.Path != tg.URL.Path || tg2.URL.RawQuery != tg.URL.RawQuery || tg2.Scheme != tg.Scheme {
			t.Fatalf("%q does not read back: %+v %v", tg.absoluteURI(), tg2, err)
		}
	})
}
