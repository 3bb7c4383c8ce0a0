package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/caddyauth/gateway/store"
)

// execer is what insertToken needs of a database or a transaction.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// IssueToken replaces the user's tokens of t.Purpose with t in one
// transaction, so two racing requests leave one live grant.
func (d *DB) IssueToken(ctx context.Context, t *store.OneTimeToken) error {
	if t.UserID == "" {
		return fmt.Errorf("sqlstore: issue token: no user")
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return d.wrap("issue token", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if _, err := tx.ExecContext(ctx, d.q(`DELETE FROM one_time_tokens WHERE user_id = ? AND purpose = ?`), t.UserID, t.Purpose); err != nil {
		return d.wrap("issue token", err)
	}
	if err := d.insertToken(ctx, tx, t); err != nil {
		return d.wrap("issue token", err)
	}
	return d.wrap("issue token", tx.Commit())
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
