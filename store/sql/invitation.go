package sqlstore

import (
	"context"

	"github.com/caddyauth/gateway/store"
)

var _ store.InvitationStore = (*DB)(nil)

// StoreInvitation writes the account (if new), its grant and its message
// in one transaction, with IssueToken's lock on (user, purpose).
func (d *DB) StoreInvitation(ctx context.Context, create *store.User, grant *store.OneTimeToken, msg *store.OutboxMessage) error {
	var userArgs []any
	if create != nil {
		var err error
		if userArgs, err = userRow(create); err != nil {
			return d.wrap("store invitation", err)
		}
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return d.wrap("store invitation", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if create != nil {
		if _, err := tx.ExecContext(ctx, d.q(insertUser), userArgs...); err != nil {
			return d.wrap("store invitation", err)
		}
	}
	if err := d.lockTx(ctx, tx, lockGrant(grant.UserID, grant.Purpose)); err != nil {
		return d.wrap("store invitation", err)
	}
	if _, err := tx.ExecContext(ctx, d.q(`DELETE FROM one_time_tokens WHERE user_id = ? AND purpose = ?`), grant.UserID, grant.Purpose); err != nil {
		return d.wrap("store invitation", err)
	}
	if err := d.insertToken(ctx, tx, grant); err != nil {
		return d.wrap("store invitation", err)
	}
	if err := d.insertMessage(ctx, tx, msg); err != nil {
		return d.wrap("store invitation", err)
	}
	return d.wrap("store invitation", tx.Commit())
}
