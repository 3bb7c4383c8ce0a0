package ratelimit

import (
	"context"
	"time"

	"github.com/caddyauth/gateway/store"
)

// reserve counts an attempt for key at now under the lock (see Attempt);
// the reservation's WindowStart is its own timestamp, which release
// looks for.
func (l *Lockout) reserve(key string, now time.Time) store.LockoutReservation {
	if l == nil || l.Max <= 0 {
		return store.LockoutReservation{OK: true}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.entry(key, now)
	if now.Before(f.lockedUntil) {
		return store.LockoutReservation{LockedUntil: f.lockedUntil}
	}
	if !f.lockedUntil.IsZero() {
		// An ended lock: a fresh window.
		f.times, f.lockedUntil = f.times[:0], time.Time{}
	}
	cut := 0
	for cut < len(f.times) && now.Sub(f.times[cut]) >= l.Window {
		cut++
	}
	f.times = append(f.times[cut:], now)
	r := store.LockoutReservation{OK: true, WindowStart: now}
	if len(f.times) >= l.Max {
		f.lockedUntil = now.Add(l.Duration)
		r.Locks, r.LockedUntil = true, f.lockedUntil
	}
	return r
}

// release refunds r: its failure goes, and a lock it set is lifted. A
// plain reservation is kept when a lock was set since (erring towards
// the lock).
func (l *Lockout) release(key string, r store.LockoutReservation) {
	if l == nil || l.Max <= 0 || !r.OK {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.m[key]
	if f == nil {
		return
	}
	if r.Locks {
		if !f.lockedUntil.Equal(r.LockedUntil) {
			return
		}
		f.lockedUntil = time.Time{}
	} else if !f.lockedUntil.IsZero() {
		return
	}
	for i := len(f.times) - 1; i >= 0; i-- {
		if f.times[i].Equal(r.WindowStart) {
			f.times = append(f.times[:i], f.times[i+1:]...)
			return
		}
	}
}

// Reserve implements Locker.
func (x localLocker) Reserve(_ context.Context, identifier, ip string, now time.Time) (*Attempt, time.Duration, error) {
	r := x.l.reserve(pairKey(identifier, ip), now)
	if !r.OK {
		return nil, r.LockedUntil.Sub(now), nil
	}
	return &Attempt{l: x, identifier: identifier, ip: ip, r: r}, 0, nil
}

func (x localLocker) release(_ context.Context, identifier, ip string, r store.LockoutReservation) error {
	x.l.release(pairKey(identifier, ip), r)
	return nil
}

// Reserve implements Locker: one atomic store round trip, shared by every
// instance. With the lockout off there is none.
func (s *StoreLocker) Reserve(ctx context.Context, identifier, ip string, now time.Time) (*Attempt, time.Duration, error) {
	if s.p.Max <= 0 {
		return &Attempt{l: s, identifier: identifier, ip: ip, r: store.LockoutReservation{OK: true}, done: true}, 0, nil
	}
	s.maybePurge(ctx, now)
	r, err := s.st.LockoutReserve(ctx, identifier, ip, now, s.p)
	if err != nil {
		return nil, 0, err
	}
	if !r.OK {
		return nil, r.LockedUntil.Sub(now), nil
	}
	return &Attempt{l: s, identifier: identifier, ip: ip, r: r}, 0, nil
}

func (s *StoreLocker) release(ctx context.Context, identifier, ip string, r store.LockoutReservation) error {
	return s.st.LockoutRelease(ctx, identifier, ip, r, s.p)
}
