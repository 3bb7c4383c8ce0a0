package flows

import (
	"context"
	"net/http"
	"strconv"
	"testing"

	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/internal/ratelimit"
	"github.com/caddyauth/gateway/store"
	"github.com/caddyauth/gateway/store/memory"
)

// limitsOff is what `rate_limit off` and `lockout off` leave of the
// defaults (caddyauth's App.limits does the same).
func limitsOff() *Limits {
	l := DefaultLimits()
	l.LoginIP, l.LoginIdentifier, l.MFA, l.MFASend = ratelimit.Rate{}, ratelimit.Rate{}, ratelimit.Rate{}, ratelimit.Rate{}
	l.LockoutMax = 0
	return &l
}

func addBob(t *testing.T, e *env, groups ...string) {
	t.Helper()
	h, _ := e.hasher.Hash(context.Background(), alicePW)
	if err := e.mem.CreateUser(context.Background(), &store.User{
		ID: keys.NewID(), Email: "bob@example.test", Name: "Bob",
		Groups: groups, Status: store.StatusActive, PasswordHash: h,
	}); err != nil {
		t.Fatal(err)
	}
}

func loginAs(e *env, ip, email, pw string) *http.Response {
	r := jsonReq("POST", "/auth/login", `{"email":"`+email+`","password":"`+pw+`"}`)
	r.RemoteAddr = ip + ":40000"
	return e.do(r)
}

// TestLimitsOffKeepAdminProtection (issue 9 #16): with every limit off, an
// account in the admin group still locks: 5 failures from any addresses
// stop its password checks (the identifier bucket's default budget,
// counting failures), while other accounts are not limited at all.
func TestLimitsOffKeepAdminProtection(t *testing.T) {
	for _, shared := range []bool{false, true} {
		e := newEnvWith(t, Config{Limits: limitsOff()}, GuardConfig{}, func(d *Deps) {
			if shared {
				d.Lockouts = memory.New()
			}
		})
		addBob(t, e, "admin")
		for i := range 5 {
			if res := loginAs(e, "192.0.2."+strconv.Itoa(i+1), "bob@example.test", "wrong password here"); res.StatusCode != 401 {
				t.Fatalf("shared=%v: admin failure %d: %d", shared, i, res.StatusCode)
			}
		}
		if got := decodeErr(t, loginAs(e, "198.51.100.1", "bob@example.test", alicePW)); got.Code != CodeAccountLocked {
			t.Fatalf("shared=%v: admin after 5 failures from 5 addresses, with limits off: %+v, want ACCOUNT_LOCKED", shared, got)
		}
		// Not an admin: limits off means off.
		for i := range 30 {
			if res := loginAs(e, "192.0.2.9", "alice@example.test", "wrong password here"); res.StatusCode != 401 {
				t.Fatalf("shared=%v: non-admin failure %d: %d", shared, i, res.StatusCode)
			}
		}
		if res := loginAs(e, "192.0.2.9", "alice@example.test", alicePW); res.StatusCode != 200 {
			t.Fatalf("shared=%v: non-admin with limits off: %d", shared, res.StatusCode)
		}
		// The operator's unlock lifts the floor too.
		if _, err := e.svc.Unlock(context.Background(), "bob@example.test"); err != nil {
			t.Fatal(err)
		}
		if res := loginAs(e, "198.51.100.1", "bob@example.test", alicePW); res.StatusCode != 200 {
			t.Fatalf("shared=%v: admin after unlock: %d", shared, res.StatusCode)
		}
	}
}

// TestLockoutOffKeepsAdminPairLockout: `lockout off` with the identifier
// bucket on leaves admins the default pair lockout (10 failures).
func TestLockoutOffKeepsAdminPairLockout(t *testing.T) {
	l := limitsOff()
	l.LoginIdentifier = ratelimit.Rate{N: 1000, Per: 60e9}
	e := newEnv(t, Config{Limits: l}, GuardConfig{})
	addBob(t, e, "admin")
	for range 10 {
		loginAs(e, "192.0.2.1", "bob@example.test", "wrong password here")
	}
	if got := decodeErr(t, loginAs(e, "192.0.2.1", "bob@example.test", alicePW)); got.Code != CodeAccountLocked {
		t.Fatalf("admin pair after 10 failures with lockout off: %+v, want ACCOUNT_LOCKED", got)
	}
	if res := loginAs(e, "192.0.2.2", "bob@example.test", alicePW); res.StatusCode != 200 {
		t.Fatalf("admin from another address: %d", res.StatusCode)
	}
}

// TestAdminFloorHoldsUnderConcurrentGuesses: the floor is reserved like
// the lockout: 64 guesses at once get at most 5 checks.
func TestAdminFloorHoldsUnderConcurrentGuesses(t *testing.T) {
	rec := &recorder{}
	e := newEnvWith(t, Config{Limits: limitsOff()}, GuardConfig{}, func(d *Deps) { d.Audit = rec })
	addBob(t, e, "admin")
	got := concurrently(e, 64, func() *http.Request {
		r := jsonReq("POST", "/auth/login", `{"email":"bob@example.test","password":"wrong password here"}`)
		r.RemoteAddr = "192.0.2.1:1"
		return r
	})
	if got[http.StatusUnauthorized] > 5 {
		t.Fatalf("%v: more than 5 admin passwords checked with limits off", got)
	}
}
