package ratelimit

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/caddyauth/gateway/store/memory"
	sqlstore "github.com/caddyauth/gateway/store/sql"
)

// lockers are the three lockouts the flows can run on: in-process, the
// memory store's and a real SQLite database's.
func lockers(t *testing.T, max int) map[string]Locker {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "auth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return map[string]Locker{
		"local":  NewLockout(max, time.Minute, time.Hour, 0).Locker(),
		"memory": NewStoreLocker(memory.New(), max, time.Minute, time.Hour),
		"sqlite": NewStoreLocker(db, max, time.Minute, time.Hour),
	}
}

// TestReserveBoundsConcurrentAttempts (issue 9 #3): 64 racing attempts
// for one pair get exactly Max reservations and one of them locks.
func TestReserveBoundsConcurrentAttempts(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	for name, l := range lockers(t, 10) {
		t.Run(name, func(t *testing.T) {
			var mu sync.Mutex
			granted, locking := 0, 0
			var wg sync.WaitGroup
			start := make(chan struct{})
			for range 64 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					a, wait, err := l.Reserve(ctx, "a@example.test", "192.0.2.1", now)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					defer mu.Unlock()
					if a == nil {
						if wait <= 0 {
							t.Errorf("refused with wait %v", wait)
						}
						return
					}
					granted++
					if a.Failed() {
						locking++
					}
				}()
			}
			close(start)
			wg.Wait()
			if granted != 10 || locking != 1 {
				t.Fatalf("%d granted (want 10), %d locking (want 1)", granted, locking)
			}
			if locked, _, _ := l.Locked(ctx, "a@example.test", "192.0.2.1", now); !locked {
				t.Fatal("pair not locked after 10 failed attempts")
			}
		})
	}
}

// TestAttemptEnds: Succeeded clears the pair, Release refunds (even on a
// cancelled context) and lifts a lock the attempt set, and the first end
// wins.
func TestAttemptEnds(t *testing.T) {
	now := time.Now()
	for name, l := range lockers(t, 2) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			reserve := func() *Attempt {
				t.Helper()
				a, _, err := l.Reserve(ctx, "b@example.test", "192.0.2.2", now)
				if err != nil || a == nil {
					t.Fatalf("reserve: %v %v", a, err)
				}
				return a
			}
			a := reserve()
			a.Failed()
			if err := a.Release(ctx); err != nil { // no-op: already ended
				t.Fatal(err)
			}
			last := reserve()
			if l2, _, _ := l.Locked(ctx, "b@example.test", "192.0.2.2", now); !l2 {
				t.Fatal("the last reservation did not lock while in flight")
			}
			gone, cancel := context.WithCancel(ctx)
			cancel()
			if err := last.Release(gone); err != nil {
				t.Fatalf("release on a cancelled context: %v", err)
			}
			if l2, _, _ := l.Locked(ctx, "b@example.test", "192.0.2.2", now); l2 {
				t.Fatal("a released last reservation left its lock")
			}
			ok := reserve()
			if err := ok.Succeeded(ctx); err != nil {
				t.Fatal(err)
			}
			// Cleared: a full budget again.
			first := reserve()
			if first.Failed() {
				t.Fatal("the first failure after a success locked")
			}
		})
	}
}
