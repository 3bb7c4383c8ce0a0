package sqlstore

import (
	"context"
	"time"

	"github.com/caddyauth/gateway/store"
)

var _ store.APIKeyStore = (*DB)(nil)

const apiKeyCols = `id, user_id, name, hash, created_at, expires_at, last_used_at`

func scanAPIKey(r scanner) (*store.APIKey, error) {
	var (
		k                  store.APIKey
		created, exp, used int64
	)
	if err := r.Scan(&k.ID, &k.UserID, &k.Name, &k.Hash, &created, &exp, &used); err != nil {
		return nil, err
	}
	k.CreatedAt = fromMs(created)
	if exp != 0 {
		k.ExpiresAt = fromMs(exp)
	}
	if used != 0 {
		k.LastUsedAt = fromMs(used)
	}
	return &k, nil
}

// CreateAPIKey inserts k; a zero CreatedAt is set to now.
func (d *DB) CreateAPIKey(ctx context.Context, k *store.APIKey) error {
	created := k.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}
	_, err := d.db.ExecContext(ctx, d.q(`INSERT INTO api_keys (`+apiKeyCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`),
		k.ID, k.UserID, k.Name, k.Hash, ms(created), msOrZero(k.ExpiresAt), msOrZero(k.LastUsedAt))
	return d.wrap("create api key", err)
}

// APIKey returns the key by id.
func (d *DB) APIKey(ctx context.Context, id string) (*store.APIKey, error) {
	k, err := scanAPIKey(d.db.QueryRowContext(ctx, d.q(`SELECT `+apiKeyCols+` FROM api_keys WHERE id = ?`), id))
	return k, d.wrap("api key", err)
}

// UserAPIKeys lists the user's keys, oldest first.
func (d *DB) UserAPIKeys(ctx context.Context, userID string) ([]*store.APIKey, error) {
	rows, err := d.db.QueryContext(ctx, d.q(`SELECT `+apiKeyCols+` FROM api_keys WHERE user_id = ? ORDER BY created_at, id`), userID)
	if err != nil {
		return nil, d.wrap("user api keys", err)
	}
	defer rows.Close()
	var out []*store.APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, d.wrap("user api keys", err)
		}
		out = append(out, k)
	}
	return out, d.wrap("user api keys", rows.Err())
}

// DeleteAPIKey removes the user's key of that id.
func (d *DB) DeleteAPIKey(ctx context.Context, userID, id string) error {
	res, err := d.db.ExecContext(ctx, d.q(`DELETE FROM api_keys WHERE id = ? AND user_id = ?`), id, userID)
	return d.wrap("delete api key", oneRow(res, err))
}

// TouchAPIKey records a use.
func (d *DB) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	res, err := d.db.ExecContext(ctx, d.q(`UPDATE api_keys SET last_used_at = ? WHERE id = ?`), ms(at), id)
	return d.wrap("touch api key", oneRow(res, err))
}
