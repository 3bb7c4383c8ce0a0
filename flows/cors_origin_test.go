package flows

import (
	"net/http"
	"strings"
	"testing"
)

// TestCORSOriginCase: an origin configured with capitals or a default
// port passes the preflight and then the real request (issue 9: the
// preflight lower-cased, the CSRF trust list did not, so the POST got
// 403). Both now use the one canonical form, and they agree on every
// Origin a client sends.
func TestCORSOriginCase(t *testing.T) {
	e := newEnv(t, Config{CORSOrigins: []string{"https://SPA.Example.TEST", "HTTPS://App.example.test:443", "http://LOCALHOST:3000"}}, GuardConfig{})
	preflight := func(origin, method string) *http.Response {
		r := jsonReq("OPTIONS", "https://auth.example.test/auth/admin/methods/password", "")
		r.Header.Set("Origin", origin)
		r.Header.Set("Access-Control-Request-Method", method)
		return e.do(r)
	}
	post := func(origin string) *http.Response {
		r := jsonReq("POST", "https://auth.example.test/auth/login", `{"email":"alice@example.test","password":"`+alicePW+`"}`)
		r.Host = "auth.example.test"
		r.Header.Set("Origin", origin)
		r.Header.Set("Sec-Fetch-Site", "same-site")
		return e.do(r)
	}
	// What browsers send: the serialised origin, lower case, no default port.
	for _, origin := range []string{"https://spa.example.test", "https://app.example.test", "http://localhost:3000"} {
		res := preflight(origin, "PUT")
		if res.StatusCode != http.StatusNoContent || res.Header.Get("Access-Control-Allow-Origin") != origin {
			t.Errorf("preflight from %s: %d %v", origin, res.StatusCode, res.Header)
		}
		if m := res.Header.Get("Access-Control-Allow-Methods"); !strings.Contains(m, "PUT") {
			t.Errorf("preflight from %s allows %q, not PUT", origin, m)
		}
		if res := post(origin); res.StatusCode != 200 || res.Header.Get("Access-Control-Allow-Origin") != origin {
			t.Errorf("POST from %s after its preflight: %d %v", origin, res.StatusCode, res.Header)
		}
	}
	// Spellings no browser sends: refused by the preflight and by the CSRF
	// check alike, never one without the other.
	for _, origin := range []string{"https://SPA.example.test", "https://spa.example.test:443", "HTTPS://spa.example.test", "https://spa.example.test.", "http://spa.example.test", "https://spa.example.test:8443", "null"} {
		pre := preflight(origin, "POST").StatusCode
		got := post(origin).StatusCode
		if pre != http.StatusForbidden || got != http.StatusForbidden {
			t.Errorf("origin %q: preflight %d, POST %d; want both 403", origin, pre, got)
		}
	}
}

// TestCanonicalOrigin: the one normalisation of configured origins.
func TestCanonicalOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://SPA.Example.TEST":      "https://spa.example.test",
		"HTTPS://spa.example.test:443":  "https://spa.example.test",
		"http://Localhost:80":           "http://localhost",
		"http://localhost:3000":         "http://localhost:3000",
		"https://spa.example.test:80":   "https://spa.example.test:80",
		"https://[::1]:8443":            "https://[::1]:8443",
		"https://[::1]:443":             "https://[::1]",
		"https://[0:0:0:0:0:0:0:1]":     "https://[::1]",
		"https://[2001:DB8::A]:8443":    "https://[2001:db8::a]:8443",
		"https://xn--bcher-kva.example": "https://xn--bcher-kva.example",
	} {
		got, err := CanonicalOrigin(in)
		if err != nil || got != want {
			t.Errorf("CanonicalOrigin(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{
		"https://spa.example.test:", "https://spa.example.test:0", "https://spa.example.test:65536",
		"https://spa.example.test:+443", "https://bücher.example", "https://spa.example.test/", "https://spa.example.test?x",
		"https://spa.example.test#x", "https://%73pa.example.test", "https://[::ffff:1.2.3.4]", "https://[fe80::1%25eth0]", "https://[1.2.3.4]", "https://spa example.test", "https:spa.example.test",
	} {
		if got, err := CanonicalOrigin(bad); err == nil {
			t.Errorf("CanonicalOrigin(%q) = %q, want an error", bad, got)
		}
	}
	// Two spellings of one origin are one entry.
	m, err := checkCORSOrigins([]string{"https://SPA.example.test", "https://spa.example.test:443"})
	if err != nil || len(m) != 1 || !m["https://spa.example.test"] {
		t.Fatalf("checkCORSOrigins = %v, %v", m, err)
	}
}

// FuzzCanonicalOrigin: an accepted origin's canonical form is a fixed
// point, is lower case, and is accepted by CrossOriginProtection (which
// the portal feeds it to).
func FuzzCanonicalOrigin(f *testing.F) {
	for _, s := range []string{"https://SPA.example.test:443", "http://localhost:3000", "https://[::1]:8443", "https://a:b", "HTTP://X:80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := CanonicalOrigin(in)
		if err != nil {
			return
		}
		again, err := CanonicalOrigin(out)
		if err != nil || again != out || strings.ToLower(out) != out {
			t.Fatalf("%q -> %q -> %q, %v", in, out, again, err)
		}
		if err := http.NewCrossOriginProtection().AddTrustedOrigin(out); err != nil {
			t.Fatalf("%q -> %q refused by CrossOriginProtection: %v", in, out, err)
		}
	})
}
