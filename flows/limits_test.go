package flows

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/password"
	"github.com/caddyauth/gateway/internal/ratelimit"
	"github.com/caddyauth/gateway/internal/session"
	"github.com/caddyauth/gateway/store/memory"
)

func loginFrom(e *env, ip, email, pw string, xff string) *http.Response {
	r := jsonReq("POST", "/auth/login", `{"email":"`+email+`","password":"`+pw+`"}`)
	r.RemoteAddr = ip + ":40000"
	if xff != "" {
		r.Header.Set("X-Forwarded-For", xff)
	}
	return e.do(r)
}

func TestLoginRateLimitPerIdentifier(t *testing.T) {
	e := newEnv(t, Config{Limits: &Limits{LoginIdentifier: ratelimit.Rate{N: 3, Per: time.Minute}}}, GuardConfig{})
	for i := 0; i < 3; i++ {
		// Spread over addresses and spoofed X-Forwarded-For: still one
		// identifier.
		res := loginFrom(e, "192.0.2."+strconv.Itoa(i+1), "alice@example.test", "wrong password here", "203.0.113."+strconv.Itoa(i))
		if res.StatusCode != 401 {
			t.Fatalf("attempt %d: %d", i, res.StatusCode)
		}
	}
	res := loginFrom(e, "192.0.2.99", "ALICE@example.test", alicePW, "198.51.100.1")
	got := decodeErr(t, res)
	if got.Code != CodeRateLimited || res.Header.Get("Retry-After") == "" {
		t.Fatalf("4th attempt: %+v Retry-After %q", got, res.Header.Get("Retry-After"))
	}
	if n, _ := strconv.Atoi(res.Header.Get("Retry-After")); n < 1 || n > 20 {
		t.Fatalf("Retry-After %q", res.Header.Get("Retry-After"))
	}
	// The same limit for an identifier that does not exist: no enumeration.
	for i := 0; i < 3; i++ {
		loginFrom(e, "192.0.2.1", "nobody@example.test", "wrong password here", "")
	}
	if got := decodeErr(t, loginFrom(e, "192.0.2.1", "nobody@example.test", "x", "")); got.Code != CodeRateLimited {
		t.Fatalf("unknown identifier: %+v", got)
	}
}

func TestLoginRateLimitPerIP(t *testing.T) {
	e := newEnv(t, Config{Limits: &Limits{LoginIP: ratelimit.Rate{N: 4, Per: time.Minute}}}, GuardConfig{})
	for i := 0; i < 4; i++ {
		// Many usernames, one address; X-Forwarded-For from this untrusted
		// peer is ignored.
		res := loginFrom(e, "192.0.2.7", "user"+strconv.Itoa(i)+"@example.test", "wrong password here", "198.51.100."+strconv.Itoa(i))
		if res.StatusCode != 401 {
			t.Fatalf("attempt %d: %d", i, res.StatusCode)
		}
	}
	if got := decodeErr(t, loginFrom(e, "192.0.2.7", "alice@example.test", alicePW, "198.51.100.200")); got.Code != CodeRateLimited {
		t.Fatalf("5th attempt from one address: %+v", got)
	}
	if res := loginFrom(e, "192.0.2.8", "alice@example.test", alicePW, ""); res.StatusCode != 200 {
		t.Fatalf("another address: %d", res.StatusCode)
	}
}

func TestLockout(t *testing.T) {
	e := newEnv(t, Config{Limits: &Limits{LockoutMax: 3, LockoutWindow: 15 * time.Minute, LockoutDuration: 15 * time.Minute}}, GuardConfig{})
	for i := 0; i < 3; i++ {
		if res := loginFrom(e, "192.0.2.66", "alice@example.test", "wrong password here", ""); res.StatusCode != 401 {
			t.Fatalf("attempt %d: %d", i, res.StatusCode)
		}
	}
	// Locked: even the right password is refused from that address.
	res := loginFrom(e, "192.0.2.66", "alice@example.test", alicePW, "")
	if got := decodeErr(t, res); got.Code != CodeAccountLocked || res.Header.Get("Retry-After") != "900" {
		t.Fatalf("locked pair: %+v Retry-After %q", got, res.Header.Get("Retry-After"))
	}
	// The attacker's failures do not lock the owner out elsewhere.
	if res := loginFrom(e, "198.51.100.5", "alice@example.test", alicePW, ""); res.StatusCode != 200 {
		t.Fatalf("owner from another address: %d", res.StatusCode)
	}
	// A success clears the pair's failures.
	e2 := newEnv(t, Config{Limits: &Limits{LockoutMax: 2, LockoutWindow: time.Hour, LockoutDuration: time.Hour}}, GuardConfig{})
	loginFrom(e2, "192.0.2.1", "alice@example.test", "wrong password here", "")
	loginFrom(e2, "192.0.2.1", "alice@example.test", alicePW, "")
	loginFrom(e2, "192.0.2.1", "alice@example.test", "wrong password here", "")
	if res := loginFrom(e2, "192.0.2.1", "alice@example.test", alicePW, ""); res.StatusCode != 200 {
		t.Fatalf("failures before a success still counted: %d", res.StatusCode)
	}
}

func TestRateLimitedFormPage(t *testing.T) {
	e := newEnv(t, Config{Limits: &Limits{LoginIdentifier: ratelimit.Rate{N: 1, Per: time.Minute}}}, GuardConfig{})
	post := func() *http.Response {
		return e.do(formReq("/auth/login", url.Values{"email": {"alice@example.test"}, "password": {"wrong password here"}}))
	}
	post()
	res := post()
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("%d", res.StatusCode)
	}
}

// TestDefaultLimitsApply: a service configured without limits gets the
// defaults, not none.
func TestDefaultLimitsApply(t *testing.T) {
	d := DefaultLimits()
	if d.LoginIdentifier.N != 5 || d.LoginIP.N != 20 || d.LockoutMax != 10 {
		t.Fatalf("%+v", d)
	}
	mem := memory.New()
	mgr, _ := session.New(mem, mem, session.Config{})
	svc, err := New(Config{}, Deps{Users: mem, Tokens: mem, Sessions: mgr, Hasher: password.New(fastHash, 1)})
	if err != nil {
		t.Fatal(err)
	}
	p := svc.Portal("/auth")
	var last int
	for i := 0; i < 6; i++ {
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, jsonReq("POST", "/auth/login", `{"email":"x@example.test","password":"wrong password here"}`))
		last = rec.Code
	}
	if last != http.StatusTooManyRequests {
		t.Fatalf("6th attempt in a minute: %d, want 429 by default", last)
	}
}
