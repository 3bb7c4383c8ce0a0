package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/caddyauth/gateway/store"
)

// TestLockoutReserve runs the reservation conformance suite (issue 9 #3);
// open returns a fresh, empty store.
func TestLockoutReserve(t *testing.T, open func(t *testing.T) store.LockoutStore) {
	ctx := context.Background()
	p := store.LockoutPolicy{Max: 3, Window: time.Minute, Duration: 10 * time.Minute}
	t0 := time.UnixMilli(time.Now().UnixMilli())
	const id, ip = "a@example.test", "192.0.2.1"
	reserve := func(t *testing.T, s store.LockoutStore, at time.Time) store.LockoutReservation {
		t.Helper()
		r, err := s.LockoutReserve(ctx, id, ip, at, p)
		must(t, "reserve", err)
		return r
	}

	t.Run("LastReservationLocks", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		for i := range p.Max {
			r := reserve(t, s, t0.Add(time.Duration(i)*time.Second))
			if !r.OK || r.Locks != (i == p.Max-1) {
				t.Fatalf("reservation %d: %+v", i+1, r)
			}
		}
		r := reserve(t, s, t0.Add(5*time.Second))
		if r.OK {
			t.Fatalf("reservation past Max: %+v", r)
		}
		checkTime(t, "LockedUntil", r.LockedUntil, t0.Add(2*time.Second+p.Duration))
		until, err := s.LockedUntil(ctx, id, ip, t0.Add(6*time.Second))
		must(t, "locked until", err)
		checkTime(t, "LockedUntil", until, t0.Add(2*time.Second+p.Duration))
		// After the lock a fresh window starts.
		if r := reserve(t, s, t0.Add(2*time.Second+p.Duration)); !r.OK || r.Locks {
			t.Fatalf("after the lock ended: %+v", r)
		}
	})

	t.Run("ReleaseRefunds", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		r1 := reserve(t, s, t0)
		must(t, "release", s.LockoutRelease(ctx, id, ip, r1, p))
		reserve(t, s, t0)
		last := reserve(t, s, t0)
		if last.Locks {
			t.Fatal("a released reservation still counted")
		}
		last = reserve(t, s, t0)
		if !last.Locks {
			t.Fatalf("third live reservation: %+v", last)
		}
		if r := reserve(t, s, t0); r.OK {
			t.Fatal("locked pair gave a reservation")
		}
		must(t, "release last", s.LockoutRelease(ctx, id, ip, last, p))
		if until, _ := s.LockedUntil(ctx, id, ip, t0); !until.IsZero() {
			t.Fatal("releasing the last reservation left its lock")
		}
		// The budget left is the one released: one more, which locks.
		if r := reserve(t, s, t0); !r.OK || !r.Locks {
			t.Fatalf("after releasing the last: %+v", r)
		}
	})

	t.Run("ReleaseNeverRefundsAnotherWindow", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		old := reserve(t, s, t0)
		reserve(t, s, t0.Add(2*p.Window)) // a new window
		reserve(t, s, t0.Add(2*p.Window))
		must(t, "release", s.LockoutRelease(ctx, id, ip, old, p))
		if r := reserve(t, s, t0.Add(2*p.Window)); !r.Locks {
			t.Fatalf("an old window's release refunded the new one: %+v", r)
		}
	})

	t.Run("ClearResets", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		for range p.Max {
			reserve(t, s, t0)
		}
		must(t, "clear", s.LockoutClear(ctx, id, ip))
		if r := reserve(t, s, t0); !r.OK || r.Locks {
			t.Fatalf("after clear: %+v", r)
		}
	})

	t.Run("OffAlwaysOK", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		for range 5 {
			r, err := s.LockoutReserve(ctx, id, ip, t0, store.LockoutPolicy{})
			must(t, "reserve", err)
			if !r.OK || r.Locks {
				t.Fatalf("lockout off: %+v", r)
			}
		}
	})

	t.Run("ConcurrentReservationsBounded", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		pol := store.LockoutPolicy{Max: 10, Window: time.Minute, Duration: time.Hour}
		var mu sync.Mutex
		ok, locks := 0, 0
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 64 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				r, err := s.LockoutReserve(ctx, id, ip, t0, pol)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if r.OK {
					ok++
				}
				if r.Locks {
					locks++
				}
			}()
		}
		close(start)
		wg.Wait()
		if ok != pol.Max || locks != 1 {
			t.Fatalf("64 racing reservations: %d granted (want %d), %d locking (want 1)", ok, pol.Max, locks)
		}
	})
}
