package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"sort"
	"time"

	"github.com/caddyauth/gateway/store"
)

var _ store.OutboxStore = (*DB)(nil)

const outboxCols = `id, kind, channel, recipient, user_id, payload, status, attempts, next_attempt_at, lease_owner, lease_until, last_error, created_at, updated_at`

func scanOutbox(r scanner) (*store.OutboxMessage, error) {
	var (
		m                         store.OutboxMessage
		user                      sql.NullString
		payload                   string
		next, lease, created, upd int64
	)
	if err := r.Scan(&m.ID, &m.Kind, &m.Channel, &m.Recipient, &user, &payload, &m.Status, &m.Attempts,
		&next, &m.LeaseOwner, &lease, &m.LastError, &created, &upd); err != nil {
		return nil, err
	}
	p, err := base64.StdEncoding.DecodeString(payload)
	if err != nil {
		return nil, fmt.Errorf("outbox %s: payload is not base64: %w", m.ID, err)
	}
	m.Payload, m.UserID = p, user.String
	m.NextAttemptAt, m.CreatedAt, m.UpdatedAt = fromMs(next), fromMs(created), fromMs(upd)
	if lease != 0 {
		m.LeaseUntil = fromMs(lease)
	}
	return &m, nil
}

// EnqueueMessage inserts m as pending (ErrNotFound if m.UserID names no
// user: the row cascades with its user); the INSERT is committed (autocommit,
// and SQLite runs with synchronous=FULL, so the WAL is synced) before it
// returns.
func (d *DB) EnqueueMessage(ctx context.Context, m *store.OutboxMessage) error {
	return d.wrap("enqueue message", d.insertMessage(ctx, d.db, m))
}

// insertMessage writes m as pending through x (the database or a
// transaction).
func (d *DB) insertMessage(ctx context.Context, x execer, m *store.OutboxMessage) error {
	now := time.Now()
	created := m.CreatedAt
	if created.IsZero() {
		created = now
	}
	next := m.NextAttemptAt
	if next.IsZero() {
		next = created
	}
	_, err := x.ExecContext(ctx, d.q(`INSERT INTO outbox (`+outboxCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, '', 0, '', ?, ?)`),
		m.ID, m.Kind, m.Channel, m.Recipient, nullable(m.UserID), base64.StdEncoding.EncodeToString(m.Payload),
		store.OutboxPending, ms(next), ms(created), ms(created))
	return err
}

// claimable is the condition a row must meet to be claimed at now. It is
// repeated in the outer UPDATE so that PostgreSQL, which re-checks the outer
// WHERE on a row another transaction just changed, never hands a row to two
// claimers; SQLite serialises writers anyway.
const claimable = `status = 'pending' AND next_attempt_at <= ? AND lease_until <= ?`

// ClaimMessages leases due messages in one UPDATE ... RETURNING.
func (d *DB) ClaimMessages(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*store.OutboxMessage, error) {
	if limit <= 0 {
		return nil, nil
	}
	n := ms(now)
	rows, err := d.db.QueryContext(ctx, d.q(`UPDATE outbox
		SET lease_owner = ?, lease_until = ?, attempts = attempts + 1, updated_at = ?
		WHERE id IN (SELECT id FROM outbox WHERE `+claimable+` ORDER BY next_attempt_at, id LIMIT ?)
		AND `+claimable+`
		RETURNING `+outboxCols),
		owner, ms(now.Add(lease)), n, n, n, limit, n, n)
	if err != nil {
		return nil, d.wrap("claim messages", err)
	}
	defer rows.Close()
	var out []*store.OutboxMessage
	for rows.Next() {
		m, err := scanOutbox(rows)
		if err != nil {
			return nil, d.wrap("claim messages", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, d.wrap("claim messages", err)
	}
	// RETURNING order is unspecified: present them oldest due first.
	sortDue(out)
	return out, nil
}

func sortDue(ms []*store.OutboxMessage) {
	sort.Slice(ms, func(i, j int) bool {
		if !ms[i].NextAttemptAt.Equal(ms[j].NextAttemptAt) {
			return ms[i].NextAttemptAt.Before(ms[j].NextAttemptAt)
		}
		return ms[i].ID < ms[j].ID
	})
}

// settle updates a message the caller holds the lease on.
func (d *DB) settle(ctx context.Context, op, id, owner, set string, args ...any) error {
	args = append(args, id, owner, store.OutboxPending)
	res, err := d.db.ExecContext(ctx, d.q(`UPDATE outbox SET `+set+`, lease_owner = '', lease_until = 0
		WHERE id = ? AND lease_owner = ? AND status = ?`), args...)
	if err != nil {
		return d.wrap(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return d.wrap(op, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: %s: lease lost: %w", op, store.ErrNotFound)
	}
	return nil
}

// CompleteMessage marks the message sent.
func (d *DB) CompleteMessage(ctx context.Context, id, owner string, now time.Time) error {
	return d.settle(ctx, "complete message", id, owner, `status = ?, last_error = '', updated_at = ?`,
		store.OutboxSent, ms(now))
}

// RetryMessage puts the message back, due at next.
func (d *DB) RetryMessage(ctx context.Context, id, owner string, now, next time.Time, lastErr string) error {
	return d.settle(ctx, "retry message", id, owner, `next_attempt_at = ?, last_error = ?, updated_at = ?`,
		ms(next), lastErr, ms(now))
}

// FailMessage marks the message dead.
func (d *DB) FailMessage(ctx context.Context, id, owner string, now time.Time, lastErr string) error {
	return d.settle(ctx, "fail message", id, owner, `status = ?, last_error = ?, updated_at = ?`,
		store.OutboxDead, lastErr, ms(now))
}

// OutboxMessage returns one message.
func (d *DB) OutboxMessage(ctx context.Context, id string) (*store.OutboxMessage, error) {
	m, err := scanOutbox(d.db.QueryRowContext(ctx, d.q(`SELECT `+outboxCols+` FROM outbox WHERE id = ?`), id))
	return m, d.wrap("get message", err)
}

// ListOutbox lists messages newest first.
func (d *DB) ListOutbox(ctx context.Context, status string, limit int) ([]*store.OutboxMessage, error) {
	rows, err := d.db.QueryContext(ctx, d.q(`SELECT `+outboxCols+` FROM outbox
		WHERE (? = '' OR status = ?) ORDER BY created_at DESC, id LIMIT ?`), status, status, limit)
	if err != nil {
		return nil, d.wrap("list outbox", err)
	}
	defer rows.Close()
	var out []*store.OutboxMessage
	for rows.Next() {
		m, err := scanOutbox(rows)
		if err != nil {
			return nil, d.wrap("list outbox", err)
		}
		out = append(out, m)
	}
	return out, d.wrap("list outbox", rows.Err())
}

// CountPendingMessages is the queue depth.
func (d *DB) CountPendingMessages(ctx context.Context) (int, error) {
	var n int
	err := d.db.QueryRowContext(ctx, d.q(`SELECT COUNT(*) FROM outbox WHERE status = ?`), store.OutboxPending).Scan(&n)
	return n, d.wrap("count pending messages", err)
}

// PurgeOutbox deletes old sent and dead messages.
func (d *DB) PurgeOutbox(ctx context.Context, before time.Time) (int, error) {
	res, err := d.db.ExecContext(ctx, d.q(`DELETE FROM outbox WHERE status IN (?, ?) AND updated_at < ?`),
		store.OutboxSent, store.OutboxDead, ms(before))
	if err != nil {
		return 0, d.wrap("purge outbox", err)
	}
	n, err := res.RowsAffected()
	return int(n), d.wrap("purge outbox", err)
}
