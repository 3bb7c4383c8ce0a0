package flows

import (
	"net/http"
	"testing"
)

func TestCORS(t *testing.T) {
	e := newEnv(t, Config{CORSOrigins: []string{"https://spa.example.test"}}, GuardConfig{})
	// Preflight from the allowed origin.
	r := jsonReq("OPTIONS", "https://auth.example.test/auth/login", "")
	r.Header.Set("Origin", "https://spa.example.test")
	r.Header.Set("Access-Control-Request-Method", "POST")
	r.Header.Set("Access-Control-Request-Headers", "content-type")
	res := e.do(r)
	h := res.Header
	if res.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "https://spa.example.test" ||
		h.Get("Access-Control-Allow-Credentials") != "true" || h.Get("Access-Control-Max-Age") != "600" ||
		h.Get("Access-Control-Allow-Headers") == "" {
		t.Fatalf("preflight: %d %v", res.StatusCode, h)
	}
	// Preflight from another origin: refused, no CORS headers.
	r.Header.Set("Origin", "https://evil.test")
	res = e.do(r)
	if res.StatusCode != http.StatusForbidden || res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("foreign preflight: %d %v", res.StatusCode, res.Header)
	}
	// The real cross-origin login from the allowed origin passes the CSRF
	// check and is readable by that origin.
	r = jsonReq("POST", "https://auth.example.test/auth/login", `{"email":"alice@example.test","password":"`+alicePW+`"}`)
	r.Host = "auth.example.test"
	r.Header.Set("Origin", "https://spa.example.test")
	r.Header.Set("Sec-Fetch-Site", "same-site")
	res = e.do(r)
	if res.StatusCode != 200 || res.Header.Get("Access-Control-Allow-Origin") != "https://spa.example.test" {
		t.Fatalf("allowed origin login: %d %v", res.StatusCode, res.Header)
	}
	// From any other origin it is still a cross-origin request: refused.
	r.Header.Set("Origin", "https://evil.test")
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	res = e.do(r)
	if res.StatusCode != http.StatusForbidden || res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("foreign login: %d %v", res.StatusCode, res.Header)
	}
}

func TestCORSOriginsValidated(t *testing.T) {
	for _, bad := range []string{"*", "https://*.example.test", "spa.example.test", "https://spa.example.test/app", "ftp://x.test", "https://u@x.test"} {
		if _, err := checkCORSOrigins([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := checkCORSOrigins([]string{"https://spa.example.test", "http://localhost:3000"}); err != nil {
		t.Fatal(err)
	}
}
