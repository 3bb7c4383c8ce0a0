package sqlstore

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/caddyauth/gateway/store"
)

var _ store.AuditStore = (*DB)(nil)

const auditCols = `seq, at, type, user_id, email, actor, ip, user_agent, reason, detail, prev_mac, mac`

// auditRetries bounds how often an append that lost a race for the next
// sequence number is retried.
const auditRetries = 8

func scanAudit(r scanner) (*store.AuditRecord, error) {
	var (
		rec               store.AuditRecord
		at                int64
		detail, prev, mac string
	)
	if err := r.Scan(&rec.Seq, &at, &rec.Type, &rec.UserID, &rec.Email, &rec.Actor, &rec.IP,
		&rec.UserAgent, &rec.Reason, &detail, &prev, &mac); err != nil {
		return nil, err
	}
	rec.Time = fromMs(at)
	if detail != "" && detail != "{}" {
		// A row edited into something that is not a JSON object of
		// strings still loads: verification then reports the MAC
		// mismatch, which is the useful answer.
		if err := json.Unmarshal([]byte(detail), &rec.Detail); err != nil {
			rec.Detail = map[string]string{"!unreadable": detail}
		}
	}
	rec.PrevMAC, rec.MAC = decodeMAC(prev), decodeMAC(mac)
	return &rec, nil
}

// decodeMAC reads a hex MAC; a value edited into something else is kept
// as bytes no MAC can equal, so verification names the record.
func decodeMAC(s string) []byte {
	if s == "" {
		return nil
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return append([]byte("!"), s...)
	}
	return b
}

// AppendAudit reads the head and inserts the next record in one
// transaction. On SQLite the transaction takes the write lock at BEGIN
// (_txlock=immediate), so appends from every connection and process are
// serialised; the primary key on seq makes any other interleaving fail
// with a conflict, which is retried with a fresh head.
func (d *DB) AppendAudit(ctx context.Context, seal func(head *store.AuditRecord) (*store.AuditRecord, error)) (*store.AuditRecord, error) {
	var lastErr error
	for range auditRetries {
		rec, err := d.appendAuditOnce(ctx, seal)
		if !errors.Is(err, store.ErrConflict) {
			return rec, err
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

func (d *DB) appendAuditOnce(ctx context.Context, seal func(head *store.AuditRecord) (*store.AuditRecord, error)) (*store.AuditRecord, error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, d.wrap("append audit", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if err := d.lockTx(ctx, tx, lockAudit); err != nil {
		return nil, d.wrap("append audit", err)
	}
	head, err := scanAudit(tx.QueryRowContext(ctx, d.q(`SELECT `+auditCols+` FROM audit_log ORDER BY seq DESC LIMIT 1`)))
	if errors.Is(err, sql.ErrNoRows) {
		head, err = nil, nil
	}
	if err != nil {
		return nil, d.wrap("append audit", err)
	}
	rec, err := seal(head)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: append audit: %w", err)
	}
	want := int64(1)
	if head != nil {
		want = head.Seq + 1
	}
	if rec.Seq != want {
		return nil, fmt.Errorf("sqlstore: append audit: sealed seq %d, want %d", rec.Seq, want)
	}
	detail := "{}"
	if len(rec.Detail) > 0 {
		b, err := json.Marshal(rec.Detail) // map keys come out sorted
		if err != nil {
			return nil, fmt.Errorf("sqlstore: append audit: %w", err)
		}
		detail = string(b)
	}
	if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO audit_log (`+auditCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		rec.Seq, ms(rec.Time), rec.Type, rec.UserID, rec.Email, rec.Actor, rec.IP, rec.UserAgent, rec.Reason,
		detail, hex.EncodeToString(rec.PrevMAC), hex.EncodeToString(rec.MAC)); err != nil {
		return nil, d.wrap("append audit", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, d.wrap("append audit", err)
	}
	return rec, nil
}

// ListAudit returns the matching records in ascending seq order.
func (d *DB) ListAudit(ctx context.Context, f store.AuditFilter) ([]*store.AuditRecord, error) {
	var (
		where []string
		args  []any
	)
	switch {
	case f.UserID != "" && f.Email != "":
		where = append(where, `(user_id = ? OR actor = ? OR email = ?)`)
		args = append(args, f.UserID, f.UserID, f.Email)
	case f.UserID != "":
		where = append(where, `(user_id = ? OR actor = ?)`)
		args = append(args, f.UserID, f.UserID)
	case f.Email != "":
		where = append(where, `email = ?`)
		args = append(args, f.Email)
	}
	if !f.Since.IsZero() {
		where = append(where, `at >= ?`)
		args = append(args, ms(f.Since))
	}
	if f.AfterSeq > 0 {
		where = append(where, `seq > ?`)
		args = append(args, f.AfterSeq)
	}
	q := `SELECT ` + auditCols + ` FROM audit_log`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	if f.Latest {
		q += ` ORDER BY seq DESC`
	} else {
		q += ` ORDER BY seq`
	}
	if f.Limit > 0 {
		q += ` LIMIT ` + strconv.Itoa(f.Limit)
	}
	rows, err := d.db.QueryContext(ctx, d.q(q), args...)
	if err != nil {
		return nil, d.wrap("list audit", err)
	}
	defer rows.Close()
	var out []*store.AuditRecord
	for rows.Next() {
		rec, err := scanAudit(rows)
		if err != nil {
			return nil, d.wrap("list audit", err)
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, d.wrap("list audit", err)
	}
	if f.Latest {
		slices.Reverse(out)
	}
	return out, nil
}
