package flows

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/ratelimit"
)

func loginFromAddr(e *env, remoteAddr, pw string) *http.Response {
	r := jsonReq("POST", "/auth/login", `{"email":"alice@example.test","password":"`+pw+`"}`)
	r.RemoteAddr = remoteAddr
	return e.do(r)
}

// TestMappedAddressSharesBudget (issue 9 #15): ::ffff:10.1.1.1 is
// 10.1.1.1; it gets no fresh login bucket and no fresh lockout.
func TestMappedAddressSharesBudget(t *testing.T) {
	e := newEnv(t, Config{Limits: &Limits{LockoutMax: 2, LockoutWindow: time.Hour, LockoutDuration: time.Hour}}, GuardConfig{})
	loginFromAddr(e, "10.1.1.1:4000", "wrong password here")
	loginFromAddr(e, "10.1.1.1:4001", "wrong password here")
	for _, addr := range []string{"[::ffff:10.1.1.1]:4000", "[::FFFF:0a01:0101]:4000", "[0:0:0:0:0:ffff:10.1.1.1]:4000"} {
		if got := decodeErr(t, loginFromAddr(e, addr, alicePW)); got.Code != CodeAccountLocked {
			t.Fatalf("%s after 10.1.1.1 was locked: %+v, want ACCOUNT_LOCKED", addr, got)
		}
	}
	e2 := newEnv(t, Config{Limits: &Limits{LoginIP: ratelimit.Rate{N: 2, Per: time.Hour}}}, GuardConfig{})
	loginFromAddr(e2, "[::ffff:10.1.1.1]:4000", "wrong password here")
	loginFromAddr(e2, "10.1.1.1:4000", "wrong password here")
	if got := decodeErr(t, loginFromAddr(e2, "10.1.1.1:4000", alicePW)); got.Code != CodeRateLimited {
		t.Fatalf("third attempt from one host in two spellings: %+v, want RATE_LIMITED", got)
	}
}

// TestIPv6ClientsKeyedByPrefix (issue 9 #15): the per-address bucket and
// the lockout key IPv6 clients by /64, so one host cannot rotate through
// the 2^64 addresses of its prefix; another /64 is another client.
func TestIPv6ClientsKeyedByPrefix(t *testing.T) {
	e := newEnv(t, Config{Limits: &Limits{LockoutMax: 2, LockoutWindow: time.Hour, LockoutDuration: time.Hour}}, GuardConfig{})
	loginFromAddr(e, "[2001:db8:1:2::1]:4000", "wrong password here")
	loginFromAddr(e, "[2001:db8:1:2:aaaa::2]:4000", "wrong password here")
	if got := decodeErr(t, loginFromAddr(e, "[2001:db8:1:2:ffff:ffff:ffff:ffff]:4000", alicePW)); got.Code != CodeAccountLocked {
		t.Fatalf("same /64: %+v, want ACCOUNT_LOCKED", got)
	}
	if res := loginFromAddr(e, "[2001:db8:1:3::1]:4000", alicePW); res.StatusCode != http.StatusOK {
		t.Fatalf("another /64: %d, want 200", res.StatusCode)
	}
	e2 := newEnv(t, Config{Limits: &Limits{LoginIP: ratelimit.Rate{N: 2, Per: time.Hour}}}, GuardConfig{})
	loginFromAddr(e2, "[2001:db8::1]:4000", "wrong password here")
	loginFromAddr(e2, "[2001:db8::2]:4000", "wrong password here")
	if got := decodeErr(t, loginFromAddr(e2, "[2001:db8::3]:4000", alicePW)); got.Code != CodeRateLimited {
		t.Fatalf("third address of one /64: %+v, want RATE_LIMITED", got)
	}
}

// TestClientIPCanonical: every consumer of the client address (sessions,
// audit, logs) sees a mapped address as IPv4, whatever ClientIP returns;
// IPv6 keeps its full address there (only the buckets use the /64).
func TestClientIPCanonical(t *testing.T) {
	for _, tc := range []struct{ remote, want string }{
		{"10.1.1.1:1", "10.1.1.1"},
		{"[::ffff:10.1.1.1]:1", "10.1.1.1"},
		{"[::FFFF:A01:101]:1", "10.1.1.1"},
		{"[2001:DB8::1]:1", "2001:db8::1"},
		{"[fe80::1%eth0]:1", "fe80::1%eth0"},
		{"not-an-address", "not-an-address"},
		{"", ""},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		if got := RemoteIP(r); got != tc.want {
			t.Errorf("RemoteIP(%q) = %q, want %q", tc.remote, got, tc.want)
		}
	}
	// A proxy-aware ClientIP (Caddy's) is canonicalised too.
	var seen string
	e := newEnv(t, Config{ClientIP: func(*http.Request) string { return "::ffff:192.0.2.9" }}, GuardConfig{})
	seen = e.svc.cfg.ClientIP(httptest.NewRequest("GET", "/", nil))
	if seen != "192.0.2.9" {
		t.Fatalf("service ClientIP = %q, want 192.0.2.9", seen)
	}
}
