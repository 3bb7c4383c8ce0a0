package sqlstore

import (
	"context"
	"time"

	"github.com/caddyauth/gateway/store"
)

var _ store.IdentityStore = (*DB)(nil)

const identityCols = `provider, subject, user_id, email, created_at, last_login_at`

func scanIdentity(r scanner) (*store.Identity, error) {
	var (
		id             store.Identity
		created, login int64
	)
	if err := r.Scan(&id.Provider, &id.Subject, &id.UserID, &id.Email, &created, &login); err != nil {
		return nil, err
	}
	id.CreatedAt, id.LastLoginAt = fromMs(created), fromMs(login)
	return &id, nil
}

// CreateIdentity inserts id; zero times are set to now. ErrConflict if the
// (provider, subject) pair or the user's provider is taken, ErrNotFound if
// the user does not exist.
func (d *DB) CreateIdentity(ctx context.Context, id *store.Identity) error {
	created := id.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}
	login := id.LastLoginAt
	if login.IsZero() {
		login = created
	}
	_, err := d.db.ExecContext(ctx, d.q(`INSERT INTO identities (`+identityCols+`) VALUES (?, ?, ?, ?, ?, ?)`),
		id.Provider, id.Subject, id.UserID, id.Email, ms(created), ms(login))
	return d.wrap("create identity", err)
}

// IdentityBySubject returns the identity linked to the provider's subject.
func (d *DB) IdentityBySubject(ctx context.Context, provider, subject string) (*store.Identity, error) {
	id, err := scanIdentity(d.db.QueryRowContext(ctx,
		d.q(`SELECT `+identityCols+` FROM identities WHERE provider = ? AND subject = ?`), provider, subject))
	return id, d.wrap("identity by subject", err)
}

// UserIdentities lists the user's identities ordered by provider.
func (d *DB) UserIdentities(ctx context.Context, userID string) ([]*store.Identity, error) {
	rows, err := d.db.QueryContext(ctx, d.q(`SELECT `+identityCols+` FROM identities WHERE user_id = ? ORDER BY provider`), userID)
	if err != nil {
		return nil, d.wrap("user identities", err)
	}
	defer rows.Close()
	var out []*store.Identity
	for rows.Next() {
		id, err := scanIdentity(rows)
		if err != nil {
			return nil, d.wrap("user identities", err)
		}
		out = append(out, id)
	}
	return out, d.wrap("user identities", rows.Err())
}

// TouchIdentity records a login with the email the provider gave.
func (d *DB) TouchIdentity(ctx context.Context, provider, subject, email string, at time.Time) error {
	res, err := d.db.ExecContext(ctx, d.q(`UPDATE identities SET email = ?, last_login_at = ? WHERE provider = ? AND subject = ?`),
		email, ms(at), provider, subject)
	return d.wrap("touch identity", oneRow(res, err))
}

// DeleteIdentity removes the user's identity at provider.
func (d *DB) DeleteIdentity(ctx context.Context, userID, provider string) error {
	res, err := d.db.ExecContext(ctx, d.q(`DELETE FROM identities WHERE user_id = ? AND provider = ?`), userID, provider)
	return d.wrap("delete identity", oneRow(res, err))
}
