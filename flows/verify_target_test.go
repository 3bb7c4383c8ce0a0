package flows

import (
	"net/http"
	"testing"
)

// TestForwardedTarget: what each proxy's headers describe, and every way
// a description is refused rather than guessed at.
func TestForwardedTarget(t *testing.T) {
	type want struct {
		method, scheme, host, path, rawQuery string
		dia                                  dialect
	}
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			out.Add(kv[i], kv[i+1])
		}
		return out
	}
	ok := []struct {
		name string
		h    http.Header
		want want
	}{
		{
			"nginx", h("X-Original-URL", "https://App.Example.com/a/b?c=d", "X-Original-Method", "POST"),
			want{"POST", "https", "app.example.com", "/a/b", "c=d", dialectNginx},
		},
		{
			"nginx with port, no method", h("X-Original-URL", "http://app.test:8080/x%2Fy?q"),
			want{"GET", "http", "app.test:8080", "/x/y", "q", dialectNginx},
		},
		{
			"nginx bare host", h("X-Original-URL", "https://app.test"),
			want{"GET", "https", "app.test", "/", "", dialectNginx},
		},
		{
			"nginx IPv6", h("X-Original-URL", "https://[2001:db8::1]:8443/"),
			want{"GET", "https", "[2001:db8::1]:8443", "/", "", dialectNginx},
		},
		{
			"forward_auth", h("X-Forwarded-Method", "delete", "X-Forwarded-Proto", "HTTP", "X-Forwarded-Host", "app.test:8080", "X-Forwarded-Uri", "/api/v1?x=1&y=2"),
			want{"DELETE", "http", "app.test:8080", "/api/v1", "x=1&y=2", dialectRedirect},
		},
		{
			"no proto: https", h("X-Forwarded-Host", "app.test", "X-Forwarded-Uri", "/"),
			want{"GET", "https", "app.test", "/", "", dialectRedirect},
		},
		{
			"escaped path kept raw", h("X-Forwarded-Host", "app.test", "X-Forwarded-Uri", "/a%2F..%2Fb"),
			want{"GET", "https", "app.test", "/a/../b", "", dialectRedirect},
		},
		{
			"X-Original-URL wins", h("X-Original-URL", "https://a.test/", "X-Forwarded-Host", "b.test", "X-Forwarded-Uri", "/"),
			want{"GET", "https", "a.test", "/", "", dialectNginx},
		},
	}
	for _, tc := range ok {
		tg, dia, found, err := forwardedTarget(tc.h)
		if err != nil || !found {
			t.Errorf("%s: found %v, err %v", tc.name, found, err)
			continue
		}
		got := want{tg.Method, tg.Scheme, tg.Host, tg.URL.Path, tg.URL.RawQuery, dia}
		if got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
		if tg.Header == nil {
			t.Errorf("%s: no credentials header", tc.name)
		}
	}
	if _, _, found, err := forwardedTarget(h("X-Forwarded-Proto", "https", "X-Forwarded-Method", "GET")); found || err != nil {
		t.Errorf("proto and method alone describe no request: found %v err %v", found, err)
	}
	bad := map[string]http.Header{
		"two URLs":              h("X-Original-URL", "https://a.test/", "X-Original-URL", "https://b.test/"),
		"relative URL":          h("X-Original-URL", "/x"),
		"ftp":                   h("X-Original-URL", "ftp://a.test/"),
		"userinfo":              h("X-Original-URL", "https://u:p@a.test/"),
		"fragment":              h("X-Original-URL", "https://a.test/#x"),
		"opaque":                h("X-Original-URL", "https:a.test"),
		"empty URL":             h("X-Original-URL", ""),
		"control char":          h("X-Original-URL", "https://a.test/\x01"),
		"space":                 h("X-Original-URL", "https://a.test/a b"),
		"bad method":            h("X-Original-URL", "https://a.test/", "X-Original-Method", "GE T"),
		"long method":           h("X-Original-URL", "https://a.test/", "X-Original-Method", "GETGETGETGETGETGETGETGETGETGETGETGET"),
		"host list":             h("X-Forwarded-Host", "a.test, b.test", "X-Forwarded-Uri", "/"),
		"two hosts":             h("X-Forwarded-Host", "a.test", "X-Forwarded-Host", "b.test", "X-Forwarded-Uri", "/"),
		"host with path":        h("X-Forwarded-Host", "a.test/x", "X-Forwarded-Uri", "/"),
		"host with user":        h("X-Forwarded-Host", "u@a.test", "X-Forwarded-Uri", "/"),
		"host bad port":         h("X-Forwarded-Host", "a.test:99999", "X-Forwarded-Uri", "/"),
		"host port zero":        h("X-Forwarded-Host", "a.test:0", "X-Forwarded-Uri", "/"),
		"host empty port":       h("X-Forwarded-Host", "a.test:", "X-Forwarded-Uri", "/"),
		"host dot":              h("X-Forwarded-Host", ".a.test", "X-Forwarded-Uri", "/"),
		"host percent":          h("X-Forwarded-Host", "a%2etest", "X-Forwarded-Uri", "/"),
		"IPv4 in brackets":      h("X-Forwarded-Host", "[10.0.0.1]", "X-Forwarded-Uri", "/"),
		"unclosed bracket":      h("X-Forwarded-Host", "[::1", "X-Forwarded-Uri", "/"),
		"no host":               h("X-Forwarded-Uri", "/"),
		"no uri":                h("X-Forwarded-Host", "a.test"),
		"relative uri":          h("X-Forwarded-Host", "a.test", "X-Forwarded-Uri", "x"),
		"scheme-relative uri":   h("X-Forwarded-Host", "a.test", "X-Forwarded-Uri", "//b.test/"),
		"absolute uri":          h("X-Forwarded-Host", "a.test", "X-Forwarded-Uri", "https://b.test/"),
		"uri fragment":          h("X-Forwarded-Host", "a.test", "X-Forwarded-Uri", "/#x"),
		"proto list":            h("X-Forwarded-Proto", "https,http", "X-Forwarded-Host", "a.test", "X-Forwarded-Uri", "/"),
		"proto ws":              h("X-Forwarded-Proto", "ws", "X-Forwarded-Host", "a.test", "X-Forwarded-Uri", "/"),
		"method list":           h("X-Forwarded-Method", "GET,POST", "X-Forwarded-Host", "a.test", "X-Forwarded-Uri", "/"),
		"empty method":          h("X-Forwarded-Method", "", "X-Forwarded-Host", "a.test", "X-Forwarded-Uri", "/"),
		"overlong uri":          h("X-Forwarded-Host", "a.test", "X-Forwarded-Uri", "/"+string(make([]byte, maxForwardedLen))),
		"nul in uri":            h("X-Forwarded-Host", "a.test", "X-Forwarded-Uri", "/a\x00"),
		"del in host":           h("X-Forwarded-Host", "a.test\x7f", "X-Forwarded-Uri", "/"),
		"backslash host":        h("X-Forwarded-Host", "a.test\\b", "X-Forwarded-Uri", "/"),
		"two uris":              h("X-Forwarded-Host", "a.test", "X-Forwarded-Uri", "/a", "X-Forwarded-Uri", "/b"),
		"bad escape in uri":     h("X-Forwarded-Host", "a.test", "X-Forwarded-Uri", "/%zz"),
		"bad escape in nginx":   h("X-Original-URL", "https://a.test/%zz"),
		"nginx host with comma": h("X-Original-URL", "https://a.test,b.test/"),
	}
	for name, hd := range bad {
		if _, _, found, err := forwardedTarget(hd); err == nil || !found {
			t.Errorf("%s: accepted (found %v)", name, found)
		}
	}
}
