package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/caddyauth/gateway/store"
)

var (
	_ store.SettingsStore = (*DB)(nil)
	_ store.LockoutStore  = (*DB)(nil)
)

// Settings returns every setting whose name starts with prefix.
func (d *DB) Settings(ctx context.Context, prefix string) (map[string]string, error) {
	// substr instead of LIKE: names may contain '_' and '%', which LIKE
	// would read as wildcards.
	rows, err := d.db.QueryContext(ctx, d.q(`SELECT name, value FROM settings WHERE substr(name, 1, ?) = ?`), len(prefix), prefix)
	if err != nil {
		return nil, d.wrap("settings", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var n, v string
		if err := rows.Scan(&n, &v); err != nil {
			return nil, d.wrap("settings", err)
		}
		out[n] = v
	}
	return out, d.wrap("settings", rows.Err())
}

// SetSetting writes name = value.
func (d *DB) SetSetting(ctx context.Context, name, value string, at time.Time) error {
	_, err := d.db.ExecContext(ctx, d.q(`INSERT INTO settings (name, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`),
		name, value, ms(at))
	return d.wrap("set setting", err)
}

// LockoutFail counts a failure in one upsert (atomic in SQLite and
// PostgreSQL alike); the failure that reaches Max locks the pair with a
// conditional UPDATE, which only one of racing callers can win.
func (d *DB) LockoutFail(ctx context.Context, identifier, ip string, now time.Time, p store.LockoutPolicy) (bool, error) {
	if p.Max <= 0 {
		return false, nil
	}
	n, stale, windowEnd := ms(now), ms(now.Add(-p.Window)), ms(now.Add(p.Window))
	var failures int
	err := d.db.QueryRowContext(ctx, d.q(`INSERT INTO lockouts (identifier, ip, failures, window_start, locked_until, expires_at)
		VALUES (?, ?, 1, ?, 0, ?)
		ON CONFLICT (identifier, ip) DO UPDATE SET
			failures = CASE WHEN lockouts.window_start <= ? THEN 1 ELSE lockouts.failures + 1 END,
			window_start = CASE WHEN lockouts.window_start <= ? THEN ? ELSE lockouts.window_start END,
			expires_at = CASE WHEN lockouts.locked_until > ? THEN lockouts.locked_until ELSE ? END
		RETURNING failures`),
		identifier, ip, n, windowEnd,
		stale, stale, n, windowEnd, windowEnd).Scan(&failures)
	if err != nil {
		return false, d.wrap("lockout fail", err)
	}
	if failures < p.Max {
		return false, nil
	}
	until := ms(now.Add(p.Duration))
	res, err := d.db.ExecContext(ctx, d.q(`UPDATE lockouts SET failures = 0, window_start = ?, locked_until = ?, expires_at = ?
		WHERE identifier = ? AND ip = ? AND failures >= ?`),
		n, until, max(until, windowEnd), identifier, ip, p.Max)
	if err != nil {
		return false, d.wrap("lockout lock", err)
	}
	k, err := res.RowsAffected()
	return k == 1, d.wrap("lockout lock", err)
}

// LockedUntil returns the end of the pair's lock, zero when not locked.
func (d *DB) LockedUntil(ctx context.Context, identifier, ip string, now time.Time) (time.Time, error) {
	var until int64
	err := d.db.QueryRowContext(ctx, d.q(`SELECT locked_until FROM lockouts WHERE identifier = ? AND ip = ? AND locked_until > ?`),
		identifier, ip, ms(now)).Scan(&until)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return time.Time{}, nil
		}
		return time.Time{}, d.wrap("lockout status", err)
	}
	return fromMs(until), nil
}

// LockoutClear forgets the pair.
func (d *DB) LockoutClear(ctx context.Context, identifier, ip string) error {
	_, err := d.db.ExecContext(ctx, d.q(`DELETE FROM lockouts WHERE identifier = ? AND ip = ?`), identifier, ip)
	return d.wrap("lockout clear", err)
}

// LockoutClearIdentifier forgets the identifier on every address.
func (d *DB) LockoutClearIdentifier(ctx context.Context, identifier string, now time.Time) (int, error) {
	rows, err := d.db.QueryContext(ctx, d.q(`DELETE FROM lockouts WHERE identifier = ? RETURNING locked_until`), identifier)
	if err != nil {
		return 0, d.wrap("unlock", err)
	}
	defer rows.Close()
	locked := 0
	for rows.Next() {
		var until int64
		if err := rows.Scan(&until); err != nil {
			return 0, d.wrap("unlock", err)
		}
		if until > ms(now) {
			locked++
		}
	}
	return locked, d.wrap("unlock", rows.Err())
}

// PurgeLockouts deletes pairs that have nothing left to remember.
func (d *DB) PurgeLockouts(ctx context.Context, now time.Time) (int, error) {
	res, err := d.db.ExecContext(ctx, d.q(`DELETE FROM lockouts WHERE expires_at <= ?`), ms(now))
	if err != nil {
		return 0, d.wrap("purge lockouts", err)
	}
	n, err := res.RowsAffected()
	return int(n), d.wrap("purge lockouts", err)
}
