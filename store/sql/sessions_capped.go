package sqlstore

import (
	"context"
	"time"

	"github.com/caddyauth/gateway/store"
)

// CreateSessionCapped inserts s and evicts the oldest live sessions of its
// kind beyond max in one transaction (see store.SessionStore). The first
// statement writes the user's row, which serialises every capped create of
// that user: SQLite takes the database write lock at BEGIN already
// (_txlock=immediate), PostgreSQL takes the row lock, and under READ
// COMMITTED the later SELECT then sees the sessions the previous holder
// committed. Plain SQL, so it ports as written.
func (d *DB) CreateSessionCapped(ctx context.Context, s *store.Session, max int) ([]string, error) {
	const op = "create capped session"
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, d.wrap(op, err)
	}
	defer func() { _ = tx.Rollback() }()
	res, err := tx.ExecContext(ctx, d.q(`UPDATE users SET updated_at = updated_at WHERE id = ?`), s.UserID)
	if err := oneRow(res, err); err != nil {
		return nil, d.wrap(op, err) // ErrNotFound: no such user
	}
	kind := `pending = ''`
	if !s.Full() {
		kind = `pending <> ''`
	}
	now := ms(time.Now())
	rows, err := tx.QueryContext(ctx,
		d.q(`SELECT id FROM sessions WHERE user_id = ? AND `+kind+` AND `+liveAt+` ORDER BY created_at, id`),
		s.UserID, now, now)
	if err != nil {
		return nil, d.wrap(op, err)
	}
	// Closed by hand, not deferred: the transaction's next statements
	// need the connection the rows hold (SQLite has one).
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close() //nolint:sqlclosecheck // see above
			return nil, d.wrap(op, err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, d.wrap(op, err)
	}
	if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO sessions (`+sessionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		s.ID, s.UserID, ms(s.CreatedAt), ms(s.LastSeenAt), ms(s.ExpiresAt), ms(s.IdleExpiresAt), s.IP, s.UserAgent,
		s.AuthMethod, s.MFAMethod, s.Pending, int64(s.RefreshGen)); err != nil {
		return nil, d.wrap(op, err)
	}
	var evicted []string
	for i := 0; max > 0 && i <= len(ids)-max; i++ {
		if _, err := tx.ExecContext(ctx, d.q(`DELETE FROM sessions WHERE id = ?`), ids[i]); err != nil {
			return nil, d.wrap(op, err)
		}
		evicted = append(evicted, ids[i])
	}
	if err := tx.Commit(); err != nil {
		return nil, d.wrap(op, err)
	}
	return evicted, nil
}
