package flows

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/store/memory"
)

// raceLimits: only the lockout, 10 failures; no bucket hides the race.
func raceLimits() *Limits {
	return &Limits{LockoutMax: 10, LockoutWindow: 15 * time.Minute, LockoutDuration: 15 * time.Minute}
}

// concurrently sends n requests made by mk at once and counts the answers
// by status.
func concurrently(e *env, n int, mk func() *http.Request) map[int]int {
	var mu sync.Mutex
	got := map[int]int{}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		r := mk()
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res := e.do(r)
			mu.Lock()
			got[res.StatusCode]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return got
}

// countEvents counts audit events of typ.
func (r *recorder) count(typ string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// TestLockoutHoldsUnderConcurrentGuesses (issue 9 #3, ASVS 2.2.1): 60 wrong
// passwords sent at once for one (identifier, address) pair get at most
// the lockout's 10 password checks, and the right password afterwards is
// refused; both with the in-process lockout and the shared store's.
func TestLockoutHoldsUnderConcurrentGuesses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		shared bool
	}{{"in-process", false}, {"shared store", true}} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			e := newEnvWith(t, Config{Limits: raceLimits()}, GuardConfig{}, func(d *Deps) {
				d.Audit = rec
				if tc.shared {
					d.Lockouts = memory.New()
				}
			})
			got := concurrently(e, 64, func() *http.Request {
				r := jsonReq("POST", "/auth/login", `{"email":"alice@example.test","password":"wrong password here"}`)
				r.RemoteAddr = "192.0.2.66:40000"
				return r
			})
			checked := rec.count(audit.LoginFailed)
			if got[http.StatusUnauthorized] > 10 || checked > 10 {
				t.Fatalf("%d passwords checked (%d answered 401) of 64 against a lockout of 10: %v", checked, got[http.StatusUnauthorized], got)
			}
			if got[http.StatusUnauthorized]+got[http.StatusTooManyRequests] != 64 {
				t.Fatalf("answers %v: want only 401 and 429", got)
			}
			if got := decodeErr(t, loginFrom(e, "192.0.2.66", "alice@example.test", alicePW, "")); got.Code != CodeAccountLocked {
				t.Fatalf("right password after the burst: %+v, want ACCOUNT_LOCKED", got)
			}
		})
	}
}

// TestChangePasswordLockoutHoldsUnderConcurrentGuesses: the same bound
// for the current password at change-password, from a stolen session.
func TestChangePasswordLockoutHoldsUnderConcurrentGuesses(t *testing.T) {
	for _, shared := range []bool{false, true} {
		rec := &recorder{}
		e := newEnvWith(t, Config{Limits: raceLimits()}, GuardConfig{}, func(d *Deps) {
			d.Audit = rec
			if shared {
				d.Lockouts = memory.New()
			}
		})
		c := e.login(alicePW)
		got := concurrently(e, 64, func() *http.Request {
			return changeReq(`{"current_password":"not the password at all","new_password":"`+newPW+`"}`, c)
		})
		checked := rec.count(audit.PasswordChangeFailed)
		if got[http.StatusUnauthorized] > 10 || checked > 10 {
			t.Fatalf("shared=%v: %d current passwords checked of 64 against a lockout of 10: %v", shared, checked, got)
		}
		res := e.do(changeReq(`{"current_password":"`+alicePW+`","new_password":"`+newPW+`"}`, c))
		if got := decodeErr(t, res); got.Code != CodeAccountLocked {
			t.Fatalf("shared=%v: right current password after the burst: %+v, want ACCOUNT_LOCKED", shared, got)
		}
	}
}

// TestLockoutReservationReleasedOnError: a check that ends in an error
// answer after the reservation (here a right current password with a new
// one the policy refuses) is refunded: with a lockout of 1, whose only
// reservation locks the pair while in flight, the pair is not left locked.
func TestLockoutReservationReleasedOnError(t *testing.T) {
	for _, shared := range []bool{false, true} {
		e := newEnvWith(t, Config{Limits: &Limits{LockoutMax: 1, LockoutWindow: time.Hour, LockoutDuration: time.Hour}}, GuardConfig{}, func(d *Deps) {
			if shared {
				d.Lockouts = memory.New()
			}
		})
		c := e.login(alicePW)
		for range 3 {
			res := e.do(changeReq(`{"current_password":"`+alicePW+`","new_password":"short"}`, c))
			if got := decodeErr(t, res); got.Code != CodeInvalidInput {
				t.Fatalf("shared=%v: weak new password: %d %+v", shared, res.StatusCode, got)
			}
		}
		if res := loginFrom(e, "192.0.2.1", "alice@example.test", alicePW, ""); res.StatusCode != http.StatusOK {
			t.Fatalf("shared=%v: login after refused changes: %+v, want 200 (reservations released)", shared, decodeErr(t, res))
		}
	}
}
