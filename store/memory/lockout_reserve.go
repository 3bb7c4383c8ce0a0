package memory

import (
	"context"
	"time"

	"github.com/caddyauth/gateway/store"
)

// LockoutReserve counts the attempt under the store's lock; the same
// semantics as the SQL store's single upsert.
func (m *Store) LockoutReserve(_ context.Context, identifier, ip string, now time.Time, p store.LockoutPolicy) (store.LockoutReservation, error) {
	if p.Max <= 0 {
		return store.LockoutReservation{OK: true}, nil
	}
	st := &m.settings
	st.mu.Lock()
	defer st.mu.Unlock()
	l, fresh := st.lockoutEntry(identifier, ip, now)
	switch {
	case fresh:
	case l.lockedUntil.After(now):
		return store.LockoutReservation{LockedUntil: l.lockedUntil, WindowStart: l.windowStart}, nil
	case !l.windowStart.After(now.Add(-p.Window)) || !l.lockedUntil.IsZero():
		l.failures, l.windowStart, l.lockedUntil = 0, now, time.Time{}
	}
	l.failures++
	l.expires = now.Add(p.Window)
	r := store.LockoutReservation{OK: true, WindowStart: l.windowStart}
	if l.failures >= p.Max {
		l.lockedUntil = now.Add(p.Duration)
		if l.lockedUntil.After(l.expires) {
			l.expires = l.lockedUntil
		}
		r.Locks, r.LockedUntil = true, l.lockedUntil
	}
	return r, nil
}

// LockoutRelease refunds a reservation of the same window (see the SQL
// store's).
func (m *Store) LockoutRelease(_ context.Context, identifier, ip string, r store.LockoutReservation, p store.LockoutPolicy) error {
	if p.Max <= 0 || !r.OK {
		return nil
	}
	st := &m.settings
	st.mu.Lock()
	defer st.mu.Unlock()
	l := st.lockouts[[2]string{identifier, ip}]
	if l == nil || !l.windowStart.Equal(r.WindowStart) {
		return nil
	}
	switch {
	case r.Locks && l.lockedUntil.Equal(r.LockedUntil):
		l.failures, l.lockedUntil = p.Max-1, time.Time{}
	case !r.Locks && l.lockedUntil.IsZero() && l.failures > 0:
		l.failures--
	}
	return nil
}
