package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/caddyauth/gateway/store"
)

const tokenCols = `hash, purpose, user_id, expires_at, code_hash, tries, data`

func scanToken(r scanner) (*store.OneTimeToken, error) {
	var (
		t    store.OneTimeToken
		user sql.NullString
		exp  int64
	)
	if err := r.Scan(&t.Hash, &t.Purpose, &user, &exp, &t.CodeHash, &t.Tries, &t.Data); err != nil {
		return nil, err
	}
	t.UserID, t.ExpiresAt = user.String, fromMs(exp)
	return &t, nil
}

// CreateToken inserts t. ErrConflict if the hash is taken, ErrNotFound if
// t.UserID names a user that does not exist.
func (d *DB) CreateToken(ctx context.Context, t *store.OneTimeToken) error {
	return d.wrap("create token", d.insertToken(ctx, d.db, t))
}

// DeleteUserTokens drops the user's tokens of one purpose; userID ""
// means the tokens bound to no user (the first-run setup links).
func (d *DB) DeleteUserTokens(ctx context.Context, userID, purpose string) error {
	var err error
	if userID == "" {
		_, err = d.db.ExecContext(ctx, d.q(`DELETE FROM one_time_tokens WHERE user_id IS NULL AND purpose = ?`), purpose)
	} else {
		_, err = d.db.ExecContext(ctx, d.q(`DELETE FROM one_time_tokens WHERE user_id = ? AND purpose = ?`), userID, purpose)
	}
	return d.wrap("delete user tokens", err)
}

// ConsumeToken deletes and returns the token in a single DELETE ... RETURNING:
// the database serialises it, so of two racing consumers exactly one gets
// the row.
func (d *DB) ConsumeToken(ctx context.Context, hash, purpose string, now time.Time) (*store.OneTimeToken, error) {
	t, err := scanToken(d.db.QueryRowContext(ctx,
		d.q(`DELETE FROM one_time_tokens WHERE hash = ? AND purpose = ? AND expires_at > ? RETURNING `+tokenCols),
		hash, purpose, ms(now)))
	return t, d.wrap("consume token", err)
}

// PeekToken returns the token without consuming it.
func (d *DB) PeekToken(ctx context.Context, hash, purpose string, now time.Time) (*store.OneTimeToken, error) {
	t, err := scanToken(d.db.QueryRowContext(ctx,
		d.q(`SELECT `+tokenCols+` FROM one_time_tokens WHERE hash = ? AND purpose = ? AND expires_at > ?`),
		hash, purpose, ms(now)))
	return t, d.wrap("peek token", err)
}

// insertToken writes t through x (the database or a transaction).
func (d *DB) insertToken(ctx context.Context, x execer, t *store.OneTimeToken) error {
	_, err := x.ExecContext(ctx, d.q(`INSERT INTO one_time_tokens (`+tokenCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`),
		t.Hash, t.Purpose, nullable(t.UserID), ms(t.ExpiresAt), t.CodeHash, t.Tries, t.Data)
	return err
}
