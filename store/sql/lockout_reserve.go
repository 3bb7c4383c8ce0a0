package sqlstore

import (
	"context"
	"time"

	"github.com/caddyauth/gateway/store"
)

// LockoutReserve counts the attempt in one upsert, atomic in SQLite and
// PostgreSQL alike (the row is locked while it is updated, and a racing
// upsert sees the result). The returned failures tell the caller where it
// stands: below Max, a plain reservation; exactly Max with a lock, the
// last one, which set the lock; above Max, refused (a locked row counts
// refusals past Max, so the number alone says "locked before me").
// A window also starts afresh when an earlier lock has ended.
func (d *DB) LockoutReserve(ctx context.Context, identifier, ip string, now time.Time, p store.LockoutPolicy) (store.LockoutReservation, error) {
	if p.Max <= 0 {
		return store.LockoutReservation{OK: true}, nil
	}
	n, stale := ms(now), ms(now.Add(-p.Window))
	until, windowEnd := ms(now.Add(p.Duration)), ms(now.Add(p.Window))
	lockEnd := max(until, windowEnd)
	firstLock, firstExp := int64(0), windowEnd
	if p.Max == 1 {
		firstLock, firstExp = until, lockEnd
	}
	var failures int
	var start, lockedUntil int64
	err := d.db.QueryRowContext(ctx, d.q(`INSERT INTO lockouts (identifier, ip, failures, window_start, locked_until, expires_at)
		VALUES (?, ?, 1, ?, ?, ?)
		ON CONFLICT (identifier, ip) DO UPDATE SET
			failures = CASE
				WHEN lockouts.locked_until > ? THEN (CASE WHEN lockouts.failures > ? THEN lockouts.failures + 1 ELSE ? END)
				WHEN lockouts.window_start <= ? OR lockouts.locked_until > 0 THEN 1
				ELSE lockouts.failures + 1 END,
			window_start = CASE
				WHEN lockouts.locked_until > ? THEN lockouts.window_start
				WHEN lockouts.window_start <= ? OR lockouts.locked_until > 0 THEN ?
				ELSE lockouts.window_start END,
			locked_until = CASE
				WHEN lockouts.locked_until > ? THEN lockouts.locked_until
				WHEN lockouts.window_start <= ? OR lockouts.locked_until > 0 THEN ?
				WHEN lockouts.failures + 1 >= ? THEN ?
				ELSE 0 END,
			expires_at = CASE
				WHEN lockouts.locked_until > ? THEN lockouts.expires_at
				WHEN lockouts.window_start <= ? OR lockouts.locked_until > 0 THEN ?
				WHEN lockouts.failures + 1 >= ? THEN ?
				ELSE ? END
		RETURNING failures, window_start, locked_until`),
		identifier, ip, n, firstLock, firstExp,
		n, p.Max, p.Max+1, stale,
		n, stale, n,
		n, stale, firstLock, p.Max, until,
		n, stale, firstExp, p.Max, lockEnd, windowEnd).Scan(&failures, &start, &lockedUntil)
	if err != nil {
		return store.LockoutReservation{}, d.wrap("lockout reserve", err)
	}
	r := store.LockoutReservation{WindowStart: fromMs(start)}
	if lockedUntil > 0 {
		r.LockedUntil = fromMs(lockedUntil)
	}
	switch {
	case failures > p.Max:
		return r, nil // locked before this attempt
	case lockedUntil > n:
		r.OK, r.Locks = true, true
	default:
		r.OK = true
	}
	return r, nil
}

// LockoutRelease refunds a reservation of the same window: a plain one
// drops a failure (unless a lock has been set since: then the count
// stays, erring towards the lock), the last one lifts the lock it set.
func (d *DB) LockoutRelease(ctx context.Context, identifier, ip string, r store.LockoutReservation, p store.LockoutPolicy) error {
	if p.Max <= 0 || !r.OK {
		return nil
	}
	var err error
	if r.Locks {
		_, err = d.db.ExecContext(ctx, d.q(`UPDATE lockouts SET failures = ?, locked_until = 0
			WHERE identifier = ? AND ip = ? AND window_start = ? AND locked_until = ?`),
			p.Max-1, identifier, ip, ms(r.WindowStart), ms(r.LockedUntil))
	} else {
		_, err = d.db.ExecContext(ctx, d.q(`UPDATE lockouts SET failures = failures - 1
			WHERE identifier = ? AND ip = ? AND window_start = ? AND locked_until = 0 AND failures > 0`),
			identifier, ip, ms(r.WindowStart))
	}
	return d.wrap("lockout release", err)
}
