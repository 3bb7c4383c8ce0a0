package ratelimit

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/caddyauth/gateway/store"
)

// Locker is the lockout the login flow uses, per (identifier, IP) pair.
// Errors mean the state could not be read or written (shared store down).
type Locker interface {
	// Locked reports whether the pair is locked at now and for how long.
	Locked(ctx context.Context, identifier, ip string, now time.Time) (bool, time.Duration, error)
	// Reserve takes one check from the pair's budget before the check
	// runs (see Attempt). When the pair is locked it returns a nil
	// Attempt and how long the lock lasts.
	Reserve(ctx context.Context, identifier, ip string, now time.Time) (*Attempt, time.Duration, error)
	// Fail records a failure and reports whether it locked the pair.
	Fail(ctx context.Context, identifier, ip string, now time.Time) (bool, error)
	// Succeed clears the pair (a successful login from it).
	Succeed(ctx context.Context, identifier, ip string) error
	// UnlockIdentifier clears the identifier on every address (operator
	// action) and reports how many pairs were locked.
	UnlockIdentifier(ctx context.Context, identifier string, now time.Time) (int, error)
}

// pairKey is the in-process key of a pair.
func pairKey(identifier, ip string) string { return identifier + "\x00" + ip }

// Locker adapts the in-process lockout (one instance, nothing shared).
func (l *Lockout) Locker() Locker { return localLocker{l} }

type localLocker struct{ l *Lockout }

func (x localLocker) Locked(_ context.Context, identifier, ip string, now time.Time) (bool, time.Duration, error) {
	locked, wait := x.l.Locked(pairKey(identifier, ip), now)
	return locked, wait, nil
}

func (x localLocker) Fail(_ context.Context, identifier, ip string, now time.Time) (bool, error) {
	return x.l.Fail(pairKey(identifier, ip), now), nil
}

func (x localLocker) Succeed(_ context.Context, identifier, ip string) error {
	x.l.Succeed(pairKey(identifier, ip))
	return nil
}

func (x localLocker) UnlockIdentifier(_ context.Context, identifier string, now time.Time) (int, error) {
	return x.l.UnlockIdentifier(identifier, now), nil
}

// UnlockIdentifier clears every pair of identifier and reports how many
// were locked at now.
func (l *Lockout) UnlockIdentifier(identifier string, now time.Time) int {
	if l == nil {
		return 0
	}
	pre := identifier + "\x00"
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for k, f := range l.m {
		if strings.HasPrefix(k, pre) {
			if now.Before(f.lockedUntil) {
				n++
			}
			delete(l.m, k)
		}
	}
	return n
}

// StoreLocker keeps the lockout in a shared store (the database), so a lock
// holds on every instance and the CLI or admin API can lift it.
type StoreLocker struct {
	st store.LockoutStore
	p  store.LockoutPolicy

	mu        sync.Mutex
	lastPurge time.Time
}

// NewStoreLocker returns a shared lockout; max <= 0 disables it (no store
// round trip at all).
func NewStoreLocker(st store.LockoutStore, max int, window, duration time.Duration) *StoreLocker {
	return &StoreLocker{st: st, p: store.LockoutPolicy{Max: max, Window: window, Duration: duration}}
}

// purgeEvery bounds how often an instance sweeps expired pairs.
const purgeEvery = 10 * time.Minute

// Locked implements Locker.
func (s *StoreLocker) Locked(ctx context.Context, identifier, ip string, now time.Time) (bool, time.Duration, error) {
	if s.p.Max <= 0 {
		return false, 0, nil
	}
	until, err := s.st.LockedUntil(ctx, identifier, ip, now)
	if err != nil || !until.After(now) {
		return false, 0, err
	}
	return true, until.Sub(now), nil
}

// Fail implements Locker; it also sweeps expired pairs now and then.
func (s *StoreLocker) Fail(ctx context.Context, identifier, ip string, now time.Time) (bool, error) {
	if s.p.Max <= 0 {
		return false, nil
	}
	s.maybePurge(ctx, now)
	return s.st.LockoutFail(ctx, identifier, ip, now, s.p)
}

// maybePurge sweeps expired pairs at most every purgeEvery.
func (s *StoreLocker) maybePurge(ctx context.Context, now time.Time) {
	s.mu.Lock()
	purge := now.Sub(s.lastPurge) >= purgeEvery
	if purge {
		s.lastPurge = now
	}
	s.mu.Unlock()
	if purge {
		_, _ = s.st.PurgeLockouts(ctx, now) // best effort: rows only take space
	}
}

// Succeed implements Locker.
func (s *StoreLocker) Succeed(ctx context.Context, identifier, ip string) error {
	if s.p.Max <= 0 {
		return nil
	}
	return s.st.LockoutClear(ctx, identifier, ip)
}

// UnlockIdentifier implements Locker; it works even with the lockout off
// (an operator clearing what an earlier configuration locked).
func (s *StoreLocker) UnlockIdentifier(ctx context.Context, identifier string, now time.Time) (int, error) {
	return s.st.LockoutClearIdentifier(ctx, identifier, now)
}

var (
	_ Locker = localLocker{}
	_ Locker = (*StoreLocker)(nil)
)
