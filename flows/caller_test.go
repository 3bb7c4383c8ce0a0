package flows

import (
	"net/http"
	"testing"
)

// TestCallerKinds: each kind of page, through a route registered with
// withCaller, answers no cookie, a full cookie and a store outage the way
// the preamble it replaced did.
func TestCallerKinds(t *testing.T) {
	routes := []struct {
		kind, method, path string
		anon               int
	}{
		{"full", "GET", "/auth/session", http.StatusUnauthorized},
		{"full page", "GET", "/auth/mfa", http.StatusUnauthorized},
		{"signed in", "GET", "/auth/change-password", http.StatusUnauthorized},
		{"stage", "POST", "/auth/mfa/challenge", http.StatusUnauthorized},
		{"settings", "POST", "/auth/mfa/recovery-codes", http.StatusUnauthorized},
		{"settings enrol", "GET", "/auth/mfa/setup", http.StatusUnauthorized},
	}
	for _, rt := range routes {
		t.Run(rt.kind, func(t *testing.T) {
			e := newEnv(t, Config{}, GuardConfig{})
			if res := e.do(jsonReq(rt.method, rt.path, "{}")); res.StatusCode != rt.anon {
				t.Fatalf("no cookie: %d", res.StatusCode)
			}
			c := e.login(alicePW)
			if res := e.do(withCookie(jsonReq(rt.method, rt.path, "{}"), c)); res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusServiceUnavailable {
				t.Fatalf("full cookie: %d", res.StatusCode)
			}
			e.ss.mu.Lock()
			e.ss.down = true
			e.ss.mu.Unlock()
			if got := decodeErr(t, e.do(withCookie(jsonReq(rt.method, rt.path, "{}"), c))); got.Code != CodeStoreUnavailable {
				t.Fatalf("store down: %+v", got)
			}
		})
	}
}
