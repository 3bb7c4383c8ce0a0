package sqlstore

import (
	"context"
	"database/sql"
	"hash/fnv"
	"slices"
	"time"

	"github.com/caddyauth/gateway/store"
)

// execer is what insertToken needs of a database or a transaction.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// IssueToken replaces the user's tokens of t.Purpose with t in one
// transaction, so two racing requests leave one live grant. On PostgreSQL
// (READ COMMITTED) the DELETE of one transaction does not see the row
// another has inserted but not yet committed, so both would survive: a
// transaction advisory lock per (user, purpose) serialises them. SQLite
// needs none (_txlock=immediate). UserID "" replaces the tokens bound to
// no user (the first-run setup link every starting instance issues).
func (d *DB) IssueToken(ctx context.Context, t *store.OneTimeToken) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return d.wrap("issue token", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if err := d.lockTx(ctx, tx, lockGrant(t.UserID, t.Purpose)); err != nil {
		return d.wrap("issue token", err)
	}
	del, args := `DELETE FROM one_time_tokens WHERE user_id = ? AND purpose = ?`, []any{t.UserID, t.Purpose}
	if t.UserID == "" {
		del, args = `DELETE FROM one_time_tokens WHERE user_id IS NULL AND purpose = ?`, []any{t.Purpose}
	}
	if _, err := tx.ExecContext(ctx, d.q(del), args...); err != nil {
		return d.wrap("issue token", err)
	}
	if err := d.insertToken(ctx, tx, t); err != nil {
		return d.wrap("issue token", err)
	}
	return d.wrap("issue token", tx.Commit())
}

// lockGrant is the advisory lock key of one (user, purpose): a 64-bit
// FNV-1a hash, tagged so that it cannot be read as another lock's input.
// Two pairs that collide only wait for each other.
func lockGrant(userID, purpose string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("caddyauth grant\x00" + userID + "\x00" + purpose))
	return int64(h.Sum64()) //nolint:gosec // a lock key: the bits are what matter, not the sign
}

// TryCode takes the try first, in one conditional UPDATE ... RETURNING, and
// compares second: racing callers each hold a try of their own, and none
// gets past maxTries. Of two right codes at once, the DELETE gives the
// token to one.
func (d *DB) TryCode(ctx context.Context, userID, purpose string, codeHashes []string, maxTries int, now time.Time) (*store.OneTimeToken, error) {
	var hash, code string
	var tries int
	err := d.db.QueryRowContext(ctx, d.q(`UPDATE one_time_tokens SET tries = tries + 1
		WHERE user_id = ? AND purpose = ? AND code_hash <> '' AND expires_at > ? AND tries < ?
		RETURNING hash, code_hash, tries`), userID, purpose, ms(now), maxTries).Scan(&hash, &code, &tries)
	if err != nil {
		return nil, d.wrap("try code", err)
	}
	if slices.Contains(codeHashes, code) {
		t, err := scanToken(d.db.QueryRowContext(ctx, d.q(`DELETE FROM one_time_tokens WHERE hash = ? RETURNING `+tokenCols), hash))
		return t, d.wrap("try code", err)
	}
	if tries >= maxTries {
		if _, err := d.db.ExecContext(ctx, d.q(`DELETE FROM one_time_tokens WHERE hash = ?`), hash); err != nil {
			return nil, d.wrap("try code", err)
		}
	}
	return nil, d.wrap("try code", sql.ErrNoRows)
}

var _ store.GrantStore = (*DB)(nil)
