package sqlstore

import (
	"context"
	"time"

	"github.com/caddyauth/gateway/store"
)

const sessionCols = `id, user_id, created_at, last_seen_at, expires_at, idle_expires_at, ip, user_agent, auth_method, mfa_method, pending, refresh_gen`

// liveAt is the SQL form of Session.Valid: both deadlines after now.
const liveAt = `expires_at > ? AND idle_expires_at > ?`

func scanSession(r scanner) (*store.Session, error) {
	var (
		s                          store.Session
		created, seen, exp, idleAt int64
		gen                        int64
	)
	if err := r.Scan(&s.ID, &s.UserID, &created, &seen, &exp, &idleAt, &s.IP, &s.UserAgent, &s.AuthMethod, &s.MFAMethod, &s.Pending, &gen); err != nil {
		return nil, err
	}
	s.RefreshGen = uint64(gen)
	s.CreatedAt, s.LastSeenAt = fromMs(created), fromMs(seen)
	s.ExpiresAt, s.IdleExpiresAt = fromMs(exp), fromMs(idleAt)
	return &s, nil
}

// CreateSession inserts s. ErrNotFound if its user does not exist,
// ErrConflict if the id is taken.
func (d *DB) CreateSession(ctx context.Context, s *store.Session) error {
	_, err := d.db.ExecContext(ctx, d.q(`INSERT INTO sessions (`+sessionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		s.ID, s.UserID, ms(s.CreatedAt), ms(s.LastSeenAt), ms(s.ExpiresAt), ms(s.IdleExpiresAt), s.IP, s.UserAgent,
		s.AuthMethod, s.MFAMethod, s.Pending, int64(s.RefreshGen))
	return d.wrap("create session", err)
}

// GetSession returns the session if it is live now.
func (d *DB) GetSession(ctx context.Context, id string) (*store.Session, error) {
	now := ms(time.Now())
	s, err := scanSession(d.db.QueryRowContext(ctx,
		d.q(`SELECT `+sessionCols+` FROM sessions WHERE id = ? AND `+liveAt), id, now, now))
	return s, d.wrap("get session", err)
}

// TouchSession updates a live session in one statement, so a session that
// expired (or was deleted) cannot be revived by a late request.
func (d *DB) TouchSession(ctx context.Context, id string, lastSeen, idleExpires time.Time) error {
	now := ms(time.Now())
	res, err := d.db.ExecContext(ctx,
		d.q(`UPDATE sessions SET last_seen_at = ?, idle_expires_at = ? WHERE id = ? AND `+liveAt),
		ms(lastSeen), ms(idleExpires), id, now, now)
	return d.wrap("touch session", oneRow(res, err))
}

// DeleteSession removes the session; a missing one is no error.
func (d *DB) DeleteSession(ctx context.Context, id string) error {
	_, err := d.db.ExecContext(ctx, d.q(`DELETE FROM sessions WHERE id = ?`), id)
	return d.wrap("delete session", err)
}

// ListUserSessions returns the user's live sessions, oldest first.
func (d *DB) ListUserSessions(ctx context.Context, userID string) ([]*store.Session, error) {
	now := ms(time.Now())
	rows, err := d.db.QueryContext(ctx,
		d.q(`SELECT `+sessionCols+` FROM sessions WHERE user_id = ? AND `+liveAt+` ORDER BY created_at, id`),
		userID, now, now)
	if err != nil {
		return nil, d.wrap("list sessions", err)
	}
	defer rows.Close()
	var out []*store.Session
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, d.wrap("list sessions", err)
		}
		out = append(out, s)
	}
	return out, d.wrap("list sessions", rows.Err())
}

// DeleteUserSessions removes every session of the user (live or not) in one
// statement and returns their ids.
func (d *DB) DeleteUserSessions(ctx context.Context, userID string) ([]string, error) {
	rows, err := d.db.QueryContext(ctx, d.q(`DELETE FROM sessions WHERE user_id = ? RETURNING id`), userID)
	if err != nil {
		return nil, d.wrap("delete user sessions", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, d.wrap("delete user sessions", err)
		}
		ids = append(ids, id)
	}
	return ids, d.wrap("delete user sessions", rows.Err())
}

// PurgeExpired deletes sessions whose deadline is not after now and returns
// how many. Expired one-time tokens go too (TokenStore has no purge of its
// own and this is the janitor that runs); they are not counted.
func (d *DB) PurgeExpired(ctx context.Context, now time.Time) (int, error) {
	n := ms(now)
	res, err := d.db.ExecContext(ctx, d.q(`DELETE FROM sessions WHERE expires_at <= ? OR idle_expires_at <= ?`), n, n)
	if err != nil {
		return 0, d.wrap("purge sessions", err)
	}
	purged, err := res.RowsAffected()
	if err != nil {
		return 0, d.wrap("purge sessions", err)
	}
	if _, err := d.db.ExecContext(ctx, d.q(`DELETE FROM one_time_tokens WHERE expires_at <= ?`), n); err != nil {
		return int(purged), d.wrap("purge tokens", err)
	}
	return int(purged), nil
}
